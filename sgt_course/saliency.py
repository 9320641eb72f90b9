"""Saliency maps: how much each input feature matters to the model's output for one class.

Every method has the same Captum-like signature and is vectorized over the batch::

    s = gradient(model, x, target)              # x: (N, ...) float, target: int or (N,) long
    s = get_method("smoothgrad")(model, x, target)

and returns a tensor shaped like ``x``. The methods compute in the model's current train/eval mode
and change neither it nor ``x`` (the gradient is taken on a detached copy), so ``x.requires_grad``
is left as it was. Parameter ``.grad`` fields are not touched either.

Reducers turn a map into one score per feature of the modality: :func:`per_pixel` for images
(a reduction over channels, :data:`CHANNEL_REDUCTIONS`), :func:`per_token` for text (sum over the embedding) and
time series need none (every x(i, t) is its own feature).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from sgt_course.checks import check_choice, check_finite, check_input_dtype, check_labels, check_non_negative
from sgt_course.models import EmbeddedInput
from sgt_course.runtime import draw

SaliencyFn = Callable[..., Tensor]


def _check_input(x: Tensor) -> None:
    if not isinstance(x, Tensor):
        raise TypeError(f"x must be a torch.Tensor; got {type(x).__name__}")
    if not x.is_floating_point():
        raise TypeError(f"x must be a floating-point tensor; got dtype {x.dtype}")
    if x.ndim < 2:
        raise ValueError(f"x must have a batch dimension and at least one feature dimension; got shape {tuple(x.shape)}")
    check_finite("x", x)


def _target_index(target: int | Tensor, n: int, device: torch.device) -> Tensor:
    """``target`` as a (n,) long tensor; one int means the same class for every sample."""
    if isinstance(target, bool):
        raise TypeError("target must be an int or a tensor of class indices; got a bool")
    if isinstance(target, int):
        return torch.full((n,), target, dtype=torch.long, device=device)
    if not isinstance(target, Tensor) or target.is_floating_point() or target.is_complex():
        raise TypeError(f"target must be an int or an integer tensor of class indices; got {target!r:.60}")
    target = target.reshape(-1) if target.ndim == 0 else target
    if target.ndim != 1 or target.shape[0] not in (1, n):
        raise ValueError(f"target must be an int or have one class per sample ({n}); got shape {tuple(target.shape)}")
    return target.to(device=device, dtype=torch.long).expand(n)


def _check_classes(logits: Tensor, target: Tensor) -> None:
    if logits.ndim != 2:
        raise ValueError(f"the model must return logits of shape (N, n_classes); got {tuple(logits.shape)}")
    check_labels("target", logits, target)


def _target_gradient(model: nn.Module, x: Tensor, target: Tensor) -> Tensor:
    """∂ f(x)_target / ∂x for a batch, on a detached copy of ``x``."""
    check_input_dtype(model, x)
    inputs = x.detach().clone().requires_grad_(True)
    with torch.enable_grad():
        logits = model(inputs)
        _check_classes(logits, target)
        selected = logits.gather(1, target[:, None]).sum()
        (grad,) = torch.autograd.grad(selected, inputs)
    return grad


def _chunked(fn: Callable[[Tensor, Tensor], Tensor], x: Tensor, target: Tensor, size: int | None) -> Tensor:
    """Apply ``fn`` to at most ``size`` rows at a time (all at once when ``size`` is None)."""
    if size is None or size >= x.shape[0]:
        return fn(x, target)
    return torch.cat([fn(x[i:i + size], target[i:i + size]) for i in range(0, x.shape[0], size)])


def _check_positive_int(name: str, value: int | None, allow_none: bool = False) -> None:
    if value is None and allow_none:
        return
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{name} must be an int >= 1; got {value!r}")


def gradient(model: nn.Module, x: Tensor, target: int | Tensor, abs: bool = True) -> Tensor:  # noqa: A002
    """Vanilla gradient (Simonyan et al. 2014): S(x) = |∂ f(x)_c / ∂x|, or the signed gradient when ``abs=False``.

    Args:
        model: maps x (N, ...) to logits (N, n_classes).
        x: inputs (N, ...), floating point.
        target: the class c, one int for all samples or a (N,) tensor.
        abs: return the magnitude (the SGT paper's S) rather than the signed gradient.
    Returns:
        A tensor shaped like ``x``.
    """
    _check_input(x)
    grad = _target_gradient(model, x, _target_index(target, x.shape[0], x.device))
    return grad.abs() if abs else grad


def input_x_gradient(model: nn.Module, x: Tensor, target: int | Tensor) -> Tensor:
    """Input × Gradient (Shrikumar et al. 2016): S(x) = x ⊙ ∂ f(x)_c / ∂x (signed)."""
    _check_input(x)
    return x.detach() * _target_gradient(model, x, _target_index(target, x.shape[0], x.device))


def integrated_gradients(model: nn.Module, x: Tensor, target: int | Tensor, baseline: Tensor | None = None,
                         steps: int = 32, internal_batch_size: int | None = None) -> Tensor:
    """Integrated Gradients (Sundararajan et al. 2017), right Riemann sum with ``steps`` points:

        IG(x) = (x − x') ⊙ (1/m) Σ_{k=1..m} ∂ f(x' + (k/m)(x − x'))_c / ∂x,   m = steps

    Args:
        baseline: x', shaped like ``x`` or broadcastable to it; zeros by default.
        steps: m, the number of interpolation points.
        internal_batch_size: at most this many samples go through the model at once (each with its
            ``steps`` points), bounding memory; ``None`` does the whole batch at once.
    """
    _check_input(x)
    _check_positive_int("steps", steps)
    _check_positive_int("internal_batch_size", internal_batch_size, allow_none=True)
    target = _target_index(target, x.shape[0], x.device)
    x = x.detach()
    baseline = torch.zeros_like(x) if baseline is None else baseline.detach().to(x).expand_as(x)
    alphas = torch.arange(1, steps + 1, device=x.device, dtype=x.dtype) / steps
    shape = (steps,) + (1,) * x.ndim

    def chunk(rows: Tensor, classes: Tensor, base: Tensor) -> Tensor:
        path = base + alphas.view(shape) * (rows - base)                 # (steps, n, ...)
        grads = _target_gradient(model, path.flatten(0, 1), classes.repeat(steps))
        return (rows - base) * grads.view(path.shape).mean(0)

    size = internal_batch_size or x.shape[0]
    return torch.cat([chunk(x[i:i + size], target[i:i + size], baseline[i:i + size])
                      for i in range(0, x.shape[0], size)])


def smoothgrad(model: nn.Module, x: Tensor, target: int | Tensor, samples: int = 16, sigma: float = 0.15,
               generator: torch.Generator | None = None, abs: bool = True,  # noqa: A002
               internal_batch_size: int | None = None, squared: bool = False) -> Tensor:
    """SmoothGrad (Smilkov et al. 2017): the mean gradient over noisy copies of the input,

        S(x) = (1/n) Σ_{i=1..n} |∂ f(x + ε_i)_c / ∂x|,   ε_i ~ N(0, (σ·(max x − min x))²)

    with σ relative to each sample's value range, as in the paper. ``squared=True`` averages the squared
    gradients instead, (1/n) Σ_i (∂ f(x + ε_i)_c / ∂x)² (Captum's ``nt_type="smoothgrad_sq"``, which
    the SGT authors' removal script uses).

    Args:
        samples: n, noisy copies per input.
        sigma: σ, the noise level relative to the sample's range (0 gives the plain gradient).
        generator: source of the noise, for repeatable maps.
        abs: average magnitudes (default, as Captum's NoiseTunnel over Saliency) or signed gradients.
        internal_batch_size: at most this many samples (each with its ``samples`` copies) at once.
        squared: average the squared gradients (then ``abs`` makes no difference).
    """
    _check_input(x)
    _check_positive_int("samples", samples)
    _check_positive_int("internal_batch_size", internal_batch_size, allow_none=True)
    check_non_negative("sigma", sigma)
    target = _target_index(target, x.shape[0], x.device)
    x = x.detach()
    value_range = (x.flatten(1).amax(1) - x.flatten(1).amin(1)).view(-1, *([1] * (x.ndim - 1)))
    # Noise for sample i's copies is contiguous, (N * samples, ...), as Captum's NoiseTunnel lays it out.
    # Drawn in float32 whatever x's dtype, so a seed gives the same noise as Captum's torch.normal.
    copies = x.repeat_interleave(samples, 0)
    noise = draw(copies, generator, normal=True, dtype=torch.float32)
    noisy = copies + noise * (sigma * value_range).repeat_interleave(samples, 0)

    def chunk(rows: Tensor, classes: Tensor) -> Tensor:
        grads = _target_gradient(model, rows, classes)
        return grads.square() if squared else grads.abs() if abs else grads

    grads = _chunked(chunk, noisy, target.repeat_interleave(samples),
                     None if internal_batch_size is None else internal_batch_size * samples)
    return grads.view(x.shape[0], samples, *x.shape[1:]).mean(1)


def random_saliency(model: nn.Module, x: Tensor, target: int | Tensor,
                    generator: torch.Generator | None = None) -> Tensor:
    """A map of uniform random numbers shaped like ``x``: the floor every real method must beat."""
    _check_input(x)
    _target_index(target, x.shape[0], x.device)
    return draw(x, generator)


@dataclass(frozen=True)
class Method:
    """A saliency method of the course: its function, the name figures and tables show, and whether it
    draws random numbers (then it takes a ``generator=`` keyword, for repeatable maps)."""

    function: SaliencyFn
    label: str
    random: bool = False


#: The saliency methods by name.
METHODS: dict[str, Method] = {
    "gradient": Method(gradient, "Gradient"),
    "input_x_gradient": Method(input_x_gradient, "Input×Gradient"),
    "integrated_gradients": Method(integrated_gradients, "Integrated Gradients"),
    "smoothgrad": Method(smoothgrad, "SmoothGrad", random=True),
    "random": Method(random_saliency, "Random", random=True),
}


def get_method(name: str) -> SaliencyFn:
    """The saliency function called ``name`` (one of :data:`METHODS`)."""
    check_choice("method", name, METHODS)
    return METHODS[name].function


def label(name: str) -> str:
    """How figures and tables name the method ``name``, e.g. ``label("input_x_gradient") == "Input×Gradient"``."""
    check_choice("method", name, METHODS)
    return METHODS[name].label


def attribute(method: str, model: nn.Module, x: Tensor, target: int | Tensor, **kwargs: object) -> Tensor:
    """``get_method(method)(model, x, target, **kwargs)``: a saliency map by method name."""
    return get_method(method)(model, x, target, **kwargs)


#: How :func:`per_pixel` reduces an image map's channels to one score per pixel.
CHANNEL_REDUCTIONS = ("max", "mean", "mean_signed")


def per_pixel(saliency: Tensor, how: str = "max") -> Tensor:
    """Images: one score per pixel, (N, C, H, W) -> (N, 1, H, W).

    ``how``: ``"max"`` — max_c |s_c| (the course's default); ``"mean"`` — mean_c |s_c|; ``"mean_signed"`` —
    |mean_c s_c|, the SGT authors' code (their maps are averaged over channels, ``.mean(1)``, before the
    magnitude is taken), where channels of opposite sign cancel. On one-channel images all three agree.
    """
    if saliency.ndim != 4:
        raise ValueError(f"saliency must have shape (N, C, H, W); got {tuple(saliency.shape)}")
    check_choice("how", how, CHANNEL_REDUCTIONS)
    if how == "max":
        return saliency.abs().amax(1, keepdim=True)
    if how == "mean":
        return saliency.abs().mean(1, keepdim=True)
    return saliency.mean(1, keepdim=True).abs()  # "mean_signed"


def feature_scores(saliency_map: Tensor, channels: str = "max") -> Tensor:
    """One non-negative score per maskable feature: per pixel for images (:func:`per_pixel` with
    ``how=channels``), the magnitude of each value for time series and flat features."""
    return per_pixel(saliency_map, channels) if saliency_map.ndim == 4 else saliency_map.abs()


def signed_scores(saliency_map: Tensor) -> Tensor:
    """One *signed* score per maskable feature, as the SGT authors rank by default: for images the mean
    over channels, (N, C, H, W) -> (N, 1, H, W); other maps unchanged. Low = most negative, not least
    important: ranking these masks the features whose increase would lower the class score most."""
    return saliency_map.mean(1, keepdim=True) if saliency_map.ndim == 4 else saliency_map


def per_token(saliency: Tensor) -> Tensor:
    """Text: one score per token, (N, T, E) -> (N, T), the sum of the map over the embedding dimension."""
    if saliency.ndim != 3:
        raise ValueError(f"saliency must have shape (N, tokens, embedding); got {tuple(saliency.shape)}")
    return saliency.sum(-1)


def token_saliency(model: nn.Module, tokens: Tensor, target: int | Tensor, method: str = "gradient",
                   **method_kwargs: object) -> Tensor:
    """Text: one score per token, (N, L) -> (N, L), for a model with ``embed`` and ``forward_embedded``.

    The map is taken with respect to the embedded input and summed over the embedding dimension
    (:func:`per_token`); the score is its magnitude. Padding (id 0) scores 0.
    """
    if not hasattr(model, "embed") or not hasattr(model, "forward_embedded"):
        raise TypeError(f"model must have embed() and forward_embedded() (e.g. BiLSTMClassifier); got "
                        f"{type(model).__name__}")
    if not isinstance(tokens, Tensor) or tokens.is_floating_point() or tokens.ndim != 2:
        raise TypeError(f"tokens must be an integer tensor of shape (N, L); got {getattr(tokens, 'dtype', tokens)!r}")
    with torch.no_grad():
        embedded = model.embed(tokens)
    scores = per_token(attribute(method, EmbeddedInput(model), embedded, target, **method_kwargs)).abs()
    return scores.masked_fill(tokens == 0, 0.0)
