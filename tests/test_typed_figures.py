"""No measured figure typed by hand into prose: a number with %, "points" or a ρ in the notebooks' Markdown
and comments, the deck or the README drifts from the data when they change. Such figures are rendered by
the notebook's cells or read from the recorded claims (sgt_course.recorded); a paper's figure is marked
as quoted.

A line with a typed figure fails here.
"""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: A measured-looking figure: a number with %, "points" or "pts", or a value of ρ.
FIGURE = re.compile(r"[\u2212+-]?\d+(?:\.\d+)?\s*(?:%|points?\b|pts\b)|ρ\s*[=≈<>≤≥]\s*[\u2212-]?\d")
#: A line that says its figure is a paper's (quoted), or a setting rather than a measurement.
EXEMPT = re.compile(r"quote|paper's|\(setting")
#: A confidence level, not a measurement: "95 % interval", "95 % (Wilson) interval", "95 % bootstrap", ...
CONFIDENCE = re.compile(r"\b95 %(?= (?:\(Wilson\) |paired |bootstrap )?(?:interval|half-width|bootstrap))")


def prose(path: Path) -> list[str]:
    """The lines of ``path`` a reader reads as prose: Markdown outside code blocks; in Python, Markdown
    cells and comments (a trailing comment on its own)."""
    lines, fenced = [], False
    for line in path.read_text(encoding="utf-8").splitlines():
        if path.suffix == ".md":
            fenced = fenced != line.startswith("```")
            if not fenced and not line.startswith("```"):
                lines.append(line.strip())
        elif line.strip().startswith("#") and not line.strip().startswith("# %%"):
            lines.append(line.strip())
        elif " # " in line:
            lines.append(line[line.index(" # ") + 1:].strip())
    return lines


def typed_figures(root: Path = ROOT) -> list[str]:
    """Every prose line with a typed figure, as ``"file: line"``."""
    files = [*sorted((root / "notebooks").glob("[0-9][0-9]_*.py")), root / "slides" / "deck.py", root / "README.md"]
    return [f"{path.relative_to(root)}: {line}" for path in files for line in prose(path)
            if FIGURE.search(CONFIDENCE.sub("", line)) and not EXEMPT.search(line)]


def test_no_figure_is_typed_by_hand():
    found = typed_figures()
    assert not found, ("figures typed by hand; render them from the data or from sgt_course.recorded, or mark a "
                       "paper's figure as quoted:\n" + "\n".join(found))


def test_the_scan_finds_a_planted_figure_and_lets_a_quote_and_a_rendered_one_pass(tmp_path):
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "slides").mkdir()
    (tmp_path / "slides" / "deck.py").write_text('display(Markdown(f"ASGT kept {worst:.1%}"))  # rendered\n')
    (tmp_path / "README.md").write_text("The paper, quoted: about +35 points.\n```\nrun 95 %\n```\n")
    (tmp_path / "notebooks" / "02_x.py").write_text("# %% [markdown]\n# SGT kept 93.4 % of its accuracy.\n"
                                                    "x = 1  # ρ = 0.99 here\n"
                                                    "# each with its 95 % (Wilson) interval, paired 95 % interval\n"
                                                    "# 95 % of the pixels\n")
    assert typed_figures(tmp_path) == ["notebooks/02_x.py: # SGT kept 93.4 % of its accuracy.",
                                       "notebooks/02_x.py: # ρ = 0.99 here", "notebooks/02_x.py: # 95 % of the pixels"]
