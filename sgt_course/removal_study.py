"""Is a removal curve fair? One removal test under several imputations, in both orders, over seeds.

A removal curve fills the pixels it removes. Filled with U(min, max) noise, the very perturbation SGT
trains on, an SGT model meets familiar inputs and a standard model unfamiliar ones, whichever pixels
were removed (Hooker et al., NeurIPS 2019). So the comparison here

1. repeats the test under fills neither model trained on (``"zero"``, ``"mean"``, ROAD's ``"linear"``);
2. removes in both orders, the most relevant first (MoRF: should fall fast) and the least relevant
   first (LeRF: should stay high), summarised by ROAD's gap, area(LeRF) − area(MoRF) (Rong et al., ICML 2022);
3. keeps a random ranking as the control of each fill: where a fill is equally familiar to both models,
   their random-ranking curves agree;
4. repeats everything for several training seeds and reports the spread.

    study = removal_study({seed: {"standard": ..., "SGT": ...} for seed in (0, 1, 2)}, x, y)
    study.gap("SGT", "linear")       # ROAD's gap, one value per seed
    print(study.table())

The paper's own figure, one fill and the MoRF order, is :func:`figure3_curves`, computed with the
authors' settings or the course's (:data:`REMOVAL_SETTINGS`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor, nn
from tqdm.auto import tqdm

from sgt_course.checks import check_choice
from sgt_course.imputation import IMPUTATIONS
from sgt_course.metrics import FRACTIONS, ORDERS, RemovalCurve, removal_curve, removal_gap, spread
from sgt_course.saliency import label

#: The fills a study compares by default: the authors' training noise and three that neither model trained
#: on ("background" is left out: on MNIST, whose background is 0, it is the "zero" fill).
STUDY_IMPUTATIONS = ("uniform", "zero", "mean", "linear")

#: Curve keys: (seed, model name, imputation, ranking, order); the ranking is the saliency method or "random".
Key = tuple[int, str, str, str, str]


@dataclass(frozen=True)
class RemovalStudy:
    """Removal curves of several models over several seeds, each under several imputations.

    For every (seed, model, imputation) it holds the saliency ranking in both orders (``order="morf"``
    and ``"lerf"``) and the random ranking in the MoRF order (a random ranking has no "least relevant";
    its LeRF curve is another random curve).
    """

    curves: Mapping[Key, RemovalCurve]
    seeds: tuple[int, ...]
    models: tuple[str, ...]
    imputations: tuple[str, ...]
    method: str

    def curve(self, seed: int, model: str, imputation: str, *, ranking: str | None = None,
              order: str = "morf") -> RemovalCurve:
        """One curve; ``ranking`` is the study's saliency method (the default) or ``"random"``."""
        key = (seed, model, imputation, ranking or self.method, order)
        if key not in self.curves:
            raise KeyError(f"no curve for seed={seed}, model={model!r}, imputation={imputation!r}, "
                           f"ranking={key[3]!r}, order={order!r}; the study has seeds {self.seeds}, "
                           f"models {self.models}, imputations {self.imputations}")
        return self.curves[key]

    def at(self, model: str, imputation: str, fraction: float, *, ranking: str | None = None,
           order: str = "morf") -> list[float]:
        """Accuracy with ``fraction`` of the features removed, one value per seed."""
        return [self.curve(s, model, imputation, ranking=ranking, order=order).at(fraction) for s in self.seeds]

    def gap(self, model: str, imputation: str) -> list[float]:
        """ROAD's gap of the saliency ranking, area(LeRF) − area(MoRF), one value per seed (larger: more faithful)."""
        return [removal_gap(self.curve(s, model, imputation), self.curve(s, model, imputation, order="lerf"))
                for s in self.seeds]

    def lead(self, model: str, over: str, imputation: str) -> list[float]:
        """How much larger ``model``'s gap is than ``over``'s, per seed (models of one seed compared)."""
        return [a - b for a, b in zip(self.gap(model, imputation), self.gap(over, imputation))]

    def random_difference(self, model: str, over: str, imputation: str, fraction: float = 0.5) -> list[float]:
        """The control: ``model``'s accuracy minus ``over``'s under the *random* ranking with ``fraction``
        removed, per seed. About 0 where the fill is equally familiar to both models."""
        return [a - b for a, b in zip(self.at(model, imputation, fraction, ranking="random"),
                                      self.at(over, imputation, fraction, ranking="random"))]

    def table(self, fractions: tuple[float, ...] = (0.2, 0.5)) -> str:
        """A Markdown table: per imputation and model, MoRF and LeRF accuracy at ``fractions``, the
        random ranking's at the last of them, and ROAD's gap; each "mean (min–max)" over the seeds, in %."""
        head = ([f"MoRF {100 * f:.0f} %" for f in fractions] + [f"LeRF {100 * f:.0f} %" for f in fractions]
                + [f"random {100 * fractions[-1]:.0f} %", "ROAD gap"])
        lines = ["| fill | model | " + " | ".join(head) + " |", "|---|---|" + "---|" * len(head)]
        for imputation in self.imputations:
            for model in self.models:
                cells = ([self.at(model, imputation, f) for f in fractions]
                         + [self.at(model, imputation, f, order="lerf") for f in fractions]
                         + [self.at(model, imputation, fractions[-1], ranking="random"), self.gap(model, imputation)])
                lines.append(f"| {imputation} | {model} | " + " | ".join(spread(c) for c in cells) + " |")
        return "\n".join(lines)


