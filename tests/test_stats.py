"""How the course reports numbers: intervals over images, spreads and verdicts over seeds, tables."""

import pytest
import torch

from sgt_course.stats import (
    Interval,
    accuracy,
    bootstrap_mean,
    interval_spread,
    interval_verdict,
    judged,
    paired_difference,
    spread,
    wilson,
)
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


def test_judged_gives_the_spread_the_typical_half_width_and_the_verdict():
    above = [Interval(0.06, 0.03, 0.09), Interval(0.08, 0.04, 0.12)]
    assert judged(above) == "7.0 (6.0–8.0) ±3.5 → higher"
    assert judged([Interval(0.01, -0.02, 0.04)]) == "1.0 ±3.0 → no difference"
    assert interval_spread([Interval(0.5, 0.45, 0.55)]) == "50.0 ±5.0"
    with pytest.raises(ValueError, match="at least one Interval"):
        interval_spread([])


def test_accuracy_is_the_wilson_interval_of_per_image_outcomes():
    assert accuracy(torch.tensor([True] * 81 + [False] * 19)) == wilson(81, 100)
    with pytest.raises(ValueError, match=r"\(N,\) outcomes"):
        accuracy(torch.ones(2, 3, dtype=torch.bool))


def test_a_bootstrap_mean_covers_the_mean_and_narrows_with_more_images():
    torch.manual_seed(0)
    few, many = bootstrap_mean(torch.rand(50)), bootstrap_mean(torch.rand(5000))
    assert few.low < few.estimate < few.high and many.low < 0.5 < many.high
    assert (many.high - many.low) < (few.high - few.low) / 5, "the width falls like 1/√N"
    with pytest.raises(ValueError, match="N >= 2"):
        bootstrap_mean(torch.ones(1))


def test_wilson_matches_the_textbook_values_and_stays_inside_0_and_1():
    interval = wilson(81, 100)  # Wilson (1927); e.g. Agresti & Coull (1998): 0.7222 to 0.8749
    assert (interval.estimate, round(interval.low, 4), round(interval.high, 4)) == (0.81, 0.7222, 0.8749)
    assert wilson(0, 20).low == 0 and 0 < wilson(0, 20).high < 0.2 and wilson(20, 20).high == 1
    assert str(wilson(81, 100)) == "81.0 [72.2, 87.5]"
    with pytest.raises(ValueError, match="correct must lie in"):
        wilson(5, 4)


def test_a_paired_bootstrap_sees_a_consistent_difference_that_unpaired_noise_would_hide():
    torch.manual_seed(0)
    hard = torch.rand(400) < 0.5                       # half the images are hard for both models
    a = (~hard).float()
    b = a.clone()
    b[torch.arange(400)[~hard][:20]] = 0.0             # b misses 20 more of the easy ones: 5 points
    interval = paired_difference(a, b)
    assert interval.estimate == pytest.approx(0.05) and interval.excludes_zero() and interval.low > 0.02
    same = paired_difference(a, a)
    assert (same.estimate, same.low, same.high) == (0.0, 0.0, 0.0) and not same.excludes_zero()
    assert paired_difference(a, b, seed=1) != interval and paired_difference(a, b) == interval
    with pytest.raises(ValueError, match="same images"):
        paired_difference(a, b[:10])


def test_an_interval_says_whether_it_excludes_zero():
    assert Interval(0.03, 0.01, 0.05).excludes_zero() and Interval(-0.03, -0.05, -0.01).excludes_zero()
    assert not Interval(0.01, -0.01, 0.03).excludes_zero()


def test_an_interval_prints_in_percent_or_as_itself():
    assert str(Interval(0.931, 0.914, 0.945)) == "93.1 [91.4, 94.5]"
    assert Interval(0.401, 0.312, 0.483).unscaled() == "+0.40 [+0.31, +0.48]"
    assert Interval(-0.012, -0.051, 0.02).unscaled() == "-0.01 [-0.05, +0.02]"


def test_the_interval_rule_needs_every_seed_to_exclude_zero_on_one_side():
    above, below, across = Interval(0.03, 0.01, 0.05), Interval(-0.03, -0.05, -0.01), Interval(0.0, -0.02, 0.02)
    assert interval_verdict([above, above]) == "higher" and interval_verdict([below]) == "lower"
    assert interval_verdict([across, across]) == "no difference"
    assert interval_verdict([above, across]) == "undecided" and interval_verdict([above, below]) == "undecided"
