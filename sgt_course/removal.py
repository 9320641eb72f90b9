"""Removal: does a saliency map rank first the features a model needs? Remove them and watch accuracy.

- :func:`removal_curve`: accuracy as the most (MoRF) or least (LeRF) salient features are removed and
  filled (no retraining); :func:`removal_gap`, the area between the two orders; :func:`remove_features`,
  the removed inputs themselves (what ROAR retrains on).
- :func:`figure3_curves`: the SGT paper's Fig. 3, with the authors' settings or the course's
  (:data:`REMOVAL_SETTINGS`), as a :class:`Figure3Curves` record.
- :func:`removal_study`: is a removal curve fair? One test under several fills, in both orders, with a
  random-ranking control, over seeds, as a :class:`RemovalStudy` record.

A removal curve fills the features it removes. Filled with U(min, max) noise, the very perturbation SGT
trains on, an SGT model meets familiar inputs and a standard model unfamiliar ones, whichever features
were removed (Hooker et al., NeurIPS 2019). So the study

1. repeats the test under fills neither model trained on (``"zero"``, ``"mean"``, ROAD's ``"linear"``);
2. removes in both orders, the most relevant first (MoRF: should fall fast) and the least relevant
   first (LeRF: should stay high), summarised by the gap area(LeRF) − area(MoRF) (the orders are
   ROAD's, Rong et al., ICML 2022);
3. keeps a random ranking as the control of each fill: where a fill is equally familiar to both models,
   their random-ranking curves agree;
4. repeats everything for several training seeds and reports the spread, with each seed's 95 % interval
   over the images (every curve keeps which images stayed correct, so two models' gaps on the same
   images are compared with a paired bootstrap, :func:`~sgt_course.stats.paired_difference`).

    study = removal_study({seed: {"standard": ..., "SGT": ...} for seed in (0, 1, 2)}, x, y)
    study.gap("SGT", "linear")                        # the gap, one value per seed
    study.lead_intervals("SGT", "standard", "linear")  # SGT's lead, one Interval per seed
    print(study.table())
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field

import torch
from torch import Tensor, nn
from tqdm.auto import tqdm

from sgt_course.checks import check_choice, check_choices, check_fraction
from sgt_course.imputation import FILLS, impute
from sgt_course.masking import top_k_mask
from sgt_course.models import MNIST_MEAN, MNIST_STD
from sgt_course.saliency import METHODS, attribute, feature_scores
from sgt_course.stats import Interval, accuracy, bootstrap_mean, interval_spread, paired_difference
from sgt_course.tables import markdown_table
from sgt_course.training import as_tensors, predict

FRACTIONS = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
ORDERS = ("morf", "lerf")


@dataclass
class RemovalCurve:
    """Accuracy after removing a fraction d of the features, for each d in ``fractions``: the most
    salient first (``order="morf"``) or the least salient first (``"lerf"``), filled by ``fill``.
    ``correct`` ((len(fractions), N) bool, where measured) says which images stayed correct at each d:
    what the intervals are computed from."""

    fractions: tuple[float, ...]
    accuracy: tuple[float, ...]
    method: str
    order: str = "morf"
    fill: str = "uniform"
    correct: Tensor | None = field(default=None, repr=False, compare=False)

    def at(self, fraction: float) -> float:
        """Accuracy with ``fraction`` of the features removed (must be one of ``fractions``)."""
        return self.accuracy[self._index(fraction)]

    def interval(self, fraction: float) -> Interval:
        """:meth:`at` with its 95 % (Wilson) interval over the images."""
        return accuracy(self.outcomes(fraction))

    def outcomes(self, fraction: float) -> Tensor:
        """Which images, (N,) bool, stayed correct with ``fraction`` of the features removed."""
        return self._outcomes()[self._index(fraction)]

    def area(self) -> float:
        """Mean accuracy over the fractions. MoRF: lower = the map ranked the decisive features first;
        LeRF: higher = the features it ranked last were not needed."""
        return sum(self.accuracy) / len(self.accuracy)

    def image_areas(self) -> Tensor:
        """Each image's share of the fractions at which it stayed correct, (N,): their mean is :meth:`area`."""
        return self._outcomes().float().mean(0)

    def _index(self, fraction: float) -> int:
        if fraction not in self.fractions:
            raise ValueError(f"fraction must be one of {self.fractions}; got {fraction!r}")
        return self.fractions.index(fraction)

    def _outcomes(self) -> Tensor:
        if self.correct is None:
            raise ValueError("this curve was built without its per-image outcomes (correct=None); "
                             "removal_curve records them")
        return self.correct


