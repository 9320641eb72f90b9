"""The synthetic time-series benchmark of Ismail, Gunady, Corrada Bravo & Feizi (NeurIPS 2020),
used again by the SGT paper: inputs whose informative (time, feature) cells are known exactly.

Construction (as in the benchmark's generator):

1. every sample starts as ``steps x features`` of a noise process — ``"gaussian"`` N(0, 1) per cell,
   ``"autoregressive"`` x_t = φ x_(t−1) + N(0, 1) per feature (φ = 0.9, started stationary), or
   ``"harmonic"`` sin(2π f t + phase) with f = 2 cycles over the window, a random phase per feature,
   plus N(0, 0.3²) noise;
2. a box of informative cells is chosen by the ``layout`` (fixed, moving or class-dependent);
3. the label decides the box's shift: +μ for the positive class (1), −μ for the negative class (0)
   (the benchmark's ±1 target); in the ``positional_*`` layouts both classes are shifted by +μ and the
   class is *where* the box is.

The ground-truth mask marks the box: the cells a faithful saliency map should point at.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from sgt_course.checks import check_choice

PROCESSES = ("gaussian", "autoregressive", "harmonic")


@dataclass(frozen=True)
class Layout:
    """Where the informative box sits on the (steps=50, features=50) grid of the benchmark.

    ``start_time``/``start_feature`` of None mean a random start per sample ("moving"); a
    ``positions`` pair means the box starts at positions[label] along ``positional_axis``.
    """

    box_time: int
    box_features: int
    start_time: int | None
    start_feature: int | None
    positional_axis: str | None = None
    positions: tuple[int, int] = (1, 29)


LAYOUTS: dict[str, Layout] = {
    "middle": Layout(30, 30, 10, 10),
    "small_middle": Layout(14, 14, 18, 18),
    "moving_middle": Layout(30, 30, None, None),
    "moving_small_middle": Layout(15, 15, None, None),
    "rare_time": Layout(6, 40, 22, 5),
    "moving_rare_time": Layout(6, 40, None, None),
    "rare_feature": Layout(40, 6, 5, 22),
    "moving_rare_feature": Layout(40, 6, None, None),
    "positional_time": Layout(20, 20, None, None, positional_axis="time"),
    "positional_feature": Layout(20, 20, None, None, positional_axis="feature"),
}


@dataclass
class TimeSeriesSet:
    """A labelled time-series set: x (N, steps, features) float32, y (N,) in {0, 1}, mask (N, steps, features) bool."""

    x: Tensor
    y: Tensor
    mask: Tensor
    layout: str
    process: str
    n_classes: int = 2
    source: str = "timeseries"

    def __len__(self) -> int:
        return self.x.shape[0]

    def to(self, device: torch.device | str) -> TimeSeriesSet:
        return TimeSeriesSet(self.x.to(device), self.y.to(device), self.mask.to(device), self.layout, self.process)

    def head(self, n: int | None) -> TimeSeriesSet:
        if n is None:
            return self
        return TimeSeriesSet(self.x[:n], self.y[:n], self.mask[:n], self.layout, self.process)


def _noise(process: str, n: int, steps: int, features: int, g: torch.Generator) -> Tensor:
    if process == "gaussian":
        return torch.randn(n, steps, features, generator=g)
    if process == "autoregressive":
        phi = 0.9
        innovations = torch.randn(n, steps, features, generator=g)
        # x_t = Σ_{s<=t} φ^(t−s) e_s, vectorized: a lower-triangular matrix of powers of φ.
        t = torch.arange(steps)
        powers = torch.tril(phi ** (t[:, None] - t[None, :]).clamp_min(0).float())
        start = torch.randn(n, 1, features, generator=g) / (1 - phi**2) ** 0.5   # stationary start
        return torch.einsum("ts,nsf->ntf", powers, innovations) + start * phi ** (t + 1).float()[None, :, None]
    phase = 2 * torch.pi * torch.rand(n, 1, features, generator=g)
    time = torch.linspace(0, 1, steps)[None, :, None]
    return torch.sin(2 * torch.pi * 2.0 * time + phase) + 0.3 * torch.randn(n, steps, features, generator=g)


def make_benchmark(layout: str = "middle", process: str = "gaussian", n: int = 1000, steps: int = 50,
                   features: int = 50, seed: int = 0, shift: float = 1.0) -> TimeSeriesSet:
    """Generate ``n`` samples of the time-series saliency benchmark (see the module docstring).

    Args:
        layout: one of :data:`LAYOUTS` (middle, small_middle, moving_middle, rare_time, rare_feature,
            positional_time, ... ).
        process: the background process, one of :data:`PROCESSES`.
        n: number of samples; labels are balanced (n // 2 positives).
        steps, features: the grid; the layouts are defined on the benchmark's 50 x 50 and scale with it.
        seed: everything is drawn from one generator seeded with it.
        shift: μ, the size of the informative shift.

    Returns:
        A :class:`TimeSeriesSet` with x (n, steps, features), y (n,) and the box mask (n, steps, features).
    """
    check_choice("layout", layout, LAYOUTS)
    check_choice("process", process, PROCESSES)
    for name, value in (("n", n), ("steps", steps), ("features", features)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{name} must be a positive int; got {value!r}")
    if steps < 10 or features < 10:
        raise ValueError(f"steps and features must be >= 10 for the layouts to fit; got {steps} and {features}")
    if not shift > 0:
        raise ValueError(f"shift must be > 0; got {shift!r}")
    g = torch.Generator().manual_seed(seed)
    spec = LAYOUTS[layout]
    scale_t, scale_f = steps / 50, features / 50
    box_t, box_f = max(1, round(spec.box_time * scale_t)), max(1, round(spec.box_features * scale_f))
    y = (torch.arange(n) % 2)[torch.randperm(n, generator=g)]
    x = _noise(process, n, steps, features, g)

    def starts(fixed: int | None, size: int, scale: float, length: int) -> Tensor:
        if fixed is not None:
            return torch.full((n,), min(round(fixed * scale), length - size))
        return torch.randint(0, length - size + 1, (n,), generator=g)

    t0 = starts(spec.start_time, box_t, scale_t, steps)
    f0 = starts(spec.start_feature, box_f, scale_f, features)
    if spec.positional_axis is not None:
        by_class = torch.tensor(spec.positions)
        if spec.positional_axis == "time":
            t0 = (by_class[y] * scale_t).round().long().clamp(max=steps - box_t)
        else:
            f0 = (by_class[y] * scale_f).round().long().clamp(max=features - box_f)
    in_time = (torch.arange(steps)[None, :] >= t0[:, None]) & (torch.arange(steps)[None, :] < (t0 + box_t)[:, None])
    in_feat = (torch.arange(features)[None, :] >= f0[:, None]) & (torch.arange(features)[None, :] < (f0 + box_f)[:, None])
    mask = in_time[:, :, None] & in_feat[:, None, :]
    sign = torch.ones(n) if spec.positional_axis is not None else 2.0 * y.float() - 1.0
    x = x + shift * sign[:, None, None] * mask
    return TimeSeriesSet(x.float(), y.long(), mask, layout, process)
