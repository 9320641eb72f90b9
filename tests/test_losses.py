import math

import pytest
import torch
from torch import nn

from sgt_course.attacks import make_attack
from sgt_course.losses import REGIMES, regime_loss, sgt_loss, standard_loss
from sgt_course.models import SmallCNN


def tiny_linear():
    model = nn.Linear(4, 3)
    with torch.no_grad():
        model.weight.copy_(torch.tensor([[1.0, -2.0, 0.5, 0.1], [0.0, 1.0, -1.0, 3.0], [2.0, 0.2, 0.3, -0.4]]))
        model.bias.copy_(torch.tensor([0.1, -0.2, 0.3]))
    return model


def log_softmax(z):
    m = max(z)
    lse = m + math.log(sum(math.exp(v - m) for v in z))
    return [v - lse for v in z]


def test_sgt_loss_equals_a_hand_computation():
    model = tiny_linear()
    x = torch.tensor([[0.5, 0.2, 0.9, 0.4], [0.1, 0.8, 0.3, 0.6]])
    y = torch.tensor([0, 2])
    W = model.weight.tolist()
    b = model.bias.tolist()
    expected = 0.0
    for xi, yi in zip(x.tolist(), y.tolist()):
        # For a linear model ∂f(x)_c/∂x = W[c]: saliency |W[c]|; k = 0.5 masks the 2 lowest, zero fill.
        scores = [abs(w) for w in W[yi]]
        lowest = sorted(range(4), key=lambda j: scores[j])[:2]
        masked = [0.0 if j in lowest else v for j, v in enumerate(xi)]
        clean = [sum(W[c][j] * xi[j] for j in range(4)) + b[c] for c in range(3)]
        dirty = [sum(W[c][j] * masked[j] for j in range(4)) + b[c] for c in range(3)]
        lp, lq = log_softmax(clean), log_softmax(dirty)
        ce = -lp[yi]
        kl = sum(math.exp(lp[c]) * (lp[c] - lq[c]) for c in range(3))
        expected += (ce + 0.7 * kl) / 2
    loss = sgt_loss(model, x, y, k=0.5, lam=0.7, fill="zero")
    assert loss.item() == pytest.approx(expected, rel=1e-6)


def test_lambda_zero_is_standard_training_and_clean_output_gets_kl_gradient():
    torch.manual_seed(0)
    model = SmallCNN(width=4).train()
    x, y = torch.rand(8, 1, 28, 28), torch.randint(0, 10, (8,))
    torch.manual_seed(1)
    a = sgt_loss(model.eval(), x, y, lam=0.0)
    b = standard_loss(model, x, y)
    assert torch.allclose(a, b)
    # The clean output is not detached: the KL term alone has a gradient through f(X).
    model.eval()
    clean = model(x)
    clean.retain_grad()
    from sgt_course.losses import kl_divergence

    kl_divergence(clean, model(torch.rand_like(x))).backward()
    assert clean.grad is not None and clean.grad.abs().sum() > 0


def test_saliency_is_taken_in_eval_mode_and_the_mode_is_restored(monkeypatch):
    torch.manual_seed(0)
    model = SmallCNN(width=4).train()
    modes = []
    from sgt_course import losses

    real = losses.attribute

    def spy(method, net, x, y, **kw):
        modes.append(net.training)
        return real(method, net, x, y, **kw)

    monkeypatch.setattr(losses, "attribute", spy)
    sgt_loss(model, torch.rand(4, 1, 28, 28), torch.tensor([0, 1, 2, 3]))
    assert modes == [False] and model.training


def test_reuse_forward_saves_one_forward_pass():
    torch.manual_seed(0)
    model = SmallCNN(width=4).train()
    calls = []
    model.register_forward_hook(lambda *args: calls.append(1))
    x, y = torch.rand(4, 1, 28, 28), torch.tensor([0, 1, 2, 3])
    sgt_loss(model, x, y).backward()
    faithful = len(calls)
    calls.clear()
    sgt_loss(model, x, y, reuse_forward=True).backward()
    assert (faithful, len(calls)) == (3, 2)


