"""Numbers over seeds: how the course reports one quantity measured with several training seeds.

- :func:`spread`: one value per seed as "mean (min–max)".
- :func:`verdict`: what a difference between two models, measured on every seed, supports;
  :func:`judged`, the spread and the verdict together, as the tables show them.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence


def spread(values: Sequence[float], *, percent: bool = True) -> str:
    """``values`` (one per seed) as "mean (min–max)", in percent by default: ``"57.8 (55.0–60.1)"``;
    a single value as ``"57.8 (one seed)"``."""
    if not values:
        raise ValueError("values must hold at least one number")
    scale = 100 if percent else 1
    mean, low, high = (scale * v for v in (statistics.fmean(values), min(values), max(values)))
    return f"{mean:.1f} (one seed)" if len(values) == 1 else f"{mean:.1f} ({low:.1f}–{high:.1f})"


#: The verdicts of :func:`verdict`.
VERDICTS = ("higher", "lower", "no difference", "undecided")


def verdict(differences: Sequence[float], noise: float) -> str:
    """What a difference a − b between two models, one value per seed, supports: ``"higher"`` when it is
    above ``+noise`` on every seed, ``"lower"`` when below ``−noise`` on every seed, ``"no difference"``
    when within ±``noise`` on every seed, and ``"undecided"`` otherwise (the seeds disagree, or some lie
    in the noise and some outside it).

    Args:
        differences: a − b per seed.
        noise: the size below which a difference is not told apart from measurement noise (>= 0).
    """
    if not differences:
        raise ValueError("differences must hold at least one number")
    if not noise >= 0:
        raise ValueError(f"noise must be >= 0; got {noise!r}")
    if all(d > noise for d in differences):
        return "higher"
    if all(d < -noise for d in differences):
        return "lower"
    if all(abs(d) <= noise for d in differences):
        return "no difference"
    return "undecided"


def judged(differences: Sequence[float], noise: float) -> str:
    """A difference per seed as its :func:`spread` and its :func:`verdict`, e.g. ``"7.9 (6.1–9.0) → higher"``."""
    return f"{spread(differences)} → {verdict(differences, noise)}"
