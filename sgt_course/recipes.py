"""How big each run is and with which settings: the run profiles, and the papers' k, λ and ε, each
written once.

The run profile scales every experiment in one place; notebooks read it and never hard-code a data
size, an epoch count or a model width::

    profile = get_profile()          # SGT_COURSE_PROFILE=ci|cpu|gpu, detected when unset
    train = load_images(profile.image_dataset, "train", n=profile.n_train)

- :class:`Profile`, :data:`PROFILES`, :func:`get_profile`: the sizes of a ``ci``, ``cpu`` or ``gpu`` run;
- :data:`PAPER_SGT`: the SGT paper's k and λ; :data:`TRAINING_EPS`: the PGD radius of adversarial
  training per data set;
- :func:`cifar_profile`, :func:`robust_profile`: the profiles of the CIFAR-10 parts and of notebook 6;
- :data:`ROBUST_REGIMES`, :func:`robust_regimes`: notebook 6's five regimes and their settings;
  :class:`Plateau`, how long they train in the ``cpu`` and ``gpu`` profiles.

These settings are part of every checkpoint's cache key: notebook 5 finds notebook 2's SGT model
because both ask for :data:`PAPER_SGT`. A regime's settings are the keyword arguments of
:func:`sgt_course.losses.regime_loss`, which checks them when they are given.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace

import torch

PROFILE_ENV = "SGT_COURSE_PROFILE"

#: The base number of channels of the compact CIFAR-10 ResNet (the profiles' and ``reproduce``'s).
CIFAR_WIDTH = 16


@dataclass(frozen=True)
class SGTSettings:
    """The two settings of Algorithm 1: the fraction ``k`` of features masked, the weight ``lam`` (λ) of
    the KL term."""

    k: float
    lam: float


#: The SGT paper's MNIST settings (Ismail et al. 2021): mask half the features, λ = 1.
PAPER_SGT = SGTSettings(k=0.5, lam=1.0)

#: PGD radius (L∞, pixel units) for adversarial training on each image data set: the paper's 0.2 for
#: MNIST and its offline part MNIST-5k, 8/255 for CIFAR-10 and the planted-patch images that stand in for it.
TRAINING_EPS: dict[str, float] = {"mnist": 0.2, "mnist5k": 0.2, "cifar10": 8 / 255, "planted": 8 / 255}


@dataclass(frozen=True)
class AuditBudget:
    """How hard :func:`sgt_course.robustness.robustness_audit` attacks: its sizes, one per profile.

    Attributes:
        images: how many test images are attacked.
        steps: iterations of the strong PGD and of both APGD attacks (PGD-10 keeps its 10).
        restarts: random restarts of the strong PGD.
        targets: target classes of APGD with the DLR loss (AutoAttack takes 9 on 10 classes).
        queries: queries of Square, the black-box attack (AutoAttack: 5,000).
        tolerance: how far, as a share of the images, a sanity check may be off and still pass.
    """

    images: int
    steps: int
    restarts: int
    targets: int
    queries: int
    tolerance: float = 0.02

    def __post_init__(self) -> None:
        for name in ("images", "steps", "restarts", "targets", "queries"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be a positive int; got {value!r}")
        if not 0 <= self.tolerance < 1:
            raise ValueError(f"tolerance must be a share of the images in [0, 1); got {self.tolerance!r}")


#: AutoAttack's standard sizes (Croce & Hein 2020: 100 iterations, 9 target classes, 5,000 queries) on 1,000
#: images, with 5 restarts of the strong PGD: the gpu profile's audit and the default of ``robustness_audit``.
AUTOATTACK_BUDGET = AuditBudget(images=1000, steps=100, restarts=5, targets=9, queries=5000)


@dataclass(frozen=True)
class Plateau:
    """Train notebook 6's regimes until they stop improving rather than for a fixed number of epochs.

    The last ``held_out`` of the ``n_robust`` training images are held out; after every epoch each regime
    is scored on them (clean accuracy, and accuracy under 10-step PGD at the training radius), and training
    stops once the score the regime optimises (PGD accuracy for the adversarial regimes, clean accuracy for
    standard and SGT) has not improved for ``patience`` epochs, at most the profile's ``robust_epochs``;
    the best epoch's weights are kept (:class:`sgt_course.training.EarlyStopping`).
    """

    held_out: int
    patience: int

    def __post_init__(self) -> None:
        for name in ("held_out", "patience"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be a positive int; got {value!r}")


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
        n_explain: how many test samples the saliency figures and metrics, and the attacks' curves, look at.
        n_removal: how many test samples the removal curves and studies remove features from (their
            accuracies' 95 % intervals are about ±4 points on 512 images, ±8 on 128).
        n_planted: training-set size of the generated planted-patch images.
        n_quick: training-set size of the quick retrains behind the k and λ sliders.
        n_robust, robust_epochs, robust_lr: training-set size, epochs and Adam learning rate of notebook 6,
            where all five regimes (standard, SGT, adversarial training with and without a clean term, ASGT)
            train with one recipe (PGD adversarial training at 3e-3 collapsed to chance on two of three
            seeds, hence 1e-3).
        robust_plateau: train notebook 6's regimes until a held-out score stops improving
            (:class:`Plateau`; ``robust_epochs`` is then the cap), or ``None``: ``robust_epochs`` epochs,
            the ``ci`` profile's short recipe.
        robust_steps: PGD steps of the attack inside adversarial training and ASGT (evaluation always
            attacks with 10).
        n_series, series_epochs: training-set size and epochs of the time-series benchmark (notebook 3).
        text_dataset, n_text, text_epochs, text_width: the language notebook's data (``"planted"``
            reviews or ERASER ``"movies"``), training-set size (``None``: all of ERASER's; planted reviews
            need a number), epochs and BiLSTM width.
        n_text_test: how many planted reviews the language notebook tests on (ERASER has its own test split).
        sequence_batch_size, sequence_lr: minibatch size and Adam learning rate of the time-series and
            text models.
        cifar10: whether notebooks 5 and 6 also attack and train the compact ResNet on CIFAR-10
            (:func:`cifar_profile`), with the sizes above.
        cifar_width: the base number of channels of that ResNet.
        seeds: the training seeds of notebook 2's fair removal study (a standard and an SGT model each).
        robust_seeds: the training seeds of notebook 6's removal study of the four regimes (one in ``ci``,
            where each seed costs about 40 s of adversarial training).
        roar_fractions: the fractions notebook 2 removes and retrains on (ROAR); none in ``ci``, where
            retraining one model per ranking and fraction does not fit the time budget.
        audit: the sizes of the robustness audit of notebooks 5 and 6 (:class:`AuditBudget`).
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
    n_text_test: int = 500
    robust_lr: float = 1e-3
    cifar_width: int = CIFAR_WIDTH
    seeds: tuple[int, ...] = (0, 1, 2)
    robust_seeds: tuple[int, ...] = (0, 1, 2)
    roar_fractions: tuple[float, ...] = (0.2, 0.5)
    audit: AuditBudget = AUTOATTACK_BUDGET
    robust_plateau: Plateau | None = None
    n_removal: int = 512

    def __post_init__(self) -> None:
        if self.text_dataset == "planted" and self.n_text is None:
            raise ValueError(f"profile {self.name!r}: planted reviews need n_text (None means all of ERASER's)")

    def scaled(self, **changes: object) -> Profile:
        """A copy with some fields changed, e.g. ``profile.scaled(epochs=1)`` for a quick retrain."""
        return replace(self, **changes)


PROFILES: dict[str, Profile] = {
    "ci": Profile(
        "ci", image_dataset="mnist5k", image_model="small_cnn", width=32, n_train=None, n_test=None, epochs=3,
        batch_size=64, lr=1e-3, n_explain=128, n_planted=2000, n_quick=1000, n_robust=1500, robust_epochs=4,
        robust_steps=5, n_series=600, series_epochs=3,
        text_dataset="planted", n_text=1000, text_epochs=4, text_width=32, sequence_batch_size=32, sequence_lr=3e-3,
        cifar10=False, robust_seeds=(0,), roar_fractions=(), n_removal=128,
        audit=AuditBudget(images=128, steps=20, restarts=2, targets=2, queries=300)),
    "cpu": Profile(
        "cpu", image_dataset="mnist", image_model="mnist_cnn", width=32, n_train=12000, n_test=2000, epochs=3,
        batch_size=128, lr=1e-3, n_explain=256, n_planted=4000, n_quick=2000, n_robust=4000, robust_epochs=12,
        robust_steps=10, n_series=1000, series_epochs=10,
        text_dataset="planted", n_text=4000, text_epochs=4, text_width=64, sequence_batch_size=128, sequence_lr=1e-3,
        cifar10=False, roar_fractions=(0.5,),
        audit=AuditBudget(images=500, steps=20, restarts=2, targets=2, queries=200),
        robust_plateau=Plateau(held_out=500, patience=2)),
    "gpu": Profile(
        "gpu", image_dataset="mnist", image_model="mnist_cnn", width=32, n_train=None, n_test=None, epochs=10,
        batch_size=128, lr=1e-3, n_explain=1000, n_planted=8000, n_quick=10000, n_robust=None, robust_epochs=40,
        robust_steps=10, n_series=1000, series_epochs=30,
        text_dataset="movies", n_text=None, text_epochs=10, text_width=128, sequence_batch_size=128, sequence_lr=1e-3,
        cifar10=True, robust_plateau=Plateau(held_out=5000, patience=3), n_removal=1000),
}


def default_profile_name() -> str:
    """The profile a run gets when none is named: $SGT_COURSE_PROFILE, else ``"gpu"`` with CUDA and
    ``"cpu"`` without (the ``--profile`` default of every ``sgt-course`` command)."""
    return os.environ.get(PROFILE_ENV) or ("gpu" if torch.cuda.is_available() else "cpu")


def get_profile(name: str | None = None) -> Profile:
    """The run profile: ``name``, else :func:`default_profile_name`.

    Raises:
        ValueError: the name is not one of ``ci``, ``cpu``, ``gpu``.
    """
    name = name if name is not None else default_profile_name()
    if name not in PROFILES:
        raise ValueError(f"profile must be one of {', '.join(PROFILES)}; got {name!r} "
                         f"(set {PROFILE_ENV} or pass name=)")
    return PROFILES[name]


def cifar_profile(profile: Profile) -> Profile:
    """``profile`` with CIFAR-10 and the compact ResNet (width ``profile.cifar_width``) in place of its image
    data and model, sizes and recipe unchanged: the CIFAR-10 parts of notebooks 5 and 6 (``profile.cifar10``)."""
    return profile.scaled(image_dataset="cifar10", image_model="cifar_resnet", width=profile.cifar_width)


def robust_profile(profile: Profile) -> Profile:
    """The profile of the regime comparison (notebook 6): ``profile.robust_epochs`` (with
    ``profile.robust_plateau``, the most it trains) at ``profile.robust_lr``."""
    return profile.scaled(epochs=profile.robust_epochs, lr=profile.robust_lr)


#: Notebook 6's five regimes by display name, in the order its tables and figures show them.
#: "PGD-AT+CE" is ASGT with λ = 0: adversarial training plus ASGT's clean cross-entropy term, the control
#: that separates what that term does from what the masked KL term does.
ROBUST_REGIMES: tuple[str, ...] = ("standard", "SGT", "PGD-AT", "PGD-AT+CE", "ASGT")


def robust_regimes(eps: float, *, k: float = PAPER_SGT.k, lam: float = PAPER_SGT.lam,
                   steps: int = 10) -> dict[str, tuple[str, dict]]:
    """The five regimes of notebook 6 by display name: ``{name: (regime, settings)}``; the adversarial
    ones use ``steps``-step PGD at radius ``eps``, the saliency-guided ones mask ``k`` with weight ``lam``,
    and "PGD-AT+CE" is ASGT with λ = 0 (CE(f(X), y) + CE(f(X'), y), no masked term)."""
    pgd = {"attack": "pgd", "eps": eps, "steps": steps}
    return dict(zip(ROBUST_REGIMES, (("standard", {}), ("sgt", {"k": k, "lam": lam}), ("adversarial", pgd),
                                     ("asgt", {"k": k, "lam": 0.0, **pgd}),
                                     ("asgt", {"k": k, "lam": lam, **pgd})), strict=True))
