"""Numbers that say how good a saliency map is.

- :func:`mask_precision`: against known ground truth (planted patches, the time-series benchmark).
- :func:`spearman`: how similar two maps are (rank correlation), for sanity checks.
- :func:`removal_curve`: accuracy as the most (MoRF) or least (LeRF) salient features are removed and
  imputed (no retraining); :func:`removal_gap`, ROAD's summary of the two orders; :func:`remove_features`,
  the removed inputs themselves (what ROAR retrains on).
- :func:`robust_accuracy`: accuracy under an adversarial attack over a range of ε;
  :func:`robustness_curves` for several models and attacks, :func:`robustness_table` to print them.
- :func:`precision_recall`: the time-series benchmark's AUP and AUR.
- :func:`spread`: one value per seed as "mean (min–max)".
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from sgt_course.attacks import attack_label, get_attack
from sgt_course.checks import check_choice, check_fraction
from sgt_course.data import ImageSet
from sgt_course.imputation import impute
from sgt_course.masking import top_k_mask
from sgt_course.saliency import attribute, feature_scores
from sgt_course.training import History, as_tensors, evaluate, predict


def _check_same_batch(name_a: str, a: Tensor, name_b: str, b: Tensor) -> None:
    if a.shape[0] != b.shape[0] or a[0].numel() != b[0].numel():
        raise ValueError(f"{name_a} and {name_b} must have the same batch size and features per sample; "
                         f"got {tuple(a.shape)} and {tuple(b.shape)}")


def mask_precision(saliency_map: Tensor, mask: Tensor) -> Tensor:
    """Per sample, the share of the top-|G| salient features that lie in the ground truth G.

    With |G| the size of each sample's ground-truth ``mask`` this is precision at the patch size
    (the "pointing game" generalized to a region): 1 when the map's top features are exactly the
    patch, |G| / n_features on average for a random map.

    Args:
        saliency_map: (N, ...) scores, higher = more salient (e.g. ``per_pixel(map)``).
        mask: (N, ...) bool, the ground truth, same number of features per sample.
    Returns:
        (N,) precisions in [0, 1].
    """
    _check_same_batch("saliency_map", saliency_map, "mask", mask)
    truth = mask.reshape(saliency_map.shape).bool()
    size = truth.flatten(1).sum(1)
    if (size == 0).any():
        raise ValueError("mask must mark at least one feature in every sample")
    hits = top_k_mask(saliency_map, size) & truth
    return hits.flatten(1).sum(1).float() / size.float()


def _ranks(x: Tensor) -> Tensor:
    """Per-row ranks (0-based) with ties given their average rank, as Spearman's ρ needs."""
    flat = x.flatten(1).contiguous()
    ordered = flat.sort(1).values
    below = torch.searchsorted(ordered, flat, right=False)
    up_to = torch.searchsorted(ordered, flat, right=True)
    return (below + up_to - 1).float() / 2


def spearman(a: Tensor, b: Tensor) -> Tensor:
    """Spearman rank correlation between two maps, per sample: (N, ...) x (N, ...) -> (N,) in [-1, 1].

    Tied values get their average rank, so large areas of exact zeros (e.g. Input×Gradient on a
    black background) count as one tie rather than as an arbitrary order.
    """
    _check_same_batch("a", a, "b", b)
    ra, rb = _ranks(a), _ranks(b)
    ra, rb = ra - ra.mean(1, keepdim=True), rb - rb.mean(1, keepdim=True)
    return (ra * rb).sum(1) / (ra.norm(dim=1) * rb.norm(dim=1)).clamp_min(1e-12)


def spread(values: Sequence[float], *, percent: bool = True) -> str:
    """``values`` (one per seed) as "mean (min–max)", in percent by default: ``"57.8 (55.0–60.1)"``;
    a single value as ``"57.8 (one seed)"``."""
    if not values:
        raise ValueError("values must hold at least one number")
    scale = 100 if percent else 1
    mean, low, high = (scale * v for v in (statistics.fmean(values), min(values), max(values)))
    return f"{mean:.1f} (one seed)" if len(values) == 1 else f"{mean:.1f} ({low:.1f}–{high:.1f})"


FRACTIONS = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)