@pytest.mark.parametrize("kwargs, message", [
    (dict(k=1.0), r"k must be a fraction of the features in \[0, 1\)"),
    (dict(lam=-1.0), "lam must be a finite number >= 0"),
    (dict(saliency="lime"), "method must be one of"),
    (dict(reuse_forward=True, saliency="smoothgrad"), "reuse_forward only works with saliency='gradient'"),
])
def test_sgt_loss_rejects_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        sgt_loss(SmallCNN(width=4), torch.rand(2, 1, 28, 28), torch.tensor([0, 1]), **kwargs)


def test_sgt_loss_rejects_mismatched_batches():
    with pytest.raises(ValueError, match="same batch size; got 2 and 3"):
        sgt_loss(SmallCNN(width=4), torch.rand(2, 1, 28, 28), torch.tensor([0, 1, 2]))


def test_asgt_loss_equals_a_hand_computation_with_a_deterministic_attack():
    from sgt_course.losses import asgt_loss

    model = tiny_linear()
    x = torch.tensor([[0.5, 0.2, 0.9, 0.4], [0.1, 0.8, 0.3, 0.6]])
    y = torch.tensor([0, 2])
    shift = torch.tensor([[0.1, -0.1, 0.1, -0.1], [-0.1, 0.1, 0.1, 0.1]])

    def attack(net, inputs, labels):  # deterministic: a fixed δ inside the ε-ball, clipped to [0, 1]
        return (inputs + shift).clamp(0, 1)

    W, b = model.weight.tolist(), model.bias.tolist()

    def logits(v):
        return [sum(W[c][j] * v[j] for j in range(4)) + b[c] for c in range(3)]

    expected = 0.0
    for xi, yi, di in zip(x.tolist(), y.tolist(), shift.tolist()):
        adv = [min(1.0, max(0.0, v + d)) for v, d in zip(xi, di)]
        # Saliency of X' for class y under a linear model is |W[y]|: k = 0.5 zeroes its 2 lowest.
        lowest = sorted(range(4), key=lambda j: abs(W[yi][j]))[:2]
        adv_masked = [0.0 if j in lowest else v for j, v in enumerate(adv)]
        lc, la, lm = log_softmax(logits(xi)), log_softmax(logits(adv)), log_softmax(logits(adv_masked))
        kl = sum(math.exp(lm[c]) * (lm[c] - lc[c]) for c in range(3))  # KL(f(X̃') ‖ f(X))
        expected += (-lc[yi] - la[yi] + 0.4 * kl) / 2
    loss = asgt_loss(model, x, y, k=0.5, lam=0.4, attack=attack, fill="zero")
    assert loss.item() == pytest.approx(expected, rel=1e-6)


def test_asgt_order_option_really_changes_the_order(monkeypatch):
    from sgt_course import losses

    torch.manual_seed(0)
    model = SmallCNN(width=4)
    x, y = torch.rand(4, 1, 28, 28), torch.tensor([0, 1, 2, 3])
    events = []

    def attack(net, inputs, labels):
        events.append(("attack", "masked" if (inputs == 0).flatten(1).sum(1).min() >= 392 else "clean"))
        return inputs

    real_mask = losses.mask_bottom_k

    def spy_mask(inputs, scores, k, **kwargs):
        events.append(("mask", None))
        return real_mask(inputs, scores, k, **kwargs)

    monkeypatch.setattr(losses, "mask_bottom_k", spy_mask)
    losses.asgt_loss(model, x, y, attack=attack, fill="zero")
    first = list(events)
    events.clear()
    losses.asgt_loss(model, x, y, attack=attack, fill="zero", order="mask_then_attack")
    assert first == [("attack", "clean"), ("mask", None)]
    assert events == [("mask", None), ("attack", "masked")]


@pytest.mark.parametrize("kwargs, message", [
    (dict(k=-0.5), r"k must be a fraction"),
    (dict(lam=-0.1), "lam must be a finite number >= 0"),
    (dict(order="sideways"), "order must be one of attack_then_mask, mask_then_attack"),
])
def test_asgt_loss_rejects_bad_arguments(kwargs, message):
    from sgt_course.losses import asgt_loss

    with pytest.raises(ValueError, match=message):
        asgt_loss(SmallCNN(width=4), torch.rand(2, 1, 28, 28), torch.tensor([0, 1]), **kwargs)


