"""How the course reports a measured number: with its uncertainty over images and over seeds.

- :func:`wilson`: the 95 % interval of an accuracy measured on n images (Wilson's score interval);
- :func:`paired_difference`: the difference between two models scored on the same images, with a
  paired bootstrap interval over the images;
- :func:`spread`: one value per seed as "mean (min–max)";
- :func:`interval_verdict`: what per-seed intervals of a difference support (the course's rule).
- :func:`verdict`: what a difference between two models, measured on every seed, supports;
  :func:`judged`, the spread and the verdict together, as the tables show them.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor


@dataclass(frozen=True)
class Interval:
    """An estimate with its 95 % interval [low, high], as a fraction (accuracies) or a difference of fractions."""

    estimate: float
    low: float
    high: float

    def excludes_zero(self) -> bool:
        """True when the interval lies wholly above or wholly below 0."""
        return self.low > 0 or self.high < 0

    def __str__(self) -> str:
        """In percent (points, for a difference): ``"93.1 [91.4, 94.5]"``."""
        return f"{100 * self.estimate:.1f} [{100 * self.low:.1f}, {100 * self.high:.1f}]"


def wilson(correct: int, n: int, z: float = 1.96) -> Interval:
    """Accuracy ``correct / n`` with Wilson's score interval (95 % for z = 1.96), which unlike the normal
    approximation stays inside [0, 1] and is sound near 0 and 1:

        centre = (p + z²/2n) / (1 + z²/n),   half-width = z·√(p(1−p)/n + z²/4n²) / (1 + z²/n).
    """
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive int; got {n!r}")
    if not 0 <= correct <= n:
        raise ValueError(f"correct must lie in [0, n] = [0, {n}]; got {correct!r}")
    p = correct / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    return Interval(p, max(0.0, centre - half), min(1.0, centre + half))


def paired_difference(a: Tensor, b: Tensor, *, resamples: int = 2000, seed: int = 0) -> Interval:
    """mean(a) − mean(b) for two models scored on the **same** images (``a``, ``b``: (N,) per-image scores,
    e.g. 1.0 where the model was right), with a 95 % percentile interval from a paired bootstrap: the images
    are resampled with replacement, each draw keeping an image's two scores together, so the interval
    reflects how the models differ on the same inputs rather than two independent samples' noise."""
    if a.ndim != 1 or a.shape != b.shape:
        raise ValueError(f"a and b must be (N,) scores of the same images; got {tuple(a.shape)} and {tuple(b.shape)}")
    if a.shape[0] < 2:
        raise ValueError("a paired bootstrap needs at least 2 images")
    difference = (a.double() - b.double()).cpu()
    draws = torch.randint(0, difference.shape[0], (resamples, difference.shape[0]),
                          generator=torch.Generator().manual_seed(seed))
    means = difference[draws].mean(1)
    low, high = torch.quantile(means, torch.tensor([0.025, 0.975], dtype=torch.float64)).tolist()
    return Interval(difference.mean().item(), low, high)


def spread(values: Sequence[float], *, percent: bool = True) -> str:
    """``values`` (one per seed) as "mean (min–max)", in percent by default: ``"57.8 (55.0–60.1)"``;
    a single value as ``"57.8 (one seed)"``."""
    if not values:
        raise ValueError("values must hold at least one number")
    scale = 100 if percent else 1
    mean, low, high = (scale * v for v in (statistics.fmean(values), min(values), max(values)))
    return f"{mean:.1f} (one seed)" if len(values) == 1 else f"{mean:.1f} ({low:.1f}–{high:.1f})"


#: The verdicts of :func:`verdict` and :func:`interval_verdict`.
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


def interval_verdict(intervals: Sequence[Interval]) -> str:
    """The course's rule for a difference a − b measured on several seeds, each with its interval:
    ``"higher"`` (or ``"lower"``) when every seed's interval lies above (below) 0, ``"no difference"``
    when every interval contains 0, and ``"undecided"`` otherwise."""
    if not intervals:
        raise ValueError("intervals must hold at least one Interval")
    if all(i.low > 0 for i in intervals):
        return "higher"
    if all(i.high < 0 for i in intervals):
        return "lower"
    if not any(i.excludes_zero() for i in intervals):
        return "no difference"
    return "undecided"
