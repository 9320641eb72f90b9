"""Non-finite numbers are refused where they enter: every public entry point that takes inputs or a
weight names the argument, instead of returning NaN maps, losses or attacks without a word."""

from __future__ import annotations

import math

import pytest
import torch

from sgt_course import attacks, checks, losses, masking, removal, robustness, saliency
from sgt_course.models import build_model
from sgt_course.training import fit


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return build_model("small_cnn", width=4).eval()


def _images(bad: float | None = None) -> torch.Tensor:
    x = torch.rand(4, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    if bad is not None:
        x[1, 0, 3, 5] = bad
    return x


Y = torch.tensor([0, 1, 2, 3])
SCORES = torch.rand(4, 1, 28, 28)


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
@pytest.mark.parametrize("call", [
    lambda m, x: saliency.gradient(m, x, Y),
    lambda m, x: saliency.input_x_gradient(m, x, Y),
    lambda m, x: saliency.integrated_gradients(m, x, Y, steps=4),
    lambda m, x: saliency.smoothgrad(m, x, Y, samples=2),
    lambda m, x: masking.mask_bottom_k(x, SCORES, 0.5),
    lambda m, x: removal.removal_curve(m, x, Y, "gradient", fill="linear", order="lerf"),
    lambda m, x: losses.sgt_loss(m, x, Y),
    lambda m, x: losses.asgt_loss(m, x, Y, attack=attacks.make_attack("fgsm", 0.1)),
    lambda m, x: losses.adversarial_loss(m, x, Y, attack=attacks.make_attack("fgsm", 0.1)),
    lambda m, x: attacks.fgsm(m, x, Y, 0.1),
    lambda m, x: attacks.pgd(m, x, Y, 0.1, steps=2),
    lambda m, x: attacks.mifgsm(m, x, Y, 0.1, steps=2),
    lambda m, x: removal.removal_curve(m, x, Y, "gradient"),
    lambda m, x: robustness.robust_accuracy(m, x, Y, "fgsm", (0.1,)),
    lambda m, x: fit(m, (x, Y), progress=False),
], ids=["gradient", "input_x_gradient", "integrated_gradients", "smoothgrad", "mask_bottom_k", "removal_curve_lerf_linear",
        "sgt_loss", "asgt_loss", "adversarial_loss", "fgsm", "pgd", "mifgsm", "removal_curve", "robust_accuracy", "fit"])
def test_non_finite_inputs_are_refused(model, call, bad):
    with pytest.raises(ValueError, match=r"x must be finite; got 1 NaN or infinite value\(s\)"):
        call(model, _images(bad))


def test_non_finite_saliency_is_refused():
    scores = SCORES.clone()
    scores[0, 0, 0, 0] = math.nan
    with pytest.raises(ValueError, match="saliency must be finite"):
        masking.mask_bottom_k(_images(), scores, 0.5)


@pytest.mark.parametrize("call, name", [
    (lambda m, x: losses.sgt_loss(m, x, Y, lam=math.inf), "lam"),
    (lambda m, x: losses.asgt_loss(m, x, Y, lam=math.nan), "lam"),
    (lambda m, x: attacks.fgsm(m, x, Y, math.inf), "eps"),
    (lambda m, x: attacks.pgd(m, x, Y, 0.1, alpha=math.inf), "alpha"),
    (lambda m, x: attacks.mifgsm(m, x, Y, 0.1, decay=math.nan), "decay"),
    (lambda m, x: saliency.smoothgrad(m, x, Y, sigma=math.inf), "sigma"),
])
def test_non_finite_weights_are_refused(model, call, name):
    with pytest.raises(ValueError, match=f"{name} must be a finite number >= 0; got (inf|nan)"):
        call(model, _images())


def test_the_checks_themselves():
    checks.check_fraction("k", 0.0)
    checks.check_non_negative("lam", 0)
    checks.check_finite("x", torch.zeros(3))
    checks.check_finite("tokens", torch.tensor([1, 2]))  # integer tensors hold no NaN
    with pytest.raises(ValueError, match=r"k must be a fraction of the features in \[0, 1\); got 1.0"):
        checks.check_fraction("k", 1.0)
    with pytest.raises(TypeError, match="lam must be a number; got str"):
        checks.check_non_negative("lam", "1")
    with pytest.raises(ValueError, match="lam must be a finite number >= 0; got -1"):
        checks.check_non_negative("lam", -1)


def test_check_choices_wants_a_non_empty_selection():
    checks.check_choices("fills", ["zero", "linear"], ("uniform", "zero", "linear"))
    with pytest.raises(ValueError, match=r"fills must be a non-empty selection of uniform, zero; got \['blur'\]"):
        checks.check_choices("fills", ("blur",), ("uniform", "zero"))
    with pytest.raises(ValueError, match=r"got \[\]"):
        checks.check_choices("fills", (), ("uniform", "zero"))
