"""What every data set of the course offers: the :class:`Dataset` protocol."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import torch
from torch import Tensor


@runtime_checkable
class Dataset(Protocol):
    """A labelled data set held as two tensors: :class:`~sgt_course.data.ImageSet`,
    :class:`~sgt_course.data.timeseries.TimeSeriesSet` and :class:`~sgt_course.data.text.TextSet` are
    ones, and :func:`sgt_course.training.fit` trains on any of them.

    Attributes:
        x: the inputs, shape (N, ...): images (N, C, H, W), series (N, T, F) or token ids (N, L).
        y: the labels, shape (N,), int64 in [0, n_classes).
        n_classes: the number of classes.
        source: where the data came from, so a notebook can say it (``"mnist5k"``, ``"planted"``, ...).
    """

    @property
    def x(self) -> Tensor: ...

    @property
    def y(self) -> Tensor: ...

    @property
    def n_classes(self) -> int: ...

    @property
    def source(self) -> str: ...

    def __len__(self) -> int: ...

    def head(self, n: int | None) -> Dataset:
        """The first ``n`` samples (all when ``n`` is None)."""
        ...

    def to(self, device: torch.device | str) -> Dataset:
        """The same samples on ``device``."""
        ...