def removal_gap(morf: RemovalCurve, lerf: RemovalCurve) -> float:
    """The area between the LeRF and the MoRF curve, ``lerf.area() − morf.area()``: the course's one-number
    summary of ROAD's two orders (Rong et al. 2022 report each order's curve). Larger = a more faithful
    ranking; about 0 for a random one."""
    if (morf.order, lerf.order) != ("morf", "lerf"):
        raise ValueError(f"removal_gap takes a MoRF and a LeRF curve, in that order; got {morf.order}, {lerf.order}")
    if morf.fractions != lerf.fractions:
        raise ValueError(f"the curves must share their fractions; got {morf.fractions} and {lerf.fractions}")
    return lerf.area() - morf.area()


def image_gaps(morf: RemovalCurve, lerf: RemovalCurve) -> Tensor:
    """Each image's share of :func:`removal_gap`, (N,): ``lerf.image_areas() − morf.image_areas()``; their mean
    is the gap, and two models' image gaps on the same images can be compared pairwise."""
    removal_gap(morf, lerf)  # the orders and fractions checked
    return lerf.image_areas() - morf.image_areas()


def removal_curve(model: nn.Module, x: Tensor, y: Tensor, method: str, fractions: tuple[float, ...] = FRACTIONS,
                  fill: str = "uniform", order: str = "morf", *, sigma: float = 0.01,
                  generator: torch.Generator | None = None, batch_size: int = 1000,
                  **method_kwargs: object) -> RemovalCurve:
    """Accuracy as a fraction d of the features is removed, d in ``fractions`` (Fig. 3 of the SGT paper).

    The saliency of the true class is computed once with ``method`` (``"random"`` gives the random
    ranking); for each d the ``round(d · n_features)`` most salient (``order="morf"``) or least salient
    (``"lerf"``) features of each sample are removed, filled by ``fill`` (:func:`~sgt_course.imputation.
    impute`: ``"uniform"`` — U(min, max), the perturbation SGT trains on —, ``"zero"``, ``"mean"``,
    ``"background"`` — the SGT authors' removal fill — or ROAD's ``"linear"`` with noise ``sigma``), and the
    unchanged model is evaluated. MoRF: a steeper fall means the map ranked the features the model needs
    first. LeRF: a flatter curve means the features it ranked last were not needed. Images are ranked per
    pixel. A method that draws random numbers (:attr:`~sgt_course.saliency.Method.random`) draws them from
    ``generator`` too.
    """
    as_tensors((x, y))  # the same batch size, or a ValueError saying so
    for fraction in fractions:
        check_fraction("fractions", fraction)
    ranking = _ranking(model, x, y, method, order, generator, method_kwargs)
    correct = torch.stack([predict(model, _remove(x, ranking, fraction, fill, sigma, generator), batch_size).argmax(1) == y
                           for fraction in fractions]).cpu()
    return RemovalCurve(tuple(fractions), tuple(correct.float().mean(1).tolist()), method, order, fill, correct)


def remove_features(model: nn.Module | None, x: Tensor, y: Tensor, method: str, fraction: float,
                    fill: str = "linear", order: str = "morf", *, sigma: float = 0.01,
                    generator: torch.Generator | None = None, batch_size: int = 1000) -> Tensor:
    """``x`` with each sample's ``fraction`` most (``order="morf"``) or least (``"lerf"``) salient
    features, by ``model``'s ``method`` saliency of the true class, removed and filled by ``fill``.

    One point of :func:`removal_curve`, as data: ROAR (Hooker et al. 2019) retrains a fresh model on
    such inputs. ``method="random"`` (with ``model=None`` allowed) removes a random ranking's features.
    Samples are processed ``batch_size`` at a time; returns a tensor shaped like ``x``.
    """
    as_tensors((x, y))
    check_fraction("fraction", fraction)
    if model is None and method != "random":
        raise ValueError(f"a model is needed to rank features by {method!r}; only method='random' takes model=None")
    chunks = []
    for i in range(0, x.shape[0], batch_size):
        xb, yb = x[i:i + batch_size], y[i:i + batch_size]
        ranking = _ranking(model, xb, yb, method, order, generator, {})
        chunks.append(_remove(xb, ranking, fraction, fill, sigma, generator))
    return torch.cat(chunks)


def _ranking(model: nn.Module | None, x: Tensor, y: Tensor, method: str, order: str,
             generator: torch.Generator | None, method_kwargs: Mapping[str, object]) -> Tensor:
    """Per-feature scores whose top-k are removed first: the saliency (MoRF) or its negative (LeRF)."""
    check_choice("order", order, ORDERS)
    check_choice("method", method, METHODS)
    if METHODS[method].random and generator is not None:
        method_kwargs = {"generator": generator, **method_kwargs}
    scores = feature_scores(attribute(method, model, x, y, **method_kwargs)).detach()
    return scores if order == "morf" else -scores


