"""The course's recipes in one place: what each experiment trains, with which settings, and how hard.

The run profile (:class:`~sgt_course.runtime.Profile`) sizes every notebook; this module derives the
profiles of two parts of the course from it and holds the settings that are not sizes:

- :data:`TRAINING_EPS`: the PGD radius of adversarial training per data set;
- :func:`cifar_profile`, :func:`robust_profile`: the profiles of the CIFAR-10 parts and of notebook 6;
- :data:`ROBUST_REGIMES`, :func:`robust_regimes`: notebook 6's four regimes and their settings;
- :class:`Recipe`, :data:`RECIPES`: the paper-size runs of ``sgt-course reproduce``.

A regime's settings are the keyword arguments of :func:`sgt_course.losses.regime_loss`, which checks
them when they are given.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import torch
from torch import nn

from sgt_course.checks import check_choice
from sgt_course.runtime import Profile

#: PGD radius (L∞, pixel units) for adversarial training on each image data set: the paper's 0.2 for
#: MNIST and its offline part MNIST-5k, 8/255 for CIFAR-10 and the planted-patch images that stand in for it.
TRAINING_EPS: dict[str, float] = {"mnist": 0.2, "mnist5k": 0.2, "cifar10": 8 / 255, "planted": 8 / 255}


def cifar_profile(profile: Profile) -> Profile:
    """``profile`` with CIFAR-10 and the compact ResNet (width 16) in place of its image data and model,
    sizes and recipe unchanged: the CIFAR-10 parts of notebooks 5 and 6 (``profile.cifar10``)."""
    return profile.scaled(image_dataset="cifar10", image_model="cifar_resnet", width=16)


def robust_profile(profile: Profile) -> Profile:
    """The profile of the four-regime comparison (notebook 6): ``profile.robust_epochs`` at lr 1e-3
    (PGD adversarial training at the profiles' 3e-3 collapsed to chance on two of three seeds)."""
    return profile.scaled(epochs=profile.robust_epochs, lr=1e-3)


#: Notebook 6's four regimes by display name, in the order its tables and figures show them.
ROBUST_REGIMES: tuple[str, ...] = ("standard", "SGT", "PGD-AT", "ASGT")


def robust_regimes(eps: float, *, k: float = 0.5, lam: float = 1.0, steps: int = 10) -> dict[str, tuple[str, dict]]:
    """The four regimes of notebook 6 by display name: ``{name: (regime, settings)}``; the adversarial
    ones use ``steps``-step PGD at radius ``eps``, the saliency-guided ones mask ``k`` with weight ``lam``."""
    pgd = {"attack": "pgd", "eps": eps, "steps": steps}
    return dict(zip(ROBUST_REGIMES, (("standard", {}), ("sgt", {"k": k, "lam": lam}), ("adversarial", pgd),
                                     ("asgt", {"k": k, "lam": lam, **pgd})), strict=True))


@dataclass(frozen=True)
class Recipe:
    """How one data set is reproduced: its model, the training run and the robustness radius."""

    dataset: str
    model: str
    width: int
    epochs: int
    batch_size: int
    lr: float
    eps: float
    n_train: int | None = None
    n_test: int | None = None
    n_eval: int = 1000
    optimizer: str = "adam"

    def make_optimizer(self, parameters: Iterable[nn.Parameter]) -> torch.optim.Optimizer:
        """The recipe's optimizer at its learning rate: ``"adam"`` (ours) or ``"adadelta"`` (the SGT authors')."""
        check_choice("optimizer", self.optimizer, OPTIMIZERS)
        return OPTIMIZERS[self.optimizer](parameters, lr=self.lr)


#: The optimizers a recipe can name.
OPTIMIZERS: dict[str, Callable[..., torch.optim.Optimizer]] = {"adam": torch.optim.Adam,
                                                                 "adadelta": torch.optim.Adadelta}


#: The paper-size runs (our recipes; the papers' exact schedules are not all published): k = 0.5, λ = 1,
#: 10-step PGD at the data set's training radius. ``"mnist"`` runs on MNIST-5k when MNIST cannot be
#: downloaded; ``"mnist5k"`` is a quick run on those digits with the ci profile's small CNN.
#: ``"mnist-authors"`` is the SGT authors' MNIST recipe (Scripts/train_MNIST.py): Adadelta at lr 1.0,
#: batch 512; they train up to 100 epochs with early stopping, we train 10 like ``"mnist"``.
RECIPES: dict[str, Recipe] = {
    "mnist": Recipe("mnist", "mnist_cnn", 32, epochs=10, batch_size=128, lr=1e-3, eps=TRAINING_EPS["mnist"]),
    "cifar10": Recipe("cifar10", "cifar_resnet", 16, epochs=30, batch_size=128, lr=1e-3, eps=TRAINING_EPS["cifar10"]),
    "mnist5k": Recipe("mnist5k", "small_cnn", 32, epochs=4, batch_size=64, lr=1e-3, eps=TRAINING_EPS["mnist5k"]),
    "mnist-authors": Recipe("mnist", "mnist_cnn", 32, epochs=10, batch_size=512, lr=1.0, eps=TRAINING_EPS["mnist"],
                            optimizer="adadelta"),
}