def test_asgt_loss_trains():
    from sgt_course.attacks import make_attack
    from sgt_course.losses import asgt_loss

    torch.manual_seed(0)
    model = SmallCNN(width=4).train()
    x, y = torch.rand(16, 1, 28, 28), torch.randint(0, 10, (16,))
    loss = asgt_loss(model, x, y, attack=make_attack("pgd", 0.1, steps=2))
    loss.backward()
    assert loss.item() > 0 and all(p.grad is not None for p in model.parameters())
    assert model.training


def test_signed_ranking_masks_the_most_negative_gradients_not_the_smallest_magnitudes():
    from sgt_course.losses import masked_by_saliency

    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(4, 2))
    with torch.no_grad():
        model[1].weight.copy_(torch.tensor([[-3.0, 0.1, 2.0, -0.2], [0.0, 0.0, 0.0, 0.0]]))
        model[1].bias.zero_()
    x, y = torch.full((1, 1, 2, 2), 0.5), torch.tensor([0])  # the zero fill shows which pixels were masked
    masked = {signed: masked_by_saliency(model, x, y, 0.5, fill="zero", signed=signed) for signed in (False, True)}
    # |gradient| = 3, 0.1, 2, 0.2: the two smallest are pixels 1 and 3; signed = -3, 0.1, 2, -0.2: pixels 0 and 3
    assert (masked[False].flatten() == 0).tolist() == [False, True, False, True]
    assert (masked[True].flatten() == 0).tolist() == [True, False, False, True]
    assert torch.isfinite(sgt_loss(model, x, y, 0.5, 1.0, signed=True))
    with pytest.raises(ValueError, match="signed=True ranks the signed gradient; it needs saliency='gradient'"):
        sgt_loss(model, x, y, signed=True, saliency="smoothgrad")


def test_the_authors_channel_mean_lets_opposite_channels_cancel():
    from sgt_course.losses import masked_by_saliency

    # two channels, two pixels; class-0 gradient: pixel 0 = (+1, -1), pixel 1 = (0.5, 0.5)
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(4, 2))
    with torch.no_grad():
        model[1].weight.copy_(torch.tensor([[1.0, 0.5, -1.0, 0.5], [0.0, 0.0, 0.0, 0.0]]))
        model[1].bias.zero_()
    x, y = torch.full((1, 2, 1, 2), 0.5), torch.tensor([0])
    masked = {how: masked_by_saliency(model, x, y, 0.5, fill="zero", channels=how) for how in ("max", "mean_signed")}
    # max |s|: pixel 0 scores 1, pixel 1 scores 0.5 -> pixel 1 masked; |mean s|: 0 and 0.5 -> pixel 0 masked
    assert (masked["max"][0, :, 0] == 0).tolist() == [[False, True], [False, True]]
    assert (masked["mean_signed"][0, :, 0] == 0).tolist() == [[True, False], [True, False]]
    with pytest.raises(ValueError, match="channels must be one of max, mean, mean_signed; got 'median'"):
        sgt_loss(model, x, y, channels="median")


@pytest.mark.parametrize("regime, settings, message", [
    ("sgt", {"lamda": 1.0}, "regime 'sgt' has no setting 'lamda'; its settings are k, lam, "),
    ("asgt", {"k": 0.5, "stpes": 10}, "attack 'pgd' has no setting 'stpes'; its settings are alpha, steps, "),
    ("adversarial", {"attack": "fgsm", "eps": 0.1, "steps": 3}, "attack 'fgsm' has no setting 'steps'"),
    ("standard", {"k": 0.5}, "regime 'standard' has no settings; got 'k'"),
])
def test_a_misspelt_setting_fails_when_it_is_given(regime, settings, message):
    with pytest.raises(TypeError, match=message):
        regime_loss(regime, **settings)


