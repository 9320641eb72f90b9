"""The shared experiments: CIFAR-10 parts of the gpu profile, run at toy size on files in CIFAR-10's format."""

from pathlib import Path

import nbformat
import pytest
import torch

from sgt_course import experiments
from sgt_course.experiments import image_data, image_model, regime_summary, robust_models
from sgt_course.recipes import PROFILES, cifar_profile, robust_profile
from sgt_course.removal import removal_curve
from sgt_course.robustness import robustness_curves
from sgt_course.runtime import cache_dir


def test_only_the_gpu_profile_runs_cifar10():
    assert [p.name for p in PROFILES.values() if p.cifar10] == ["gpu"]


def test_cifar_profile_swaps_the_data_and_the_model_and_keeps_the_sizes():
    gpu = PROFILES["gpu"]
    cifar = cifar_profile(gpu)
    assert (cifar.image_dataset, cifar.image_model, cifar.width) == ("cifar10", "cifar_resnet", 16)
    assert cifar.scaled(image_dataset=gpu.image_dataset, image_model=gpu.image_model, width=gpu.width) == gpu


def test_in_the_cpu_and_gpu_profiles_notebook_6_trains_until_a_held_out_plateau():
    """There notebook 6's regimes stop on held-out scores, so they are not notebook 5's fixed-epoch models;
    the ci profile keeps its short fixed recipe."""
    for name in ("cpu", "gpu"):
        profile = PROFILES[name]
        assert profile.robust_plateau is not None and robust_profile(profile).epochs == profile.robust_epochs >= 12
    assert PROFILES["ci"].robust_plateau is None


def test_robust_model_holds_out_images_and_stops_on_the_score_its_regime_optimises():
    from sgt_course.data import load_images
    from sgt_course.experiments import robust_model
    from sgt_course.recipes import Plateau

    profile = PROFILES["ci"].scaled(width=4, batch_size=32, n_robust=96, robust_epochs=3, robust_steps=2,
                                    robust_plateau=Plateau(held_out=32, patience=1))
    train, test = load_images("mnist5k", "train", 200), load_images("mnist5k", "test", 40)
    models, histories = {}, {}
    for name in ("standard", "PGD-AT+CE"):
        models[name], histories[name] = robust_model(profile, name, train, test, progress=False)
    for history in histories.values():
        assert set(history.held_out) == {"clean accuracy", "PGD accuracy"} and 1 <= history.epochs <= 3
        assert history.best_epoch is not None and len(history.held_out["PGD accuracy"]) == history.epochs
    configs = [torch.load(p, weights_only=True)["config"] for p in (cache_dir() / "checkpoints").glob("*.pt")]
    stops = {c["regime"]: c["early_stopping"] for c in configs if "early_stopping" in c and c["n_train"] == 64}
    assert stops["standard"]["monitor"] == "clean accuracy" and stops["asgt"]["monitor"] == "PGD accuracy"
    assert stops["asgt"]["held_out"] == 32 and stops["asgt"]["eps"] == 0.2
    assert [c["settings"]["lam"] for c in configs if c["regime"] == "asgt" and c["n_train"] == 64] == [0.0]
    with pytest.raises(ValueError, match="cannot hold out 200 of 96"):
        robust_model(profile.scaled(robust_plateau=Plateau(held_out=200, patience=1)), "standard", train, test)


def test_the_cifar10_parts_at_toy_size(cifar_root, monkeypatch):
    monkeypatch.setenv("SGT_COURSE_DATA", str(cifar_root))
    toy = PROFILES["ci"].scaled(n_train=None, n_test=None, n_robust=None, epochs=1, robust_epochs=1, lr=1e-3,
                                batch_size=8, cifar10=True)
    cifar = cifar_profile(toy)
    train, test = image_data(cifar)
    assert train.source == "cifar10" and train.x.shape == (20, 3, 32, 32) and len(test) == 4

    standard, _ = image_model(cifar, "standard", train, test, progress=False)  # notebook 5
    image_model(cifar, "sgt", train, test, progress=False, k=0.5, lam=1.0)
    trained, real_fit = [], experiments.fit

    def spy(*args, **options):
        trained.append(options["desc"])
        return real_fit(*args, **options)

    monkeypatch.setattr(experiments, "fit", spy)
    models, histories = robust_models(cifar, train, test, progress=False)       # notebook 6
    assert trained == ["adversarial training", "asgt training", "asgt training"], "standard and SGT: the cache"
    assert all(torch.equal(a, b) for a, b in zip(models["standard"].parameters(), standard.parameters()))

    eps = (0.0, 0.02, round(8 / 255, 4))
    curves = robustness_curves(models, test.x, test.y, eps)
    removal = {name: removal_curve(model, test.x, test.y, "gradient") for name, model in models.items()}
    summary = regime_summary(models, histories, test, curves["PGD"], removal, 0.02)
    assert list(summary) == ["standard", "SGT", "PGD-AT", "PGD-AT+CE", "ASGT"]
    for row in summary.values():
        assert list(row) == ["clean accuracy", "PGD accuracy, ε=0.02", "removal-curve area (gradient) ↓",
                             "seconds per epoch"]
        clean, attacked, area = row["clean accuracy"], row["PGD accuracy, ε=0.02"], row["removal-curve area (gradient) ↓"]
        assert 0 <= clean.low <= clean.estimate <= clean.high <= 1 and 0 <= attacked.low <= attacked.high <= 1
        assert area.low <= area.estimate <= area.high and row["seconds per epoch"] > 0
    assert summary["ASGT"]["removal-curve area (gradient) ↓"].estimate == pytest.approx(removal["ASGT"].area())
    assert summary["SGT"]["PGD accuracy, ε=0.02"].estimate == pytest.approx(curves["PGD"]["SGT"].at(0.02))


