"""The fair removal study: every curve it promises, its summaries computed from them, clear errors."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from sgt_course.metrics import removal_curve, removal_gap, spread
from sgt_course.removal_study import REMOVAL_SETTINGS, figure3_curves, removal_study

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
    assert (study.seeds, study.models, study.imputations) == ((3, 7), ("standard", "SGT"), ("uniform", "linear"))
    assert len(study.curves) == 2 * 2 * 2 * 3
    curve = study.curve(7, "SGT", "linear", order="lerf")
    expected = removal_curve(models[7]["SGT"], x, y, "gradient", FRACTIONS, "linear", "lerf",
                             generator=torch.Generator().manual_seed(7))
    assert curve.accuracy == expected.accuracy and (curve.order, curve.imputation) == ("lerf", "linear")
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


def test_the_two_models_of_a_seed_see_the_same_random_ranking(setting):
    models, x, y = setting
    same = {seed: {"a": by_name["standard"], "b": by_name["standard"]} for seed, by_name in models.items()}
    study = removal_study(same, x, y, "gradient", ("uniform",), FRACTIONS, progress=False)
    for seed in (3, 7):
        assert (study.curve(seed, "a", "uniform", ranking="random").accuracy
                == study.curve(seed, "b", "uniform", ranking="random").accuracy)


def test_spread_is_the_mean_and_the_range():
    assert spread([0.5, 0.6, 0.7]) == "60.0 (50.0–70.0)"
    assert spread([2.0], percent=False) == "2.0 (one seed)"
    with pytest.raises(ValueError, match="at least one number"):
        spread([])


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
    with pytest.raises(ValueError, match="imputations must be a non-empty selection of uniform, zero, mean, linear"):
        removal_study(models, x, y, imputations=("blur",), progress=False)
    study = removal_study(models, x, y, imputations=("zero",), fractions=FRACTIONS, progress=False)
    with pytest.raises(KeyError, match="imputations \\('zero',\\)"):
        study.curve(3, "SGT", "linear")


def test_the_figures_draw_every_fill_both_orders_and_every_model(setting):
    import matplotlib

    matplotlib.use("Agg")
    from sgt_course.plots import gap_bars, removal_study_panels

    models, x, y = setting
    study = removal_study(models, x, y, imputations=("uniform", "zero", "linear"), fractions=FRACTIONS, progress=False)
    panels = removal_study_panels(study)
    assert len(panels.axes) == 2 * 3
    assert [ax.get_title() for ax in panels.axes[:3]] == ["fill: uniform", "fill: zero", "fill: linear"]
    assert len(panels.axes[0].get_lines()) == 2 * 2, "per model: its ranking and its random ranking"
    bars = gap_bars(study)
    heights = [patch.get_height() for patch in bars.axes[0].patches]
    expected = [100 * sum(study.gap(m, f)) / 2 for m in study.models for f in study.imputations]
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
    curves = figure3_curves(models, x, y, settings, ("gradient", "integrated_gradients", "smoothgrad"), FRACTIONS, seed=5)
    assert list(curves) == ["Gradient", "Integrated Gradients", "SmoothGrad"]
    chosen = REMOVAL_SETTINGS[settings]
    for by_model in curves.values():
        assert list(by_model) == ["standard", "SGT", "standard, random ranking", "SGT, random ranking"]
        assert {curve.imputation for curve in by_model.values()} == {chosen.imputation}
    # every curve is removal_curve with the settings' fill, baseline and SmoothGrad options
    generator = torch.Generator().manual_seed(5)
    baseline = torch.rand(x.shape, generator=generator).to(x) if chosen.ig_baseline == "random" else None
    expected = removal_curve(models["SGT"], x, y, "integrated_gradients", FRACTIONS, chosen.imputation,
                             generator=generator, baseline=baseline)
    assert curves["Integrated Gradients"]["SGT"].accuracy == expected.accuracy
    expected = removal_curve(models["standard"], x, y, "smoothgrad", FRACTIONS, chosen.imputation,
                             generator=torch.Generator().manual_seed(5), **chosen.smoothgrad)
    assert curves["SmoothGrad"]["standard"].accuracy == expected.accuracy
    with pytest.raises(ValueError, match="settings must be one of authors, course; got 'mine'"):
        figure3_curves(models, x, y, "mine")
