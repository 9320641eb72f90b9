"""`sgt-course claims` at toy size: every notebook's quantities, the audit's among them, for each seed."""

import json

import pytest

from sgt_course.recipes import PROFILES, AuditBudget
from sgt_course.stats import Interval
from sgt_course.tools import claims

TOY = PROFILES["ci"].scaled(n_train=128, n_test=32, n_explain=8, n_robust=64, epochs=1, robust_epochs=1,
                            robust_steps=2, batch_size=64, audit=AuditBudget(images=8, steps=3, restarts=2,
                                                                             targets=1, queries=10))


@pytest.fixture(scope="module")
def measured(tmp_path_factory):
    with pytest.MonkeyPatch.context() as patch:  # its own cache: the per-test one is not there yet
        patch.setenv("SGT_COURSE_CACHE", str(tmp_path_factory.mktemp("cache")))
        return claims.measure(TOY, 0, "cpu")


def _value(measured: float | Interval) -> float:
    return measured.estimate if isinstance(measured, Interval) else measured


def test_every_notebook_is_measured_and_every_audited_model_named(measured):
    intervals, worst_attacks = measured
    numbers = {q: _value(v) for q, v in intervals.items()}
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
    for quantity in ("0/2 · clean accuracy, SGT", "6 · worst case at ε = 0.2, ASGT minus PGD-AT",
                     "6 · clean accuracy, PGD-AT+CE minus PGD-AT", "6 · PGD accuracy at ε = 0.2, ASGT minus SGA",
                     "6 · share of the top gradient pixels on the digit, PGD-AT minus standard",
                     "2 · SGT's ROAD-gap lead over random-mask SGT, linear fill", "2 · ROAD gap, linear fill, SGT"):
        interval = intervals[quantity]
        assert isinstance(interval, Interval) and interval.low <= interval.estimate <= interval.high, quantity
    assert not isinstance(intervals["6 · epochs trained, ASGT"], Interval), "a count has no interval"


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
    asgt = measured[0]["6 · clean accuracy, ASGT"]
    assert recorded("ci").intervals("6 · clean accuracy, ASGT") == [asgt], "read back with its interval"
    assert claims.main(["--summary"]) == 0
    summary = capsys.readouterr().out
    assert summary.startswith("### `ci` profile\n\nRecorded by `sgt-course claims --profile ci`, seeds 0")
    assert "| 6 · worst case at ε = 0.2, ASGT minus PGD-AT | " in summary and "±" in summary
    verdicts = [line.split(" | ")[1] for line in summary.splitlines() if " minus " in line and line.startswith("| ")]
    assert verdicts and set(verdicts) <= {"higher", "lower", "no difference", "undecided"}


def test_the_model_tables_give_every_model_a_row_and_every_measured_quantity_a_column(measured, tmp_path, capsys):
    numbers, worst_attacks = measured
    values = {q: {0: _value(v)} for q, v in numbers.items()}
    bounds = {q: {0: (v.low, v.high)} for q, v in numbers.items() if isinstance(v, Interval)}
    tables = claims.model_tables(values, bounds)
    notebook2, notebook6 = tables.split("Notebook 6")
    assert "| random-mask SGT |" in notebook2 and "ROAD gap, linear fill" in notebook2
    header = notebook6.splitlines()[2]
    for column in ("epochs trained", "clean accuracy", "PGD-10 accuracy", "worst case", "ROAD gap, uniform fill",
                   "random ranking at 50 %, linear fill", "top gradient pixels on the digit"):
        assert column in header
    assert "| PGD-AT+CE | 1.0 (one seed) | " in notebook6 and notebook6.count("±") >= 5 * 6, "intervals beside values"
    (tmp_path / "c.json").write_text(json.dumps({"results": {q: {"0": v[0]} for q, v in values.items()},
                                                 "intervals": {q: {"0": b[0]} for q, b in bounds.items()}}))
    assert claims.main(["--tables-from", str(tmp_path / "c.json")]) == 0
    assert capsys.readouterr().out.strip() == tables


def test_results_md_holds_the_summary_of_the_recorded_claims():
    """RESULTS.md's claims section is the summary of benchmarks/claims-*.json, written by the command:
    re-recording the claims without rewriting it fails here."""
    from pathlib import Path

    results = Path(__file__).resolve().parents[1] / "benchmarks" / "RESULTS.md"
    start, end = claims.SUMMARY_MARKERS
    block = results.read_text(encoding="utf-8").split(start, 1)[1].split(end, 1)[0]
    assert block.strip() == claims.summary().strip(), "run `sgt-course claims --summary-into benchmarks/RESULTS.md`"


def test_write_summary_replaces_only_the_marked_block(tmp_path):
    start, end = claims.SUMMARY_MARKERS
    page = tmp_path / "r.md"
    page.write_text(f"# top\n{start}\nold\n{end}\n## after\n")
    claims.write_summary(page)
    text = page.read_text()
    assert text.startswith(f"# top\n{start}\n\n### `ci` profile") and text.endswith(f"{end}\n## after\n")
    assert "old" not in text
    (tmp_path / "bare.md").write_text("# nothing marked\n")
    with pytest.raises(ValueError, match="must hold the lines"):
        claims.write_summary(tmp_path / "bare.md")
