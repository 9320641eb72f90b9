"""L∞ adversarial attacks, each a function of (model, x, y, eps, ...) returning adversarial inputs.

Inputs live in [0, 1] (models normalize inside themselves), so ε is in pixel units: ε = 0.3 lets each
MNIST pixel move by 0.3. Every attack is untargeted — it increases CE(f(x'), y) — and returns x'
with ‖x' − x‖∞ ≤ ε and x' ∈ [0, 1]. The model runs in eval mode during the attack (as in
torchattacks) and gets its mode back afterwards; ``x`` itself is never modified.

- :func:`fgsm`: x' = x + ε·sign(∇ₓ CE)                                    (Goodfellow et al. 2015)
- :func:`pgd`: random start, then x' ← Π(x' + α·sign(∇ₓ CE)) for ``steps``  (Madry et al. 2018)
- :func:`mifgsm`: PGD-like steps along a momentum of L1-normalized gradients (Dong et al. 2018)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from sgt_course.checks import (
    check_choice,
    check_finite,
    check_input_dtype,
    check_labels,
    check_non_negative,
    check_settings,
)
from sgt_course.models import eval_mode
from sgt_course.runtime import draw

Attack = Callable[[nn.Module, Tensor, Tensor], Tensor]


def _check(x: Tensor, y: Tensor, eps: float) -> None:
    if not isinstance(x, Tensor) or not x.is_floating_point():
        raise TypeError(f"x must be a floating-point tensor; got {getattr(x, 'dtype', type(x).__name__)}")
    if not isinstance(y, Tensor) or y.ndim != 1 or y.shape[0] != x.shape[0]:
        raise ValueError(f"y must hold one label per sample ({x.shape[0]}); got {getattr(y, 'shape', y)!r}")
    check_non_negative("eps", eps)
    check_finite("x", x)
    if x.numel() and (x.min() < 0 or x.max() > 1):
        raise ValueError(f"x must lie in [0, 1] (models normalize inside); got values in "
                         f"[{x.min().item():.3g}, {x.max().item():.3g}]")


def _check_steps(alpha: float, steps: int) -> None:
    check_non_negative("alpha", alpha)
    if alpha == 0:
        raise ValueError(f"alpha must be > 0; got {alpha!r}")
    if not isinstance(steps, int) or isinstance(steps, bool) or steps < 1:
        raise ValueError(f"steps must be an int >= 1; got {steps!r}")


def cross_entropy(logits: Tensor, y: Tensor) -> Tensor:
    """CE(f(X), y), the loss every attack increases and every training regime decreases: the mean over
    the batch, as :func:`torch.nn.functional.cross_entropy`. A label outside the model's classes fails
    with a ``ValueError`` that says so, where torch raises "Target 12 is out of bounds" (checked only
    then, so a correct batch costs nothing more)."""
    try:
        return F.cross_entropy(logits, y)
    except IndexError:
        check_labels("y", logits, y)
        raise


def loss_gradient(model: nn.Module, x: Tensor, y: Tensor) -> Tensor:
    """∇ₓ CE(f(x), y) (mean over the batch) at ``x``, in the model's current mode, on a detached copy."""
    check_input_dtype(model, x)
    inputs = x.detach().clone().requires_grad_(True)
    with torch.enable_grad():
        (grad,) = torch.autograd.grad(cross_entropy(model(inputs), y), inputs)
    return grad


def _project(x_adv: Tensor, x: Tensor, eps: float) -> Tensor:
    """Π: back into the ε-ball around x and into [0, 1]."""
    return torch.clamp(x + torch.clamp(x_adv - x, -eps, eps), 0.0, 1.0)


def fgsm(model: nn.Module, x: Tensor, y: Tensor, eps: float, *, targeted: bool = False) -> Tensor:
    """Fast Gradient Sign Method: x' = clip₀¹(x + ε · sign(∇ₓ CE(f(x), y))).

    ``targeted=True`` takes the step the other way, x' = clip₀¹(x − ε · sign(∇ₓ CE(f(x), y))): it
    descends the loss of ``y``, which is then the class the attacker wants (the form the ASGT paper
    writes; with the true labels it makes the model *more* sure of them).

    Args:
        model: logits (N, n_classes) from inputs in [0, 1].
        x: inputs (N, ...) in [0, 1]; y: labels (N,), the targets when ``targeted``.
        eps: the L∞ radius ε >= 0.
    """
    _check(x, y, eps)
    if eps == 0:
        return x.detach().clone()
    with eval_mode(model):
        grad = loss_gradient(model, x, y)
    step = -eps if targeted else eps
    return torch.clamp(x.detach() + step * grad.sign(), 0.0, 1.0)


