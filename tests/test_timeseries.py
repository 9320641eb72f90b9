"""The time-series benchmark generator, its models and the AUP/AUR metrics."""

import pytest
import torch

from sgt_course.data.timeseries import LAYOUTS, PROCESSES, make_benchmark
from sgt_course.losses import sgt_loss
from sgt_course.metrics import precision_recall, saliency_mass_mask, saliency_over_time
from sgt_course.models import build_timeseries_model


@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_shapes_balance_and_box_size(layout):
    data = make_benchmark(layout, n=40, seed=0)
    assert data.x.shape == (40, 50, 50) and data.mask.shape == (40, 50, 50) and data.x.dtype == torch.float32
    assert data.y.sum().item() == 20, "labels are balanced"
    spec = LAYOUTS[layout]
    assert (data.mask.flatten(1).sum(1) == spec.box_time * spec.box_features).all()
    rows = data.mask.any(2).sum(1)
    assert (rows == spec.box_time).all(), "the box spans box_time steps"


def test_fixed_layouts_put_the_box_where_the_benchmark_does():
    data = make_benchmark("rare_time", n=4, seed=0)
    assert torch.equal(data.mask[0].nonzero()[:, 0].unique(), torch.arange(22, 28))
    assert torch.equal(data.mask[0].nonzero()[:, 1].unique(), torch.arange(5, 45))


def test_the_box_carries_the_signal_with_the_class_sign():
    data = make_benchmark("middle", n=400, seed=1)
    inside = (data.x * data.mask).flatten(1).sum(1) / data.mask.flatten(1).sum(1)
    outside = (data.x * ~data.mask).flatten(1).sum(1) / (~data.mask).flatten(1).sum(1)
    assert inside[data.y == 1].mean() > 0.9 and inside[data.y == 0].mean() < -0.9
    assert outside.abs().mean() < 0.1, "outside the box there is only noise"


def test_positional_layouts_encode_the_class_in_the_position():
    data = make_benchmark("positional_time", n=40, seed=0)
    first_step = data.mask.any(2).float().argmax(1)
    assert set(first_step[data.y == 0].tolist()) == {1} and set(first_step[data.y == 1].tolist()) == {29}
    assert ((data.x * data.mask).sum() / data.mask.sum()) > 0.8, "both classes are shifted up"


def test_moving_layouts_move():
    data = make_benchmark("moving_middle", n=30, seed=0)
    assert len({tuple(m.nonzero()[0].tolist()) for m in data.mask}) > 5


@pytest.mark.parametrize("process", PROCESSES)
def test_processes_are_seeded_and_differ(process):
    a, b = make_benchmark("middle", process, n=6, seed=3), make_benchmark("middle", process, n=6, seed=3)
    assert torch.equal(a.x, b.x) and torch.equal(a.y, b.y)
    assert not torch.equal(a.x, make_benchmark("middle", process, n=6, seed=4).x)


def test_autoregressive_noise_is_correlated_in_time():
    x = make_benchmark("middle", "autoregressive", n=200, seed=0).x[:, :10, :10]  # outside the box
    lag1 = (x[:, 1:] * x[:, :-1]).mean() / (x * x).mean()
    assert lag1 > 0.8


@pytest.mark.parametrize("kwargs, message", [
    (dict(layout="diagonal"), "layout must be one of middle"),
    (dict(process="brownian"), "process must be one of gaussian, autoregressive, harmonic"),
    (dict(n=0), "n must be a positive int"),
    (dict(steps=5), "steps and features must be >= 10"),
    (dict(shift=0.0), "shift must be > 0"),
])
def test_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        make_benchmark(**kwargs)


@pytest.mark.parametrize("name", ["lstm", "tcn"])
def test_models_classify_series_and_train_with_sgt(name):
    torch.manual_seed(0)
    model = build_timeseries_model(name, features=12, hidden=8)
    x, y = torch.randn(4, 20, 12), torch.tensor([0, 1, 0, 1])
    assert model(x).shape == (4, 2)
    sgt_loss(model.train(), x, y).backward()
    with pytest.raises(ValueError, match="model must be one of lstm, tcn"):
        build_timeseries_model("gru", features=12)


def test_precision_recall_hand_computed():
    # 4 cells, ground truth {0, 1}; saliency rescales to [1, 0.5, 0.25, 0] (min-max of [4, 2, 1, 0]), mass 1.75.
    s = torch.tensor([[4.0, 2.0, 1.0, 0.0]])
    truth = torch.tensor([[True, True, False, False]])
    result = precision_recall(s, truth, thresholds=(0.25, 0.5, 0.75, 0.9))
    # the top cell holds 1/1.75 = 57 % of the mass: positive {0} up to p = 0.5, {0, 1} at 0.75 (86 %),
    # {0, 1, 2} at 0.9 (100 %); precision 1, 1, 1, 1.5/1.75; recall 1/1.5, 1/1.5, 1, 1
    assert result.precision == pytest.approx((1.0, 1.0, 1.0, 1.5 / 1.75))
    assert result.recall == pytest.approx((1 / 1.5, 1 / 1.5, 1.0, 1.0))
    # unnormalised trapezoids over p, as numpy.trapz
    assert result.aup == pytest.approx(0.25 * 1 + 0.25 * 1 + 0.15 * (1 + 1.5 / 1.75) / 2)
    assert result.aur == pytest.approx(0.25 * (1 / 1.5) + 0.25 * (1 / 1.5 + 1) / 2 + 0.15)
    with pytest.raises(ValueError, match="thresholds must be fractions"):
        precision_recall(s, truth, thresholds=(0.0,))


def _benchmark_positive(row: list[float], percentages: list[int]) -> list[set[int]]:
    """The time-series benchmark's getIndexOfAllhighestSalientValues, step by step (Python port)."""
    order = sorted(range(len(row)), key=lambda i: row[i])
    total, count, chosen = sum(row), 1, []
    for percentage in percentages:
        share = sum(row[i] for i in order[-count:]) / total
        while share < percentage / 100 and count < len(row) - 1:
            count += 1
            share = sum(row[i] for i in order[-count:]) / total
        chosen.append(set(order[-count:]))
    return chosen


def test_saliency_mass_mask_matches_the_benchmarks_walk():
    s = torch.rand(20, 30, generator=torch.Generator().manual_seed(0)) ** 3  # peaked maps
    percentages = list(range(10, 91, 10))
    for i, row in enumerate(s.tolist()):
        expected = _benchmark_positive(row, percentages)
        got = [set(saliency_mass_mask(s[i:i + 1], p / 100)[0].nonzero().flatten().tolist()) for p in percentages]
        assert got == expected


def test_random_maps_score_the_box_share():
    data = make_benchmark("middle", n=50, seed=0)
    result = precision_recall(torch.rand(data.x.shape, generator=torch.Generator().manual_seed(0)), data.mask)
    assert result.aup == pytest.approx(0.36 * 0.8, abs=0.02)  # precision ≈ the box's share at every p


def test_saliency_over_time_sums_to_one():
    profile = saliency_over_time(torch.rand(3, 7, 5))
    assert profile.shape == (7,) and profile.sum().item() == pytest.approx(1.0)
    with pytest.raises(ValueError, match=r"\(N, steps, features\)"):
        saliency_over_time(torch.rand(3, 7))
