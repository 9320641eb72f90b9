"""Training objectives. Each is a function of (model, x, y) that returns a scalar loss, so one
training loop (:func:`sgt_course.training.fit`) serves every regime of the course.

- :func:`standard_loss`: L = CE(f(X), y)
- :func:`sgt_loss`: Algorithm 1 of Ismail et al. (2021), L = CE(f(X), y) + λ·KL(softmax f(X) ‖ softmax f(X̃))
- :func:`adversarial_loss`: PGD adversarial training (Madry et al. 2018), L = CE(f(X'), y)
- :func:`asgt_loss`: Algorithm 2 of Guesmi et al. (2024),
  L = CE(f(X), y) + CE(f(X'), y) + λ·KL(softmax f(X̃') ‖ softmax f(X))
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Protocol

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from sgt_course.attacks import Attack, cross_entropy, make_attack
from sgt_course.checks import check_choice, check_fraction, check_non_negative, check_settings
from sgt_course.masking import mask_bottom_k, mask_tokens_bottom_k
from sgt_course.models import eval_mode
from sgt_course.recipes import PAPER_SGT
from sgt_course.saliency import CHANNEL_REDUCTIONS, attribute, feature_scores, gradient, signed_scores, token_saliency


class LossFn(Protocol):
    """What :func:`~sgt_course.training.fit` calls once per minibatch: x (N, ...), y (N,) -> scalar."""

    def __call__(self, model: nn.Module, x: Tensor, y: Tensor) -> Tensor: ...


def standard_loss(model: nn.Module, x: Tensor, y: Tensor) -> Tensor:
    """L = CE(f(X), y): ordinary cross-entropy training."""
    return cross_entropy(model(x), y)


def kl_divergence(p_logits: Tensor, q_logits: Tensor) -> Tensor:
    """KL(softmax p ‖ softmax q), averaged over the batch; gradients flow into both arguments."""
    return F.kl_div(F.log_softmax(q_logits, 1), F.log_softmax(p_logits, 1), reduction="batchmean", log_target=True)


def _check_weights(x: Tensor, y: Tensor, k: float, lam: float) -> None:
    check_fraction("k", k)
    check_non_negative("lam", lam)
    if x.shape[0] != y.shape[0]:
        raise ValueError(f"x and y must have the same batch size; got {x.shape[0]} and {y.shape[0]}")


def masked_by_saliency(model: nn.Module, x: Tensor, y: Tensor, k: float, saliency: str = "gradient",
                       fill: str = "uniform", generator: torch.Generator | None = None, signed: bool = False,
                       channels: str = "max") -> Tensor:
    """M_k(sort S(X), X): ``x`` with its k least salient features replaced, the saliency of class ``y``
    taken in eval mode (the model's mode is restored). Shared by SGT (on X) and ASGT (on X').
    ``signed`` ranks the signed gradient instead of its magnitude and ``channels`` reduces an image
    map's channels (see :func:`sgt_loss`)."""
    _check_ranking(signed, saliency, channels)
    with eval_mode(model):
        raw = (gradient(model, x, y, abs=False) if saliency == "gradient" and (signed or channels == "mean_signed")
               else attribute(saliency, model, x, y))
    scores = signed_scores(raw) if signed else feature_scores(raw, channels)
    return mask_bottom_k(x.detach(), scores, k, fill=fill, generator=generator)[0]


def _check_ranking(signed: bool, saliency: str, channels: str) -> None:
    if signed and saliency != "gradient":
        raise ValueError(f"signed=True ranks the signed gradient; it needs saliency='gradient', got {saliency!r}")
    check_choice("channels", channels, CHANNEL_REDUCTIONS)