@dataclass
class RemovalCurve:
    """Accuracy after removing a fraction d of the features, for each d in ``fractions``: the most
    salient first (``order="morf"``) or the least salient first (``"lerf"``), filled by ``imputation``."""

    fractions: tuple[float, ...]
    accuracy: tuple[float, ...]
    method: str
    order: str = "morf"
    imputation: str = "uniform"

    def at(self, fraction: float) -> float:
        """Accuracy with ``fraction`` of the features removed (must be one of ``fractions``)."""
        if fraction not in self.fractions:
            raise ValueError(f"fraction must be one of {self.fractions}; got {fraction!r}")
        return self.accuracy[self.fractions.index(fraction)]

    def area(self) -> float:
        """Mean accuracy over the fractions. MoRF: lower = the map ranked the decisive features first;
        LeRF: higher = the features it ranked last were not needed."""
        return sum(self.accuracy) / len(self.accuracy)


ORDERS = ("morf", "lerf")


def removal_gap(morf: RemovalCurve, lerf: RemovalCurve) -> float:
    """ROAD's single number (Rong et al. 2022): the area between the LeRF and the MoRF curve,
    ``lerf.area() − morf.area()``. Larger = a more faithful ranking; about 0 for a random one."""
    if (morf.order, lerf.order) != ("morf", "lerf"):
        raise ValueError(f"removal_gap takes a MoRF and a LeRF curve, in that order; got {morf.order}, {lerf.order}")
    if morf.fractions != lerf.fractions:
        raise ValueError(f"the curves must share their fractions; got {morf.fractions} and {lerf.fractions}")
    return lerf.area() - morf.area()


def removal_curve(model: nn.Module, x: Tensor, y: Tensor, method: str, fractions: tuple[float, ...] = FRACTIONS,
                  imputation: str = "uniform", order: str = "morf", *, sigma: float = 0.01,
                  generator: torch.Generator | None = None, batch_size: int = 1000,
                  **method_kwargs: object) -> RemovalCurve:
    """Accuracy as a fraction d of the features is removed, d in ``fractions`` (Fig. 3 of the SGT paper).

    The saliency of the true class is computed once with ``method`` (``"random"`` gives the random
    ranking); for each d the ``round(d · n_features)`` most salient (``order="morf"``) or least salient
    (``"lerf"``) features of each sample are removed, filled by ``imputation`` (:func:`~sgt_course.
    imputation.impute`: ``"uniform"`` — U(min, max), the perturbation SGT trains on —, ``"zero"``,
    ``"mean"``, ``"background"`` — the SGT authors' removal fill — or ROAD's ``"linear"`` with noise ``sigma``), and the unchanged model is
    evaluated. MoRF: a steeper fall means the map ranked the features the model needs first. LeRF: a
    flatter curve means the features it ranked last were not needed. Images are ranked per pixel.
    """
    as_tensors((x, y))  # the same batch size, or a ValueError saying so
    for fraction in fractions:
        check_fraction("fractions", fraction)
    ranking = _ranking(model, x, y, method, order, generator, method_kwargs)
    accuracy = []
    for fraction in fractions:
        filled = _remove(x, ranking, fraction, imputation, sigma, generator)
        accuracy.append((predict(model, filled, batch_size).argmax(1) == y).float().mean().item())
    return RemovalCurve(tuple(fractions), tuple(accuracy), method, order, imputation)


