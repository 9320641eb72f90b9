"""The course's shared experiments: the data and the trained models several notebooks use.

Notebook 2 trains the standard and SGT image models; notebooks 1, 5 and 6 ask for the same models
and get them from the checkpoint cache, because the cache key is built here, in one place, from the
run profile and the regime's settings::

    train, test = image_data(profile, device)
    model, history = image_model(profile, "sgt", train, test, k=PAPER_SGT.k, lam=PAPER_SGT.lam)

Notebook 2's fair removal study takes its three models per seed from :func:`sgt_study_models`; notebook
6's five regimes come from :func:`robust_models`, and its table from :func:`regime_summary`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping

import torch
from torch import nn

from sgt_course.checks import check_choice
from sgt_course.data import Dataset, ImageSet, load_images
from sgt_course.data.text import TextSet, load_movies, make_planted_reviews
from sgt_course.data.timeseries import TimeSeriesSet
from sgt_course.losses import regime_loss
from sgt_course.models import BiLSTMClassifier, build_model, build_timeseries_model
from sgt_course.recipes import PAPER_SGT, ROBUST_REGIMES, TRAINING_EPS, Profile, robust_profile, robust_regimes
from sgt_course.removal import RemovalCurve, remove_features
from sgt_course.robustness import RobustnessCurve, robust_accuracy
from sgt_course.stats import Interval, accuracy, bootstrap_mean
from sgt_course.tables import markdown_table
from sgt_course.training import EarlyStopping, History, correct, evaluate, fit, load_or_train


def image_data(profile: Profile, device: object = "cpu", dataset: str | None = None, *,
               verbose: bool = True) -> tuple[ImageSet, ImageSet]:
    """The training and test images of ``profile`` (or of ``dataset``), sized by the profile, on ``device``;
    with ``verbose``, one printed line says which data they are (so every notebook says what it ran on)."""
    name = dataset or profile.image_dataset
    train = load_images(name, "train", n=profile.n_train, device=device)
    test = load_images(name, "test", n=profile.n_test, device=device)
    if verbose:
        print(f"data: {train.describe()} for training, {len(test):,} for testing")
    return train, test


def image_model(profile: Profile, regime: str, train: ImageSet, test: ImageSet | None = None, *,
                epochs: int | None = None, seed: int = 0, model: str | None = None, progress: bool = True,
                early_stopping: EarlyStopping | None = None, **settings: object) -> tuple[nn.Module, History]:
    """The profile's image model trained on ``train`` under ``regime``, from the cache when it is there.

    Args:
        profile: sizes the model (``image_model``, ``width``) and the run (``epochs``, ``batch_size``, ``lr``).
        regime: a name in :data:`~sgt_course.losses.REGIMES` (``"standard"``, ``"sgt"``, ``"adversarial"``, ``"asgt"``).
        train, test: the data; ``test`` is reported after each epoch.
        epochs: overrides the profile's epochs.
        seed: seeds the initial weights and the shuffling.
        model: overrides the profile's model name.
        early_stopping: train until a held-out score stops improving (``epochs`` is then the cap);
            its :meth:`~sgt_course.training.EarlyStopping.describe` is part of the cache key.
        settings: the regime's own settings (k, λ, the attack, ...), part of the cache key.
    """
    architecture = model or profile.image_model

    def build() -> nn.Module:
        return build_model(architecture, in_channels=train.x.shape[1], n_classes=train.n_classes, width=profile.width)

    return _trained(f"{train.source}-{architecture}", {"model": architecture, "width": profile.width}, build,
                    regime, train, test, epochs=epochs or profile.epochs, batch_size=profile.batch_size, lr=profile.lr,
                    seed=seed, progress=progress, settings=settings, early_stopping=early_stopping)


def timeseries_model(profile: Profile, architecture: str, regime: str, train: TimeSeriesSet,
                     test: TimeSeriesSet | None = None, *, seed: int = 0, hidden: int = 32, progress: bool = True,
                     **settings: object) -> tuple[nn.Module, History]:
    """An ``"lstm"`` or ``"tcn"`` trained on a time-series benchmark set under ``regime``, cached.

    Trains for ``profile.series_epochs`` with the profile's sequence batch size and learning rate.
    """
    def build() -> nn.Module:
        return build_timeseries_model(architecture, features=train.x.shape[2], n_classes=train.n_classes,
                                      hidden=hidden)

    name = f"series-{train.layout}-{train.process}-{architecture}"
    return _trained(name, {"model": architecture, "hidden": hidden, "layout": train.layout, "process": train.process},
                    build, regime, train, test, epochs=profile.series_epochs, batch_size=profile.sequence_batch_size,
                    lr=profile.sequence_lr, seed=seed, progress=progress, settings=settings)


#: Notebook 2's noise-augmentation control: SGT's objective with a *random* k % of the pixels masked
#: (:func:`~sgt_course.losses.sgt_loss` with ``saliency="random"``), same fill, k and λ.
NOISE_CONTROL = "random-mask SGT"


def sgt_study_models(profile: Profile, train: ImageSet, test: ImageSet | None = None, *, seed: int = 0,
                     progress: bool = True) -> dict[str, nn.Module]:
    """Notebook 2's three models of one seed, from the cache when there: ``"standard"``, ``"SGT"`` (the
    paper's k and λ) and :data:`NOISE_CONTROL`, which masks as many pixels with the same fill but picks
    them at random. If the control matches SGT, SGT's gains come from training on noise-filled inputs,
    not from *which* pixels its saliency masks."""
    sgt = {"k": PAPER_SGT.k, "lam": PAPER_SGT.lam}
    return {"standard": image_model(profile, "standard", train, test, seed=seed, progress=progress)[0],
            "SGT": image_model(profile, "sgt", train, test, seed=seed, progress=progress, **sgt)[0],
            NOISE_CONTROL: image_model(profile, "sgt", train, test, seed=seed, progress=progress, saliency="random",
                                       **sgt)[0]}


def robust_models(profile: Profile, train: ImageSet, test: ImageSet | None = None, *, seed: int = 0,
                  progress: bool = True) -> tuple[dict[str, nn.Module], dict[str, History]]:
    """The five regimes of :data:`~sgt_course.recipes.ROBUST_REGIMES` trained with one recipe
    (:func:`robust_model` each), from the cache when there: ``({name: model}, {name: history})``."""
    trained = {name: robust_model(profile, name, train, test, seed=seed, progress=progress)
               for name in ROBUST_REGIMES}
    return {name: model for name, (model, _) in trained.items()}, {name: h for name, (_, h) in trained.items()}


#: The regimes that train on adversarial examples, and so stop on held-out PGD accuracy.
ADVERSARIAL = ("adversarial", "asgt")


def robust_model(profile: Profile, name: str, train: ImageSet, test: ImageSet | None = None, *, seed: int = 0,
                 progress: bool = True, **changes: object) -> tuple[nn.Module, History]:
    """One of notebook 6's regimes (a name in :data:`~sgt_course.recipes.ROBUST_REGIMES`) trained with its
    profile (:func:`~sgt_course.recipes.robust_profile`) on the first ``profile.n_robust`` training
    images, with ``profile.robust_steps``-step PGD at the data set's
    :data:`~sgt_course.recipes.TRAINING_EPS`, from the cache when there.

    With ``profile.robust_plateau`` the last ``held_out`` of those images are held out and the regime
    trains until its held-out score stops improving (:func:`held_out_stopping`), at most
    ``profile.robust_epochs``. ``changes`` override the regime's settings, e.g. ``order="mask_then_attack"``
    for Li et al.'s order of ASGT.
    """
    if train.source not in TRAINING_EPS:
        raise ValueError(f"train must be one of {', '.join(TRAINING_EPS)} (the data sets with a training radius); "
                         f"got {train.source!r}")
    eps = TRAINING_EPS[train.source]
    regimes = robust_regimes(eps, steps=profile.robust_steps)
    check_choice("name", name, regimes)
    regime, settings = regimes[name]
    data, stopping = train.head(profile.n_robust), None
    if profile.robust_plateau is not None:
        data, held_out = _hold_out(data, profile.robust_plateau.held_out)
        stopping = held_out_stopping(held_out, eps, "PGD accuracy" if regime in ADVERSARIAL else "clean accuracy",
                                     profile.robust_plateau.patience, seed=seed)
    return image_model(robust_profile(profile), regime, data, test, seed=seed, progress=progress,
                       early_stopping=stopping, **{**settings, **changes})


def _hold_out(data: ImageSet, n: int) -> tuple[ImageSet, ImageSet]:
    """``data`` split into all but its last ``n`` images and those ``n``."""
    if not 0 < n < len(data):
        raise ValueError(f"cannot hold out {n:,} of {len(data):,} training images; make n_robust larger or "
                         f"robust_plateau.held_out smaller")
    cut = len(data) - n
    return data.head(cut), ImageSet(data.x[cut:], data.y[cut:], data.n_classes, data.source,
                                    class_names=data.class_names)


def held_out_stopping(held_out: ImageSet, eps: float, monitor: str, patience: int, *, seed: int = 0,
                      steps: int = 10) -> EarlyStopping:
    """Early stopping on ``held_out``: after every epoch its ``"clean accuracy"`` and its ``"PGD accuracy"``
    (``steps``-step PGD at ``eps``, the random start seeded with ``seed``), stopping once ``monitor`` has
    not improved for ``patience`` epochs."""
    check_choice("monitor", monitor, ("clean accuracy", "PGD accuracy"))

    def scores(model: nn.Module) -> dict[str, float]:
        return {"clean accuracy": evaluate(model, held_out),
                "PGD accuracy": robust_accuracy(model, held_out.x, held_out.y, "pgd", (eps,), steps=steps,
                                                generator=torch.Generator().manual_seed(seed)).accuracy[0]}

    return EarlyStopping(scores, monitor, patience, key={"held_out": len(held_out), "eps": eps, "steps": steps})


def roar_accuracy(profile: Profile, rankers: Mapping[str, nn.Module | None], train: ImageSet, test: ImageSet,
                  fraction: float, *, method: str = "gradient", fill: str = "linear", seed: int = 0,
                  progress: bool = True) -> dict[str, Interval]:
    """ROAR, remove and retrain (Hooker et al., NeurIPS 2019): per ranker, the test accuracy of a fresh
    standard model trained and tested on images whose ``fraction`` most salient pixels were removed.

    Each ranker's ``method`` saliency (of the true class) ranks the pixels of every training and test
    image; ``None`` ranks them at random. The top ``fraction`` are filled by ``fill`` (ROAD's
    linear imputation by default, so the removed region does not outline itself), and a model of the
    profile's architecture and recipe is trained on the result, from the cache when it is there (the key
    holds a fingerprint of the ranker's weights). Because the new model learns the removed inputs, the
    fill is no longer out of distribution: lower accuracy means the ranking removed more of what the
    task needs. Returns ``{ranker name: accuracy}``, each with its 95 % (Wilson) interval over the test images.
    """
    architecture = profile.image_model

    def build() -> nn.Module:
        return build_model(architecture, in_channels=train.x.shape[1], n_classes=train.n_classes, width=profile.width)

    results = {}
    for name, ranker in rankers.items():
        ranking = method if ranker is not None else "random"
        generator = torch.Generator().manual_seed(seed)
        removed_train, removed_test = (
            ImageSet(remove_features(ranker, data.x, data.y, ranking, fraction, fill, generator=generator),
                     data.y, data.n_classes, data.source)
            for data in (train, test))
        # the cache key calls the fill "imputation", as it did when the parameter had that name
        removal = {"ranker": _fingerprint(ranker), "method": ranking, "fraction": fraction, "imputation": fill}
        model, _ = _trained(f"{train.source}-{architecture}-roar",
                            {"model": architecture, "width": profile.width, "removed": removal},
                            build, "standard", removed_train, removed_test, epochs=profile.epochs,
                            batch_size=profile.batch_size, lr=profile.lr, seed=seed, progress=progress, settings={})
        results[name] = accuracy(correct(model, removed_test))
    return results


def _fingerprint(model: nn.Module | None) -> str:
    """A short hash of a model's weights (``"random"`` for no model): names the ranker in a cache key."""
    if model is None:
        return "random"
    digest = hashlib.sha256()
    for key, value in sorted(model.state_dict().items()):
        digest.update(key.encode())
        digest.update(value.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()[:12]


def regime_summary(models: Mapping[str, nn.Module], histories: Mapping[str, History], test: ImageSet,
                   pgd: Mapping[str, RobustnessCurve], removal: Mapping[str, RemovalCurve],
                   eps: float) -> dict[str, dict[str, Interval | float]]:
    """Notebook 6's table of :func:`robust_models`, one row per regime: clean accuracy on ``test`` and accuracy
    under PGD at ``eps`` (from ``pgd``), each with its Wilson interval; the area under the gradient removal
    curve (lower: the map found the decisive pixels) with its bootstrap interval over the images; and the
    training seconds per epoch."""
    return {name: {"clean accuracy": accuracy(correct(model, test)),
                   f"PGD accuracy, ε={eps:.3g}": pgd[name].interval(eps),
                   "removal-curve area (gradient) ↓": bootstrap_mean(removal[name].image_areas()),
                   "seconds per epoch": sum(histories[name].seconds) / histories[name].epochs}
            for name, model in models.items()}


def regime_table(summary: Mapping[str, Mapping[str, Interval | float]]) -> str:
    """:func:`regime_summary` as a Markdown table, one row per regime: each interval in percent with its 95 %
    bounds ("93.1 [91.4, 94.5]"), the seconds per epoch with one decimal."""
    metrics = list(next(iter(summary.values())))
    rows = [[name, *(str(v) if isinstance(v, Interval) else f"{v:.1f}" for v in row.values())]
            for name, row in summary.items()]
    return markdown_table(["regime", *(m.replace("removal-curve area", "removal area, %") for m in metrics)], rows)


def text_data(profile: Profile, device: object = "cpu") -> tuple[TextSet, TextSet]:
    """The language notebook's training and test sets: ERASER Movies (``gpu`` profile; planted reviews
    when it cannot be had) or generated reviews with planted rationale words, sized by the profile."""
    if profile.text_dataset == "movies":
        train = load_movies("train").head(profile.n_text)
        test = load_movies("test", vocab=train.vocab)
    else:
        train = make_planted_reviews(profile.n_text, seed=0)
        test = make_planted_reviews(profile.n_text_test, seed=1)
    return train.to(device), test.to(device)


def text_model(profile: Profile, regime: str, train: TextSet, test: TextSet | None = None, *, seed: int = 0,
               progress: bool = True, **settings: object) -> tuple[nn.Module, History]:
    """A BiLSTM of width ``profile.text_width`` trained on ``train`` under ``regime`` for
    ``profile.text_epochs`` (the profile's sequence batch size and learning rate), from the cache when it is there."""
    width = profile.text_width

    def build() -> nn.Module:
        return BiLSTMClassifier(len(train.vocab), train.n_classes, embed_dim=width, hidden=width)

    return _trained(f"{train.source}-bilstm", {"model": "bilstm", "width": width, "vocab": len(train.vocab)}, build,
                    regime, train, test, epochs=profile.text_epochs, batch_size=profile.sequence_batch_size,
                    lr=profile.sequence_lr, seed=seed, progress=progress, settings=settings)


def _trained(name: str, model_config: dict[str, object], build_model_fn: Callable[[], nn.Module], regime: str,
             train: Dataset, test: Dataset | None, *,
             epochs: int, batch_size: int, lr: float, seed: int, progress: bool,
             settings: dict[str, object], early_stopping: EarlyStopping | None = None) -> tuple[nn.Module, History]:
    """Train (or load) a model: the cache key holds the data, the model, the regime and the recipe."""
    loss_fn = regime_loss(regime, **settings)
    config = {"data": train.source, "n_train": len(train), **model_config, "regime": regime,
              "settings": {k: settings[k] for k in sorted(settings)}, "epochs": epochs,
              "batch_size": batch_size, "lr": lr, "seed": seed}
    if early_stopping is not None:
        config["early_stopping"] = early_stopping.describe()

    def build() -> nn.Module:
        torch.manual_seed(seed)
        return build_model_fn()

    def run(network: nn.Module) -> History:
        return fit(network, train, loss_fn, epochs=epochs, batch_size=batch_size, lr=lr,
                   val=test, seed=seed, progress=progress, desc=f"{regime} training", early_stopping=early_stopping)

    return load_or_train(f"{name}-{regime}", config, build, run, device=train.x.device)
