"""`sgt-course claims` at toy size: every notebook's quantities, the audit's among them, for each seed."""

import json

import pytest

from sgt_course.recipes import PROFILES, AuditBudget
from sgt_course.tools import claims

TOY = PROFILES["ci"].scaled(n_train=128, n_test=32, n_explain=8, n_robust=64, epochs=1, robust_epochs=1,
                            robust_steps=2, batch_size=64, audit=AuditBudget(images=8, steps=3, restarts=2,
                                                                             targets=1, queries=10))


@pytest.fixture(scope="module")
def measured(tmp_path_factory):
    with pytest.MonkeyPatch.context() as patch:  # its own cache: the per-test one is not there yet
        patch.setenv("SGT_COURSE_CACHE", str(tmp_path_factory.mktemp("cache")))
        return claims.measure(TOY, 0, "cpu")


def test_every_notebook_is_measured_and_every_audited_model_named(measured):
    numbers, worst_attacks = measured
    assert {q.split(" · ")[0] for q in numbers} == {"0/2", "1", "2", "5", "6"}
    for name in ("standard", "SGT"):
        assert 0 <= numbers[f"5 · worst-case accuracy at ε = 0.2, {name}"] <= numbers[
            f"5 · PGD-10 accuracy at ε = 0.2 (audit), {name}"]
    for name in ("standard", "SGT", "PGD-AT", "ASGT"):
        assert numbers[f"6 · gradient masking suspected, {name}"] in (0.0, 1.0)
        assert f"6 · {name}" in worst_attacks
    assert numbers["6 · worst case at ε = 0.2, ASGT minus PGD-AT"] == pytest.approx(
        numbers["6 · worst-case accuracy at ε = 0.2, ASGT"] - numbers["6 · worst-case accuracy at ε = 0.2, PGD-AT"])
    assert "6 · clean accuracy, SGA" in numbers, "the mask-then-attack variant is measured too"


def test_the_command_writes_its_table_and_json(measured, monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(claims.recipes, "get_profile", lambda name: TOY)
    monkeypatch.setattr(claims, "measure", lambda profile, seed, device: measured)
    assert claims.main(["--profile", "ci", "--seeds", "0", "--json", str(tmp_path / "c.json")]) == 0
    out = capsys.readouterr().out
    assert "| notebook · quantity | seed 0 | mean | spread |" in out and "| 6 · ASGT | " in out
    written = json.loads((tmp_path / "c.json").read_text())
    assert written["profile"] == "ci" and written["worst_attacks"]["5 · SGT"]["0"]
