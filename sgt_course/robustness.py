"""Robustness: how much accuracy a model keeps when an attacker may move each input by ε.

- :func:`robust_accuracy`: accuracy under one attack over a range of ε, as a :class:`RobustnessCurve`;
- :func:`robustness_curves`: every model under every attack; :func:`robustness_table` prints them.
- :func:`robustness_audit`: is it real? The worst case per image over an ensemble of the field's attacks
  (AutoAttack's, from torchattacks), with Carlini et al.'s sanity checks for gradient masking;
  :func:`robustness_audits` for several models, :func:`audit_table` to show them.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import torch
from torch import Tensor, nn
from tqdm.auto import tqdm

from sgt_course.attacks import attack_label, get_attack, pgd
from sgt_course.checks import check_choice, check_non_negative
from sgt_course.recipes import AUTOATTACK_BUDGET, AuditBudget
from sgt_course.stats import Interval, accuracy
from sgt_course.tables import markdown_table
from sgt_course.training import as_tensors, predict


@dataclass
class RobustnessCurve:
    """Accuracy under an attack for each radius ε in ``eps``; ``correct`` ((len(eps), N) bool, where
    measured) says which images the attack did not fool at each ε: what the intervals come from."""

    eps: tuple[float, ...]
    accuracy: tuple[float, ...]
    attack: str
    correct: Tensor | None = field(default=None, repr=False, compare=False)

    def at(self, eps: float) -> float:
        """Accuracy at radius ``eps`` (must be one of ``eps``)."""
        return self.accuracy[self._index(eps)]

    def outcomes(self, eps: float) -> Tensor:
        """Which images, (N,) bool, the attack did not fool at radius ``eps``."""
        if self.correct is None:
            raise ValueError("this curve was built without its per-image outcomes (correct=None); "
                             "robust_accuracy records them")
        return self.correct[self._index(eps)]

    def interval(self, eps: float) -> Interval:
        """:meth:`at` with its 95 % (Wilson) interval over the images."""
        return accuracy(self.outcomes(eps))

    def _index(self, eps: float) -> int:
        matches = [i for i, e in enumerate(self.eps) if abs(e - eps) < 1e-9]
        if not matches:
            raise ValueError(f"eps must be one of {self.eps}; got {eps!r}")
        return matches[0]

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
    correct = torch.stack([torch.cat([predict(model, run(model, x[i:i + batch_size], y[i:i + batch_size], eps=eps,
                                                         **attack_options)).argmax(1) == y[i:i + batch_size]
                                      for i in range(0, x.shape[0], batch_size)]) for eps in eps_values]).cpu()
    return RobustnessCurve(tuple(float(e) for e in eps_values), tuple(correct.float().mean(1).tolist()), attack,
                           correct)


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
    """The curves of :func:`robustness_curves` as text, one row per (attack, model), one column per ε, and
    a last line with the number of images and the range of the accuracies' 95 % (Wilson) half-widths."""
    every = [curve for by_model in curves.values() for curve in by_model.values()]
    eps = every[0].eps
    header = f"{'attack':<9}{'model':<10}" + "".join(f"{'ε=' + format(e, '.4g'):<9}" for e in eps)
    rows = [f"{attack:<9}{name:<10}" + "".join(f"{a:<9.1%}" for a in curve.accuracy)
            for attack, by_model in curves.items() for name, curve in by_model.items()]
    if all(curve.correct is not None for curve in every):
        half = [100 * i.half_width for curve in every for i in map(curve.interval, curve.eps)]
        rows.append(f"on {every[0].correct.shape[1]:,} images; 95 % intervals (Wilson) ±{min(half):.1f} to "
                    f"±{max(half):.1f} points")
    return "\n".join(line.rstrip() for line in [header, *rows])


# --- is the robustness real? ------------------------------------------------------------------------------


@dataclass(frozen=True)
class AttackOutcome:
    """What one attack of an audit did. ``attacked`` marks the images it was run on (all of them, or only
    those the white-box attacks left unfooled); ``correct`` whether the model still classified each one
    correctly (True where it was not run)."""

    name: str
    correct: Tensor
    attacked: Tensor
    seconds: float

    @property
    def complete(self) -> bool:
        """Whether the attack was run on every image (then it has an accuracy of its own)."""
        return bool(self.attacked.all())

    @property
    def accuracy(self) -> float | None:
        """The share of images the attack did not fool (a misclassified clean image counts as fooled);
        None for an attack run only on what the others left."""
        return self.correct.float().mean().item() if self.complete else None

    @property
    def fooled(self) -> int:
        """How many of the images it was run on it fooled."""
        return int((self.attacked & ~self.correct).sum())


