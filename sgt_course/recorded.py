"""The numbers ``sgt-course claims`` recorded, for prose: a notebook or the deck phrases a measured range
from ``benchmarks/claims-<profile>.json`` instead of typing it, so the prose follows when ``claims`` runs again.

    cpu = recorded("cpu")
    cpu.range("6 · worst case at ε = 0.2, ASGT minus PGD-AT")   # "+1.2 to +3.4 points over 3 seeds"
    cpu.intervals("6 · worst case at ε = 0.2, ASGT minus PGD-AT")  # each seed's 95 % interval
    cpu.source()                                                 # which run measured it: date, machine, code

Each file holds what ``sgt-course claims --profile <p> --record`` measured (every quantity, per seed, and
the 95 % interval over the images of those that have one) and its run record: the date, the machine, the
data, the seeds and the fingerprint of the library that ran.
"""

from __future__ import annotations

import difflib
import json
import os
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sgt_course.stats import Interval, interval_verdict

#: Where the records are read from when set; otherwise the repository's ``benchmarks/`` folder.
RECORDS_ENV = "SGT_COURSE_RECORDS"


def records_dir() -> Path:
    """The folder of the ``claims-<profile>.json`` files: $SGT_COURSE_RECORDS, else ``benchmarks/`` beside
    the ``sgt_course`` package (a clone of the course, or an editable install of it)."""
    configured = os.environ.get(RECORDS_ENV)
    return Path(configured) if configured else Path(__file__).resolve().parents[1] / "benchmarks"


def record_path(profile: str) -> Path:
    """The file that holds profile ``profile``'s recorded claims."""
    return records_dir() / f"claims-{profile}.json"


@dataclass(frozen=True)
class Record:
    """One profile's recorded claims: ``results[quantity][seed]``, ``bounds[quantity][seed]`` (the 95 %
    interval's (low, high) over the images, for the quantities that have one) and the ``run`` that
    measured them (``date``, ``machine``, ``data``, ``seeds``, ``library``)."""

    profile: str
    run: dict[str, Any]
    results: dict[str, dict[int, float]]
    bounds: dict[str, dict[int, tuple[float, float]]] = field(default_factory=dict)

    def values(self, quantity: str) -> list[float]:
        """The quantity's value on every recorded seed, in seed order.

        Raises:
            KeyError: no such quantity; the message names the closest recorded ones.
        """
        if quantity not in self.results:
            close = difflib.get_close_matches(quantity, self.results, n=3, cutoff=0.5)
            raise KeyError(f"{quantity!r} is not recorded for the {self.profile!r} profile"
                           + (f"; did you mean {' or '.join(map(repr, close))}?" if close else ""))
        by_seed = self.results[quantity]
        return [by_seed[seed] for seed in sorted(by_seed)]

    def intervals(self, quantity: str) -> list[Interval]:
        """The quantity on every recorded seed with its 95 % interval over the images, in seed order.

        Raises:
            KeyError: no such quantity, or one recorded without intervals.
        """
        values = self.values(quantity)
        if quantity not in self.bounds:
            raise KeyError(f"{quantity!r} is recorded for the {self.profile!r} profile without intervals; "
                           f"`sgt-course claims --record` records them for accuracies, gaps and differences")
        by_seed = self.bounds[quantity]
        return [Interval(value, *by_seed[seed]) for value, seed in zip(values, sorted(by_seed), strict=True)]

    def range(self, quantity: str, *, unit: str = "points", signed: bool = True, percent: bool = True) -> str:
        """The quantity over seeds as "low to high unit over n seeds" (:func:`phrase`)."""
        return phrase(self.values(quantity), unit=unit, signed=signed, percent=percent)

    def mean(self, quantity: str) -> float:
        """The quantity's mean over the recorded seeds (a fraction)."""
        return statistics.fmean(self.values(quantity))

    def source(self) -> str:
        """Which run measured these numbers, in one line."""
        run = self.run
        return (f"`sgt-course claims --profile {self.profile}`, seeds {', '.join(map(str, run.get('seeds', [])))}, "
                f"{run.get('date', 'date not recorded')}, {run.get('machine', 'machine not recorded')}")


