"""Sanity checks for saliency maps (Adebayo et al., NeurIPS 2018).

A faithful saliency method explains *the model*: when the model's weights are replaced by random
ones, its map must change. :func:`cascading_randomization` re-initializes the layers one by one from
the output down and measures how far each map moves from the trained model's map.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator

import torch
from torch import Tensor, nn

from sgt_course.metrics import spearman
from sgt_course.saliency import attribute, feature_scores

NOISY_METHODS = ("smoothgrad", "random")


def parametrized_layers(model: nn.Module) -> list[str]:
    """Names of the layers that own weights (and can reset them), from the input to the output."""
    return [name for name, module in model.named_modules()
            if hasattr(module, "reset_parameters") and any(True for _ in module.parameters(recurse=False))]


def randomize_top_down(model: nn.Module, seed: int = 0) -> Iterator[tuple[str, nn.Module]]:
    """Yield (layer name, copy of ``model``) with the layers from the output down to that one re-initialized.

    The original model is left untouched; each copy is in eval mode.
    """
    randomized = copy.deepcopy(model).eval()
    modules = dict(randomized.named_modules())
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        for name in reversed(parametrized_layers(model)):
            modules[name].reset_parameters()
            yield name, copy.deepcopy(randomized)


def _map(network: nn.Module, x: Tensor, target: int | Tensor, method: str, seed: int,
         method_kwargs: dict[str, object]) -> Tensor:
    """``method``'s feature scores for ``network``; methods that draw noise get a fresh generator seeded with
    ``seed``, so every network sees the same noise and only the network differs."""
    noise = {"generator": torch.Generator().manual_seed(seed)} if method in NOISY_METHODS else {}
    return feature_scores(attribute(method, network, x, target, **noise, **method_kwargs))


def cascading_randomization(model: nn.Module, x: Tensor, target: int | Tensor, method: str, *, seed: int = 0,
                            where: Tensor | None = None, **method_kwargs: object) -> list[tuple[str, float]]:
    """Mean Spearman correlation between the trained model's map and the map after each randomization step.

    Methods that draw noise (SmoothGrad, the random map) get a fresh generator seeded with ``seed``
    for every map, so the noise is the same for every model. ``where`` (e.g. ``x > 0``, one score per
    feature of the map) correlates only the features it marks (:func:`~sgt_course.metrics.spearman`): on a
    black background, maps that multiply by the input tie at 0 there under any model.

    Returns:
        ``[("original", 1.0), (layer, rho), ...]`` from the output layer down to the first layer. A
        faithful method's rho falls towards 0 as more layers are randomized.
    """
    reference = _map(model, x, target, method, seed, method_kwargs)
    curve = [("original", 1.0)]
    for name, randomized in randomize_top_down(model, seed):
        changed = _map(randomized, x, target, method, seed, method_kwargs)
        curve.append((name, spearman(reference, changed, where).nanmean().item()))
    return curve


def randomized_correlation(model: nn.Module, x: Tensor, target: int | Tensor, method: str, *, seed: int = 0,
                           where: Tensor | None = None, **method_kwargs: object) -> Tensor:
    """Per sample, the Spearman correlation ρ between the trained model's map and the map once every layer
    is randomized (the last step of :func:`cascading_randomization`, whose value is this tensor's mean):
    (N, ...) -> (N,). Per-sample values give ρ its interval (:func:`~sgt_course.stats.bootstrap_mean`) and
    let two models be compared on the same samples (:func:`~sgt_course.stats.paired_difference`)."""
    *_, (_, randomized) = randomize_top_down(model, seed)
    return spearman(_map(model, x, target, method, seed, method_kwargs),
                    _map(randomized, x, target, method, seed, method_kwargs), where)
