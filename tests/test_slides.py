"""The deck builder without a browser: which cells open slides, what reaches them, and that the HTML
loads its scripts from its own folder."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

from sgt_course.tools import slides


def _deck(*cells: nbformat.NotebookNode) -> nbformat.NotebookNode:
    return nbformat.v4.new_notebook(cells=list(cells))


def test_headings_open_slides_and_everything_else_continues_them():
    nb = _deck(nbformat.v4.new_markdown_cell("# Title"), nbformat.v4.new_code_cell("1"),
               nbformat.v4.new_markdown_cell("text"), nbformat.v4.new_markdown_cell("## Next"),
               nbformat.v4.new_markdown_cell("hidden", metadata={"slideshow": {"slide_type": "skip"}}))
    assert slides.mark_slides(nb) == 2
    assert [c.metadata["slideshow"]["slide_type"] for c in nb.cells] == ["slide", "-", "-", "slide", "skip"]


def test_export_keeps_figures_drops_printed_text_and_uses_local_scripts(tmp_path):
    figure = nbformat.v4.new_output("display_data", data={"image/png": "iVBORw0KGgo=", "text/plain": "<Figure>"})
    printed = nbformat.v4.new_output("stream", name="stdout", text="epoch 1/3 ...")
    nb = _deck(nbformat.v4.new_markdown_cell("# One $x^2$"),
               nbformat.v4.new_code_cell("secret_source_line()", outputs=[printed, figure]))
    slides.mark_slides(nb)
    html = slides.export(nb, tmp_path).read_text()
    assert "data:image/png;base64,iVBORw0KGgo=" in html
    assert "epoch 1/3" not in html and "secret_source_line" not in html
    sources = re.findall(r'<(?:script|link)[^>]*(?:src|href)="([^"#]+)"', html)
    assert sources and all(s.startswith(slides.ASSETS + "/") for s in sources), sources
    for source in sources:
        assert (tmp_path / source.split("?")[0]).is_file(), source


def test_build_names_a_missing_source(tmp_path):
    with pytest.raises(FileNotFoundError, match="no deck source"):
        slides.build(tmp_path / "nope.py", tmp_path / "out")


def test_deck_and_notebooks_write_the_kl_terms_of_algorithms_1_and_2_the_same_way():
    """SGT: KL(softmax f(X) ‖ softmax f(X̃)); ASGT: KL(softmax f(X̃') ‖ softmax f(X)) — as the seed, the
    library and the notebooks write them. Read from the deck's source and the two notebooks."""
    root = Path(__file__).resolve().parents[1]
    kl = re.compile(r"\\mathrm\{KL\}\\big\(\\operatorname\{softmax\} f\((.+?)\)\\[ ,]\\big\\\|\\[ ,]"
                    r"\\operatorname\{softmax\} f\((.+?)\)\\big\)")
    sgt_terms = {("X", r"\tilde X"), ("X", r"\widetilde X")}
    asgt_terms = {(r"\tilde X'", "X"), (r"\widetilde X'", "X")}
    for path, expected in (("slides/deck.py", sgt_terms | asgt_terms),
                           ("notebooks/02_saliency_guided_training.py", sgt_terms),
                           ("notebooks/06_adversarial_saliency_guided_training.py", asgt_terms)):
        found = {(p.strip(), q.strip()) for p, q in kl.findall((root / path).read_text())}
        assert found and found <= expected, (path, found)
    deck = {(p.strip(), q.strip()) for p, q in kl.findall((root / "slides/deck.py").read_text())}
    assert deck & sgt_terms and deck & asgt_terms, deck
