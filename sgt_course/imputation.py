"""Imputation: what a removal curve puts in place of the pixels it removes.

A removal curve that fills removed pixels with the very noise SGT trains on favours SGT by
construction (Hooker et al. 2019; Rong et al. 2022). ROAD's **noisy linear imputation** (Rong et al.,
ICML 2022) fills them from their surroundings instead, so the removed region neither looks like
training noise nor outlines its own shape. Each removed pixel p takes the weighted mean of its
in-image 8-neighbours q,

    Σ_q w_q · (x_p − x_q) = 0,    w = 1/6 for the 4 direct and 1/12 for the 4 diagonal neighbours,

where the neighbours that are themselves removed are unknowns too, so the removed pixels of an image
are solved together as one sparse linear system; the systems of a batch are solved as one block-
diagonal system. Then Gaussian noise N(0, σ²) is added to the imputed pixels and each image is clipped
to its own [min, max].
"""

from __future__ import annotations

import numpy as np
import torch
from scipy.sparse import csc_matrix
from scipy.sparse.linalg import spsolve
from torch import Tensor

from sgt_course.checks import check_finite, check_non_negative
from sgt_course.masking import fill_values
from sgt_course.runtime import draw

IMPUTATIONS = ("uniform", "zero", "mean", "linear")

#: ROAD's neighbour weights: (row offset, column offset) -> weight; they sum to 1.
NEIGHBOURS: dict[tuple[int, int], float] = {
    (-1, 0): 1 / 6, (1, 0): 1 / 6, (0, -1): 1 / 6, (0, 1): 1 / 6,
    (-1, -1): 1 / 12, (-1, 1): 1 / 12, (1, -1): 1 / 12, (1, 1): 1 / 12,
}


def impute(x: Tensor, removed: Tensor, how: str = "linear", *, sigma: float = 0.0,
           generator: torch.Generator | None = None) -> Tensor:
    """``x`` with its ``removed`` pixels filled by ``how``.

    Args:
        x: images (N, C, H, W); the simple fills take inputs of any shape (N, ...).
        removed: bool, shaped like ``x`` or broadcastable to it, e.g. (N, 1, H, W) for whole pixels;
            ``"linear"`` needs the same pixels removed in every channel.
        how: ``"linear"`` (ROAD's noisy linear imputation), ``"uniform"`` (U(min, max) of each image, the
            SGT authors' fill), ``"zero"`` or ``"mean"`` (each image's mean).
        sigma: σ >= 0 of the Gaussian noise added to linearly imputed pixels (ROAD uses 0.01 on inputs in
            [0, 1]); ignored by the other fills.
        generator: source of the uniform fill and of the noise.
    Returns:
        A tensor shaped like ``x``, equal to ``x`` where nothing was removed.
    """
    if how not in IMPUTATIONS:
        raise ValueError(f"how must be one of {', '.join(IMPUTATIONS)}; got {how!r}")
    check_non_negative("sigma", sigma)
    if not isinstance(x, Tensor) or not x.is_floating_point():
        raise TypeError(f"x must be a floating-point tensor; got {getattr(x, 'dtype', type(x).__name__)}")
    check_finite("x", x)
    if not isinstance(removed, Tensor) or removed.dtype != torch.bool:
        raise TypeError(f"removed must be a bool tensor; got {getattr(removed, 'dtype', type(removed).__name__)}")
    if not removed.any():  # nothing to fill, and no random numbers drawn
        return x
    if how != "linear":
        try:
            return torch.where(removed.expand_as(x), fill_values(x, how, generator), x)
        except RuntimeError:
            raise ValueError(f"removed must be shaped like x {tuple(x.shape)} or broadcastable to it; "
                             f"got {tuple(removed.shape)}") from None
    if x.ndim != 4:
        raise ValueError(f"linear imputation needs images (N, C, H, W); got x of shape {tuple(x.shape)}")
    pixels = _pixel_mask(x, removed)
    filled = _solve_linear(x, pixels[:, 0])
    if sigma > 0:
        filled = filled + sigma * draw(filled, generator, normal=True)
    low = x.detach().flatten(1).amin(1).view(-1, 1, 1, 1)
    high = x.detach().flatten(1).amax(1).view(-1, 1, 1, 1)
    return torch.where(pixels.expand_as(x), torch.minimum(torch.maximum(filled, low), high), x)


def _pixel_mask(x: Tensor, removed: Tensor) -> Tensor:
    """``removed`` as (N, 1, H, W) bool, checked against the images ``x``."""
    n, c, h, w = x.shape
    if removed.shape not in ((n, 1, h, w), (n, c, h, w)):
        raise ValueError(f"removed must have shape (N, 1, H, W) or x's shape {tuple(x.shape)}; "
                         f"got {tuple(removed.shape)}")
    pixels = removed[:, :1]
    if removed.shape[1] > 1 and not torch.equal(removed, pixels.expand_as(removed)):
        raise ValueError("removed must mark the same pixels in every channel")
    if pixels.flatten(1).all(1).any():
        raise ValueError("removed must leave at least one pixel of every image (nothing to impute from)")
    return pixels


def _solve_linear(x: Tensor, removed: Tensor) -> Tensor:
    """The weighted-neighbour-mean system of every image, solved as one block-diagonal sparse system.

    ``removed`` is (N, H, W). Row p of the system: (Σ_q w_q) x_p − Σ_{q removed} w_q x_q = Σ_{q kept} w_q x_q,
    the sums over p's neighbours inside the image.
    """
    n, c, h, w = x.shape
    mask = removed.cpu().numpy()
    values = x.detach().cpu().double().permute(0, 2, 3, 1).reshape(-1, c).numpy()  # (N·H·W, C)
    unknown = np.flatnonzero(mask)
    variable = np.full(mask.size, -1)
    variable[unknown] = np.arange(unknown.size)
    image, row, col = np.unravel_index(unknown, mask.shape)
    diagonal = np.zeros(unknown.size)
    right = np.zeros((unknown.size, c))
    rows, cols, weights = [], [], []
    for (dy, dx), weight in NEIGHBOURS.items():
        r, q = row + dy, col + dx
        inside = (r >= 0) & (r < h) & (q >= 0) & (q < w)
        here = np.flatnonzero(inside)
        there = np.ravel_multi_index((image[here], r[here], q[here]), mask.shape)
        diagonal[here] += weight
        also_removed = mask.flat[there]
        rows.append(here[also_removed])
        cols.append(variable[there[also_removed]])
        weights.append(np.full(int(also_removed.sum()), -weight))
        np.add.at(right, here[~also_removed], weight * values[there[~also_removed]])
    rows.append(np.arange(unknown.size))
    cols.append(np.arange(unknown.size))
    weights.append(diagonal)
    system = csc_matrix((np.concatenate(weights), (np.concatenate(rows), np.concatenate(cols))),
                        shape=(unknown.size, unknown.size))
    solution = spsolve(system, right).reshape(unknown.size, c)
    filled = values.copy()
    filled[unknown] = solution
    out = torch.from_numpy(filled).reshape(n, h, w, c).permute(0, 3, 1, 2)
    return out.to(device=x.device, dtype=x.dtype)
