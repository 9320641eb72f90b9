"""Removal curves and the fair removal study: every curve they promise, their summaries computed from
the curves, the paper's Fig. 3 with its settings, and clear errors."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from sgt_course.removal import (
    REMOVAL_SETTINGS,
    RemovalCurve,
    figure3_curves,
    removal_curve,
    removal_gap,
    removal_study,
    remove_features,
)
from sgt_course.stats import interval_verdict

FRACTIONS = (0.0, 0.25, 0.5)


def _pixel_model(weights: torch.Tensor) -> nn.Module:
    """A linear classifier over the 16 pixels of 4x4 images (2 classes): its gradient is its weights."""
    model = nn.Sequential(nn.Flatten(), nn.Linear(16, 2))
    with torch.no_grad():
        model[1].weight.copy_(weights)
        model[1].bias.zero_()
    return model.eval()


@pytest.fixture
def setting():
    torch.manual_seed(0)
    x = torch.rand(12, 1, 4, 4)
    y = torch.randint(0, 2, (12,))
    models = {seed: {"standard": _pixel_model(torch.randn(2, 16)), "SGT": _pixel_model(torch.randn(2, 16))}
              for seed in (3, 7)}
    return models, x, y


def test_the_study_holds_both_orders_and_the_random_control_for_every_seed_model_and_fill(setting):
    models, x, y = setting
    study = removal_study(models, x, y, "gradient", ("uniform", "linear"), FRACTIONS, progress=False)
    assert (study.seeds, study.models, study.fills) == ((3, 7), ("standard", "SGT"), ("uniform", "linear"))
    assert len(study.curves) == 2 * 2 * 2 * 3
    curve = study.curve(7, "SGT", "linear", order="lerf")
    expected = removal_curve(models[7]["SGT"], x, y, "gradient", FRACTIONS, "linear", "lerf",
                             generator=torch.Generator().manual_seed(7))
    assert curve.accuracy == expected.accuracy and (curve.order, curve.fill) == ("lerf", "linear")
    assert study.curve(3, "standard", "uniform", ranking="random").method == "random"


def test_the_summaries_are_per_seed_and_computed_from_the_curves(setting):
    models, x, y = setting
    study = removal_study(models, x, y, "gradient", ("zero",), FRACTIONS, progress=False)
    gaps = [removal_gap(study.curve(s, "SGT", "zero"), study.curve(s, "SGT", "zero", order="lerf")) for s in (3, 7)]
    assert study.gap("SGT", "zero") == gaps
    assert study.lead("SGT", "standard", "zero") == [a - b for a, b in zip(gaps, study.gap("standard", "zero"))]
    assert study.at("standard", "zero", 0.5) == [study.curve(s, "standard", "zero").at(0.5) for s in (3, 7)]
    table = study.table(fractions=(0.25, 0.5)).splitlines()
    assert table[0].startswith("| fill | model | MoRF 25 % | MoRF 50 % | LeRF 25 % | LeRF 50 %")
    assert [line.split(" | ")[:2] for line in table[2:]] == [["| zero", "standard"], ["| zero", "SGT"]]


def test_the_intervals_come_from_the_images_each_curve_kept(setting):
    """The per-image outcomes reproduce every accuracy, the image gaps average to the gap, and a model
    compared with itself differs by exactly 0 (so "no difference") while the table shows ± half-widths."""
    models, x, y = setting
    study = removal_study(models, x, y, "gradient", ("zero",), FRACTIONS, progress=False)
    curve = study.curve(3, "SGT", "zero")
    assert curve.correct.shape == (len(FRACTIONS), 12) and curve.correct.dtype == torch.bool
    assert [curve.outcomes(f).float().mean().item() for f in FRACTIONS] == pytest.approx(list(curve.accuracy))
    assert curve.interval(0.5).low <= curve.at(0.5) <= curve.interval(0.5).high
    gaps = study.gap_intervals("SGT", "zero")
    assert [g.estimate for g in gaps] == pytest.approx(study.gap("SGT", "zero"))
    leads = study.lead_intervals("SGT", "standard", "zero")
    assert [i.estimate for i in leads] == pytest.approx(study.lead("SGT", "standard", "zero"))
    assert all(i.low <= i.estimate <= i.high for i in leads)
    itself = study.lead_intervals("SGT", "SGT", "zero")
    assert interval_verdict(itself) == "no difference" and all(i.high - i.low == 0 for i in itself)
    change = removal_study(models, x, y, "gradient", ("zero", "linear"), FRACTIONS, progress=False)
    expected = [u - f for u, f in zip(change.lead("SGT", "standard", "zero"), change.lead("SGT", "standard", "linear"))]
    assert [i.estimate for i in change.lead_change_intervals("SGT", "standard", "zero", "linear")] == pytest.approx(
        expected)
    randoms = study.random_difference_intervals("SGT", "standard", "zero")
    assert [i.estimate for i in randoms] == pytest.approx(study.random_difference("SGT", "standard", "zero"))
    assert study.table(fractions=(0.25, 0.5)).count("±") == 2 * 6, "each of the six cells of both rows shows its half-width"
    with pytest.raises(ValueError, match="built without its per-image outcomes"):
        RemovalCurve((0.0,), (1.0,), "gradient").interval(0.0)


def test_the_two_models_of_a_seed_see_the_same_random_ranking(setting):
    models, x, y = setting
    same = {seed: {"a": by_name["standard"], "b": by_name["standard"]} for seed, by_name in models.items()}
    study = removal_study(same, x, y, "gradient", ("uniform",), FRACTIONS, progress=False)
    for seed in (3, 7):
        assert (study.curve(seed, "a", "uniform", ranking="random").accuracy
                == study.curve(seed, "b", "uniform", ranking="random").accuracy)


@pytest.mark.parametrize("change, message", [
    (lambda m: {}, "at least one seed"),
    (lambda m: {3: m[3], 7: {"standard": m[7]["standard"]}}, "every seed must have the same models"),
])
def test_bad_models_are_refused(setting, change, message):
    models, x, y = setting
    with pytest.raises(ValueError, match=message):
        removal_study(change(models), x, y, progress=False)


def test_bad_fills_and_missing_curves_are_explained(setting):
    models, x, y = setting
    with pytest.raises(ValueError, match="fills must be a non-empty selection of uniform, zero, mean, background, linear"):
        removal_study(models, x, y, fills=("blur",), progress=False)
    with pytest.raises(ValueError, match="fills must be a non-empty selection"):
        removal_study(models, x, y, fills=(), progress=False)
    study = removal_study(models, x, y, fills=("zero",), fractions=FRACTIONS, progress=False)
    with pytest.raises(KeyError, match="fills \\('zero',\\)"):
        study.curve(3, "SGT", "linear")


def test_the_figures_draw_every_fill_both_orders_and_every_model(setting):
    import matplotlib

    matplotlib.use("Agg")
    from sgt_course.plots import gap_bars, removal_study_panels

    models, x, y = setting
    study = removal_study(models, x, y, fills=("uniform", "zero", "linear"), fractions=FRACTIONS, progress=False)
    panels = removal_study_panels(study)
    assert len(panels.axes) == 2 * 3
    assert [ax.get_title() for ax in panels.axes[:3]] == ["fill: uniform", "fill: zero", "fill: linear"]
    assert len(panels.axes[0].get_lines()) == 2 * 2, "per model: its ranking and its random ranking"
    bars = gap_bars(study)
    heights = [patch.get_height() for patch in bars.axes[0].patches]
    expected = [100 * sum(study.gap(m, f)) / 2 for m in study.models for f in study.fills]
    assert heights == pytest.approx(expected)


def test_random_difference_is_the_control_at_one_fraction(setting):
    models, x, y = setting
    study = removal_study(models, x, y, "gradient", ("zero",), FRACTIONS, progress=False)
    expected = [a - b for a, b in zip(study.at("SGT", "zero", 0.5, ranking="random"),
                                      study.at("standard", "zero", 0.5, ranking="random"))]
    assert study.random_difference("SGT", "standard", "zero") == expected


@pytest.mark.parametrize("settings", list(REMOVAL_SETTINGS))
def test_figure3_curves_follow_their_settings(setting, settings):
    by_seed, x, y = setting
    x = x.double()
    models = {name: model.double() for name, model in by_seed[3].items()}
    methods = ("gradient", "integrated_gradients", "smoothgrad")
    curves = figure3_curves(models, x, y, settings, methods, FRACTIONS, seed=5)
    assert (curves.methods, curves.models, curves.settings) == (methods, ("standard", "SGT"), settings)
    chosen = REMOVAL_SETTINGS[settings]
    every = [curves.curve(name, m) for m in methods for name in curves.models] + [curves.random(n) for n in curves.models]
    assert {curve.fill for curve in every} == {chosen.fill}
    assert {curves.random(name).method for name in curves.models} == {"random"}
    assert curves.ranking_gap("SGT", "smoothgrad", 0.5) == curves.random("SGT").at(0.5) - curves.curve("SGT", "smoothgrad").at(0.5)
    # every curve is removal_curve with the settings' fill, baseline and SmoothGrad options
    generator = torch.Generator().manual_seed(5)
    baseline = None
    if chosen.ig_baseline is not None:
        low, high = chosen.ig_baseline
        baseline = (low + (high - low) * torch.rand(x.shape, generator=generator)).to(x)
    expected = removal_curve(models["SGT"], x, y, "integrated_gradients", FRACTIONS, chosen.fill,
                             generator=generator, baseline=baseline)
    assert curves.curve("SGT", "integrated_gradients").accuracy == expected.accuracy
    expected = removal_curve(models["standard"], x, y, "smoothgrad", FRACTIONS, chosen.fill,
                             generator=torch.Generator().manual_seed(5), **chosen.smoothgrad)
    assert curves.curve("standard", "smoothgrad").accuracy == expected.accuracy
    expected = removal_curve(models["SGT"], x, y, "random", FRACTIONS, chosen.fill, generator=torch.Generator().manual_seed(5))
    assert curves.random("SGT").accuracy == expected.accuracy
    with pytest.raises(ValueError, match="method must be one of gradient, integrated_gradients, smoothgrad; got 'random'"):
        curves.curve("SGT", "random")
    with pytest.raises(ValueError, match="model must be one of standard, SGT; got 'ASGT'"):
        curves.random("ASGT")
    with pytest.raises(ValueError, match="settings must be one of authors, course; got 'mine'"):
        figure3_curves(models, x, y, "mine")


def test_authors_ig_baseline_is_uniform_on_the_standardised_inputs_their_models_read():
    # the authors draw U(0, 1) after Normalize(0.1307, 0.3081): its ends map back to these pixel values
    low, high = REMOVAL_SETTINGS["authors"].ig_baseline
    assert (low - 0.1307) / 0.3081 == pytest.approx(0.0)
    assert (high - 0.1307) / 0.3081 == pytest.approx(1.0)
    assert REMOVAL_SETTINGS["course"].ig_baseline is None


def test_removal_curve_removes_the_decisive_feature_first():
    model = nn.Linear(4, 2)
    with torch.no_grad():
        model.weight.copy_(torch.tensor([[5.0, 0.1, 0.1, 0.1], [0.0, 0.0, 0.0, 0.0]]))
        model.bias.copy_(torch.tensor([0.0, 1.0]))
    x = torch.ones(64, 4)
    y = torch.zeros(64, dtype=torch.long)
    curve = removal_curve(model, x, y, "gradient", fractions=(0.0, 0.25, 0.5), fill="zero")
    assert curve.accuracy == (1.0, 0.0, 0.0) and curve.at(0.25) == 0.0
    assert curve.area() == pytest.approx(1 / 3)
    random = removal_curve(model, x, y, "random", fractions=(0.0, 0.25), fill="zero",
                           generator=torch.Generator().manual_seed(0))
    assert 0.5 < random.at(0.25) < 0.95, "a random ranking removes the decisive feature a quarter of the time"
    with pytest.raises(ValueError, match="fraction must be one of"):
        curve.at(0.3)
    with pytest.raises(ValueError, match=r"fractions must be a fraction of the features in \[0, 1\)"):
        removal_curve(model, x, y, "gradient", fractions=(0.0, 1.0))
    with pytest.raises(ValueError, match="same batch size"):
        removal_curve(model, x, y[:3], "gradient")


@pytest.fixture(scope="module")
def mnist_model():
    from sgt_course.data import load_images
    from sgt_course.models import build_model
    from sgt_course.training import fit

    torch.manual_seed(0)
    train = load_images("mnist5k", "train", 2000)
    model = build_model("small_cnn", width=16)
    fit(model, train, epochs=3, batch_size=64, lr=3e-3, progress=False)
    test = load_images("mnist5k", "test", 128)
    return model.eval(), test.x, test.y


@pytest.mark.parametrize("fill", ["linear", "zero", "uniform"])
def test_lerf_lies_above_morf_for_a_trained_model_ranked_by_its_gradient(mnist_model, fill):
    model, x, y = mnist_model
    fractions = (0.0, 0.2, 0.5)
    curves = {order: removal_curve(model, x, y, "gradient", fractions, fill, order,
                                   generator=torch.Generator().manual_seed(0)) for order in ("morf", "lerf")}
    assert curves["morf"].accuracy[0] == curves["lerf"].accuracy[0] > 0.85, "nothing removed: the clean accuracy"
    assert curves["lerf"].at(0.2) > curves["morf"].at(0.2) and curves["lerf"].at(0.5) > curves["morf"].at(0.5)
    assert removal_gap(curves["morf"], curves["lerf"]) > 0
    assert (curves["lerf"].order, curves["lerf"].fill) == ("lerf", fill)


def test_removal_curve_and_gap_refuse_bad_arguments(mnist_model):
    model, x, y = mnist_model
    with pytest.raises(ValueError, match="order must be one of morf, lerf; got 'both'"):
        removal_curve(model, x, y, "gradient", order="both")
    with pytest.raises(ValueError, match="fill must be one of uniform, zero, mean, background, linear; got 'blur'"):
        removal_curve(model, x, y, "gradient", (0.0, 0.5), "blur")
    with pytest.raises(ValueError, match="sigma must be a finite number >= 0"):
        removal_curve(model, x, y, "gradient", (0.0, 0.5), "linear", sigma=-1.0)
    morf = RemovalCurve((0.0, 0.5), (1.0, 0.2), "gradient", "morf")
    with pytest.raises(ValueError, match="a MoRF and a LeRF curve, in that order"):
        removal_gap(morf, morf)
    with pytest.raises(ValueError, match="share their fractions"):
        removal_gap(morf, RemovalCurve((0.0, 0.3), (1.0, 0.9), "gradient", "lerf"))


@pytest.mark.parametrize("fill", ["linear", "uniform"])
def test_remove_features_gives_the_inputs_of_one_point_of_the_removal_curve(mnist_model, fill):
    model, x, y = mnist_model
    curve = removal_curve(model, x, y, "gradient", (0.3,), fill, generator=torch.Generator().manual_seed(0))
    removed = remove_features(model, x, y, "gradient", 0.3, fill, generator=torch.Generator().manual_seed(0))
    assert removed.shape == x.shape
    assert (removed != x).flatten(1).any(1).float().mean() > 0.9, "nearly every image changed"
    assert (model(removed).argmax(1) == y).float().mean().item() == pytest.approx(curve.at(0.3))


def test_remove_features_in_chunks_removes_the_same_pixels(mnist_model):
    model, x, y = mnist_model
    whole = remove_features(model, x, y, "gradient", 0.5, "zero")
    chunked = remove_features(model, x, y, "gradient", 0.5, "zero", batch_size=50)
    assert torch.equal(whole, chunked)
    assert ((whole == 0) | (whole == x)).all(), "zero fill: a pixel is either kept or zero"


def test_remove_features_takes_no_model_only_for_a_random_ranking(mnist_model):
    _, x, y = mnist_model
    removed = remove_features(None, x, y, "random", 0.25, "zero", generator=torch.Generator().manual_seed(0))
    assert ((removed == 0) & (x != 0)).flatten(1).sum(1).max() <= round(0.25 * 784)
    with pytest.raises(ValueError, match="a model is needed to rank features by 'gradient'"):
        remove_features(None, x, y, "gradient", 0.25)
    with pytest.raises(ValueError, match=r"fraction must be a fraction of the features in \[0, 1\)"):
        remove_features(None, x, y, "random", 1.0)


def test_figure3_s_differences_are_paired_over_the_same_images(setting):
    models, x, y = setting
    curves = figure3_curves(models[3], x, y, "course", ("gradient",))
    gap = curves.ranking_gap_interval("SGT")
    assert gap.estimate == pytest.approx(curves.ranking_gap("SGT")) and gap.low <= gap.estimate <= gap.high
    difference = curves.difference("SGT", "standard", "random", 0.5)
    assert difference.estimate == pytest.approx(curves.random("SGT").at(0.5) - curves.random("standard").at(0.5))
    both = curves.ranking_gap_difference("SGT", "standard")
    assert both.estimate == pytest.approx(curves.ranking_gap("SGT") - curves.ranking_gap("standard"))
    itself = curves.ranking_gap_difference("SGT", "SGT")
    assert (itself.low, itself.high) == (0.0, 0.0)