def _remove(x: Tensor, ranking: Tensor, fraction: float, fill: str, sigma: float,
            generator: torch.Generator | None) -> Tensor:
    """``x`` with the ``round(fraction · n_features)`` top-ranked features of each sample filled."""
    removed = top_k_mask(ranking, round(fraction * ranking[0].numel()))
    return impute(x, removed, fill, sigma=sigma, generator=generator)


# --- the SGT paper's Fig. 3 ------------------------------------------------------------------------------


@dataclass(frozen=True)
class RemovalSettings:
    """How the removal curves of the SGT paper's Fig. 3 are computed: the fill of the removed pixels,
    the baseline of Integrated Gradients and the keyword arguments of SmoothGrad.

    ``ig_baseline`` is the range ``(low, high)``, in pixel units, of IG's random baseline
    x̄ ~ U(low, high) per pixel, or ``None`` for the zero baseline x̄ = 0.
    """

    fill: str
    ig_baseline: tuple[float, float] | None
    smoothgrad: Mapping[str, object]


#: ``"authors"``: the SGT authors' removal script (Scripts/Helper.py): removed pixels take the image's
#: background (top-left) value; IG starts from a baseline drawn from U(0, 1) on the *standardised* inputs
#: their models read, (x − 0.1307) / 0.3081, which is U(0.1307, 0.4388) in pixel units; SmoothGrad is
#: Captum's squared variant with its defaults (5 samples, σ = 1 on the standardised inputs, i.e. 0.31 of the
#: [0, 1] range). ``"course"``: the U(min, max) noise SGT trains on, a zero baseline, the plain SmoothGrad.
REMOVAL_SETTINGS: dict[str, RemovalSettings] = {
    "authors": RemovalSettings("background", (MNIST_MEAN[0], MNIST_MEAN[0] + MNIST_STD[0]),
                               {"samples": 5, "sigma": 0.31, "squared": True}),
    "course": RemovalSettings("uniform", None, {}),
}

FIGURE3_METHODS = ("gradient", "integrated_gradients", "smoothgrad")


@dataclass(frozen=True)
class Figure3Curves:
    """The SGT paper's Fig. 3 for several models: per model, its MoRF removal curve for each saliency
    method and its random-ranking curve (the control, one per model: a random ranking has no method)."""

    ranked: Mapping[tuple[str, str], RemovalCurve]
    randoms: Mapping[str, RemovalCurve]
    methods: tuple[str, ...]
    models: tuple[str, ...]
    settings: str

    def curve(self, model: str, method: str = "gradient") -> RemovalCurve:
        """``model``'s curve with its pixels ranked by ``method``."""
        check_choice("method", method, self.methods)
        check_choice("model", model, self.models)
        return self.ranked[(method, model)]

    def random(self, model: str) -> RemovalCurve:
        """``model``'s curve with its pixels ranked at random."""
        check_choice("model", model, self.models)
        return self.randoms[model]

    def ranking_gap(self, model: str, method: str = "gradient", fraction: float = 0.5) -> float:
        """How much more accuracy ``method``'s ranking removes than the random ranking, with ``fraction``
        of the pixels removed: ``random(model).at(fraction) − curve(model, method).at(fraction)``."""
        return self.random(model).at(fraction) - self.curve(model, method).at(fraction)

    def ranking_gap_interval(self, model: str, method: str = "gradient", fraction: float = 0.5) -> Interval:
        """:meth:`ranking_gap` with its 95 % paired-bootstrap interval over the images (both rankings remove
        pixels from the same images)."""
        return paired_difference(self.random(model).outcomes(fraction).float(),
                                 self.curve(model, method).outcomes(fraction).float())

    def difference(self, model: str, over: str, ranking: str = "gradient", fraction: float = 0.5) -> Interval:
        """``model``'s accuracy minus ``over``'s with ``fraction`` of the pixels removed by ``ranking`` (a
        method, or ``"random"``), with its 95 % paired-bootstrap interval over the images."""
        pick = self.random if ranking == "random" else lambda name: self.curve(name, ranking)
        return paired_difference(pick(model).outcomes(fraction).float(), pick(over).outcomes(fraction).float())

    def ranking_gap_difference(self, model: str, over: str, method: str = "gradient",
                               fraction: float = 0.5) -> Interval:
        """``model``'s :meth:`ranking_gap` minus ``over``'s, with its 95 % paired-bootstrap interval."""
        def per_image(name: str) -> Tensor:
            return self.random(name).outcomes(fraction).float() - self.curve(name, method).outcomes(fraction).float()
        return paired_difference(per_image(model), per_image(over))


