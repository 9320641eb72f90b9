"""The course's datasets: images now; time series and text join as their notebooks arrive."""

from sgt_course.data.images import (
    IMAGE_DATASETS,
    ImageSet,
    load_cifar10,
    load_digits,
    load_images,
    load_mnist,
    make_planted_patches,
)

__all__ = [
    "IMAGE_DATASETS",
    "ImageSet",
    "load_cifar10",
    "load_digits",
    "load_images",
    "load_mnist",
    "make_planted_patches",
]