def test_regime_summary_needs_the_eps_it_was_measured_at(cifar_root, monkeypatch):
    monkeypatch.setenv("SGT_COURSE_DATA", str(cifar_root))
    cifar = cifar_profile(PROFILES["ci"].scaled(epochs=1, n_train=None, n_test=None))
    train, test = image_data(cifar)
    model, history = image_model(cifar, "standard", train, test, progress=False)
    curves = robustness_curves({"standard": model}, test.x, test.y, (0.0, 0.1), attacks=("pgd",))
    removal = {"standard": removal_curve(model, test.x, test.y, "gradient")}
    with pytest.raises(ValueError, match="eps must be one of"):
        regime_summary({"standard": model}, {"standard": history}, test, curves["PGD"], removal, 0.02)


NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


@pytest.mark.parametrize("notebook", ["05_adversarial_attacks", "06_adversarial_saliency_guided_training"])
def test_the_gpu_profiles_cifar10_cell_runs_at_toy_size(notebook, cifar_root, monkeypatch, capsys):
    """The CIFAR-10 cell of notebooks 5 and 6 runs only in the gpu profile, so nbval (ci profile) never
    takes its branch: run that cell here with a toy profile that has ``cifar10`` set."""
    import matplotlib.pyplot as plt

    from sgt_course import plots, recipes, removal, robustness

    monkeypatch.setenv("SGT_COURSE_DATA", str(cifar_root))
    cells = nbformat.read(NOTEBOOKS / f"{notebook}.ipynb", as_version=4).cells
    (source,) = [c.source for c in cells if c.cell_type == "code" and "if profile.cifar10:" in c.source]
    toy = PROFILES["ci"].scaled(n_train=None, n_test=None, n_robust=None, epochs=1, robust_epochs=1, lr=1e-3,
                                batch_size=8, n_explain=4, cifar10=True)
    from IPython.display import Markdown, display

    namespace = {"profile": toy, "device": torch.device("cpu"), "torch": torch,  # what earlier cells define
                 "Markdown": Markdown, "display": display,
                 **{name: getattr(module, name) for module, names in [
                     (experiments, ["image_data", "image_model", "robust_models", "regime_summary", "regime_table"]),
                     (recipes, ["PAPER_SGT"]), (removal, ["removal_curve"]),
                     (robustness, ["robustness_curves", "robustness_table"]),
                     (plots, ["robustness_panels", "plot_removal_curves", "summary_bars"])] for name in names}}
    exec(compile(source, f"{notebook}.ipynb", "exec"), namespace)
    plt.close("all")
    out = capsys.readouterr().out
    assert "PGD      standard" in out and "gpu profile" not in out
    regimes = {"standard", "SGT", "PGD-AT", "PGD-AT+CE", "ASGT"} if "06" in notebook else {"standard", "SGT"}
    assert set(namespace["cifar_robustness"]["PGD"]) == regimes


def test_roar_retrains_once_per_ranker_and_loads_from_the_cache_after(capsys):
    from sgt_course.data import load_images
    from sgt_course.experiments import roar_accuracy
    from sgt_course.models import build_model

    profile = PROFILES["ci"].scaled(epochs=1, width=8)
    train, test = load_images("mnist5k", "train", 200), load_images("mnist5k", "test", 50)
    torch.manual_seed(0)
    ranker = build_model("small_cnn", width=8)
    rankers = {"gradient": ranker, "random": None}
    first = roar_accuracy(profile, rankers, train, test, 0.5, progress=False)
    assert list(first) == ["gradient", "random"] and all(0 <= a.low <= a.estimate <= a.high <= 1 for a in first.values())
    assert capsys.readouterr().out.count("trained ") == 2
    assert roar_accuracy(profile, rankers, train, test, 0.5, progress=False) == first
    assert "trained " not in capsys.readouterr().out
    with torch.no_grad():
        next(ranker.parameters()).add_(1.0)
    roar_accuracy(profile, {"gradient": ranker}, train, test, 0.5, progress=False)
    assert capsys.readouterr().out.count("trained ") == 1, "new ranker weights: a new removal, a new model"


def test_every_profile_has_three_seeds_for_notebook_2_and_roar_only_outside_ci():
    assert all(p.seeds == (0, 1, 2) for p in PROFILES.values())
    assert PROFILES["ci"].roar_fractions == () and all(PROFILES[p].roar_fractions for p in ("cpu", "gpu"))
    assert PROFILES["ci"].robust_seeds == (0,) and PROFILES["cpu"].robust_seeds == (0, 1, 2)
