"""Training objectives. Each is a function of (model, x, y) that returns a scalar loss, so one
training loop (:func:`sgt_course.training.fit`) serves every regime of the course.
"""

from __future__ import annotations

from typing import Protocol

import torch.nn.functional as F
from torch import Tensor, nn


class LossFn(Protocol):
    """What :func:`~sgt_course.training.fit` calls once per minibatch: x (N, ...), y (N,) -> scalar."""

    def __call__(self, model: nn.Module, x: Tensor, y: Tensor) -> Tensor: ...


def standard_loss(model: nn.Module, x: Tensor, y: Tensor) -> Tensor:
    """L = CE(f(X), y): ordinary cross-entropy training."""
    return F.cross_entropy(model(x), y)
