"""Saliency maps: agreement with Captum, batch independence, mode and requires_grad restored, bad input."""

import pytest
import torch
from torch import nn

from sgt_course import saliency
from sgt_course.models import SmallCNN

captum_attr = pytest.importorskip("captum.attr")


@pytest.fixture
def model():
    torch.manual_seed(0)
    return SmallCNN(in_channels=2, n_classes=5, width=4).eval().double()


@pytest.fixture
def x():
    torch.manual_seed(1)
    return torch.rand(6, 2, 12, 12, dtype=torch.float64)


TARGET = torch.tensor([0, 1, 2, 3, 4, 0])


def test_gradient_matches_captum_saliency(model, x):
    for absolute in (True, False):
        expected = captum_attr.Saliency(model).attribute(x.clone().requires_grad_(), target=TARGET, abs=absolute)
        assert torch.allclose(saliency.gradient(model, x, TARGET, abs=absolute), expected, atol=1e-12)


def test_input_x_gradient_matches_captum(model, x):
    expected = captum_attr.InputXGradient(model).attribute(x.clone().requires_grad_(), target=TARGET).detach()
    assert torch.allclose(saliency.input_x_gradient(model, x, TARGET), expected, atol=1e-12)


@pytest.mark.parametrize("steps", [2, 7, 32])
def test_integrated_gradients_matches_captum_riemann_right(model, x, steps):
    expected = captum_attr.IntegratedGradients(model).attribute(x, target=TARGET, n_steps=steps, method="riemann_right")
    assert torch.allclose(saliency.integrated_gradients(model, x, TARGET, steps=steps), expected, atol=1e-10)


def test_integrated_gradients_with_one_step_is_the_gradient_at_x_times_x(model, x):
    expected = x * saliency.gradient(model, x, TARGET, abs=False)
    assert torch.allclose(saliency.integrated_gradients(model, x, TARGET, steps=1), expected, atol=1e-12)


def test_integrated_gradients_with_a_baseline_and_chunks(model, x):
    baseline = torch.full_like(x, 0.5)
    expected = captum_attr.IntegratedGradients(model).attribute(
        x, baselines=baseline, target=TARGET, n_steps=16, method="riemann_right")
    ours = saliency.integrated_gradients(model, x, TARGET, baseline=baseline, steps=16, internal_batch_size=4)
    assert torch.allclose(ours, expected, atol=1e-10)


def test_integrated_gradients_completeness(model, x):
    """With many steps the attributions sum to f(x)_c − f(baseline)_c (Sundararajan et al.'s axiom)."""
    ig = saliency.integrated_gradients(model, x, TARGET, steps=512)
    with torch.no_grad():
        gap = model(x).gather(1, TARGET[:, None]).squeeze(1) - model(torch.zeros_like(x)).gather(1, TARGET[:, None]).squeeze(1)
    assert torch.allclose(ig.flatten(1).sum(1), gap, atol=2e-2 * gap.abs().max().item() + 1e-3)


def test_smoothgrad_matches_captum_noise_tunnel_with_the_same_noise(model, x):
    x = x.clone()
    x[:, 0, 0, 0], x[:, 0, 0, 1] = 0.0, 1.0  # every sample spans [0, 1], so relative sigma = absolute sigma
    torch.manual_seed(42)
    expected = captum_attr.NoiseTunnel(captum_attr.Saliency(model)).attribute(
        x, nt_type="smoothgrad", nt_samples=8, stdevs=0.2, target=TARGET)
    ours = saliency.smoothgrad(model, x, TARGET, samples=8, sigma=0.2, generator=torch.Generator().manual_seed(42))
    assert torch.allclose(ours, expected, atol=1e-10)


def test_squared_smoothgrad_matches_captum_smoothgrad_sq(model, x):
    x = x.clone()
    x[:, 0, 0, 0], x[:, 0, 0, 1] = 0.0, 1.0
    torch.manual_seed(42)
    expected = captum_attr.NoiseTunnel(captum_attr.Saliency(model)).attribute(
        x, nt_type="smoothgrad_sq", nt_samples=5, stdevs=0.31, target=TARGET)
    ours = saliency.smoothgrad(model, x, TARGET, samples=5, sigma=0.31, squared=True,
                               generator=torch.Generator().manual_seed(42))
    assert torch.allclose(ours, expected, atol=1e-10)


def test_smoothgrad_with_zero_noise_is_the_gradient(model, x):
    ours = saliency.smoothgrad(model, x, TARGET, samples=3, sigma=0.0, internal_batch_size=2)
    assert torch.allclose(ours, saliency.gradient(model, x, TARGET))


