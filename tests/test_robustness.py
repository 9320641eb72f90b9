"""Robustness curves: every model under every attack from the same seeded start, and their table."""

import pytest
import torch

from sgt_course.models import SmallCNN
from sgt_course.robustness import RobustnessCurve, robust_accuracy, robustness_curves, robustness_table


def test_robustness_curves_attack_every_model_with_the_same_seeded_start():
    torch.manual_seed(0)
    models = {"a": SmallCNN(width=4).eval(), "b": SmallCNN(width=4).eval()}
    x, y = torch.rand(16, 1, 16, 16), torch.randint(0, 10, (16,))
    curves = robustness_curves(models, x, y, (0.0, 0.1, 0.3))
    assert list(curves) == ["FGSM", "PGD", "MI-FGSM"] and all(list(c) == ["a", "b"] for c in curves.values())
    for name, model in models.items():
        expected = robust_accuracy(model, x, y, "pgd", (0.0, 0.1, 0.3), generator=torch.Generator().manual_seed(0))
        assert curves["PGD"][name].accuracy == expected.accuracy
    assert robustness_curves(models, x, y, (0.0, 0.1, 0.3)) == curves, "a seeded run repeats exactly"
    table = robustness_table(curves).splitlines()
    assert len(table) == 1 + 3 * 2 + 1 and table[0].split()[2:] == ["ε=0", "ε=0.1", "ε=0.3"]
    assert table[3].startswith("PGD      a ") and table[3].count("%") == 3
    assert table[-1].startswith("on 16 images; 95 % intervals (Wilson) ±"), table[-1]
    pgd_a = curves["PGD"]["a"]
    assert pgd_a.outcomes(0.1).shape == (16,) and pgd_a.outcomes(0.1).float().mean().item() == pgd_a.at(0.1)
    assert pgd_a.interval(0.0).low <= pgd_a.at(0.0) <= pgd_a.interval(0.0).high
    with pytest.raises(ValueError, match="attack must be one of"):
        robustness_curves(models, x, y, (0.1,), attacks=("cw",))


def test_a_robustness_curve_knows_whether_it_rises():
    assert RobustnessCurve((0, 0.1, 0.2), (0.9, 0.91, 0.2), "pgd").non_increasing(tolerance=0.02)
    assert not RobustnessCurve((0, 0.1, 0.2), (0.9, 0.95, 0.2), "pgd").non_increasing(tolerance=0.02)
