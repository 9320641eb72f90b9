"""Numbers over seeds, and tables."""

import pytest

from sgt_course.stats import judged, spread, verdict
from sgt_course.tables import markdown_table


def test_spread_is_the_mean_and_the_range():
    assert spread([0.5, 0.6, 0.7]) == "60.0 (50.0–70.0)"
    assert spread([2.0], percent=False) == "2.0 (one seed)"
    with pytest.raises(ValueError, match="at least one number"):
        spread([])


def test_markdown_table_writes_a_header_a_rule_and_a_line_per_row():
    assert markdown_table(["fill", "gap"], [["zero", 0.5], ["linear", "60.0 (55.0–65.0)"]]).splitlines() == [
        "| fill | gap |", "|---|---|", "| zero | 0.5 |", "| linear | 60.0 (55.0–65.0) |"]
    with pytest.raises(ValueError, match="row 1 has 1 cells; the header has 2 columns"):
        markdown_table(["a", "b"], [["x", "y"], ["z"]])
    with pytest.raises(ValueError, match="header must name at least one column"):
        markdown_table([], [])


@pytest.mark.parametrize("differences, expected", [
    ([0.08, 0.12, 0.06], "higher"), ([-0.2, -0.06], "lower"), ([0.01, -0.04, 0.0], "no difference"),
    ([0.08, -0.08], "undecided"), ([0.08, 0.02], "undecided"), ([0.05], "no difference")])
def test_a_verdict_needs_every_seed_on_the_same_side_of_the_noise(differences, expected):
    assert verdict(differences, noise=0.05) == expected


def test_verdict_checks_its_arguments():
    with pytest.raises(ValueError, match="at least one number"):
        verdict([], 0.05)
    with pytest.raises(ValueError, match="noise must be >= 0"):
        verdict([0.1], -0.01)


def test_judged_gives_the_spread_and_the_verdict():
    assert judged([0.06, 0.08], 0.05) == "7.0 (6.0–8.0) → higher"
