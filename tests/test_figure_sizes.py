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
