"""Robustness: how much accuracy a model keeps when an attacker may move each input by ε.

- :func:`robust_accuracy`: accuracy under one attack over a range of ε, as a :class:`RobustnessCurve`;
- :func:`robustness_curves`: every model under every attack; :func:`robustness_table` prints them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from sgt_course.attacks import attack_label, get_attack
from sgt_course.training import as_tensors, predict


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

    def non_increasing(self, tolerance: float = 0.02) -> bool:
        """Whether accuracy never rises by more than ``tolerance`` from one ε to the next (PGD's random
        start and the finite sample let it wobble a little)."""
        return all(b <= a + tolerance for a, b in zip(self.accuracy, self.accuracy[1:]))


def robust_accuracy(model: nn.Module, x: Tensor, y: Tensor, attack: str, eps_values: tuple[float, ...], *,
                    batch_size: int = 500, **attack_options: object) -> RobustnessCurve:
    """Accuracy of ``model`` on ``attack``-perturbed inputs for each ε in ``eps_values`` (Fig. 7-10).

    Args:
        attack: ``"fgsm"``, ``"pgd"`` or ``"mifgsm"``.
        eps_values: the radii; 0 gives the clean accuracy.
        batch_size: samples attacked at once (bounds memory).
        attack_options: passed to the attack (``steps``, ``alpha``, ``generator``, ...).
    """
    as_tensors((x, y))  # the same batch size, or a ValueError saying so
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


def robustness_curves(models: Mapping[str, nn.Module], x: Tensor, y: Tensor, eps_values: tuple[float, ...], *,
                      attacks: tuple[str, ...] = ("fgsm", "pgd", "mifgsm"), seed: int = 0,
                      batch_size: int = 500) -> dict[str, dict[str, RobustnessCurve]]:
    """:func:`robust_accuracy` of every model under every attack: ``{attack label: {model name: curve}}``.

    PGD's random start comes from a generator seeded with ``seed`` afresh for each model, so every
    model meets the same draw and a run repeats exactly. Labels are the attacks' display names
    (``"FGSM"``, ``"PGD"``, ``"MI-FGSM"``), ready for :func:`sgt_course.plots.robustness_panels`.
    """
    for attack in attacks:
        get_attack(attack)  # an unknown name fails here, before any model is attacked
    return {attack_label(attack): {name: robust_accuracy(model, x, y, attack, eps_values, batch_size=batch_size,
                                                         **_seeded_start(attack, seed))
                                   for name, model in models.items()}
            for attack in attacks}


def _seeded_start(attack: str, seed: int) -> dict[str, torch.Generator]:
    return {"generator": torch.Generator().manual_seed(seed)} if attack == "pgd" else {}


def robustness_table(curves: Mapping[str, Mapping[str, RobustnessCurve]]) -> str:
    """The curves of :func:`robustness_curves` as text, one row per (attack, model), one column per ε."""
    eps = next(iter(next(iter(curves.values())).values())).eps
    header = f"{'attack':<9}{'model':<10}" + "".join(f"{'ε=' + format(e, '.4g'):<9}" for e in eps)
    rows = [f"{attack:<9}{name:<10}" + "".join(f"{a:<9.1%}" for a in curve.accuracy)
            for attack, by_model in curves.items() for name, curve in by_model.items()]
    return "\n".join(line.rstrip() for line in [header, *rows])
