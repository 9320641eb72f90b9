"""Prepare a class: every model the notebooks, the deck and the website use, trained and cached ahead.

    sgt-course prepare --profile cpu          # then: sgt-course cache export class.tar

It executes every course notebook headlessly in the profile, which trains and caches every model the
notebooks ask for, by construction: a list kept beside the notebooks could drift from them, the
notebooks cannot. The deck and the website ask for the same models as notebooks 2 and 6 (the same
cache keys), so they find them all. The executed notebooks go to ``runs/<profile>/``, where
``sgt-course site`` reuses them.

It resumes where it stopped: a notebook whose executed copy ran without error, in this profile, from
the same code cells is skipped, and within a notebook every model already trained loads from the cache.
One progress bar over the notebooks estimates the time left from each notebook's last recorded wall
time; the last line gives the total time and the cache's size.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from tqdm.auto import tqdm

from sgt_course.tools import run_records
from sgt_course.tools.cache_archive import CacheSummary, summary
from sgt_course.tools.headless import CELL_TIMEOUT, execute

#: A notebook's expected seconds when no earlier run recorded its wall time (for the ETA only).
UNKNOWN_SECONDS = 60.0


@dataclass
class Prepared:
    """What :func:`prepare` did: the notebooks it executed, skipped (already prepared) and failed."""

    executed: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0
    cache: CacheSummary | None = None


def _expected_seconds(executed: Path) -> float:
    """The wall time recorded by an earlier run of this notebook (any code), else :data:`UNKNOWN_SECONDS`."""
    if executed.is_file():
        record = run_records.record_of(nbformat.read(executed, as_version=4))
        if record is not None and record.seconds > 0:
            return record.seconds
    return UNKNOWN_SECONDS


def prepare(profile: str, notebooks: list[Path], executed: Path, *, timeout: int = CELL_TIMEOUT,
            progress: bool = True) -> Prepared:
    """Execute each of ``notebooks`` in ``profile`` into ``executed`` unless an executed copy there still
    holds (same profile, same code cells, no error); return what was done and the cache it left."""
    result, start = Prepared(), time.perf_counter()
    expected = {path: _expected_seconds(executed / path.name) for path in notebooks}
    with tqdm(total=round(sum(expected.values())), desc=f"preparing the {profile} class", unit="s",
              disable=not progress, bar_format="{l_bar}{bar}| {n_fmt}/{total_fmt} s expected [{elapsed}<{remaining}]",
              ) as bar:
        for path in notebooks:
            bar.set_postfix_str(path.name)
            source = nbformat.read(path, as_version=4)
            if run_records.load_reusable(executed / path.name, source, profile) is not None:
                result.skipped.append(path.name)
            else:
                run = execute(path, executed / path.name, profile=profile, timeout=timeout)
                if run.error:
                    result.failed[path.name] = run.error
                else:
                    result.executed.append(path.name)
            bar.update(round(expected[path]))
    result.seconds, result.cache = time.perf_counter() - start, summary()
    return result
