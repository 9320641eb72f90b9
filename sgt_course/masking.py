"""M_k: mask the k lowest-saliency features of each sample (line 2 of Algorithm 1, SGT).

    X̃ = M_k(sort(S(X)), X)

For images and time series, each masked feature is replaced by a value drawn uniformly between
that sample's minimum and maximum (the authors' choice); the mean, zero and background fills are
there to compare. Text masking (replace by the previous salient token) lives with the text models.
"""

from __future__ import annotations

import torch
from torch import Tensor

from sgt_course.checks import check_choice, check_finite, check_fraction
from sgt_course.runtime import draw

#: What M_k can put in place of a masked feature, from the sample's own values (:func:`fill_values`).
FILLS = ("uniform", "zero", "mean", "background")


def top_k_mask(scores: Tensor, k: Tensor | int) -> Tensor:
    """Boolean mask of each sample's ``k`` highest scores; ``scores`` (N, ...), ``k`` int or (N,)."""
    flat = scores.flatten(1)
    n, features = flat.shape
    k = torch.as_tensor(k, device=flat.device).expand(n)
    order = flat.argsort(1, descending=True)
    chosen = torch.arange(features, device=flat.device).expand(n, features) < k[:, None]
    return torch.zeros_like(chosen).scatter(1, order, chosen).view(scores.shape)


def _features_of(x: Tensor, saliency: Tensor) -> Tensor:
    """``saliency`` checked against ``x``: same batch, each dimension equal to x's or 1 (shared)."""
    if not isinstance(x, Tensor) or not x.is_floating_point():
        raise TypeError(f"x must be a floating-point tensor; got {getattr(x, 'dtype', type(x).__name__)}")
    if not isinstance(saliency, Tensor):
        raise TypeError(f"saliency must be a tensor; got {type(saliency).__name__}")
    check_finite("x", x)
    check_finite("saliency", saliency)
    compatible = saliency.ndim == x.ndim and saliency.shape[0] == x.shape[0] and all(
        s in (1, d) for s, d in zip(saliency.shape[1:], x.shape[1:]))
    if not compatible:
        raise ValueError(f"saliency must have x's batch size and x's feature shape, with 1 where a score is shared "
                         f"(e.g. (N, 1, H, W) for images); got {tuple(saliency.shape)} for x of {tuple(x.shape)}")
    return saliency


def fill_values(x: Tensor, fill: str = "uniform", generator: torch.Generator | None = None) -> Tensor:
    """Replacement values shaped like ``x``: U(min, max) of each sample, each sample's mean, zeros, or
    each sample's ``"background"``: its first value, ``x[i, 0, 0, 0]`` for images (the top-left pixel of
    the first channel, the value the SGT authors' removal script fills with: 0 on MNIST digits)."""
    check_choice("fill", fill, FILLS)
    if fill == "zero":
        return torch.zeros_like(x)
    per_sample = (-1,) + (1,) * (x.ndim - 1)
    flat = x.detach().flatten(1)
    if fill == "mean":
        return flat.mean(1).view(per_sample).expand_as(x)
    if fill == "background":
        return flat[:, 0].view(per_sample).expand_as(x)
    low, high = flat.amin(1).view(per_sample), flat.amax(1).view(per_sample)
    return low + (high - low) * draw(x, generator)


def mask_bottom_k(x: Tensor, saliency: Tensor, k: float, fill: str = "uniform",
                  generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
    """Replace, per sample, the ``round(k · n_features)`` features of lowest saliency.

    Args:
        x: inputs (N, ...), e.g. images (N, C, H, W) or time series (N, T, F).
        saliency: scores with x's batch and feature shape, or 1 along dimensions whose features share
            a score: (N, 1, H, W) masks whole pixels across all channels.
        k: the fraction of features to mask, in [0, 1).
        fill: ``"uniform"`` (U(min, max) of the sample), ``"mean"``, ``"zero"`` or ``"background"``
            (see :func:`fill_values`).
        generator: source of the uniform fill, for repeatable masks.
    Returns:
        (X̃, mask): the masked inputs and a bool tensor shaped like ``x``, True where a value was replaced.
    """
    check_fraction("k", k)
    saliency = _features_of(x, saliency)
    n_masked = round(k * saliency[0].numel())
    check_choice("fill", fill, FILLS)
    mask = top_k_mask(-saliency.detach(), n_masked).expand_as(x)
    if n_masked == 0:
        return x, mask
    return torch.where(mask, fill_values(x, fill, generator), x), mask


def mask_tokens_bottom_k(tokens: Tensor, scores: Tensor, k: float) -> tuple[Tensor, Tensor]:
    """M_k for text (Ismail et al. 2021): replace, per sample, the ``round(k · n)`` real tokens of lowest
    score (n = the sample's non-padding tokens) by the previous salient (unmasked) token.

    A masked token with no salient token before it (the start of the text) takes the first salient
    token after it. Padding (id 0) is never chosen and never copied; at least one token stays salient.

    Args:
        tokens: token ids (N, L), 0 = padding.
        scores: token saliency (N, L), higher = more salient.
        k: the fraction of each sample's tokens to mask, in [0, 1).
    Returns:
        (masked tokens (N, L), mask (N, L) bool, True where a token was replaced).
    """
    check_fraction("k", k)
    if tokens.is_floating_point() or tokens.ndim != 2:
        raise TypeError(f"tokens must be integer ids of shape (N, L); got {tokens.dtype} {tuple(tokens.shape)}")
    if scores.shape != tokens.shape:
        raise ValueError(f"scores must have the tokens' shape {tuple(tokens.shape)}; got {tuple(scores.shape)}")
    real = tokens != 0
    n_real = real.sum(1)
    n_masked = torch.minimum((k * n_real.float()).round().long(), (n_real - 1).clamp_min(0))
    lowest_first = (-scores.detach().float()).masked_fill(~real, float("-inf"))
    mask = top_k_mask(lowest_first, n_masked)
    salient = real & ~mask
    positions = torch.arange(tokens.shape[1], device=tokens.device).expand_as(tokens)
    previous = torch.where(salient, positions, torch.full_like(positions, -1)).cummax(1).values
    first = salient.float().argmax(1, keepdim=True).expand_as(tokens)
    source = torch.where(previous >= 0, previous, first)
    return torch.where(mask, tokens.gather(1, source), tokens), mask