def sgt_loss(model: nn.Module, x: Tensor, y: Tensor, k: float = PAPER_SGT.k, lam: float = PAPER_SGT.lam,
             saliency: str = "gradient", fill: str = "uniform", reuse_forward: bool = False,
             generator: torch.Generator | None = None, signed: bool = False, channels: str = "max") -> Tensor:
    """Saliency-guided training, Algorithm 1 of Ismail, Corrada Bravo & Feizi (NeurIPS 2021), one minibatch:

    1. I = sort(S(X)): saliency of the true class y, taken **in eval mode** as the authors' code does;
    2. X̃ = M_k(I, X): the k lowest-saliency features replaced (:func:`~sgt_course.masking.mask_bottom_k`);
       for text (integer token ids) each masked token becomes the previous salient token
       (:func:`~sgt_course.masking.mask_tokens_bottom_k`), the saliency taken on the embeddings;
    3. L = CE(f(X), y) + λ · KL(softmax f(X) ‖ softmax f(X̃)), the clean output not detached.

    Args:
        model: the network being trained (in train mode; its mode is restored after step 1).
        x, y: the minibatch, x (N, ...) in [0, 1], y (N,).
        k: fraction of features to mask, in [0, 1); the paper uses 0.5 for MNIST.
        lam: λ >= 0, weight of the KL term; the paper uses 1.
        saliency: the method of step 1 (a name in :data:`sgt_course.saliency.METHODS`). ``"random"`` masks a
            random k % of the features instead: the same objective and fill without the guidance, the
            noise-augmentation control of notebook 2 (:data:`sgt_course.experiments.NOISE_CONTROL`).
        fill: how masked features are replaced (``"uniform"``, ``"mean"``, ``"zero"``).
        reuse_forward: take the gradient from the training forward pass itself (train mode, so with
            dropout active) and reuse that pass's logits for the CE term: one forward pass fewer
            per step. Only for ``saliency="gradient"``.
        generator: source of the uniform fill.
        signed: rank the *signed* gradient (images: its mean over channels), as the authors' code does by
            default (its ``--abs`` flag is off): the masked "least salient" features are then those with
            the most negative ∂f(X)_y/∂X, not the smallest |∂f(X)_y/∂X|. Only with ``saliency="gradient"``.
        channels: how an image map's channels become one score per pixel
            (:func:`~sgt_course.saliency.per_pixel`): ``"max"`` of |s| (the course), ``"mean_signed"``
            |mean_c s_c| (the authors' code) or ``"mean"`` of |s|. Ignored where ``signed`` is set.
    """
    _check_weights(x, y, k, lam)
    _check_ranking(signed, saliency, channels)
    if not x.is_floating_point():  # token ids: text masking by the previous salient token
        if reuse_forward or signed:
            option = "reuse_forward" if reuse_forward else "signed"
            raise ValueError(f"{option} is not available for text; the saliency is taken on the embeddings")
        with eval_mode(model):
            scores = token_saliency(model, x, y, saliency)
        masked, _ = mask_tokens_bottom_k(x, scores, k)
        logits = model(x)
        return cross_entropy(logits, y) + lam * kl_divergence(logits, model(masked))
    if reuse_forward:
        if saliency != "gradient":
            raise ValueError(f"reuse_forward only works with saliency='gradient'; got {saliency!r}")
        inputs = x.detach().clone().requires_grad_(True)
        logits = model(inputs)
        (grad,) = torch.autograd.grad(logits.gather(1, y[:, None]).sum(), inputs, retain_graph=True)
        scores = signed_scores(grad) if signed else feature_scores(grad, channels)
        masked, _ = mask_bottom_k(x.detach(), scores, k, fill=fill, generator=generator)
    else:
        masked = masked_by_saliency(model, x, y, k, saliency, fill, generator, signed, channels)
        logits = model(x)
    return cross_entropy(logits, y) + lam * kl_divergence(logits, model(masked))


def adversarial_loss(model: nn.Module, x: Tensor, y: Tensor, attack: Attack | None = None) -> Tensor:
    """PGD adversarial training (Madry et al. 2018): L = CE(f(X'), y), X' = attack(model, X, y).

    Args:
        attack: a function (model, x, y) -> x' (see :func:`sgt_course.attacks.make_attack`); default
            PGD with ε = 0.3, 10 steps, the MNIST setting.
    """
    attack = attack or make_attack("pgd", 0.3, steps=10)
    return cross_entropy(model(attack(model, x, y)), y)


ORDERS = ("attack_then_mask", "mask_then_attack")


