"""Where the course runs: device, seeds, cache folders and the run profile.

The run profile scales every experiment in one place. Notebooks read it and never hard-code a
data size, an epoch count or a model width::

    profile = get_profile()          # SGT_COURSE_PROFILE=ci|cpu|gpu, detected when unset
    train = load_images(profile.image_dataset, "train", n=profile.n_train)
"""

from __future__ import annotations

import os
import random
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch

PROFILE_ENV = "SGT_COURSE_PROFILE"
DEVICE_ENV = "SGT_COURSE_DEVICE"
CACHE_ENV = "SGT_COURSE_CACHE"
DATA_ENV = "SGT_COURSE_DATA"

_DEVICE_KINDS = ("cpu", "cuda", "mps")
#: The arithmetic a training step can run in: full float32, or bfloat16 autocast (:func:`mixed_precision`).
PRECISIONS = ("fp32", "bf16")


def get_device(name: str | None = None) -> torch.device:
    """The device to compute on: cuda > mps > cpu, unless ``name`` or $SGT_COURSE_DEVICE says.

    Args:
        name: ``"cpu"``, ``"cuda"``, ``"cuda:1"`` or ``"mps"``; ``None`` reads $SGT_COURSE_DEVICE and
            picks the fastest available device when that is unset too.

    Raises:
        ValueError: the name is not a device kind, or names a device this machine does not have.
    """
    name = name if name is not None else os.environ.get(DEVICE_ENV) or None
    if name is None:
        if torch.cuda.is_available():
            return torch.device("cuda")
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    kind = name.split(":", 1)[0]
    if kind not in _DEVICE_KINDS:
        raise ValueError(f"device must be one of {', '.join(_DEVICE_KINDS)} (optionally 'cuda:N'); got {name!r}")
    try:
        device = torch.device(name)
    except RuntimeError as error:
        raise ValueError(f"device {name!r} is not a valid device string: {error}") from None
    if kind == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {name!r} was asked for, but this machine has no CUDA GPU; use 'cpu'")
    if kind == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
        raise ValueError(f"device {name!r} does not exist: this machine has {torch.cuda.device_count()} GPU(s)")
    if kind == "mps" and not _mps_available():
        raise ValueError(f"device {name!r} was asked for, but Apple's MPS backend is not available; use 'cpu'")
    return device


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


@contextmanager
def mixed_precision(device: torch.device | str, precision: str = "fp32") -> Iterator[None]:
    """Run the block in ``precision``: ``"fp32"`` changes nothing; ``"bf16"`` is :func:`torch.autocast`
    with bfloat16, so matrix products and convolutions (forward passes, the saliency pass, an attack's
    gradients) compute in bfloat16 while weights, inputs and gradients stay float32. bfloat16 keeps
    float32's range, so no loss scaling is needed. Backpropagate the loss outside the block.

    Off by default everywhere in the course: ``sgt-course gpu-check`` measures whether it is faster and
    whether it changes accuracy, saliency ranks or attack success.
    """
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}; got {precision!r}")
    with torch.autocast(torch.device(device).type, dtype=torch.bfloat16, enabled=precision == "bf16"):
        yield


def seed_everything(seed: int = 0) -> torch.Generator:
    """Seed Python, NumPy and PyTorch (all devices) and return a CPU generator seeded with ``seed``.

    A seeded run repeats exactly on the same machine; pass the returned generator to the library's
    functions that draw random numbers.
    """
    if not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative int; got {seed!r}")
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


@dataclass(frozen=True)
class Profile:
    """How big every experiment is. One instance per run profile; see :data:`PROFILES`.

    Attributes:
        name: ``"ci"`` (offline data, small models, about a minute per notebook), ``"cpu"`` (real data
            subsets, minutes on a laptop) or ``"gpu"`` (full data).
        image_dataset: the dataset the image notebooks use: ``"mnist5k"`` (the 5,000 real MNIST digits
            that need no download) or ``"mnist"`` (which falls back to ``"mnist5k"`` offline).
        image_model: the model the image notebooks train (see :func:`sgt_course.models.build_model`).
        width: the model's base number of channels (the authors' MNIST CNN ignores it).
        n_train, n_test: how many training and test samples to use (``None``: all).
        epochs: epochs for a main training run of the image models.
        batch_size: minibatch size for training the image models.
        lr: learning rate of the Adam optimizer for the image models.
        n_explain: how many test samples the saliency figures and metrics look at.
        n_planted: training-set size of the generated planted-patch images.
        n_quick: training-set size of the quick retrains behind the k and λ sliders.
        n_robust, robust_epochs: training-set size and epochs of notebook 6, where all four regimes
            (standard, SGT, adversarial training, ASGT) train with one recipe.
        robust_steps: PGD steps of the attack inside adversarial training and ASGT (evaluation always
            attacks with 10).
        n_series, series_epochs: training-set size and epochs of the time-series benchmark (notebook 3).
        text_dataset, n_text, text_epochs, text_width: the language notebook's data (``"planted"``
            reviews or ERASER ``"movies"``), training-set size, epochs and BiLSTM width.
        sequence_batch_size, sequence_lr: minibatch size and Adam learning rate of the time-series and
            text models.
        cifar10: whether notebooks 5 and 6 also attack and train the compact ResNet on CIFAR-10
            (:func:`sgt_course.recipes.cifar_profile`), with the sizes above.
        seeds: the training seeds of notebook 2's fair removal study (a standard and an SGT model each).
        robust_seeds: the training seeds of notebook 6's removal study of the four regimes (one in ``ci``,
            where each seed costs about 40 s of adversarial training).
        roar_fractions: the fractions notebook 2 removes and retrains on (ROAR); none in ``ci``, where
            retraining one model per ranking and fraction does not fit the time budget.
    """

    name: str
    image_dataset: str
    image_model: str
    width: int
    n_train: int | None
    n_test: int | None
    epochs: int
    batch_size: int
    lr: float
    n_explain: int
    n_planted: int
    n_quick: int
    n_robust: int | None
    robust_epochs: int
    robust_steps: int
    n_series: int
    series_epochs: int
    text_dataset: str
    n_text: int | None
    text_epochs: int
    text_width: int
    sequence_batch_size: int
    sequence_lr: float
    cifar10: bool
    seeds: tuple[int, ...] = (0, 1, 2)
    robust_seeds: tuple[int, ...] = (0, 1, 2)
    roar_fractions: tuple[float, ...] = (0.2, 0.5)

    def scaled(self, **changes: object) -> Profile:
        """A copy with some fields changed, e.g. ``profile.scaled(epochs=1)`` for a quick retrain."""
        return replace(self, **changes)


