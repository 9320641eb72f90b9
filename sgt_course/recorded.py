"""The numbers ``sgt-course claims`` recorded, for prose: a notebook or the deck phrases a measured range
from ``benchmarks/claims-<profile>.json`` instead of typing it, so the prose follows when ``claims`` runs again.

    cpu = recorded("cpu")
    cpu.range("6 · worst case at ε = 0.2, ASGT minus PGD-AT")   # "+1.2 to +3.4 points over 3 seeds"
    cpu.source()                                                 # which run measured it: date, machine, code

Each file holds what ``sgt-course claims --profile <p> --record`` measured (every quantity, per seed) and
its run record: the date, the machine, the data, the seeds and the fingerprint of the library that ran.
"""

from __future__ import annotations

import difflib
import json
import os
import statistics
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sgt_course.stats import verdict

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
    """One profile's recorded claims: ``results[quantity][seed]`` and the ``run`` that measured them
    (``date``, ``machine``, ``data``, ``seeds``, ``library``)."""

    profile: str
    run: dict[str, Any]
    results: dict[str, dict[int, float]]

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

    def difference(self, quantity: str, other: str) -> list[float]:
        """``quantity`` minus ``other``, seed by seed (models of one seed compared)."""
        return [a - b for a, b in zip(self.values(quantity), self.values(other), strict=True)]

    def range(self, quantity: str, *, unit: str = "points", signed: bool = True) -> str:
        """The quantity over seeds as "low to high unit over n seeds" (:func:`phrase`)."""
        return phrase(self.values(quantity), unit=unit, signed=signed)

    def mean(self, quantity: str) -> float:
        """The quantity's mean over the recorded seeds (a fraction)."""
        return statistics.fmean(self.values(quantity))

    def source(self) -> str:
        """Which run measured these numbers, in one line."""
        run = self.run
        return (f"`sgt-course claims --profile {self.profile}`, seeds {', '.join(map(str, run.get('seeds', [])))}, "
                f"{run.get('date', 'date not recorded')}, {run.get('machine', 'machine not recorded')}")


def phrase(values: list[float], *, unit: str = "points", signed: bool = True) -> str:
    """Fractions, one per seed, as "low to high unit over n seeds" in percent or points:
    ``"−3.9 to +8.7 points over 3 seeds"``; ``signed=False`` for levels such as an accuracy
    (``"94.1 to 95.3 % over 3 seeds"``); one seed: ``"+3.9 points (one seed)"``."""
    if not values:
        raise ValueError("values must hold at least one number")
    low, high = (_percent(v, signed) for v in (min(values), max(values)))
    if len(values) == 1:
        return f"{low} {unit} (one seed)"
    return f"{low} to {high} {unit} over {len(values)} seeds"


def _percent(value: float, signed: bool) -> str:
    text = f"{100 * value:{'+' if signed else ''}.1f}"
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
    return Record(profile, saved.get("run", {}), results)


def recorded_profiles(profiles: Sequence[str] = ("ci", "cpu", "gpu")) -> dict[str, Record]:
    """The recorded claims of those of ``profiles`` that have a record, by profile; one printed line names
    the profiles without one (outside a clone of the course there may be none)."""
    found = {p: recorded(p) for p in profiles if record_path(p).exists()}
    missing = [p for p in profiles if p not in found]
    if missing:
        print(f"no recorded claims for {', '.join(missing)} in {records_dir()} "
              f"(`sgt-course claims --profile <p> --record` writes them)")
    return found


def across(records: Mapping[str, Record], values: Callable[[Record], list[float]], noise: float, *,
           unit: str = "points") -> tuple[str, str]:
    """One difference read from every record: its :func:`~sgt_course.stats.verdict` where every profile
    gives the same one (else ``"undecided"``), and its range per profile, e.g. ``("higher", "ci: +4.1 to
    +5.3 points over 3 seeds; cpu: +0.8 to +2.0 points over 3 seeds")``."""
    if not records:
        raise ValueError("records must hold at least one Record")
    measured = {name: values(record) for name, record in records.items()}
    verdicts = {verdict(v, noise) for v in measured.values()}
    ranges = "; ".join(f"{name}: {phrase(v, unit=unit)}" for name, v in measured.items())
    return (verdicts.pop() if len(verdicts) == 1 else "undecided"), ranges
