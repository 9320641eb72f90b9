"""Numbers that say how good a saliency map is.

- :func:`mask_precision`: against known ground truth (planted patches, the time-series benchmark).
- :func:`spearman`: how similar two maps are (rank correlation), for sanity checks.
- :func:`removal_curve`: accuracy as the most salient features are removed (no retraining).
- :func:`robust_accuracy`: accuracy under an adversarial attack over a range of ε.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from sgt_course.masking import check_fraction, mask_top_k, top_k_mask
from sgt_course.saliency import attribute, per_pixel
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


FRACTIONS = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)


@dataclass
class RemovalCurve:
    """Accuracy after replacing the top-d fraction of salient features, for each d in ``fractions``."""

    fractions: tuple[float, ...]
    accuracy: tuple[float, ...]
    method: str

    def at(self, fraction: float) -> float:
        """Accuracy with ``fraction`` of the features removed (must be one of ``fractions``)."""
        if fraction not in self.fractions:
            raise ValueError(f"fraction must be one of {self.fractions}; got {fraction!r}")
        return self.accuracy[self.fractions.index(fraction)]

    def area(self) -> float:
        """Mean accuracy over the fractions: lower = the map ranked the decisive features first."""
        return sum(self.accuracy) / len(self.accuracy)


def removal_curve(model: nn.Module, x: Tensor, y: Tensor, method: str, fractions: tuple[float, ...] = FRACTIONS,
                  fill: str = "uniform", generator: torch.Generator | None = None, batch_size: int = 1000,
                  **method_kwargs: object) -> RemovalCurve:
    """Accuracy as the top-d salient features are replaced, d in ``fractions`` (Fig. 3 of the SGT paper).

    The saliency of the true class is computed once with ``method`` (``"random"`` gives the random
    ranking); for each d the top ``round(d · n_features)`` features of each sample are replaced with
    ``fill`` (:func:`~sgt_course.masking.mask_top_k`) and the unchanged model is evaluated. A steeper
    fall means the map ranked the features the model needs first. Images are ranked per pixel.
    """
    if x.shape[0] != y.shape[0]:
        raise ValueError(f"x and y must have the same batch size; got {x.shape[0]} and {y.shape[0]}")
    for fraction in fractions:
        check_fraction("fractions", fraction)
    if method in ("smoothgrad", "random") and generator is not None:
        method_kwargs = {"generator": generator, **method_kwargs}
    scores = attribute(method, model, x, y, **method_kwargs)
    scores = per_pixel(scores) if scores.ndim == 4 else scores.abs()
    accuracy = []
    for fraction in fractions:
        removed, _ = mask_top_k(x, scores, fraction, fill=fill, generator=generator)
        accuracy.append((predict(model, removed, batch_size).argmax(1) == y).float().mean().item())
    return RemovalCurve(tuple(fractions), tuple(accuracy), method)


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


def robust_accuracy(model: nn.Module, x: Tensor, y: Tensor, attack: str, eps_values: tuple[float, ...], *,
                    batch_size: int = 500, **attack_options: object) -> RobustnessCurve:
    """Accuracy of ``model`` on ``attack``-perturbed inputs for each ε in ``eps_values`` (Fig. 7-10).

    Args:
        attack: ``"fgsm"``, ``"pgd"`` or ``"mifgsm"``.
        eps_values: the radii; 0 gives the clean accuracy.
        batch_size: samples attacked at once (bounds memory).
        attack_options: passed to the attack (``steps``, ``alpha``, ``generator``, ...).
    """
    from sgt_course.attacks import get_attack

    if x.shape[0] != y.shape[0]:
        raise ValueError(f"x and y must have the same batch size; got {x.shape[0]} and {y.shape[0]}")
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
