"""The recorded claims that prose quotes: read back, phrased as ranges, and refused when missing or foreign."""

import json

import pytest

from sgt_course.recorded import RECORDS_ENV, across, recorded, recorded_profiles


@pytest.fixture
def records(tmp_path, monkeypatch):
    monkeypatch.setenv(RECORDS_ENV, str(tmp_path))
    saved = {"profile": "cpu", "run": {"date": "2026-12-01 18:00 UTC", "machine": "2 cores", "seeds": [0, 1, 2]},
             "results": {"6 · lead": {"2": 0.087, "0": -0.039, "1": 0.01}, "0/2 · clean accuracy, SGT": {"0": 0.953},
                         "6 · clean accuracy, ASGT": {"0": 0.941, "1": 0.953, "2": 0.947}},
             "intervals": {"6 · lead": {"0": [-0.06, -0.02], "1": [-0.01, 0.03], "2": [0.06, 0.11]},
                           "6 · clean accuracy, ASGT": {"0": [0.92, 0.96], "1": [0.94, 0.97], "2": [0.93, 0.96]}}}
    (tmp_path / "claims-cpu.json").write_text(json.dumps(saved))
    return tmp_path


def test_a_recorded_quantity_reads_as_a_range_over_seeds(records):
    cpu = recorded("cpu")
    assert cpu.values("6 · lead") == [-0.039, 0.01, 0.087], "in seed order"
    assert cpu.range("6 · lead") == "−3.9 to +8.7 points over 3 seeds"
    assert cpu.range("6 · clean accuracy, ASGT", unit="%", signed=False) == "94.1 to 95.3 % over 3 seeds"
    assert cpu.range("0/2 · clean accuracy, SGT", unit="%", signed=False) == "95.3 % (one seed)"
    assert cpu.mean("6 · clean accuracy, ASGT") == pytest.approx(0.947)
    assert [(i.estimate, i.low, i.high) for i in cpu.intervals("6 · lead")] == [
        (-0.039, -0.06, -0.02), (0.01, -0.01, 0.03), (0.087, 0.06, 0.11)], "each seed's value with its interval"
    with pytest.raises(KeyError, match="without intervals"):
        cpu.intervals("0/2 · clean accuracy, SGT")
    assert cpu.source() == "`sgt-course claims --profile cpu`, seeds 0, 1, 2, 2026-12-01 18:00 UTC, 2 cores"


def test_a_missing_quantity_or_record_says_what_there_is(records):
    with pytest.raises(KeyError, match="did you mean '6 · clean accuracy, ASGT'"):
        recorded("cpu").values("6 · clean accuracy, ASG")
    with pytest.raises(FileNotFoundError, match="sgt-course claims --profile gpu --record"):
        recorded("gpu")
    (records / "claims-ci.json").write_text(json.dumps({"profile": "cpu", "results": {}}))
    with pytest.raises(ValueError, match="not a claims record of the 'ci' profile"):
        recorded("ci")


def test_the_repository_records_cover_the_ci_and_cpu_profiles():
    """What the notebooks quote is there: both profiles recorded, with their run records."""
    for profile in ("ci", "cpu"):
        record = recorded(profile)
        assert {"date", "machine", "data", "seeds", "library"} <= record.run.keys()
        assert record.run["seeds"] == [0, 1, 2] and len(record.values("6 · clean accuracy, ASGT")) == 3


def test_a_difference_across_profiles_has_one_verdict_only_when_the_profiles_agree(records, capsys):
    found = recorded_profiles(("cpu", "gpu"))
    assert list(found) == ["cpu"] and "no recorded claims for gpu" in capsys.readouterr().out
    both = {"ci": found["cpu"], "cpu": found["cpu"]}
    assert across(both, "6 · clean accuracy, ASGT") == (
        "higher", "ci: +94.1 to +95.3 points over 3 seeds, each ±1.7; cpu: +94.1 to +95.3 points over 3 seeds, each ±1.7")
    assert across(both, "6 · lead")[0] == "undecided", "one seed's interval lies below 0, one contains it"
    no_difference = {"cpu": found["cpu"].__class__("cpu", {}, {"d": {0: 0.01, 1: -0.01}},
                                                    {"d": {0: (-0.02, 0.04), 1: (-0.03, 0.01)}})}
    assert across(no_difference, "d")[0] == "no difference"
    assert across(no_difference, "d", percent=False) == (
        "no difference", "cpu: −0.01 to +0.01 over 2 seeds, each ±0.03"), "a difference of ρ: no unit, two decimals"


def test_a_correlation_is_phrased_as_itself_not_as_a_percentage():
    from sgt_course.recorded import phrase

    assert phrase([0.286, 0.361, 0.36], signed=False, percent=False) == "0.29 to 0.36 over 3 seeds"
    assert phrase([-0.01], percent=False) == "−0.01 (one seed)"