def removal_study(models: Mapping[int, Mapping[str, nn.Module]], x: Tensor, y: Tensor, method: str = "gradient",
                  imputations: Sequence[str] = STUDY_IMPUTATIONS, fractions: tuple[float, ...] = FRACTIONS, *,
                  sigma: float = 0.01, progress: bool = True) -> RemovalStudy:
    """Removal curves of every model of every seed under every imputation (:func:`~sgt_course.metrics.removal_curve`).

    Args:
        models: ``{seed: {name: model}}``, the same names for every seed (e.g. a standard and an SGT model
            trained with that seed).
        x, y: the samples to remove features from and their labels.
        method: the saliency method that ranks the features.
        imputations: the fills to compare (see :data:`~sgt_course.imputation.IMPUTATIONS`).
        fractions: the fractions removed.
        sigma: the noise of the linear imputation.
        progress: show a progress bar.
    Each curve draws its randomness (random ranking, fill, noise) from a generator seeded with its seed,
    so a seed's curves are reproducible and the models of one seed see the same random draws.
    """
    if not models:
        raise ValueError("models must hold at least one seed")
    names = tuple(next(iter(models.values())))
    if any(tuple(by_name) != names for by_name in models.values()):
        raise ValueError(f"every seed must have the same models; got {[list(m) for m in models.values()]}")
    unknown = [i for i in imputations if i not in IMPUTATIONS]
    if unknown or not imputations:
        raise ValueError(f"imputations must be a non-empty selection of {', '.join(IMPUTATIONS)}; "
                         f"got {list(imputations)}")
    jobs = [(seed, name, imputation, ranking, order)
            for seed in models for name in names for imputation in imputations
            for ranking, order in [(method, o) for o in ORDERS] + [("random", "morf")]]
    curves = {}
    for seed, name, imputation, ranking, order in tqdm(jobs, desc="removal curves", disable=not progress):
        curves[(seed, name, imputation, ranking, order)] = removal_curve(
            models[seed][name], x, y, ranking, fractions, imputation, order, sigma=sigma,
            generator=torch.Generator().manual_seed(seed))
    return RemovalStudy(curves, tuple(models), names, tuple(imputations), method)


@dataclass(frozen=True)
class RemovalSettings:
    """How the removal curves of the SGT paper's Fig. 3 are computed: the fill of the removed pixels,
    the baseline of Integrated Gradients and the keyword arguments of SmoothGrad."""

    imputation: str
    ig_baseline: str
    smoothgrad: Mapping[str, object]


#: ``"authors"``: the SGT authors' removal script (Scripts/Helper.py): removed pixels take the image's
#: background (top-left) value, IG starts from a U(0, 1) random baseline, SmoothGrad is Captum's squared
#: variant with its defaults (5 samples, σ = 1 on inputs standardised by MNIST's 0.3081, i.e. 0.31 of the
#: [0, 1] range). ``"course"``: the U(min, max) noise SGT trains on, a zero baseline, the plain SmoothGrad.
REMOVAL_SETTINGS: dict[str, RemovalSettings] = {
    "authors": RemovalSettings("background", "random", {"samples": 5, "sigma": 0.31, "squared": True}),
    "course": RemovalSettings("uniform", "zero", {}),
}

FIGURE3_METHODS = ("gradient", "integrated_gradients", "smoothgrad")


def figure3_curves(models: Mapping[str, nn.Module], x: Tensor, y: Tensor, settings: str = "authors",
                   methods: Sequence[str] = FIGURE3_METHODS, fractions: tuple[float, ...] = FRACTIONS, *,
                   seed: int = 0) -> dict[str, dict[str, RemovalCurve]]:
    """The SGT paper's Fig. 3: MoRF removal curves of every model for every saliency method, with
    ``settings`` (a key of :data:`REMOVAL_SETTINGS`), and each model's random-ranking curve.

    Returns ``{method label: {name: curve, f"{name}, random ranking": curve}}``, ready for
    :func:`~sgt_course.plots.removal_panels`. Every curve draws from a generator seeded with ``seed``
    (fill, noise, baseline), so the models see the same random numbers.
    """
    check_choice("settings", settings, REMOVAL_SETTINGS)
    chosen = REMOVAL_SETTINGS[settings]

    def curve(model: nn.Module, method: str) -> RemovalCurve:
        generator = torch.Generator().manual_seed(seed)
        kwargs: dict[str, object] = {}
        if method == "integrated_gradients" and chosen.ig_baseline == "random":
            kwargs["baseline"] = torch.rand(x.shape, generator=generator).to(x)
        if method == "smoothgrad":
            kwargs.update(chosen.smoothgrad)
        return removal_curve(model, x, y, method, fractions, chosen.imputation, generator=generator, **kwargs)

    random = {f"{name}, random ranking": curve(model, "random") for name, model in models.items()}
    return {label(method): {**{name: curve(model, method) for name, model in models.items()}, **random}
            for method in methods}
