"""Imputation: what a removal curve puts in place of the pixels it removes.

A removal curve that fills removed pixels with the very noise SGT trains on favours SGT by
construction (Hooker et al. 2019; Rong et al. 2022). ROAD's **noisy linear imputation** (Rong et al.,
ICML 2022) fills them from their surroundings instead, so the removed region neither looks like
training noise nor outlines its own shape. Each removed pixel p takes the weighted mean of its
in-image 8-neighbours q,

    Σ_q w_q · (x_p − x_q) = 0,    w = 1/6 for the 4 direct and 1/12 for the 4 diagonal neighbours,

where the neighbours that are themselves removed are unknowns too, so the removed pixels of an image
are solved together as one sparse linear system; the systems of a whole batch are solved together by
conjugate gradients. Then Gaussian noise N(0, σ²) is added to the imputed pixels and each image is clipped
to its own [min, max].
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import Tensor
from torch.nn.functional import conv2d

from sgt_course.checks import check_choice, check_finite, check_non_negative
from sgt_course.masking import FILLS as SAMPLE_FILLS
from sgt_course.masking import fill_values
from sgt_course.runtime import draw

#: Every fill a removed feature can take: the fills of M_k (:data:`sgt_course.masking.FILLS`), which need
#: only the sample's own values, and ROAD's ``"linear"`` imputation, which needs its neighbours.
FILLS = (*SAMPLE_FILLS, "linear")

#: Images solved together by the linear imputation: larger batches run slower per image on a CPU
#: (1,000 MNIST images at once took 3 times as long as eight batches of 128).
LINEAR_CHUNK = 128

#: Where conjugate gradients stop: the residual relative to the right-hand side, by the images' dtype
#: (float32 images are solved in float32, to far below the noise σ = 0.01 that ROAD adds).
RELATIVE_RESIDUAL = {torch.float32: 1e-5, torch.float64: 1e-10}

#: ROAD's neighbour weights: (row offset, column offset) -> weight; they sum to 1.
NEIGHBOURS: dict[tuple[int, int], float] = {
    (-1, 0): 1 / 6, (1, 0): 1 / 6, (0, -1): 1 / 6, (0, 1): 1 / 6,
    (-1, -1): 1 / 12, (-1, 1): 1 / 12, (1, -1): 1 / 12, (1, 1): 1 / 12,
}


def impute(x: Tensor, removed: Tensor, fill: str = "linear", *, sigma: float = 0.0,
           generator: torch.Generator | None = None) -> Tensor:
    """``x`` with its ``removed`` pixels filled by ``fill``.

    Args:
        x: images (N, C, H, W); the simple fills take inputs of any shape (N, ...).
        removed: bool, shaped like ``x`` or broadcastable to it, e.g. (N, 1, H, W) for whole pixels;
            ``"linear"`` needs the same pixels removed in every channel.
        fill: ``"linear"`` (ROAD's noisy linear imputation), ``"uniform"`` (U(min, max) of each image, the
            SGT authors' training fill), ``"zero"``, ``"mean"`` (each image's mean) or ``"background"``
            (each image's top-left pixel, the fill of the authors' removal script; see
            :func:`~sgt_course.masking.fill_values`).
        sigma: σ >= 0 of the Gaussian noise added to linearly imputed pixels (ROAD uses 0.01 on inputs in
            [0, 1]); ignored by the other fills.
        generator: source of the uniform fill and of the noise.
    Returns:
        A tensor shaped like ``x``, equal to ``x`` where nothing was removed.
    """
    check_choice("fill", fill, FILLS)
    check_non_negative("sigma", sigma)
    if not isinstance(x, Tensor) or not x.is_floating_point():
        raise TypeError(f"x must be a floating-point tensor; got {getattr(x, 'dtype', type(x).__name__)}")
    check_finite("x", x)
    if not isinstance(removed, Tensor) or removed.dtype != torch.bool:
        raise TypeError(f"removed must be a bool tensor; got {getattr(removed, 'dtype', type(removed).__name__)}")
    if not removed.any():  # nothing to fill, and no random numbers drawn
        return x
    if fill != "linear":
        try:
            return torch.where(removed.expand_as(x), fill_values(x, fill, generator), x)
        except RuntimeError:
            raise ValueError(f"removed must be shaped like x {tuple(x.shape)} or broadcastable to it; "
                             f"got {tuple(removed.shape)}") from None
    if x.ndim != 4:
        raise ValueError(f"linear imputation needs images (N, C, H, W); got x of shape {tuple(x.shape)}")
    pixels = _pixel_mask(x, removed)
    with _one_cpu_thread():
        filled = torch.cat([_solve_linear(x[i:i + LINEAR_CHUNK], pixels[i:i + LINEAR_CHUNK, 0])
                            for i in range(0, x.shape[0], LINEAR_CHUNK)])
    if sigma > 0:
        filled = filled + sigma * draw(filled, generator, normal=True)
    low = x.detach().flatten(1).amin(1).view(-1, 1, 1, 1)
    high = x.detach().flatten(1).amax(1).view(-1, 1, 1, 1)
    return torch.where(pixels.expand_as(x), torch.minimum(torch.maximum(filled, low), high), x)


@contextmanager
def _one_cpu_thread() -> Iterator[None]:
    """PyTorch's CPU operations on one thread inside the block, as many as before after it.

    Conjugate gradients run hundreds of small tensor operations; spread over threads, each pays for the
    threads' synchronisation. On a machine whose cores are busy with another process that cost
    explodes: imputing 128 MNIST images took 4.7 s on two threads and 0.05 s on one.
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


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
    """The weighted-neighbour-mean systems of all images, solved together by conjugate gradients.

    ``removed`` is (N, H, W). Row p of an image's system: (Σ_q w_q) x_p − Σ_{q removed} w_q x_q =
    Σ_{q kept} w_q x_q, the sums over p's neighbours inside the image. Its matrix is the block of the
    pixel grid's weighted graph Laplacian on the removed pixels: symmetric, and positive definite because
    every removed region borders a kept pixel. So conjugate gradients converge; they run on all images
    and channels at once, the matrix applied as a 3 × 3 convolution, in the images' precision (float64
    for float64 images, else float32) until every residual is below :data:`RELATIVE_RESIDUAL` of its
    right-hand side.
    """
    n, c, h, w = x.shape
    dtype = torch.float64 if x.dtype == torch.float64 else torch.float32
    device = x.device if not (x.device.type == "mps" and dtype == torch.float64) else torch.device("cpu")
    values = x.detach().to(device, dtype).reshape(n * c, 1, h, w)
    unknown = removed.to(device, dtype).repeat_interleave(c, 0).view(n * c, 1, h, w)
    kernel = torch.zeros(1, 1, 3, 3, dtype=dtype, device=device)
    for (dy, dx), weight in NEIGHBOURS.items():
        kernel[0, 0, dy + 1, dx + 1] = weight

    def neighbour_sum(v: Tensor) -> Tensor:  # Σ_q w_q v_q over the in-image neighbours q
        return conv2d(v, kernel, padding=1)

    degree = neighbour_sum(torch.ones(1, 1, h, w, dtype=dtype, device=device))

    def system(v: Tensor) -> Tensor:  # v is zero outside the removed pixels
        return unknown * (degree * v - neighbour_sum(v))

    right = unknown * neighbour_sum(values * (1 - unknown))
    solution, residual = torch.zeros_like(right), right.clone()
    direction = residual.clone()
    norm = residual.square().sum((1, 2, 3), keepdim=True)
    tolerance = RELATIVE_RESIDUAL[dtype] ** 2 * norm
    tiny = torch.finfo(dtype).tiny
    for _ in range(h * w):  # in exact arithmetic CG ends within as many steps as there are unknowns
        if bool((norm <= tolerance).all()):
            break
        step = system(direction)
        curvature = (direction * step).sum((1, 2, 3), keepdim=True)
        alpha = torch.where(curvature > 0, norm / curvature.clamp_min(tiny), 0.0)
        solution = solution + alpha * direction
        residual = residual - alpha * step
        new_norm = residual.square().sum((1, 2, 3), keepdim=True)
        direction = residual + torch.where(norm > 0, new_norm / norm.clamp_min(tiny), 0.0) * direction
        norm = new_norm
    filled = values * (1 - unknown) + solution
    return filled.reshape(n, c, h, w).to(device=x.device, dtype=x.dtype)
