"""Numbers that say how good a saliency map is.

- :func:`mask_precision`: against known ground truth (planted patches, the time-series benchmark).
- :func:`spearman`: how similar two maps are (rank correlation), for sanity checks.
"""

from __future__ import annotations

import torch
from torch import Tensor


def _check_same_batch(name_a: str, a: Tensor, name_b: str, b: Tensor) -> None:
    if a.shape[0] != b.shape[0] or a[0].numel() != b[0].numel():
        raise ValueError(f"{name_a} and {name_b} must have the same batch size and features per sample; "
                         f"got {tuple(a.shape)} and {tuple(b.shape)}")


def top_k_mask(scores: Tensor, k: Tensor | int) -> Tensor:
    """Boolean mask of each sample's ``k`` highest scores; ``scores`` (N, ...), ``k`` int or (N,)."""
    flat = scores.flatten(1)
    n, features = flat.shape
    k = torch.as_tensor(k, device=flat.device).expand(n)
    order = flat.argsort(1, descending=True)
    chosen = torch.arange(features, device=flat.device).expand(n, features) < k[:, None]
    return torch.zeros_like(chosen).scatter(1, order, chosen).view(scores.shape)


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