@dataclass(frozen=True)
class AuditCheck:
    """One of Carlini et al.'s (2019) sanity checks: its name, whether it passed, its numbers, and what a
    failure means: gradient masking (``masking``), or else an attack too weak to trust on its own."""

    name: str
    passed: bool
    detail: str
    masking: bool


@dataclass(frozen=True)
class RobustnessAudit:
    """A model's accuracy under an ensemble of attacks at one radius ε, the worst case per image, and the
    sanity checks that tell real robustness from gradient masking (:func:`robustness_audit`)."""

    eps: float
    clean: Tensor
    outcomes: tuple[AttackOutcome, ...]
    checks: tuple[AuditCheck, ...]
    budget: AuditBudget

    def outcome(self, attack: str) -> AttackOutcome:
        """The outcome of ``attack`` (a name of :attr:`outcomes`, e.g. ``"PGD-10"`` or ``"Square"``)."""
        names = [o.name for o in self.outcomes]
        check_choice("attack", attack, names)
        return self.outcomes[names.index(attack)]

    def accuracy(self, attack: str) -> float | None:
        """The accuracy under ``attack`` alone (None for an attack run only on what the others left)."""
        return self.outcome(attack).accuracy

    @property
    def worst_case_correct(self) -> Tensor:
        """Per image, whether it was classified correctly clean and under every attack."""
        return _unfooled(self.clean, self.outcomes)

    @property
    def worst_case(self) -> float:
        """Robust accuracy: the share of images that no attack fooled (the number to report)."""
        return self.worst_case_correct.float().mean().item()

    def worst_case_interval(self) -> Interval:
        """:attr:`worst_case` with its 95 % (Wilson) interval over the audited images."""
        return accuracy(self.worst_case_correct)

    @property
    def worst_attack(self) -> str:
        """Of the attacks run on every image, the one with the lowest accuracy (the first of them on a tie)."""
        return min((o for o in self.outcomes if o.complete), key=lambda o: o.accuracy).name

    @property
    def passed(self) -> bool:
        """Whether every sanity check passed."""
        return all(check.passed for check in self.checks)

    @property
    def masking_suspected(self) -> bool:
        """Whether a check that detects gradient masking failed (black-box or transfer beat white-box, or
        accuracy did not fall to about 0 at an unbounded ε)."""
        return any(check.masking and not check.passed for check in self.checks)

    def table(self) -> str:
        """Markdown: each attack's accuracy (or what it fooled of what the others left) and its time, the
        worst case, then each check."""
        rows = [["clean", f"{self.clean.float().mean().item():.1%}", ""]]
        for o in self.outcomes:
            result = (f"{o.accuracy:.1%}" if o.complete else
                      f"fooled {o.fooled} of the {int(o.attacked.sum())} images left")
            rows.append([o.name, result, f"{o.seconds:.1f} s"])
        rows.append(["**worst case per image**", f"**{self.worst_case:.1%}**", ""])
        checks = [[c.name, "passed" if c.passed else "**FAILED**", c.detail] for c in self.checks]
        return (markdown_table([f"attack, ε = {self.eps:g}, {len(self.clean)} images", "accuracy", "time"], rows)
                + "\n\n" + markdown_table(["sanity check (Carlini et al. 2019)", "outcome", "numbers"], checks))


def _unfooled(clean: Tensor, outcomes: Sequence[AttackOutcome]) -> Tensor:
    """Per image, whether it was classified correctly clean and under each of ``outcomes``."""
    correct = clean.clone()
    for outcome in outcomes:
        correct &= outcome.correct
    return correct


