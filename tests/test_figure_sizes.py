"""Figures readable at the website's width: no text below ``plots.SMALL_PT`` points and no figure wider than
``plots.MAX_WIDTH_IN`` inches (``e2e/test_site.py`` then measures the text as shown in the browser)."""

import re
from pathlib import Path

import matplotlib
import matplotlib.pyplot as plt
import pytest
import torch
from matplotlib.text import Text

from sgt_course import plots
from sgt_course.stats import Interval

matplotlib.use("Agg")
ROOT = Path(__file__).resolve().parents[1]
#: A font size written as a number, or as one of matplotlib's names for sizes below the default.
SIZE = re.compile(r"\b(?:fontsize|labelsize)\s*=\s*(?:(\d+(?:\.\d+)?)|[\"'](x{0,2}-?small|smaller)[\"'])")


def small_text(root: Path = ROOT) -> list[str]:
    """Every line of the library, the notebooks and the deck that sets a font below ``SMALL_PT``."""
    files = [*sorted((root / "sgt_course").rglob("*.py")), *sorted((root / "notebooks").glob("[0-9][0-9]_*.py")),
             root / "slides" / "deck.py"]
    found = []
    for path in files:
        for line in path.read_text(encoding="utf-8").splitlines():
            if any(name or float(number) < plots.SMALL_PT for number, name in SIZE.findall(line)):
                found.append(f"{path.relative_to(root)}: {line.strip()}")
    return found


def test_no_line_sets_figure_text_below_the_smallest_size():
    found = small_text()
    assert not found, f"text below {plots.SMALL_PT} pt:\n" + "\n".join(found)


def test_the_scan_finds_a_small_font_and_lets_the_smallest_size_pass(tmp_path):
    for folder in ("sgt_course", "notebooks", "slides"):
        (tmp_path / folder).mkdir()
    (tmp_path / "slides" / "deck.py").write_text("ax.legend(fontsize=SMALL_PT)\n")
    (tmp_path / "notebooks" / "02_x.py").write_text("ax.legend(fontsize=7)\nax.set_title('t', fontsize=9)\n")
    (tmp_path / "sgt_course" / "p.py").write_text("ax.tick_params(labelsize='x-small')\nshow(x, size=1.3)\n")
    assert small_text(tmp_path) == ["sgt_course/p.py: ax.tick_params(labelsize='x-small')",
                                    "notebooks/02_x.py: ax.legend(fontsize=7)"]


def _texts(figure) -> list[Text]:
    return [t for t in figure.findobj(Text) if t.get_text().strip() and t.get_visible()]


@pytest.mark.parametrize("draw", [
    lambda: plots.show_images(torch.rand(24, 1, 8, 8), [str(i) for i in range(24)], ncols=12),
    lambda: plots.saliency_grid(torch.rand(2, 1, 8, 8), {f"m{i}": torch.rand(2, 1, 8, 8) for i in range(9)},
                                captions=["a", "b"]),
    lambda: plots.summary_bars({name: {"clean ↑": Interval(0.9, 0.8, 0.95), "robust ↑": 0.4, "gap ↑": 0.1,
                                       "ρ ↓": 0.3, "area": 0.2} for name in ("standard", "SGT", "ASGT")}),
    lambda: plots.bar_chart({f"model {i}": 0.1 * i for i in range(9)}, ylabel="accuracy"),
    lambda: plots.series_heatmaps({f"p{i}": torch.rand(20, 5) for i in range(8)}, ncols=8),
], ids=["show_images", "saliency_grid", "summary_bars", "bar_chart", "series_heatmaps"])
def test_figures_fit_the_page_and_keep_their_text_at_the_smallest_size(draw):
    figure = draw()
    try:
        assert figure.get_figwidth() <= plots.MAX_WIDTH_IN + 1e-9
        sizes = {t.get_text(): t.get_fontsize() for t in _texts(figure)}
        assert sizes and min(sizes.values()) >= plots.SMALL_PT, sizes
    finally:
        plt.close(figure)


