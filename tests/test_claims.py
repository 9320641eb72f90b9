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
    for name in ("standard", "SGT", "PGD-AT", "PGD-AT+CE", "ASGT"):
        assert numbers[f"6 · gradient masking suspected, {name}"] in (0.0, 1.0)
        assert f"6 · {name}" in worst_attacks
        assert 0 <= numbers[f"6 · share of the top gradient pixels on the digit, {name}"] <= 1
        assert numbers[f"6 · epochs trained, {name}"] == 1.0
    for control in ("2 · SGT's ROAD-gap lead over random-mask SGT, linear fill",
                    "2 · random ranking at 50%, SGT minus random-mask SGT, uniform fill",
                    "0/2 · clean accuracy, random-mask SGT", "6 · PGD-AT+CE's ROAD-gap lead over PGD-AT, linear fill",
                    "6 · worst case at ε = 0.2, ASGT minus PGD-AT+CE",
                    "6 · PGD-AT's ROAD-gap lead over standard, linear fill"):
        assert control in numbers
    assert numbers["6 · worst case at ε = 0.2, ASGT minus PGD-AT"] == pytest.approx(
        numbers["6 · worst-case accuracy at ε = 0.2, ASGT"] - numbers["6 · worst-case accuracy at ε = 0.2, PGD-AT"])
    assert "6 · clean accuracy, SGA" in numbers, "the mask-then-attack variant is measured too"


def test_the_command_writes_its_table_and_json(measured, monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(claims.recipes, "get_profile", lambda name: TOY)
    monkeypatch.setattr(claims, "measure", lambda profile, seed, device: measured)
    monkeypatch.setenv("SGT_COURSE_RECORDS", str(tmp_path / "records"))
    (tmp_path / "records").mkdir()
    assert claims.main(["--profile", "ci", "--seeds", "0", "--json", str(tmp_path / "c.json"), "--record"]) == 0
    out = capsys.readouterr().out
    assert "| notebook · quantity | seed 0 | mean | spread |" in out and "| 6 · ASGT | " in out
    written = json.loads((tmp_path / "c.json").read_text())
    assert written["profile"] == "ci" and written["worst_attacks"]["5 · SGT"]["0"]
    assert written == json.loads((tmp_path / "records" / "claims-ci.json").read_text())
    assert written["run"]["seeds"] == [0] and "cores" in written["run"]["machine"] and written["run"]["library"]
    from sgt_course.recorded import recorded
    assert recorded("ci").values("6 · clean accuracy, ASGT") == [measured[0]["6 · clean accuracy, ASGT"]]


def test_the_model_tables_give_every_model_a_row_and_every_measured_quantity_a_column(measured, tmp_path, capsys):
    numbers, worst_attacks = measured
    tables = claims.model_tables({q: {0: v} for q, v in numbers.items()})
    notebook2, notebook6 = tables.split("Notebook 6")
    assert "| random-mask SGT |" in notebook2 and "ROAD gap, linear fill" in notebook2
    header = notebook6.splitlines()[2]
    for column in ("epochs trained", "clean accuracy", "PGD-10 accuracy", "worst case", "ROAD gap, uniform fill",
                   "random ranking at 50 %, linear fill", "top gradient pixels on the digit"):
        assert column in header
    assert "| PGD-AT+CE | 1.0 (one seed) |" in notebook6
    (tmp_path / "c.json").write_text(json.dumps({"results": {q: {"0": v} for q, v in numbers.items()}}))
    assert claims.main(["--tables-from", str(tmp_path / "c.json")]) == 0
    assert capsys.readouterr().out.strip() == tables