def test_every_regime_makes_a_loss_from_its_settings():
    torch.manual_seed(0)
    model, x, y = SmallCNN(width=4), torch.rand(4, 1, 28, 28), torch.tensor([0, 1, 2, 3])
    settings = {"standard": {}, "sgt": {"k": 0.3, "lam": 0.5}, "adversarial": {"attack": "pgd", "eps": 0.1, "steps": 2},
                "asgt": {"k": 0.3, "lam": 0.5, "order": "mask_then_attack", "attack": "fgsm", "eps": 0.1}}
    assert set(settings) == set(REGIMES)
    for regime, given in settings.items():
        loss = regime_loss(regime, **given)(model, x, y)
        assert loss.ndim == 0 and torch.isfinite(loss), regime
    with pytest.raises(ValueError, match="regime must be one of standard, sgt, adversarial, asgt; got 'sga'"):
        regime_loss("sga")
    with pytest.raises(TypeError, match="attack 'mifgsm' has no setting 'random_start'"):
        make_attack("mifgsm", 0.1, random_start=False)


def test_asgt_with_lambda_zero_is_pgd_training_plus_a_clean_term_and_skips_the_masked_passes(monkeypatch):
    from sgt_course import losses

    model = tiny_linear()
    x, y = torch.tensor([[0.5, 0.2, 0.9, 0.4], [0.1, 0.8, 0.3, 0.6]]), torch.tensor([0, 2])
    shift = torch.tensor([[0.1, -0.1, 0.1, -0.1], [-0.1, 0.1, 0.1, 0.1]])

    def attack(net, inputs, labels):
        return (inputs + shift).clamp(0, 1)

    expected = (torch.nn.functional.cross_entropy(model(x), y)
                + torch.nn.functional.cross_entropy(model(attack(model, x, y)), y))
    monkeypatch.setattr(losses, "masked_by_saliency", lambda *a, **k: pytest.fail("λ = 0 needs no mask"))
    for order in losses.ORDERS:
        loss = losses.asgt_loss(model, x, y, lam=0.0, attack=attack, order=order)
        assert loss.item() == pytest.approx(expected.item(), rel=1e-6)


def test_sgt_with_a_random_ranking_masks_k_of_the_pixels_at_random_not_the_least_salient():
    """The noise-augmentation control: the same objective and fill, the masked pixels drawn at random."""
    from sgt_course.losses import masked_by_saliency

    torch.manual_seed(0)
    model = SmallCNN(width=4).eval()
    x, y = torch.rand(6, 1, 28, 28) * 0.5 + 0.5, torch.arange(6)
    guided = masked_by_saliency(model, x, y, 0.5, fill="zero") == 0
    torch.manual_seed(1)
    first = masked_by_saliency(model, x, y, 0.5, saliency="random", fill="zero") == 0
    second = masked_by_saliency(model, x, y, 0.5, saliency="random", fill="zero") == 0
    assert (first.flatten(1).sum(1) == 392).all() and (guided.flatten(1).sum(1) == 392).all()
    overlap = (first & guided).flatten(1).sum(1).float() / 392
    assert overlap.mean() == pytest.approx(0.5, abs=0.06), "random picks share half of the guided ones by chance"
    assert not torch.equal(first, second), "each call draws new pixels"
    loss = sgt_loss(model.train(), x, y, saliency="random")
    assert loss.ndim == 0 and torch.isfinite(loss)


def test_without_mode_dependent_layers_reusing_the_forward_pass_computes_the_same_loss():
    """What notebook 2 (section 6) shows with the small CNN, which has no dropout or batch norm: train and eval
    mode are one function, so the reused forward pass gives SGT's loss to rounding."""
    from sgt_course.models import mode_dependent_layers

    torch.manual_seed(0)
    model = SmallCNN(width=4).train()
    assert not mode_dependent_layers(model)
    x, y = torch.rand(16, 1, 28, 28), torch.randint(0, 10, (16,))
    both = [sgt_loss(model, x, y, reuse_forward=reuse, generator=torch.Generator().manual_seed(0)).item()
            for reuse in (False, True)]
    assert both[0] == pytest.approx(both[1], abs=1e-5)
