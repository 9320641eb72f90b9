"""Argument checks shared by the library's public functions, each raising an error that names the
argument and the range it must lie in. The bottom layer: it imports nothing from the course.

    check_fraction("k", 0.5)           # a fraction of the features, in [0, 1)
    check_non_negative("lam", 1.0)     # a finite number >= 0 (λ, ε, σ)
    check_finite("x", images)          # no NaN or ±inf in a tensor
    check_choice("fill", "uniform", FILLS)   # one of a few named options
    check_choices("fills", ("zero", "linear"), FILLS)   # a non-empty selection of them
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Iterable

import torch
from torch import Tensor


def check_fraction(name: str, value: float) -> None:
    """Raise unless ``value`` is a fraction of the features in [0, 1)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value < 1.0:
        raise ValueError(f"{name} must be a fraction of the features in [0, 1); got {value!r}")


def check_non_negative(name: str, value: float) -> None:
    """Raise unless ``value`` is a finite number >= 0 (a weight such as λ, a radius such as ε)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number; got {type(value).__name__}")
    if not (math.isfinite(value) and value >= 0):
        raise ValueError(f"{name} must be a finite number >= 0; got {value!r}")


def check_finite(name: str, tensor: Tensor) -> None:
    """Raise if ``tensor`` holds a NaN or an infinite value: it would turn every map, loss and attack
    computed from it into NaN without a word."""
    if tensor.is_floating_point() or tensor.is_complex():
        bad = (~torch.isfinite(tensor)).sum().item()
        if bad:
            raise ValueError(f"{name} must be finite; got {bad} NaN or infinite value(s) in a tensor of shape "
                             f"{tuple(tensor.shape)}")


def check_choice(name: str, value: object, choices: Iterable[object]) -> None:
    """Raise unless ``value`` is one of ``choices`` (the message lists them)."""
    choices = tuple(choices)
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(map(str, choices))}; got {value!r}")


def check_choices(name: str, values: Iterable[object], choices: Iterable[object]) -> None:
    """Raise unless ``values`` is a non-empty selection of ``choices`` (the message lists them)."""
    values, choices = list(values), tuple(choices)
    if not values or any(value not in choices for value in values):
        raise ValueError(f"{name} must be a non-empty selection of {', '.join(map(str, choices))}; got {values!r}")


def check_input_dtype(model: torch.nn.Module, x: Tensor) -> None:
    """Raise ``TypeError`` unless a floating-point ``x`` has the dtype of ``model``'s floating-point weights
    (torch's own error names neither). Integer inputs, such as tokens, pass: the model embeds them."""
    if not x.is_floating_point():
        return
    weight = next((p for p in model.parameters() if p.is_floating_point()), None)
    if weight is not None and x.dtype != weight.dtype:
        raise TypeError(f"x must have the model's dtype {weight.dtype}; got {x.dtype} "
                        f"(x.to({weight.dtype}) converts the input, model.to({x.dtype}) the model)")


def check_labels(name: str, logits: Tensor, labels: Tensor) -> None:
    """Raise ``ValueError`` unless every class index in ``labels`` is an output of ``logits`` (N, n_classes):
    0 … n_classes − 1."""
    n_classes = logits.shape[-1]
    if labels.numel() and (labels.min() < 0 or labels.max() >= n_classes):
        bad = labels[(labels < 0) | (labels >= n_classes)]
        more = f" (and {bad.numel() - 1} more outside that range)" if bad.numel() > 1 else ""
        raise ValueError(f"{name} must hold class indices 0 to {n_classes - 1} (the model has {n_classes} outputs); "
                         f"got {bad[0].item()}{more}")


def check_settings(owner: str, settings: Iterable[str], function: Callable[..., object], *,
                   exclude: Iterable[str] = ()) -> None:
    """Raise ``TypeError`` unless every name in ``settings`` is a parameter of ``function`` (other than
    ``exclude``): a misspelt setting fails where it is given, with the settings ``owner`` has."""
    allowed = [name for name in inspect.signature(function).parameters if name not in tuple(exclude)]
    unknown = sorted(set(settings) - set(allowed))
    if unknown:
        raise TypeError(f"{owner} has no setting {', '.join(map(repr, unknown))}; "
                        f"its settings are {', '.join(allowed)}")
