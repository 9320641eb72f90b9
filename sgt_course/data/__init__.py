"""The course's datasets. Images are re-exported here (MNIST, MNIST-5k, CIFAR-10, the 8×8 digits, planted
patches); the time-series benchmark lives in :mod:`sgt_course.data.timeseries` and the texts (ERASER
Movies, planted reviews) in :mod:`sgt_course.data.text`. All three kinds are a :class:`Dataset`."""

from sgt_course.data.base import SOURCES, Dataset, describe_source
from sgt_course.data.images import (
    IMAGE_DATASETS,
    ImageSet,
    load_cifar10,
    load_digits,
    load_images,
    load_mnist,
    load_mnist5k,
    make_planted_patches,
)

__all__ = [
    "Dataset",
    "SOURCES",
    "describe_source",
    "IMAGE_DATASETS",
    "ImageSet",
    "load_cifar10",
    "load_digits",
    "load_images",
    "load_mnist",
    "load_mnist5k",
    "make_planted_patches",
]
