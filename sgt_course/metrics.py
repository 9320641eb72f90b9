"""How good a saliency map is against ground truth, and how alike two maps are.

- :func:`mask_precision`: against known ground truth (planted patches, the time-series benchmark);
  :func:`foreground_share`, against the digit itself (is the map on the strokes or scattered noise?).
- :func:`precision_recall`: the time-series benchmark's AUP and AUR; :func:`saliency_over_time`, the
  profile that shows an LSTM's saliency vanishing.
- :func:`comprehensiveness`, :func:`sufficiency`: ERASER's scores of a text rationale.
- :func:`spearman`: how similar two maps are (rank correlation), for sanity checks.

Removal curves live in :mod:`sgt_course.removal`, robustness in :mod:`sgt_course.robustness`.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from sgt_course.masking import top_k_mask
from sgt_course.training import predict


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


def foreground_share(saliency_map: Tensor, x: Tensor) -> Tensor:
    """Per image, the share of the map's top-|F| pixels that lie on the foreground F = {pixels where x > 0}:
    :func:`mask_precision` with the digit's own strokes as G. On MNIST's black background it measures how
    far a map is *perceptually aligned* with the digit (Tsipras et al., ICLR 2019, on adversarially trained
    models) rather than scattered: a map of noise scores |F| / pixels on average, about 0.19 on MNIST.

    Args:
        saliency_map: (N, 1, H, W) one score per pixel (e.g. ``per_pixel(map)``).
        x: (N, C, H, W) the images, with a background of exactly 0.
    Returns:
        (N,) shares in [0, 1].
    """
    _check_same_batch("saliency_map", saliency_map, "x", x)
    return mask_precision(saliency_map, (x > 0).any(1, keepdim=True))


def _ranks(x: Tensor) -> Tensor:
    """Per-row ranks (0-based) with ties given their average rank, as Spearman's ρ needs."""
    flat = x.flatten(1).contiguous()
    ordered = flat.sort(1).values
    below = torch.searchsorted(ordered, flat, right=False)
    up_to = torch.searchsorted(ordered, flat, right=True)
    return (below + up_to - 1).float() / 2


def spearman(a: Tensor, b: Tensor, where: Tensor | None = None) -> Tensor:
    """Spearman rank correlation between two maps, per sample: (N, ...) x (N, ...) -> (N,) in [-1, 1].

    Tied values get their average rank, so large areas of exact zeros (e.g. Input×Gradient on a
    black background) count as one tie rather than as an arbitrary order. Such a tie, shared by both maps
    whatever the model, pulls ρ towards 1 on its own; ``where`` ((N, ...) bool, as many features per sample)
    restricts the correlation to the features it marks, e.g. ``where=x > 0``, a digit's strokes: ρ is then
    computed over each sample's marked features alone (ranks among them; NaN for a sample with fewer than 2).
    """
    _check_same_batch("a", a, "b", b)
    if where is None:
        ra, rb = _ranks(a), _ranks(b)
        ra, rb = ra - ra.mean(1, keepdim=True), rb - rb.mean(1, keepdim=True)
        return (ra * rb).sum(1) / (ra.norm(dim=1) * rb.norm(dim=1)).clamp_min(1e-12)
    _check_same_batch("a", a, "where", where)
    keep = where.flatten(1).to(a.device, torch.bool)
    outside = torch.tensor(float("inf"), device=a.device)
    # unmarked features become +inf, so they rank after every marked one and leave the marked ranks 0..m-1
    ra, rb = (_ranks(torch.where(keep, m.flatten(1).float(), outside)) for m in (a, b))
    count = keep.sum(1, keepdim=True).float()
    ra, rb = ((r - (r * keep).sum(1, keepdim=True) / count.clamp_min(1)) * keep for r in (ra, rb))
    rho = (ra * rb).sum(1) / (ra.norm(dim=1) * rb.norm(dim=1)).clamp_min(1e-12)
    return torch.where(count.squeeze(1) >= 2, rho, torch.full_like(rho, float("nan")))


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
    if not (s.sum(1) > 0).any():
        raise ValueError("saliency_map gives every feature of every sample the same |score| (all zeros, say): it "
                         "has no mass to rank, so precision and recall are undefined")
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

        p(j | X) − p(j | X ∖ R),   R = the top-q tokens by ``scores``, q in bins, j = the predicted class,
        p the softmax of the model's logits (probabilities, as ERASER defines it)

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
