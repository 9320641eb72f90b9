"""Where the course runs: the device, seeds, cache folders and random draws.

How big a run is lives in :mod:`sgt_course.recipes` (the run profiles); :func:`start` is a notebook's
first step, the profile and the device in one call::

    profile, device = runtime.start(seed=0)   # SGT_COURSE_PROFILE=ci|cpu|gpu, detected when unset
"""

from __future__ import annotations

import os
import random
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch

from sgt_course.recipes import Profile, get_profile

DEVICE_ENV = "SGT_COURSE_DEVICE"
CACHE_ENV = "SGT_COURSE_CACHE"
DATA_ENV = "SGT_COURSE_DATA"
PRECISION_ENV = "SGT_COURSE_PRECISION"

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


def default_precision() -> str:
    """The precision :func:`sgt_course.training.fit` trains in when not told: $SGT_COURSE_PRECISION, else
    ``"fp32"``. ``bf16`` is an opt-in for CPUs with bfloat16 matrix units (Intel AMX, AMD AVX512-BF16), where
    ``sgt-course speed-levers`` and ``gpu-check --laptop`` measure whether it is faster and changes nothing a
    student reads; models trained in it are cached under their own keys.

    Raises:
        ValueError: the variable names no precision in :data:`PRECISIONS`.
    """
    precision = os.environ.get(PRECISION_ENV) or "fp32"
    if precision not in PRECISIONS:
        raise ValueError(f"${PRECISION_ENV} must be one of {', '.join(PRECISIONS)}; got {precision!r}")
    return precision


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
    precision = default_precision()
    return (f"profile={profile.name} device={device}{gpu} torch={torch.__version__} "
            f"threads={torch.get_num_threads()} cache={cache_dir()}"
            + (f" precision={precision} (${PRECISION_ENV})" if precision != "fp32" else ""))


def start(seed: int = 0) -> tuple[Profile, torch.device]:
    """A notebook's first step in one call: the run profile and the device, every generator seeded
    with ``seed``, and one printed line saying where and how big this run is."""
    profile, device = get_profile(), get_device()
    seed_everything(seed)
    print(describe(profile, device))
    return profile, device
