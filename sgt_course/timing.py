"""Wall-clock timing of training steps, for the notebooks' cost notes and the benchmarks.

Ratios between two kinds of step are only meaningful when both are measured under the same load,
so :func:`compare` interleaves them (A, B, A, B, ...) and reports each one's median.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from functools import partial

import torch
from torch import Tensor, nn

from sgt_course.losses import LossFn
from sgt_course.training import step


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def training_step(model: nn.Module, loss_fn: LossFn, x: Tensor, y: Tensor, lr: float = 1e-3, *,
                  precision: str = "fp32") -> Callable[[], None]:
    """A function doing one training step (:func:`sgt_course.training.step`, Adam, in ``precision``) of
    ``model`` on (x, y).

    The model is trained by each call (its weights change): pass a copy if that matters.
    """
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    model.train()
    return partial(step, model, loss_fn, optimizer, x, y, precision=precision)


def compare(functions: Mapping[str, Callable[[], object]], *, repeats: int = 10, warmup: int = 2,
            device: torch.device | str = "cpu") -> dict[str, float]:
    """Median seconds per call of each function, measured interleaved after ``warmup`` untimed rounds.

    GPU work is waited for before and after each call.
    """
    if repeats < 1 or warmup < 0:
        raise ValueError(f"repeats must be >= 1 and warmup >= 0; got {repeats} and {warmup}")
    device = torch.device(device)
    times: dict[str, list[float]] = {name: [] for name in functions}
    for round_ in range(warmup + repeats):
        for name, fn in functions.items():
            _sync(device)
            start = time.perf_counter()
            fn()
            _sync(device)
            if round_ >= warmup:
                times[name].append(time.perf_counter() - start)
    return {name: sorted(values)[len(values) // 2] for name, values in times.items()}