def phrase(values: list[float], *, unit: str = "points", signed: bool = True, percent: bool = True) -> str:
    """Fractions, one per seed, as "low to high unit over n seeds" in percent or points:
    ``"−3.9 to +8.7 points over 3 seeds"``; ``signed=False`` for levels such as an accuracy
    (``"94.1 to 95.3 % over 3 seeds"``); ``percent=False`` for a number that is not a fraction, such as a
    correlation ρ, with two decimals and no unit (``"0.29 to 0.36 over 3 seeds"``); one seed:
    ``"+3.9 points (one seed)"``."""
    if not values:
        raise ValueError("values must hold at least one number")
    low, high = (_number(v, signed, percent) for v in (min(values), max(values)))
    unit = f" {unit}" if percent and unit else ""
    if len(values) == 1:
        return f"{low}{unit} (one seed)"
    return f"{low} to {high}{unit} over {len(values)} seeds"


def _number(value: float, signed: bool, percent: bool) -> str:
    text = f"{100 * value:{'+' if signed else ''}.1f}" if percent else f"{value:{'+' if signed else ''}.2f}"
    return text.replace("-", "−")


def recorded(profile: str) -> Record:
    """The recorded claims of ``profile`` (``"ci"``, ``"cpu"``, ``"gpu"``).

    Raises:
        FileNotFoundError: nothing recorded for that profile; the message says how to record it.
    """
    path = record_path(profile)
    if not path.exists():
        raise FileNotFoundError(f"no recorded claims for the {profile!r} profile at {path}: run "
                                f"`sgt-course claims --profile {profile} --record` (or set {RECORDS_ENV})")
    saved = json.loads(path.read_text())
    if saved.get("profile") != profile or "results" not in saved:
        raise ValueError(f"{path} is not a claims record of the {profile!r} profile")
    results = {quantity: {int(seed): float(v) for seed, v in by_seed.items()}
               for quantity, by_seed in saved["results"].items()}
    bounds = {quantity: {int(seed): (float(low), float(high)) for seed, (low, high) in by_seed.items()}
              for quantity, by_seed in saved.get("intervals", {}).items()}
    return Record(profile, saved.get("run", {}), results, bounds)


def recorded_profiles(profiles: Sequence[str] = ("ci", "cpu", "gpu")) -> dict[str, Record]:
    """The recorded claims of those of ``profiles`` that have a record, by profile; one printed line names
    the profiles without one (outside a clone of the course there may be none)."""
    found = {p: recorded(p) for p in profiles if record_path(p).exists()}
    missing = [p for p in profiles if p not in found]
    if missing:
        print(f"no recorded claims for {', '.join(missing)} in {records_dir()} "
              f"(`sgt-course claims --profile <p> --record` writes them)")
    return found


def across(records: Mapping[str, Record], quantity: str, *, unit: str = "points",
           percent: bool = True) -> tuple[str, str]:
    """One recorded difference read from every record: its :func:`~sgt_course.stats.interval_verdict`
    where every profile gives the same one (else ``"undecided"``), and its range per profile with the seeds'
    mean 95 % half-width, e.g. ``("higher", "ci: +4.1 to +5.3 points over 3 seeds, each ±2.0; cpu: ...")``;
    ``percent=False`` for a difference that is not of fractions, such as of a correlation ρ (``"each ±0.05"``)."""
    if not records:
        raise ValueError("records must hold at least one Record")
    measured = {name: record.intervals(quantity) for name, record in records.items()}
    verdicts = {interval_verdict(intervals) for intervals in measured.values()}
    scale, digits = (100, 1) if percent else (1, 2)
    ranges = "; ".join(f"{name}: {phrase([i.estimate for i in intervals], unit=unit, percent=percent)}, each "
                       f"±{scale * statistics.fmean(i.half_width for i in intervals):.{digits}f}"
                       for name, intervals in measured.items())
    return (verdicts.pop() if len(verdicts) == 1 else "undecided"), ranges