def robustness_audit(model: nn.Module, x: Tensor, y: Tensor, eps: float, *, source: nn.Module | None = None,
                     budget: AuditBudget = AUTOATTACK_BUDGET, unbounded_eps: float = 1.0, seed: int = 0,
                     progress: bool = True) -> RobustnessAudit:
    """Is ``model``'s robustness at radius ``eps`` real? Attack the first ``budget.images`` of ``x`` with an
    ensemble and run the sanity checks of Carlini et al., "On Evaluating Adversarial Robustness" (2019).

    The ensemble (all L∞, inputs in [0, 1]); the white-box attacks run on every image:

    - ``PGD-10``: the course's PGD, 10 steps, one random start (what the notebooks' curves use);
    - ``PGD-{steps}×{restarts}``: the course's PGD with ``budget.steps`` steps from ``budget.restarts``
      random starts, each start after the first only on the images the earlier ones did not fool;
    - ``APGD-CE`` and ``APGD-DLR, targeted``: AutoAttack's white-box attacks (Croce & Hein, ICML 2020), from
      torchattacks, with ``budget.steps`` iterations and ``budget.targets`` target classes (its targeted DLR
      loss needs four classes or more: with fewer it is left out);
    - ``Square``: AutoAttack's black-box attack, which needs no gradient, ``budget.queries`` queries, and
      ``transfer``: PGD-{steps} crafted on ``source`` (e.g. the standard model), when given. These two run,
      as in AutoAttack, only on the images the white-box attacks left unfooled.

    The checks, each passed within ``budget.tolerance`` (a share of the images); a failure of 3, 4 or 5
    suggests gradient masking (:attr:`RobustnessAudit.masking_suspected`), of 1 or 2 attacks too weak to
    trust on their own:

    1. PGD-10 finds what the strong PGD finds (else the PGD-10 number overstates robustness);
    2. more restarts saturate: the starts after the first fool (almost) no further image;
    3. the black-box attack fools (almost) none of the images the white-box attacks left (else the
       gradients are masked);
    4. neither does the transfer attack;
    5. with ``unbounded_eps`` (1.0: any image at all) the strong PGD fools (almost) every image.

    Every random draw is seeded with ``seed``, and the global random state is left as it was.
    Returns a :class:`RobustnessAudit`; report its :attr:`~RobustnessAudit.worst_case`.
    """
    import torchattacks

    as_tensors((x, y))
    check_non_negative("eps", eps)
    x, y = x[:budget.images], y[:budget.images]
    n_classes = predict(model, x[:1]).shape[1]
    steps, restarts = budget.steps, budget.restarts
    every = torch.ones(len(y), dtype=torch.bool, device=y.device)

    def generator(offset: int) -> torch.Generator:
        return torch.Generator(x.device).manual_seed(seed + offset)

    def still_correct(attack: Callable[[Tensor, Tensor], Tensor], on: Tensor, correct: Tensor) -> None:
        """Run ``attack`` on the images ``on`` and write into ``correct`` whether the model still gets them."""
        if on.any():
            correct[on] = predict(model, attack(x[on], y[on])).argmax(1) == y[on]

    def run(name: str, attack: Callable[[Tensor, Tensor], Tensor], on: Tensor) -> AttackOutcome:
        start, correct = time.perf_counter(), torch.ones_like(on)
        still_correct(attack, on, correct)
        return AttackOutcome(name, correct, on.clone(), time.perf_counter() - start)

    def strong_pgd() -> tuple[AttackOutcome, float]:
        """The restarted PGD, and the accuracy after its first start."""
        start, correct = time.perf_counter(), every.clone()
        for r in range(restarts):
            still_correct(lambda a, b: pgd(model, a, b, eps, steps=steps, generator=generator(r)), correct.clone(),
                          correct)
            if r == 0:
                first = correct.float().mean().item()
        return AttackOutcome(f"PGD-{steps}×{restarts}", correct, every, time.perf_counter() - start), first

    def apgd_dlr(images: Tensor, labels: Tensor) -> Tensor:
        attack = torchattacks.APGDT(model, eps=eps, steps=steps, seed=seed, n_classes=n_classes)
        attack.n_target_classes = min(budget.targets, n_classes - 1)
        return attack(images, labels)

    clean = predict(model, x).argmax(1) == y
    transfer = source is not None and source is not model
    with torch.random.fork_rng(devices=[x.device.index or 0] if x.device.type == "cuda" else []), \
            tqdm(total=6 + transfer, desc="robustness audit", disable=not progress) as bar:
        outcomes = [run("PGD-10", lambda a, b: pgd(model, a, b, eps, generator=generator(0)), every)]
        bar.update()
        strong, first_start = strong_pgd()
        outcomes.append(strong)
        bar.update()
        outcomes.append(run("APGD-CE", torchattacks.APGD(model, eps=eps, steps=steps, seed=seed, loss="ce"), every))
        bar.update()
        if n_classes >= 4:
            outcomes.append(run("APGD-DLR, targeted", apgd_dlr, every))
        bar.update()
        left = _unfooled(clean, outcomes)  # what the white-box attacks left
        outcomes.append(run("Square", torchattacks.Square(model, eps=eps, n_queries=budget.queries, seed=seed), left))
        bar.update()
        if transfer:
            outcomes.append(run("transfer", lambda a, b: pgd(source, a, b, eps, steps=steps, generator=generator(0)),
                                left))
            bar.update()
        unbounded = run("unbounded", lambda a, b: pgd(model, a, b, unbounded_eps, steps=steps, generator=generator(0)),
                        every).accuracy
        bar.update()
    return RobustnessAudit(eps, clean, tuple(outcomes), _checks(outcomes, left, first_start, unbounded,
                                                                unbounded_eps, budget), budget)