def asgt_loss(model: nn.Module, x: Tensor, y: Tensor, k: float = PAPER_SGT.k, lam: float = PAPER_SGT.lam,
              attack: Attack | None = None, order: str = "attack_then_mask", saliency: str = "gradient",
              fill: str = "uniform", generator: torch.Generator | None = None) -> Tensor:
    """Adversarial saliency-guided training, Algorithm 2 of Guesmi, Aswani & Shafique (2024), one minibatch:

    1. X' = X + δ*, δ* from an L∞ attack on CE (PGD by default);
    2. X̃' = M_k(S(X'), X'): X' masked by its *own* saliency (true class, eval mode, as in SGT);
    3. L = CE(f(X), y) + CE(f(X'), y) + λ · KL(softmax f(X̃') ‖ softmax f(X)).

    With λ = 0 the masked term, and the saliency and forward passes it needs, are skipped: what is left,
    CE(f(X), y) + CE(f(X'), y), is adversarial training plus a clean term (notebook 6's "PGD-AT+CE").

    Args:
        k, lam, saliency, fill, generator: as in :func:`sgt_loss`.
        attack: a function (model, x, y) -> x' (:func:`sgt_course.attacks.make_attack`); default PGD
            with ε = 0.3 and 10 steps.
        order: ``"attack_then_mask"`` (Algorithm 2) or ``"mask_then_attack"``, the course's variant in the
            order of Li et al.'s SGA (not SGA's own objective): X̃ = M_k(S(X), X) first, then
            X̃' = attack(X̃), which takes the place of both X' and X̃'.
    """
    _check_weights(x, y, k, lam)
    check_choice("order", order, ORDERS)
    attack = attack or make_attack("pgd", 0.3, steps=10)

    if lam == 0:  # no masked term: nothing to mask, whichever the order
        adversarial_logits = model(attack(model, x, y))
        return cross_entropy(model(x), y) + cross_entropy(adversarial_logits, y)
    if order == "attack_then_mask":
        adversarial = attack(model, x, y)
        adversarial_masked = masked_by_saliency(model, adversarial, y, k, saliency, fill, generator)
        adversarial_logits = model(adversarial)
        masked_logits = model(adversarial_masked)
    else:
        adversarial = attack(model, masked_by_saliency(model, x, y, k, saliency, fill, generator), y)
        adversarial_logits = masked_logits = model(adversarial)
    clean_logits = model(x)
    return (cross_entropy(clean_logits, y) + cross_entropy(adversarial_logits, y)
            + lam * kl_divergence(masked_logits, clean_logits))


def _adversarial(attack: str = "pgd", eps: float = 0.3, **options: object) -> LossFn:
    return partial(adversarial_loss, attack=make_attack(attack, eps, **options))


def _asgt(k: float = PAPER_SGT.k, lam: float = PAPER_SGT.lam, order: str = "attack_then_mask",
          saliency: str = "gradient", fill: str = "uniform", attack: str = "pgd", eps: float = 0.3,
          **options: object) -> LossFn:
    return partial(asgt_loss, k=k, lam=lam, order=order, saliency=saliency, fill=fill,
                   attack=make_attack(attack, eps, **options))


def _sgt(**settings: object) -> LossFn:
    check_settings("regime 'sgt'", settings, sgt_loss, exclude=("model", "x", "y"))
    return partial(sgt_loss, **settings)


#: Training regimes by name: each makes a loss function (model, x, y) -> scalar from its settings. The
#: adversarial ones take the attack by name with ε and the attack's own options (``steps``, ``alpha``, ...).
REGIMES: dict[str, Callable[..., LossFn]] = {"standard": lambda: standard_loss, "sgt": _sgt,
                                             "adversarial": _adversarial, "asgt": _asgt}


def regime_loss(regime: str, **settings: object) -> LossFn:
    """The loss function of ``regime`` with ``settings``, e.g. ``regime_loss("sgt", k=0.5, lam=1.0)`` or
    ``regime_loss("asgt", k=0.5, attack="pgd", eps=0.2, steps=10)``.

    Raises:
        ValueError: unknown regime or attack.
        TypeError: a setting the regime (or its attack) does not have, e.g. a misspelt ``lamda``; raised
            here, when the settings are given, not at the first minibatch.
    """
    check_choice("regime", regime, REGIMES)
    if regime == "standard" and settings:
        raise TypeError(f"regime 'standard' has no settings; got {', '.join(map(repr, sorted(settings)))}")
    return REGIMES[regime](**settings)
