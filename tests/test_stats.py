"""Numbers over seeds, and tables."""

import pytest

from sgt_course.stats import spread
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
