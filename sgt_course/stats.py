"""Numbers over seeds: how the course reports one quantity measured with several training seeds.

- :func:`spread`: one value per seed as "mean (min–max)".
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