PROFILES: dict[str, Profile] = {
    "ci": Profile(
        "ci", image_dataset="mnist5k", image_model="small_cnn", width=32, n_train=None, n_test=None, epochs=3,
        batch_size=64, lr=1e-3, n_explain=128, n_planted=2000, n_quick=1000, n_robust=1500, robust_epochs=4,
        robust_steps=5, n_series=600, series_epochs=3,
        text_dataset="planted", n_text=1000, text_epochs=4, text_width=32, sequence_batch_size=32, sequence_lr=3e-3,
        cifar10=False, robust_seeds=(0,), roar_fractions=()),
    "cpu": Profile(
        "cpu", image_dataset="mnist", image_model="mnist_cnn", width=32, n_train=12000, n_test=2000, epochs=3,
        batch_size=128, lr=1e-3, n_explain=256, n_planted=4000, n_quick=2000, n_robust=4000, robust_epochs=3,
        robust_steps=10, n_series=1000, series_epochs=10,
        text_dataset="planted", n_text=4000, text_epochs=4, text_width=64, sequence_batch_size=128, sequence_lr=1e-3,
        cifar10=False, roar_fractions=(0.5,)),
    "gpu": Profile(
        "gpu", image_dataset="mnist", image_model="mnist_cnn", width=32, n_train=None, n_test=None, epochs=10,
        batch_size=128, lr=1e-3, n_explain=1000, n_planted=8000, n_quick=10000, n_robust=None, robust_epochs=10,
        robust_steps=10, n_series=1000, series_epochs=30,
        text_dataset="movies", n_text=None, text_epochs=10, text_width=128, sequence_batch_size=128, sequence_lr=1e-3,
        cifar10=True),
}


def get_profile(name: str | None = None) -> Profile:
    """The run profile: ``name``, else $SGT_COURSE_PROFILE, else ``"gpu"`` with CUDA and ``"cpu"`` without.

    Raises:
        ValueError: the name is not one of ``ci``, ``cpu``, ``gpu``.
    """
    name = name if name is not None else os.environ.get(PROFILE_ENV) or None
    if name is None:
        name = "gpu" if torch.cuda.is_available() else "cpu"
    if name not in PROFILES:
        raise ValueError(f"profile must be one of {', '.join(PROFILES)}; got {name!r} "
                         f"(set {PROFILE_ENV} or pass name=)")
    return PROFILES[name]


def draw(like: torch.Tensor, generator: torch.Generator | None = None, *, normal: bool = False,
         dtype: torch.dtype | None = None) -> torch.Tensor:
    """Random numbers shaped like ``like``, on its device and in its dtype: U[0, 1), or N(0, 1) when
    ``normal``. They come from ``generator`` (drawn on its device) or torch's global generator, in
    ``dtype`` (default: like's), so a seed gives the same numbers wherever the tensor lives."""
    sample = torch.randn if normal else torch.rand
    values = sample(like.shape, generator=generator, dtype=dtype or like.dtype,
                    device="cpu" if generator is None else generator.device)
    return values.to(device=like.device, dtype=like.dtype)


def cache_dir() -> Path:
    """The folder for cached checkpoints: $SGT_COURSE_CACHE, else ``~/.cache/sgt-course``."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).expanduser() / "sgt-course"


def data_dir() -> Path:
    """The folder datasets download into: $SGT_COURSE_DATA, else ``<cache_dir()>/data``."""
    if os.environ.get(DATA_ENV):
        return Path(os.environ[DATA_ENV]).expanduser()
    return cache_dir() / "data"


def describe(profile: Profile | None = None, device: torch.device | None = None) -> str:
    """One line saying where and how big this run is, for a notebook's first output."""
    profile = profile or get_profile()
    device = device or get_device()
    gpu = f" ({torch.cuda.get_device_name(device)})" if device.type == "cuda" else ""
    return (f"profile={profile.name} device={device}{gpu} torch={torch.__version__} "
            f"threads={torch.get_num_threads()} cache={cache_dir()}")


def start(seed: int = 0) -> tuple[Profile, torch.device]:
    """A notebook's first step in one call: the run profile and the device, every generator seeded
    with ``seed``, and one printed line saying where and how big this run is."""
    profile, device = get_profile(), get_device()
    seed_everything(seed)
    print(describe(profile, device))
    return profile, device
