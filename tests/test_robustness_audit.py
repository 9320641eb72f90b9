"""The robustness audit against cases whose answer is known: a linear model, whose worst-case L∞
perturbation is analytic, and a model that masks its gradients, which the audit must flag."""

import pytest
import torch
from torch import nn

from sgt_course.recipes import AuditBudget
from sgt_course.robustness import audit_table, robustness_audit, robustness_audits

pytest.importorskip("torchattacks")

BUDGET = AuditBudget(images=64, steps=30, restarts=2, targets=3, queries=200)


def _linear_case(eps: float):
    """A 4-class linear model on 4×5 images with pixels in [0.3, 0.7] (the ε-ball never meets 0 or 1), and
    per image whether it is robust: for every other class j, (w_y − w_j)·x + b_y − b_j > ε ‖w_y − w_j‖₁."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(20, 4))
    linear = model[1]
    with torch.no_grad():
        linear.bias.copy_(-0.5 * linear.weight.sum(1))  # logits W (x − 0.5): every class occurs
    x = 0.3 + 0.4 * torch.rand(64, 1, 4, 5)
    with torch.no_grad():
        logits = model(x)
        y = logits.argmax(1)
        margins = [logits.gather(1, y[:, None]).squeeze(1) - logits[:, j]
                   - eps * (linear.weight[y] - linear.weight[j]).abs().sum(1) for j in range(4)]
        robust = torch.stack([torch.where(y == j, torch.inf, m) for j, m in enumerate(margins)]).amin(0) > 0
    return model.eval(), x, y, robust


def test_on_a_linear_model_the_worst_case_is_the_analytic_one():
    eps = 0.02
    model, x, y, robust = _linear_case(eps)
    assert 0.2 < robust.float().mean() < 0.8, "the case separates robust from fragile samples"
    audit = robustness_audit(model, x, y, eps, budget=BUDGET, progress=False)
    assert torch.equal(audit.worst_case_correct, robust)
    assert all(o.correct[robust].all() for o in audit.outcomes), "no attack fools an image that is robust"
    assert audit.worst_case == pytest.approx(robust.float().mean().item())
    assert not audit.masking_suspected, audit.table()
    assert [o.name for o in audit.outcomes] == ["PGD-10", "PGD-30×2", "APGD-CE", "APGD-DLR, targeted", "Square"]
    assert audit.outcome("Square").attacked.sum() == robust.sum(), "Square tries what the white-box attacks left"
    assert audit.accuracy("Square") is None and audit.accuracy("APGD-CE") >= audit.worst_case


class Masked(nn.Module):
    """The linear model with its gradient cut: the decision moves with the input as before, but the
    gradient with respect to the input is 0 everywhere, so every gradient attack stands at its random
    start (gradient masking in its plainest form)."""

    def __init__(self, inner: nn.Module) -> None:
        super().__init__()
        self.inner = inner

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.inner(x.detach()) + 0 * x.sum()


def test_a_model_that_masks_its_gradients_is_flagged():
    inner, x, y, robust = _linear_case(0.02)
    model = Masked(inner).eval()
    audit = robustness_audit(model, x, y, 0.02, budget=BUDGET, progress=False)
    outcome = {c.name: c.passed for c in audit.checks}
    assert not audit.passed and audit.masking_suspected
    assert outcome["black-box does not beat white-box"] is False, audit.table()
    assert outcome["accuracy falls to about 0 at ε = 1"] is False, audit.table()
    square = audit.outcome("Square")
    assert square.fooled > 0.2 * len(y), "Square fools what the gradients cannot"
    assert audit.worst_case < audit.accuracy("APGD-CE") - 0.2
    row = audit_table({"q": audit}).splitlines()[2]
    assert "**FAILED**" in audit.table() and "FAILED: " in row and "black-box does not beat white-box" in row


def test_several_models_meet_a_transfer_attack_from_the_source_and_the_table_names_them():
    model, x, y, _ = _linear_case(0.1)
    other = nn.Sequential(nn.Flatten(), nn.Linear(20, 4)).eval()
    audits = robustness_audits({"standard": model, "other": other}, x, y, 0.05, budget=BUDGET, progress=False)
    assert "transfer" not in [o.name for o in audits["standard"].outcomes], "no transfer from a model to itself"
    assert "transfer" in [o.name for o in audits["other"].outcomes]
    assert {c.name for c in audits["other"].checks} >= {"transfer does not beat white-box"}
    lines = audit_table(audits).splitlines()
    assert lines[0].startswith("| model | clean, n = 64 | PGD-10, ε = 0.05 | worst case") and len(lines) == 4
    assert lines[2].count(" [") == 3, "clean, PGD-10 and worst case each carry their interval"


def test_the_audit_repeats_exactly_and_leaves_the_global_random_state_alone():
    model, x, y, _ = _linear_case(0.1)
    torch.manual_seed(7)
    before = torch.random.get_rng_state()
    first = robustness_audit(model, x, y, 0.1, budget=BUDGET, progress=False)
    assert torch.equal(torch.random.get_rng_state(), before)
    second = robustness_audit(model, x, y, 0.1, budget=BUDGET, progress=False)
    assert [o.correct.tolist() for o in first.outcomes] == [o.correct.tolist() for o in second.outcomes]


def test_bad_arguments_are_named():
    model, x, y, _ = _linear_case(0.1)
    with pytest.raises(ValueError, match="eps must be a finite number >= 0"):
        robustness_audit(model, x, y, -0.1, budget=BUDGET, progress=False)
    with pytest.raises(ValueError, match="same batch size"):
        robustness_audit(model, x, y[:3], 0.1, budget=BUDGET, progress=False)
    with pytest.raises(ValueError, match="source must be one of a; got 'standard'"):
        robustness_audits({"a": model}, x, y, 0.1, budget=BUDGET, progress=False)
    audit = robustness_audit(model, x, y, 0.1, budget=BUDGET, progress=False)
    with pytest.raises(ValueError, match="attack must be one of PGD-10"):
        audit.accuracy("CW")


def test_a_budget_refuses_sizes_that_are_not_positive():
    with pytest.raises(ValueError, match="queries must be a positive int; got 0"):
        AuditBudget(images=8, steps=1, restarts=1, targets=1, queries=0)
    with pytest.raises(ValueError, match=r"tolerance must be a share of the images in \[0, 1\)"):
        AuditBudget(images=8, steps=1, restarts=1, targets=1, queries=1, tolerance=1.5)
