"""Recipes: the run profiles and the papers' settings, each written once."""

import pytest
import torch

from sgt_course import recipes
from sgt_course.recipes import PAPER_SGT, PROFILES, cifar_profile, default_profile_name, robust_profile, robust_regimes


def test_profile_from_environment(monkeypatch):
    monkeypatch.setenv("SGT_COURSE_PROFILE", "ci")
    assert recipes.get_profile().name == "ci"
    assert recipes.get_profile("cpu").name == "cpu"


def test_profile_detected_when_unset(monkeypatch):
    monkeypatch.delenv("SGT_COURSE_PROFILE", raising=False)
    expected = "gpu" if torch.cuda.is_available() else "cpu"
    assert recipes.get_profile().name == expected


def test_unknown_profile_names_the_choices(monkeypatch):
    with pytest.raises(ValueError, match="profile must be one of ci, cpu, gpu; got 'fast'"):
        recipes.get_profile("fast")
    monkeypatch.setenv("SGT_COURSE_PROFILE", "laptop")
    with pytest.raises(ValueError, match="'laptop'"):
        recipes.get_profile()


def test_profiles_scale_up():
    ci, cpu, gpu = (recipes.PROFILES[n] for n in ("ci", "cpu", "gpu"))
    assert ci.image_dataset == "mnist5k", "the ci profile runs offline, on real MNIST digits"
    assert ci.n_train is None and cpu.n_train == 12000 and gpu.n_train is None, "ci: all 4,000 of MNIST-5k"
    assert ci.n_robust < cpu.n_robust and gpu.n_robust is None
    assert ci.robust_steps < cpu.robust_steps == gpu.robust_steps == 10
    assert ci.scaled(epochs=1).epochs == 1 and ci.epochs != 1


def test_the_default_profile_is_the_environment_s_else_the_machine_s(monkeypatch):
    monkeypatch.setenv("SGT_COURSE_PROFILE", "ci")
    assert default_profile_name() == "ci"
    monkeypatch.delenv("SGT_COURSE_PROFILE")
    assert default_profile_name() == ("gpu" if torch.cuda.is_available() else "cpu") == recipes.get_profile().name


def test_the_paper_s_settings_are_the_defaults_of_the_regimes():
    assert (PAPER_SGT.k, PAPER_SGT.lam) == (0.5, 1.0)
    regimes = robust_regimes(0.2)
    assert regimes["SGT"] == ("sgt", {"k": 0.5, "lam": 1.0})
    assert regimes["ASGT"][1] == {"k": 0.5, "lam": 1.0, "attack": "pgd", "eps": 0.2, "steps": 10}
    assert regimes["PGD-AT+CE"] == ("asgt", {**regimes["ASGT"][1], "lam": 0.0}), "ASGT without its masked term"


def test_plateau_settings_are_checked():
    from sgt_course.recipes import Plateau

    with pytest.raises(ValueError, match="patience must be a positive int"):
        Plateau(held_out=10, patience=0)


def test_derived_profiles_take_their_sizes_from_the_profile():
    cpu = PROFILES["cpu"]
    assert (robust_profile(cpu).epochs, robust_profile(cpu).lr) == (cpu.robust_epochs, cpu.robust_lr)
    assert robust_profile(cpu.scaled(robust_lr=3e-3)).lr == 3e-3
    assert cifar_profile(cpu).width == cpu.cifar_width == 16
    assert cifar_profile(cpu.scaled(cifar_width=8)).width == 8


def test_planted_reviews_need_a_size():
    with pytest.raises(ValueError, match="planted reviews need n_text"):
        PROFILES["ci"].scaled(n_text=None)
    assert PROFILES["gpu"].n_text is None and PROFILES["gpu"].text_dataset == "movies"