def figure3_curves(models: Mapping[str, nn.Module], x: Tensor, y: Tensor, settings: str = "authors",
                   methods: Sequence[str] = FIGURE3_METHODS, fractions: tuple[float, ...] = FRACTIONS, *,
                   seed: int = 0) -> Figure3Curves:
    """The SGT paper's Fig. 3: MoRF removal curves of every model for every saliency method, with
    ``settings`` (a key of :data:`REMOVAL_SETTINGS`), and each model's random-ranking curve.

    Every curve draws from a generator seeded with ``seed`` (fill, noise, baseline), so the models see
    the same random numbers. Draw it with :func:`~sgt_course.plots.figure3_panels`.
    """
    check_choice("settings", settings, REMOVAL_SETTINGS)
    for method in methods:
        check_choice("methods", method, METHODS)
    chosen = REMOVAL_SETTINGS[settings]

    def curve(model: nn.Module, method: str) -> RemovalCurve:
        generator = torch.Generator().manual_seed(seed)
        kwargs: dict[str, object] = {}
        if method == "integrated_gradients" and chosen.ig_baseline is not None:
            low, high = chosen.ig_baseline
            kwargs["baseline"] = (low + (high - low) * torch.rand(x.shape, generator=generator)).to(x)
        if method == "smoothgrad":
            kwargs.update(chosen.smoothgrad)
        return removal_curve(model, x, y, method, fractions, chosen.fill, generator=generator, **kwargs)

    randoms = {name: curve(model, "random") for name, model in models.items()}
    ranked = {(method, name): curve(model, method) for method in methods for name, model in models.items()}
    return Figure3Curves(ranked, randoms, tuple(methods), tuple(models), settings)


# --- the fair study ------------------------------------------------------------------------------------

#: The fills a study compares by default: the authors' training noise and three that neither model trained
#: on ("background" is left out: on MNIST, whose background is 0, it is the "zero" fill).
STUDY_FILLS = ("uniform", "zero", "mean", "linear")

#: Curve keys: (seed, model name, fill, ranking, order); the ranking is the saliency method or "random".
Key = tuple[int, str, str, str, str]