def _checks(outcomes: list[AttackOutcome], left: Tensor, first_start: float, unbounded: float, unbounded_eps: float,
            budget: AuditBudget) -> tuple[AuditCheck, ...]:
    """The five sanity checks of :func:`robustness_audit`, from its outcomes."""
    by_name, tolerance, n = {o.name: o for o in outcomes}, budget.tolerance, len(left)
    pgd10, strong = by_name["PGD-10"].accuracy, outcomes[1].accuracy
    white_box = int(left.sum())
    checks = [
        AuditCheck("PGD-10 finds what the strong PGD finds", pgd10 - strong <= tolerance,
                   f"PGD-10 {pgd10:.1%}, {outcomes[1].name} {strong:.1%}", masking=False),
        AuditCheck("more restarts saturate", first_start - strong <= tolerance,
                   f"one start {first_start:.1%}, {budget.restarts} starts {strong:.1%}", masking=False),
    ]
    for name in ("Square", "transfer"):
        if name in by_name:
            fooled = by_name[name].fooled
            kind = "black-box" if name == "Square" else "transfer"
            checks.append(AuditCheck(f"{kind} does not beat white-box", fooled <= tolerance * n,
                                     f"{name} fooled {fooled} of the {white_box} images the white-box attacks left",
                                     masking=True))
    checks.append(AuditCheck(f"accuracy falls to about 0 at ε = {unbounded_eps:g}", unbounded <= tolerance,
                             f"PGD-{budget.steps} at ε = {unbounded_eps:g}: {unbounded:.1%}", masking=True))
    return tuple(checks)


def robustness_audits(models: Mapping[str, nn.Module], x: Tensor, y: Tensor, eps: float, *,
                      source: str | None = "standard", budget: AuditBudget | None = None,
                      seed: int = 0, progress: bool = True) -> dict[str, RobustnessAudit]:
    """:func:`robustness_audit` of every model, the transfer attack crafted on ``models[source]``."""
    if source is not None:
        check_choice("source", source, models)
    options = {} if budget is None else {"budget": budget}
    return {name: robustness_audit(model, x, y, eps, source=models[source] if source else None, seed=seed,
                                   progress=progress, **options) for name, model in models.items()}


def audit_table(audits: Mapping[str, RobustnessAudit]) -> str:
    """A Markdown table, one row per model: clean, PGD-10 and worst-case accuracy in % with their 95 %
    (Wilson) intervals over the audited images, the worst attack, and which sanity checks failed."""
    rows = []
    for name, audit in audits.items():
        failed = [c.name for c in audit.checks if not c.passed]
        rows.append([name, str(accuracy(audit.clean)), str(accuracy(audit.outcome("PGD-10").correct)),
                     f"**{audit.worst_case_interval()}**", audit.worst_attack,
                     "all passed" if not failed else "FAILED: " + "; ".join(failed)])
    first = next(iter(audits.values()))
    return markdown_table(["model", f"clean, n = {first.clean.shape[0]:,}", f"PGD-10, ε = {first.eps:g}",
                           "worst case", "worst attack", "sanity checks"], rows)