def test_the_figures_text_neither_overlaps_nor_runs_off_at_their_own_size():
    for draw in (lambda: plots.show_images(torch.rand(24, 1, 8, 8), [str(i) for i in range(24)], ncols=12),
                 lambda: plots.summary_bars(REGIMES),
                 lambda: plots.robustness_panels({a: {"standard": _Curve(), "SGT": _Curve()} for a in ("FGSM", "PGD")})):
        figure = draw()
        try:
            assert plots.text_problems(figure) == []
        finally:
            plt.close(figure)


class _Curve:
    """A stand-in robustness curve: ε and accuracy."""
    eps = (0.0, 0.1, 0.2)
    accuracy = (0.9, 0.5, 0.1)


#: Five regimes, three metrics: the deck's robustness slide.
REGIMES = {name: {"clean": Interval(0.974, 0.965, 0.98), "PGD-10": Interval(0.412, 0.34, 0.49),
                  "seconds per epoch": 12.5} for name in ("standard", "SGT", "PGD-AT", "PGD-AT+CE", "ASGT")}


def test_text_problems_names_overlapping_text_and_text_off_the_figure_and_ignores_unshown_ticks():
    figure, ax = plt.subplots(figsize=(3, 2))
    try:
        ax.plot([0, 1], [0, 1])
        ax.set_xlim(0.2, 0.6)  # the locator's ticks at 0.1 and 0.7 are not drawn
        figure.tight_layout()
        assert plots.text_problems(figure) == []
        ax.text(0.3, 0.5, "one")
        ax.text(0.3, 0.5, "two")
        figure.suptitle("a title far wider than a figure three inches wide can hold")
        problems = plots.text_problems(figure)
        assert "'one' overlaps 'two'" in problems
        assert "'a title far wider than a figure three inches wide can hold' runs off the figure" in problems
    finally:
        plt.close(figure)


def test_fit_figure_keeps_the_text_size_and_refuses_a_size_the_text_does_not_fit():
    figure = plots.summary_bars(REGIMES, title="accuracy (%) at ε = 0.2")
    try:
        assert plots.fit_figure(figure, plots.SLIDE_WIDTH_IN, 3.3) is figure
        assert tuple(figure.get_size_inches()) == (plots.SLIDE_WIDTH_IN, 3.3)
        assert min(t.get_fontsize() for t in _texts(figure)) >= plots.SMALL_PT
        with pytest.raises(ValueError, match=r"at 2.5 × 1.5 in the figure's text does not fit: .*overlaps"):
            plots.fit_figure(figure, 2.5, 1.5)
    finally:
        plt.close(figure)


def test_summary_bars_draws_intervals_in_percent_beside_their_rows_first_row_on_top():
    figure = plots.summary_bars(REGIMES)
    try:
        clean, _, seconds = figure.axes
        assert [p.get_width() for p in clean.patches] == pytest.approx([97.4] * 5)
        assert [p.get_width() for p in seconds.patches] == pytest.approx([12.5] * 5)
        assert [t.get_text() for t in clean.texts] == ["97.4"] * 5 and seconds.texts[0].get_text() == "12.5"
        assert [t.get_text() for t in clean.get_yticklabels()] == list(REGIMES)
        assert clean.get_ylim()[0] > clean.get_ylim()[1], "the first regime on top"
    finally:
        plt.close(figure)


def test_curve_panels_share_one_legend_below_them():
    figure = plots.robustness_panels({a: {"standard": _Curve(), "SGT": _Curve()} for a in ("FGSM", "PGD")})
    try:
        assert all(ax.get_legend() is None for ax in figure.axes)
        assert [t.get_text() for t in figure.legends[0].get_texts()] == ["standard", "SGT"]
    finally:
        plt.close(figure)


def test_show_images_labels_each_row_once():
    figure = plots.show_images(torch.rand(6, 1, 8, 8), ncols=3, row_labels=["input", "masked"])
    try:
        assert [ax.get_ylabel() for ax in figure.axes] == ["input", "", "", "masked", "", ""]
        with pytest.raises(ValueError, match="one entry per row; got 1 for 2 rows"):
            plots.show_images(torch.rand(6, 1, 8, 8), ncols=3, row_labels=["input"])
    finally:
        plt.close(figure)
