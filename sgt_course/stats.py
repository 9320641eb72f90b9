"""How the course reports a measured number: with its uncertainty over images and over seeds.

- :func:`wilson` (:func:`accuracy`): the 95 % interval of an accuracy measured on n images (Wilson's
  score interval);
- :func:`bootstrap_mean`: the mean of per-image scores (a ROAD gap, a share) with a bootstrap interval;
- :func:`paired_difference`: the difference between two models scored on the same images, with a
  paired bootstrap interval over the images;
- :func:`spread`: one value per seed as "mean (min–max)"; :func:`interval_spread`, the same with the
  seeds' typical 95 % half-width;
- :func:`interval_verdict`: what per-seed intervals of a difference support (the course's rule), and
  :func:`judged`, the spread and the verdict together, as the tables show them.

The rule: a difference is *higher* (*lower*) only when its interval lies above (below) 0 on every seed,
*no difference* only when every seed's interval contains 0, and *undecided* otherwise.
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

    @property
    def half_width(self) -> float:
        """Half the interval's width, (high − low) / 2: the "±" a table shows beside the estimate."""
        return (self.high - self.low) / 2

    def excludes_zero(self) -> bool:
        """True when the interval lies wholly above or wholly below 0."""
        return self.low > 0 or self.high < 0

    def __str__(self) -> str:
        """In percent (points, for a difference): ``"93.1 [91.4, 94.5]"``."""
        return f"{100 * self.estimate:.1f} [{100 * self.low:.1f}, {100 * self.high:.1f}]"

    def unscaled(self) -> str:
        """Not in percent, with two decimals, for a number that is not a fraction such as a correlation ρ:
        ``"+0.40 [+0.31, +0.48]"``."""
        return f"{self.estimate:+.2f} [{self.low:+.2f}, {self.high:+.2f}]"


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


def accuracy(correct: Tensor) -> Interval:
    """The accuracy of per-image outcomes ``correct`` ((N,) bool or 0/1) with its :func:`wilson` interval."""
    if correct.ndim != 1 or correct.shape[0] < 1:
        raise ValueError(f"correct must be (N,) outcomes of N >= 1 images; got shape {tuple(correct.shape)}")
    return wilson(int(correct.sum().item()), correct.shape[0])


def bootstrap_mean(scores: Tensor, *, resamples: int = 2000, seed: int = 0) -> Interval:
    """mean(scores) of per-image ``scores`` ((N,), e.g. each image's ROAD gap) with a 95 % percentile
    bootstrap interval: the images are resampled with replacement ``resamples`` times."""
    if scores.ndim != 1 or scores.shape[0] < 2:
        raise ValueError(f"scores must be (N,) per-image scores of N >= 2 images; got shape {tuple(scores.shape)}")
    scores = scores.double().cpu()
    draws = torch.randint(0, scores.shape[0], (resamples, scores.shape[0]), generator=torch.Generator().manual_seed(seed))
    low, high = torch.quantile(scores[draws].mean(1), torch.tensor([0.025, 0.975], dtype=torch.float64)).tolist()
    return Interval(scores.mean().item(), low, high)


def paired_difference(a: Tensor, b: Tensor, *, resamples: int = 2000, seed: int = 0) -> Interval:
    """mean(a) − mean(b) for two models scored on the **same** images (``a``, ``b``: (N,) per-image scores,
    e.g. 1.0 where the model was right), with a 95 % percentile interval from a paired bootstrap: the images
    are resampled with replacement, each draw keeping an image's two scores together, so the interval
    reflects how the models differ on the same inputs rather than two independent samples' noise."""
    if a.ndim != 1 or a.shape != b.shape:
        raise ValueError(f"a and b must be (N,) scores of the same images; got {tuple(a.shape)} and {tuple(b.shape)}")
    return bootstrap_mean(a.double() - b.double(), resamples=resamples, seed=seed)


def spread(values: Sequence[float], *, percent: bool = True) -> str:
    """``values`` (one per seed) as "mean (min–max)", in percent by default: ``"57.8 (55.0–60.1)"``;
    a single value as ``"57.8 (one seed)"``."""
    if not values:
        raise ValueError("values must hold at least one number")
    scale = 100 if percent else 1
    mean, low, high = (scale * v for v in (statistics.fmean(values), min(values), max(values)))
    return f"{mean:.1f} (one seed)" if len(values) == 1 else f"{mean:.1f} ({low:.1f}–{high:.1f})"


def interval_spread(intervals: Sequence[Interval]) -> str:
    """Per-seed estimates with their intervals as "mean (min–max) ±h" in percent (points), where h is the
    mean half-width of the seeds' 95 % intervals: ``"57.8 (55.0–60.1) ±4.3"``; one seed: ``"57.8 ±4.3"``."""
    if not intervals:
        raise ValueError("intervals must hold at least one Interval")
    half = 100 * statistics.fmean(i.half_width for i in intervals)
    estimates = [i.estimate for i in intervals]
    centre = f"{100 * estimates[0]:.1f}" if len(estimates) == 1 else spread(estimates)
    return f"{centre} ±{half:.1f}"


#: The verdicts of :func:`interval_verdict`.
VERDICTS = ("higher", "lower", "no difference", "undecided")


def interval_verdict(intervals: Sequence[Interval]) -> str:
    """The course's rule for a difference a − b measured on several seeds, each with its interval:
    ``"higher"`` (or ``"lower"``) when every seed's interval lies above (below) 0, ``"no difference"``
    when every interval contains 0, and ``"undecided"`` otherwise (the seeds disagree, or some exclude 0
    and some do not)."""
    if not intervals:
        raise ValueError("intervals must hold at least one Interval")
    if all(i.low > 0 for i in intervals):
        return "higher"
    if all(i.high < 0 for i in intervals):
        return "lower"
    if not any(i.excludes_zero() for i in intervals):
        return "no difference"
    return "undecided"


def judged(intervals: Sequence[Interval]) -> str:
    """A difference's per-seed intervals as their :func:`interval_spread` and :func:`interval_verdict`,
    e.g. ``"7.9 (6.1–9.0) ±3.1 → higher"``."""
    return f"{interval_spread(intervals)} → {interval_verdict(intervals)}"