@dataclass(frozen=True)
class RemovalStudy:
    """Removal curves of several models over several seeds, each under several fills.

    For every (seed, model, fill) it holds the saliency ranking in both orders (``order="morf"``
    and ``"lerf"``) and the random ranking in the MoRF order (a random ranking has no "least relevant";
    its LeRF curve is another random curve).
    """

    curves: Mapping[Key, RemovalCurve]
    seeds: tuple[int, ...]
    models: tuple[str, ...]
    fills: tuple[str, ...]
    method: str

    def curve(self, seed: int, model: str, fill: str, *, ranking: str | None = None,
              order: str = "morf") -> RemovalCurve:
        """One curve; ``ranking`` is the study's saliency method (the default) or ``"random"``."""
        key = (seed, model, fill, ranking or self.method, order)
        if key not in self.curves:
            raise KeyError(f"no curve for seed={seed}, model={model!r}, fill={fill!r}, "
                           f"ranking={key[3]!r}, order={order!r}; the study has seeds {self.seeds}, "
                           f"models {self.models}, fills {self.fills}")
        return self.curves[key]

    def at(self, model: str, fill: str, fraction: float, *, ranking: str | None = None,
           order: str = "morf") -> list[float]:
        """Accuracy with ``fraction`` of the features removed, one value per seed."""
        return [self.curve(s, model, fill, ranking=ranking, order=order).at(fraction) for s in self.seeds]

    def gap(self, model: str, fill: str) -> list[float]:
        """The gap of the saliency ranking, area(LeRF) − area(MoRF), one value per seed (larger: more faithful)."""
        return [removal_gap(self.curve(s, model, fill), self.curve(s, model, fill, order="lerf"))
                for s in self.seeds]

    def lead(self, model: str, over: str, fill: str) -> list[float]:
        """How much larger ``model``'s gap is than ``over``'s, per seed (models of one seed compared)."""
        return [a - b for a, b in zip(self.gap(model, fill), self.gap(over, fill))]

    def random_difference(self, model: str, over: str, fill: str, fraction: float = 0.5) -> list[float]:
        """The control: ``model``'s accuracy minus ``over``'s under the *random* ranking with ``fraction``
        removed, per seed. About 0 where the fill is equally familiar to both models."""
        return [a - b for a, b in zip(self.at(model, fill, fraction, ranking="random"),
                                      self.at(over, fill, fraction, ranking="random"))]

    def gap_intervals(self, model: str, fill: str) -> list[Interval]:
        """:meth:`gap` with each seed's 95 % bootstrap interval over the images."""
        return [bootstrap_mean(self.image_gaps(s, model, fill)) for s in self.seeds]

    def lead_intervals(self, model: str, over: str, fill: str) -> list[Interval]:
        """:meth:`lead` with each seed's 95 % paired-bootstrap interval over the images (both models' gaps
        are measured on the same images)."""
        return [paired_difference(self.image_gaps(s, model, fill), self.image_gaps(s, over, fill))
                for s in self.seeds]

    def lead_change_intervals(self, model: str, over: str, fill: str, other: str) -> list[Interval]:
        """How much larger ``model``'s lead over ``over`` is under ``fill`` than under ``other``, per seed,
        with its 95 % paired-bootstrap interval (every fill removes pixels from the same images): does a
        fill favour one model?"""
        def leads(seed: int, chosen: str) -> Tensor:
            return self.image_gaps(seed, model, chosen) - self.image_gaps(seed, over, chosen)
        return [paired_difference(leads(s, fill), leads(s, other)) for s in self.seeds]

    def random_difference_intervals(self, model: str, over: str, fill: str, fraction: float = 0.5) -> list[Interval]:
        """:meth:`random_difference` with each seed's 95 % paired-bootstrap interval over the images."""
        return [paired_difference(*(self.curve(s, m, fill, ranking="random").outcomes(fraction).float()
                                    for m in (model, over))) for s in self.seeds]

    def table(self, fractions: tuple[float, ...] = (0.2, 0.5)) -> str:
        """A Markdown table: per fill and model, MoRF and LeRF accuracy at ``fractions``, the
        random ranking's at the last of them, and ROAD's gap; each "mean (min–max) ±h" over the seeds, in %,
        with h the seeds' mean 95 % half-width over the images (:func:`~sgt_course.stats.interval_spread`)."""
        head = ([f"MoRF {100 * f:.0f} %" for f in fractions] + [f"LeRF {100 * f:.0f} %" for f in fractions]
                + [f"random {100 * fractions[-1]:.0f} %", "ROAD gap"])
        rows = []
        for fill in self.fills:
            for model in self.models:
                cells = ([[self.curve(s, model, fill).interval(f) for s in self.seeds] for f in fractions]
                         + [[self.curve(s, model, fill, order="lerf").interval(f) for s in self.seeds]
                            for f in fractions]
                         + [[self.curve(s, model, fill, ranking="random").interval(fractions[-1]) for s in self.seeds],
                            self.gap_intervals(model, fill)])
                rows.append([fill, model, *(interval_spread(c) for c in cells)])
        return markdown_table(["fill", "model", *head], rows)

    def image_gaps(self, seed: int, model: str, fill: str) -> Tensor:
        """Each image's share of ``model``'s gap under ``fill`` on ``seed``, (N,) (:func:`image_gaps`)."""
        return image_gaps(self.curve(seed, model, fill), self.curve(seed, model, fill, order="lerf"))


def removal_study(models: Mapping[int, Mapping[str, nn.Module]], x: Tensor, y: Tensor, method: str = "gradient",
                  fills: Collection[str] = STUDY_FILLS, fractions: tuple[float, ...] = FRACTIONS, *,
                  sigma: float = 0.01, progress: bool = True) -> RemovalStudy:
    """Removal curves of every model of every seed under every fill (:func:`removal_curve`).

    Args:
        models: ``{seed: {name: model}}``, the same names for every seed (e.g. a standard and an SGT model
            trained with that seed).
        x, y: the samples to remove features from and their labels.
        method: the saliency method that ranks the features.
        fills: the fills to compare (see :data:`~sgt_course.imputation.FILLS`).
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
    check_choices("fills", fills, FILLS)
    jobs = [(seed, name, fill, ranking, order)
            for seed in models for name in names for fill in fills
            for ranking, order in [(method, o) for o in ORDERS] + [("random", "morf")]]
    curves = {}
    for seed, name, fill, ranking, order in tqdm(jobs, desc="removal curves", disable=not progress):
        curves[(seed, name, fill, ranking, order)] = removal_curve(
            models[seed][name], x, y, ranking, fractions, fill, order, sigma=sigma,
            generator=torch.Generator().manual_seed(seed))
    return RemovalStudy(curves, tuple(models), names, tuple(fills), method)