def remove_features(model: nn.Module | None, x: Tensor, y: Tensor, method: str, fraction: float,
                    imputation: str = "linear", order: str = "morf", *, sigma: float = 0.01,
                    generator: torch.Generator | None = None, batch_size: int = 1000) -> Tensor:
    """``x`` with each sample's ``fraction`` most (``order="morf"``) or least (``"lerf"``) salient
    features, by ``model``'s ``method`` saliency of the true class, removed and filled by ``imputation``.

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
        chunks.append(_remove(xb, ranking, fraction, imputation, sigma, generator))
    return torch.cat(chunks)


def _ranking(model: nn.Module | None, x: Tensor, y: Tensor, method: str, order: str,
             generator: torch.Generator | None, method_kwargs: Mapping[str, object]) -> Tensor:
    """Per-feature scores whose top-k are removed first: the saliency (MoRF) or its negative (LeRF)."""
    check_choice("order", order, ORDERS)
    if method in ("smoothgrad", "random") and generator is not None:
        method_kwargs = {"generator": generator, **method_kwargs}
    scores = feature_scores(attribute(method, model, x, y, **method_kwargs)).detach()
    return scores if order == "morf" else -scores


def _remove(x: Tensor, ranking: Tensor, fraction: float, imputation: str, sigma: float,
            generator: torch.Generator | None) -> Tensor:
    """``x`` with the ``round(fraction · n_features)`` top-ranked features of each sample imputed."""
    removed = top_k_mask(ranking, round(fraction * ranking[0].numel()))
    return impute(x, removed, imputation, sigma=sigma, generator=generator)


@dataclass
class RobustnessCurve:
    """Accuracy under an attack for each radius ε in ``eps``."""

    eps: tuple[float, ...]
    accuracy: tuple[float, ...]
    attack: str

    def at(self, eps: float) -> float:
        """Accuracy at radius ``eps`` (must be one of ``eps``)."""
        matches = [i for i, e in enumerate(self.eps) if abs(e - eps) < 1e-9]
        if not matches:
            raise ValueError(f"eps must be one of {self.eps}; got {eps!r}")
        return self.accuracy[matches[0]]

    def non_increasing(self, tolerance: float = 0.02) -> bool:
        """Whether accuracy never rises by more than ``tolerance`` from one ε to the next (PGD's random
        start and the finite sample let it wobble a little)."""
        return all(b <= a + tolerance for a, b in zip(self.accuracy, self.accuracy[1:]))


def robust_accuracy(model: nn.Module, x: Tensor, y: Tensor, attack: str, eps_values: tuple[float, ...], *,
                    batch_size: int = 500, **attack_options: object) -> RobustnessCurve:
    """Accuracy of ``model`` on ``attack``-perturbed inputs for each ε in ``eps_values`` (Fig. 7-10).

    Args:
        attack: ``"fgsm"``, ``"pgd"`` or ``"mifgsm"``.
        eps_values: the radii; 0 gives the clean accuracy.
        batch_size: samples attacked at once (bounds memory).
        attack_options: passed to the attack (``steps``, ``alpha``, ``generator``, ...).
    """
    as_tensors((x, y))  # the same batch size, or a ValueError saying so
    run = get_attack(attack)
    accuracy = []
    for eps in eps_values:
        correct = 0
        for i in range(0, x.shape[0], batch_size):
            xb, yb = x[i:i + batch_size], y[i:i + batch_size]
            adversarial = run(model, xb, yb, eps=eps, **attack_options)
            correct += (predict(model, adversarial).argmax(1) == yb).sum().item()
        accuracy.append(correct / x.shape[0])
    return RobustnessCurve(tuple(float(e) for e in eps_values), tuple(accuracy), attack)


def robustness_curves(models: Mapping[str, nn.Module], x: Tensor, y: Tensor, eps_values: tuple[float, ...], *,
                      attacks: tuple[str, ...] = ("fgsm", "pgd", "mifgsm"), seed: int = 0,
                      batch_size: int = 500) -> dict[str, dict[str, RobustnessCurve]]:
    """:func:`robust_accuracy` of every model under every attack: ``{attack label: {model name: curve}}``.

    PGD's random start comes from a generator seeded with ``seed`` afresh for each model, so every
    model meets the same draw and a run repeats exactly. Labels are the attacks' display names
    (``"FGSM"``, ``"PGD"``, ``"MI-FGSM"``), ready for :func:`sgt_course.plots.robustness_panels`.
    """
    for attack in attacks:
        get_attack(attack)  # an unknown name fails here, before any model is attacked
    return {attack_label(attack): {name: robust_accuracy(model, x, y, attack, eps_values, batch_size=batch_size,
                                                         **_seeded_start(attack, seed))
                                   for name, model in models.items()}
            for attack in attacks}


def _seeded_start(attack: str, seed: int) -> dict[str, torch.Generator]:
    return {"generator": torch.Generator().manual_seed(seed)} if attack == "pgd" else {}


def robustness_table(curves: Mapping[str, Mapping[str, RobustnessCurve]]) -> str:
    """The curves of :func:`robustness_curves` as text, one row per (attack, model), one column per ε."""
    eps = next(iter(next(iter(curves.values())).values())).eps
    header = f"{'attack':<9}{'model':<10}" + "".join(f"{'ε=' + format(e, '.4g'):<9}" for e in eps)
    rows = [f"{attack:<9}{name:<10}" + "".join(f"{a:<9.1%}" for a in curve.accuracy)
            for attack, by_model in curves.items() for name, curve in by_model.items()]
    return "\n".join(line.rstrip() for line in [header, *rows])


THRESHOLDS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)


@dataclass
class PrecisionRecall:
    """Saliency-weighted precision and recall against ground truth at each threshold, and their areas."""

    thresholds: tuple[float, ...]
    precision: tuple[float, ...]
    recall: tuple[float, ...]

    @property
    def aup(self) -> float:
        """Area under the precision curve over the thresholds: the benchmark's unnormalised trapezoid
        (``numpy.trapz``), so at most 0.8 for thresholds 0.1 … 0.9."""
        return _trapezoid(self.thresholds, self.precision)

    @property
    def aur(self) -> float:
        """Area under the recall curve over the thresholds (unnormalised trapezoid, as :attr:`aup`)."""
        return _trapezoid(self.thresholds, self.recall)


def _trapezoid(xs: tuple[float, ...], ys: tuple[float, ...]) -> float:
    return sum((x1 - x0) * (y0 + y1) / 2 for x0, x1, y0, y1 in zip(xs, xs[1:], ys, ys[1:]))


def saliency_mass_mask(s: Tensor, share: float) -> Tensor:
    """Each row's fewest top features that hold ``share`` of the row's saliency: (N, F) -> (N, F) bool.

    The selection of the time-series benchmark (Ismail et al. 2020, ``getIndexOfAllhighestSalientValues``):
    X = the smallest count whose top-X scores sum to at least ``share · Σ s``, at least 1 and at most F − 1.
    ``s`` must be non-negative.
    """
    ordered = s.sort(1, descending=True).values
    held = ordered.cumsum(1) < share * s.sum(1, keepdim=True)
    count = (held.sum(1) + 1).clamp(1, s.shape[1] - 1)
    return top_k_mask(s, count)


def precision_recall(saliency_map: Tensor, mask: Tensor, thresholds: tuple[float, ...] = THRESHOLDS) -> PrecisionRecall:
    """Precision and recall of a saliency map against ground truth, weighted by saliency, as the
    time-series benchmark of Ismail et al. (2020) defines them (its ``getPrecisionRecall.py``).

    Per sample, the map is rescaled to [0, 1] (|s|, min-max). At threshold p the "positive" features P
    are the fewest top features that hold a share p of the sample's saliency *mass*
    (:func:`saliency_mass_mask`); with G the ground truth and s the rescaled saliency,

        precision = Σ_{P∩G} s / Σ_P s,        recall = Σ_{P∩G} s / Σ_G s,

    averaged over the samples where the denominator is positive. AUP and AUR are the areas under
    the two curves over the thresholds (unnormalised trapezoids, as in the benchmark's Table 2).

    Args:
        saliency_map: (N, ...) scores; mask: (N, ...) bool ground truth with the same features per sample.
        thresholds: shares of the saliency mass called positive, each in (0, 1).
    """
    _check_same_batch("saliency_map", saliency_map, "mask", mask)
    if not thresholds or any(not 0 < t < 1 for t in thresholds):
        raise ValueError(f"thresholds must be fractions in (0, 1); got {thresholds!r}")
    s = saliency_map.detach().abs().flatten(1).float()
    low, high = s.amin(1, keepdim=True), s.amax(1, keepdim=True)
    s = (s - low) / (high - low).clamp_min(1e-12)
    truth = mask.reshape(s.shape).bool()
    precision, recall = [], []
    for threshold in thresholds:
        positive = saliency_mass_mask(s, threshold)
        hit = (s * (positive & truth)).sum(1)
        selected, relevant = (s * positive).sum(1), (s * truth).sum(1)
        precision.append((hit / selected.clamp_min(1e-12))[selected > 0].mean().item())
        recall.append((hit / relevant.clamp_min(1e-12))[relevant > 0].mean().item())
    return PrecisionRecall(tuple(thresholds), tuple(precision), tuple(recall))


def saliency_over_time(saliency_map: Tensor) -> Tensor:
    """Mean |saliency| per time step of (N, steps, features) maps, each sample's map scaled to sum 1: (steps,).

    The profile that shows an LSTM's saliency vanishing for early time steps (Fig. 4 of the SGT paper).
    """
    if saliency_map.ndim != 3:
        raise ValueError(f"saliency_map must have shape (N, steps, features); got {tuple(saliency_map.shape)}")
    s = saliency_map.detach().abs()
    s = s / s.flatten(1).sum(1).clamp_min(1e-12)[:, None, None]
    return s.sum(2).mean(0)


AOPC_BINS = (0.01, 0.05, 0.1, 0.2, 0.5)


def keep_tokens(tokens: Tensor, keep: Tensor) -> Tensor:
    """The kept tokens of each row, in order, moved to the front and padded with 0: (N, L) -> (N, L)."""
    order = (~keep).long().argsort(dim=1, stable=True)
    compact = tokens.gather(1, order)
    return compact.masked_fill(torch.arange(tokens.shape[1], device=tokens.device) >= keep.sum(1, keepdim=True), 0)


def _rationale(tokens: Tensor, scores: Tensor, fraction: float) -> Tensor:
    """The top ``fraction`` of each sample's real tokens by score (at least one): a bool mask (N, L)."""
    real = tokens != 0
    n = (fraction * real.sum(1).float()).round().long().clamp_min(1)
    return top_k_mask(scores.float().masked_fill(~real, float("-inf")), n) & real


def _class_probability(model: nn.Module, tokens: Tensor, target: Tensor) -> Tensor:
    return torch.softmax(predict(model, tokens), 1).gather(1, target[:, None]).squeeze(1)


def comprehensiveness(model: nn.Module, tokens: Tensor, scores: Tensor, bins: tuple[float, ...] = AOPC_BINS,
                      target: Tensor | None = None) -> Tensor:
    """ERASER comprehensiveness (DeYoung et al. 2020), per sample, averaged over ``bins`` (AOPC):

        f(X)_j − f(X ∖ R)_j,   R = the top-q tokens by ``scores``, q in bins, j = the predicted class

    Higher = removing the rationale hurts more = the scores found what the model uses.
    """
    return _eraser(model, tokens, scores, bins, target, remove=True)


def sufficiency(model: nn.Module, tokens: Tensor, scores: Tensor, bins: tuple[float, ...] = AOPC_BINS,
                target: Tensor | None = None) -> Tensor:
    """ERASER sufficiency, per sample, averaged over ``bins``: f(X)_j − f(R)_j with R alone kept.

    Lower = the rationale alone is enough for the prediction.
    """
    return _eraser(model, tokens, scores, bins, target, remove=False)


def _eraser(model: nn.Module, tokens: Tensor, scores: Tensor, bins: tuple[float, ...], target: Tensor | None,
            remove: bool) -> Tensor:
    if scores.shape != tokens.shape:
        raise ValueError(f"scores must have the tokens' shape {tuple(tokens.shape)}; got {tuple(scores.shape)}")
    if not bins or any(not 0 < q <= 1 for q in bins):
        raise ValueError(f"bins must be fractions in (0, 1]; got {bins!r}")
    target = predict(model, tokens).argmax(1) if target is None else target
    full = _class_probability(model, tokens, target)
    total = torch.zeros_like(full)
    for fraction in bins:
        rationale = _rationale(tokens, scores, fraction)
        kept = keep_tokens(tokens, (tokens != 0) & ~rationale) if remove else keep_tokens(tokens, rationale)
        total += full - _class_probability(model, kept, target)
    return total / len(bins)


def regime_summary(models: Mapping[str, nn.Module], histories: Mapping[str, History], test: ImageSet,
                   pgd: Mapping[str, RobustnessCurve], removal: Mapping[str, RemovalCurve],
                   eps: float) -> dict[str, dict[str, float]]:
    """Notebook 6's table, one row per regime: clean accuracy on ``test``, accuracy under PGD at ``eps``
    (from ``pgd``), the area under the gradient removal curve (lower: the map found the decisive
    pixels) and the training seconds per epoch."""
    return {name: {"clean accuracy": evaluate(model, test),
                   f"PGD accuracy, ε={eps:.3g}": pgd[name].at(eps),
                   "removal-curve area (gradient) ↓": removal[name].area(),
                   "seconds per epoch": sum(histories[name].seconds) / histories[name].epochs}
            for name, model in models.items()}
