"""The seminar deck: run ``slides/deck.py`` and write it as reveal.js slides that work offline.

The deck's source is a jupytext notebook. Each markdown cell that starts with a heading opens a
slide and every other cell continues it (a cell's own ``slideshow`` metadata wins, as in RISE);
code cells are hidden, and only their figures, tables and HTML reach the slides. The code runs in a
fresh kernel in the chosen run profile, so every figure comes from the course's own models.

reveal.js (from the ``sphinx-revealjs`` package) and MathJax 2 (from ``jupyter-server-mathjax``) are
copied next to ``index.html``: the deck needs no network, which seminar rooms do not always have.

    deck = build(repo_root() / "slides" / "deck.py", repo_root() / "slides" / "build", profile="cpu")
"""

from __future__ import annotations

import importlib.util
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from sgt_course.tools.headless import CELL_TIMEOUT, INLINE_BACKEND, run_cells

#: Where the copied scripts go, relative to the deck's folder.
ASSETS = "assets"
MATHJAX_CONFIG = "TeX-AMS-MML_HTMLorMML-full,Safe"
_HEADING = re.compile(r"^\s*#{1,6}\s")


@dataclass
class Deck:
    """A built deck: its HTML file, how many slides and figures it has, and how long its cells ran."""

    html: Path
    slides: int
    figures: int
    seconds: float


def mark_slides(nb: object) -> int:
    """Give each cell of ``nb`` its ``slideshow.slide_type`` (kept where the cell has one): a markdown
    cell starting with a heading opens a ``"slide"``, any other cell continues one (``"-"``).

    Returns the number of slides.
    """
    for cell in nb.cells:
        show = cell.metadata.setdefault("slideshow", {})
        if "slide_type" not in show:
            opens = cell.cell_type == "markdown" and _HEADING.match(cell.source)
            show["slide_type"] = "slide" if opens else "-"
    return sum(cell.metadata["slideshow"]["slide_type"] == "slide" for cell in nb.cells)


def _package_static(package: str, *parts: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or spec.origin is None:
        raise ModuleNotFoundError(f"the slides need the package {package!r}: install the course with "
                                  "`pip install -e .[course]` (python3 course.py does)")
    return Path(spec.origin).parent.joinpath(*parts)


def asset_sources() -> dict[str, Path]:
    """The folders copied into ``<deck>/assets/``: reveal.js 5 and MathJax 2, from installed packages."""
    return {"reveal": _package_static("sphinx_revealjs", "_static", "revealjs"),
            "mathjax": _package_static("jupyter_server_mathjax", "static")}


def _keep_for_slides(output: dict) -> bool:
    """Figures, tables and HTML stay; printed text (progress bars, logs) and widget views do not."""
    return output.get("output_type") != "stream" and "application/vnd.jupyter.widget-view+json" not in output.get(
        "data", {})


def export(nb: object, output: Path) -> Path:
    """Write the executed notebook ``nb`` as ``output/index.html`` with its assets; return the HTML file."""
    from nbconvert import SlidesExporter

    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = [o for o in cell.outputs if _keep_for_slides(o)]
    nb.metadata.pop("widgets", None)
    output.mkdir(parents=True, exist_ok=True)
    for name, folder in asset_sources().items():
        shutil.copytree(folder, output / ASSETS / name, dirs_exist_ok=True)
    exporter = SlidesExporter(extra_template_basedirs=[str(Path(__file__).parent)], template_name="slides_template",
                              reveal_url_prefix=f"{ASSETS}/reveal", reveal_theme="white", reveal_number="c/t",
                              mathjax_url=f"{ASSETS}/mathjax/MathJax.js?config={MATHJAX_CONFIG}",
                              exclude_input=True, exclude_input_prompt=True, exclude_output_prompt=True)
    body, _ = exporter.from_notebook_node(nb, resources={"metadata": {"name": "SGT and ASGT"}})
    html = output / "index.html"
    html.write_text(body, encoding="utf-8")
    return html


def build(source: Path, output: Path, *, profile: str | None = None, timeout: int = CELL_TIMEOUT) -> Deck:
    """Execute the deck ``source`` (a jupytext ``.py`` or an ``.ipynb``) in ``profile`` and export it
    to ``output/index.html``.

    Raises:
        FileNotFoundError: ``source`` does not exist.
        RuntimeError: a cell of the deck failed (its error's last line is in the message).
    """
    import jupytext

    if not source.is_file():
        raise FileNotFoundError(f"no deck source at {source}")
    nb = jupytext.read(source)
    slides = mark_slides(nb)
    seconds, error, _ = run_cells(nb, source.parent, profile=profile, timeout=timeout, backend=INLINE_BACKEND)
    if error is not None:
        raise RuntimeError(f"the deck {source.name} failed to run: {error}")
    html = export(nb, output)
    figures = sum("image/png" in o.get("data", {}) for cell in nb.cells if cell.cell_type == "code" for o in cell.outputs)
    return Deck(html, slides, figures, seconds)