@pytest.mark.parametrize("method", ["gradient", "input_x_gradient", "integrated_gradients"])
def test_batch_of_one_equals_the_sample_inside_a_batch(model, x, method):
    full = saliency.attribute(method, model, x, TARGET)
    one = saliency.attribute(method, model, x[3:4], TARGET[3:4])
    assert torch.allclose(full[3:4], one, atol=1e-12)


def test_seeded_smoothgrad_of_one_sample_equals_its_row_when_the_noise_is_the_same(model, x):
    full = saliency.smoothgrad(model, x[:1], TARGET[:1], generator=torch.Generator().manual_seed(0))
    again = saliency.smoothgrad(model, x[:2], TARGET[:2], generator=torch.Generator().manual_seed(0))
    assert torch.allclose(full, again[:1], atol=1e-12), "sample 0's noise comes first in the batch's draw"


@pytest.mark.parametrize("method", list(saliency.METHODS))
def test_mode_requires_grad_and_parameter_grads_are_left_alone(model, x, method):
    for training in (True, False):
        model.train(training)
        for requires_grad in (True, False):
            inputs = x.clone().requires_grad_(requires_grad)
            out = saliency.attribute(method, model, inputs, 1)
            assert out.shape == x.shape and not out.requires_grad
            assert model.training == training and inputs.requires_grad == requires_grad and inputs.grad is None
    assert all(p.grad is None for p in model.parameters())


def test_seeded_methods_repeat(model, x):
    a = saliency.smoothgrad(model, x, 0, generator=torch.Generator().manual_seed(3))
    b = saliency.smoothgrad(model, x, 0, generator=torch.Generator().manual_seed(3))
    assert torch.equal(a, b)
    r = saliency.random_saliency(model, x, 0, generator=torch.Generator().manual_seed(3))
    assert r.shape == x.shape and 0 <= r.min() and r.max() < 1


def test_reducers():
    s = torch.tensor([[[[1.0, -2.0]], [[-3.0, 0.5]]]])  # (1, 2, 1, 2)
    assert torch.equal(saliency.per_pixel(s), torch.tensor([[[[3.0, 2.0]]]]))
    assert torch.equal(saliency.per_pixel(s, "mean"), torch.tensor([[[[2.0, 1.25]]]]))
    assert torch.equal(saliency.per_pixel(s, "mean_signed"), torch.tensor([[[[1.0, 0.75]]]]))
    assert torch.equal(saliency.per_token(torch.ones(2, 5, 3)), torch.full((2, 5), 3.0))


@pytest.mark.parametrize("call, error, message", [
    (lambda m, x: saliency.gradient(m, x, 5), ValueError, r"target must hold class indices 0 to 4 \(the model has 5 outputs\); got 5"),
    (lambda m, x: saliency.gradient(m, x, -1), ValueError, r"target must hold class indices 0 to 4 .*; got -1"),
    (lambda m, x: saliency.gradient(m, x, torch.tensor([0, 1])), ValueError, "one class per sample \\(6\\)"),
    (lambda m, x: saliency.gradient(m, x, torch.zeros(6)), TypeError, "integer tensor"),
    (lambda m, x: saliency.gradient(m, x.long(), 0), TypeError, "floating-point"),
    (lambda m, x: saliency.gradient(m, x.numpy(), 0), TypeError, "torch.Tensor"),
    (lambda m, x: saliency.integrated_gradients(m, x, 0, steps=0), ValueError, "steps must be an int >= 1; got 0"),
    (lambda m, x: saliency.smoothgrad(m, x, 0, sigma=-0.1), ValueError, "sigma must be a finite number >= 0"),
    (lambda m, x: saliency.smoothgrad(m, x, 0, samples=0), ValueError, "samples must be an int >= 1"),
    (lambda m, x: saliency.attribute("lime", m, x, 0), ValueError, "method must be one of gradient, "),
    (lambda m, x: saliency.per_pixel(x, "median"), ValueError, "how must be one of max, mean, mean_signed; got 'median'"),
    (lambda m, x: saliency.per_token(x), ValueError, r"shape \(N, tokens, embedding\)"),
])
def test_bad_input_names_the_argument(model, x, call, error, message):
    with pytest.raises(error, match=message):
        call(model, x)


def test_non_logit_models_are_rejected(x):
    with pytest.raises(ValueError, match="logits of shape"):
        saliency.gradient(nn.Flatten(0), x, 0)
