"""Attacks: agreement with torchattacks, the ε-ball and [0, 1] constraints, effect, bad input."""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from sgt_course import attacks
from sgt_course.losses import adversarial_loss
from sgt_course.models import SmallCNN
from sgt_course.robustness import robust_accuracy

torchattacks = pytest.importorskip("torchattacks")


@pytest.fixture
def model():
    torch.manual_seed(0)
    return SmallCNN(in_channels=1, n_classes=10, width=4).double().eval()


@pytest.fixture
def batch():
    torch.manual_seed(1)
    return torch.rand(8, 1, 16, 16, dtype=torch.float64), torch.randint(0, 10, (8,))


def test_fgsm_matches_torchattacks(model, batch):
    x, y = batch
    expected = torchattacks.FGSM(model, eps=0.1)(x, y)
    assert torch.allclose(attacks.fgsm(model, x, y, 0.1), expected, atol=1e-12)


def test_targeted_fgsm_matches_torchattacks_and_steps_towards_the_target(model, batch):
    x, _ = batch
    target = torch.full((x.shape[0],), 3)
    reference = torchattacks.FGSM(model, eps=0.1)
    reference.set_mode_targeted_by_function(lambda images, labels: labels)
    ours = attacks.fgsm(model, x, target, 0.1, targeted=True)
    assert torch.allclose(ours, reference(x, target), atol=1e-12)
    with torch.no_grad():
        assert (model(ours).softmax(1)[:, 3] > model(x).softmax(1)[:, 3]).all()


def test_pgd_without_random_start_matches_torchattacks(model, batch):
    x, y = batch
    expected = torchattacks.PGD(model, eps=0.2, alpha=0.03, steps=7, random_start=False)(x, y)
    ours = attacks.pgd(model, x, y, 0.2, alpha=0.03, steps=7, random_start=False)
    assert torch.allclose(ours, expected, atol=1e-12)


def test_mifgsm_matches_torchattacks(model, batch):
    x, y = batch
    expected = torchattacks.MIFGSM(model, eps=0.2, alpha=0.04, steps=6, decay=0.8)(x, y)
    assert torch.allclose(attacks.mifgsm(model, x, y, 0.2, alpha=0.04, steps=6, decay=0.8), expected, atol=1e-12)


@settings(max_examples=25, deadline=None)
@given(n=st.integers(1, 4), channels=st.integers(1, 3), size=st.integers(8, 12),
       eps=st.floats(0.0, 0.5), name=st.sampled_from(["fgsm", "pgd", "mifgsm"]), seed=st.integers(0, 10_000))
def test_results_stay_in_the_eps_ball_and_in_the_unit_interval(n, channels, size, eps, name, seed):
    torch.manual_seed(seed)
    model = SmallCNN(in_channels=channels, n_classes=3, width=2).eval()
    x = torch.rand(n, channels, size, size)
    x[0].view(-1)[0], x[-1].view(-1)[-1] = 0.0, 1.0  # values on the box's edges
    y = torch.randint(0, 3, (n,))
    x_adv = attacks.get_attack(name)(model, x, y, eps=eps)
    assert x_adv.shape == x.shape and not x_adv.requires_grad
    assert (x_adv - x).abs().max() <= eps + 1e-6
    assert x_adv.min() >= 0.0 and x_adv.max() <= 1.0


def test_attacks_also_take_time_series_and_flat_inputs():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(20, 3))
    x, y = torch.rand(5, 4, 5), torch.randint(0, 3, (5,))
    for name in attacks.ATTACKS:
        assert (attacks.get_attack(name)(model, x, y, eps=0.1) - x).abs().max() <= 0.1 + 1e-6


@pytest.mark.parametrize("name", ["fgsm", "pgd", "mifgsm"])
def test_eps_zero_returns_x_and_the_model_mode_is_restored(model, batch, name):
    x, y = batch
    model.train()
    assert torch.equal(attacks.get_attack(name)(model, x, y, eps=0.0), x)
    x_adv = attacks.get_attack(name)(model, x, y, eps=0.1)
    assert model.training and not x.requires_grad and not torch.equal(x_adv, x)


def test_pgd_random_start_is_seeded(model, batch):
    x, y = batch
    a = attacks.pgd(model, x, y, 0.1, generator=torch.Generator().manual_seed(0))
    b = attacks.pgd(model, x, y, 0.1, generator=torch.Generator().manual_seed(0))
    assert torch.equal(a, b)


def test_attacks_lower_the_accuracy_of_a_trained_model():
    from sgt_course.data import load_images
    from sgt_course.training import fit

    train, test = load_images("mnist5k", "train", 600), load_images("mnist5k", "test", 100)
    torch.manual_seed(0)
    model = SmallCNN(width=8)
    fit(model, train, epochs=4, batch_size=32, lr=3e-3, progress=False)
    curves = {name: robust_accuracy(model, test.x, test.y, name, (0.0, 0.1, 0.2), batch_size=64)
              for name in attacks.ATTACKS}
    for name, curve in curves.items():
        assert curve.at(0.0) > 0.7, "the model is trained"
        assert curve.at(0.2) < curve.at(0.1) < curve.at(0.0), f"{name} lowers accuracy as ε grows: {curve}"
    assert curves["pgd"].at(0.2) <= curves["fgsm"].at(0.2) + 0.02, "the iterative attack is at least as strong"


def test_adversarial_loss_is_ce_on_attacked_inputs(model, batch):
    x, y = batch
    attack = attacks.make_attack("fgsm", 0.1)
    expected = nn.functional.cross_entropy(model(attacks.fgsm(model, x, y, 0.1)), y)
    assert torch.allclose(adversarial_loss(model, x, y, attack=attack), expected)


@pytest.mark.parametrize("call, error, message", [
    (lambda m, x, y: attacks.fgsm(m, x, y, -0.1), ValueError, "eps must be a finite number >= 0; got -0.1"),
    (lambda m, x, y: attacks.pgd(m, x, y, 0.1, alpha=0.0), ValueError, "alpha must be > 0"),
    (lambda m, x, y: attacks.pgd(m, x, y, 0.1, steps=0), ValueError, "steps must be an int >= 1"),
    (lambda m, x, y: attacks.mifgsm(m, x, y, 0.1, decay=-1.0), ValueError, "decay must be a finite number >= 0"),
    (lambda m, x, y: attacks.fgsm(m, x * 2 + 0.1, y, 0.1), ValueError, r"x must lie in \[0, 1\]"),
    (lambda m, x, y: attacks.fgsm(m, x, y[:3], 0.1), ValueError, "one label per sample \\(8\\)"),
    (lambda m, x, y: attacks.fgsm(m, (x * 255).long(), y, 0.1), TypeError, "floating-point"),
    (lambda m, x, y: attacks.get_attack("cw"), ValueError, "attack must be one of fgsm, pgd, mifgsm"),
])
def test_bad_arguments(model, batch, call, error, message):
    with pytest.raises(error, match=message):
        call(model, *batch)