def pgd(model: nn.Module, x: Tensor, y: Tensor, eps: float, alpha: float | None = None, steps: int = 10,
        random_start: bool = True, generator: torch.Generator | None = None) -> Tensor:
    """Projected Gradient Descent (Madry et al.), L∞:

        x'₀ = x + U(−ε, ε) (or x),   x'ₜ₊₁ = Π_{ε-ball ∩ [0,1]}(x'ₜ + α · sign(∇ₓ CE(f(x'ₜ), y)))

    Args:
        alpha: step size α > 0; default 2.5 · ε / steps, a common later convention (Madry et al. fix α per
            data set instead, e.g. 0.01 with 40 steps at ε = 0.3 on MNIST).
        steps: number of steps.
        random_start: start from a uniform point of the ε-ball (clipped to [0, 1]).
        generator: source of the random start.
    """
    _check(x, y, eps)
    _check_steps(alpha if alpha is not None else 1.0, steps)
    alpha = 2.5 * eps / steps if alpha is None else alpha
    if eps == 0:
        return x.detach().clone()
    x = x.detach()
    x_adv = x.clone()
    if random_start:
        x_adv = torch.clamp(x + (2 * draw(x, generator) - 1) * eps, 0.0, 1.0)
    with eval_mode(model):
        for _ in range(steps):
            x_adv = _project(x_adv + alpha * loss_gradient(model, x_adv, y).sign(), x, eps)
    return x_adv


def mifgsm(model: nn.Module, x: Tensor, y: Tensor, eps: float, alpha: float | None = None, steps: int = 10,
           decay: float = 1.0) -> Tensor:
    """Momentum Iterative FGSM (Dong et al. 2018):

        gₜ₊₁ = μ · gₜ + ∇ₓ CE(f(x'ₜ), y) / mean|∇ₓ CE(f(x'ₜ), y)|,   x'ₜ₊₁ = Π(x'ₜ + α · sign(gₜ₊₁))

    with the L1 normalization per sample. Args: ``alpha`` default ε / steps; ``decay`` is μ >= 0.
    """
    _check(x, y, eps)
    _check_steps(alpha if alpha is not None else 1.0, steps)
    alpha = eps / steps if alpha is None else alpha
    check_non_negative("decay", decay)
    if eps == 0:
        return x.detach().clone()
    x = x.detach()
    x_adv, momentum = x.clone(), torch.zeros_like(x)
    dims = tuple(range(1, x.ndim))
    with eval_mode(model):
        for _ in range(steps):
            grad = loss_gradient(model, x_adv, y)
            momentum = decay * momentum + grad / grad.abs().mean(dims, keepdim=True).clamp_min(1e-12)
            x_adv = _project(x_adv + alpha * momentum.sign(), x, eps)
    return x_adv


@dataclass(frozen=True)
class AttackMethod:
    """An attack of the course: its function and the name figures and tables show."""

    function: Callable[..., Tensor]
    label: str


#: The attacks by name.
ATTACKS: dict[str, AttackMethod] = {"fgsm": AttackMethod(fgsm, "FGSM"), "pgd": AttackMethod(pgd, "PGD"),
                                    "mifgsm": AttackMethod(mifgsm, "MI-FGSM")}


def get_attack(name: str) -> Callable[..., Tensor]:
    """The attack function called ``name`` (``"fgsm"``, ``"pgd"`` or ``"mifgsm"``)."""
    check_choice("attack", name, ATTACKS)
    return ATTACKS[name].function


def attack_label(name: str) -> str:
    """How figures and tables name the attack ``name``, e.g. ``attack_label("mifgsm") == "MI-FGSM"``."""
    check_choice("attack", name, ATTACKS)
    return ATTACKS[name].label


def make_attack(name: str, eps: float, **options: object) -> Attack:
    """An attack with its settings bound: ``make_attack("pgd", 0.3, steps=10)(model, x, y)``.

    Raises:
        ValueError: unknown attack name. TypeError: an option the attack does not take (e.g. ``stpes``).
    """
    attack = get_attack(name)
    check_settings(f"attack {name!r}", options, attack, exclude=("model", "x", "y", "eps"))
    return partial(attack, eps=eps, **options)
