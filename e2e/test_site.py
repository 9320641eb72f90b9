"""The course website in the ci profile, read in headless Chromium.

It is built from the notebooks nbval executed earlier in this test run ($SGT_COURSE_EXECUTED, which
``sgt-course test`` sets), so CI executes each notebook once; run alone, the build executes them. From
the front page every page of the site is followed. Each must load without an error and ask for nothing
outside the site's folder; each notebook page must show every figure of its notebook, its equations
typeset, the box saying how it was made, and no error and no warning among its outputs; no exercise's
solution before the reader opens its toggle, and Colab links to the student version; every explorer as
its static twin, whose every control changes the frame without a kernel; no code or printed line running
past the text column at 1280 px; no figure whose smallest text is shown below 9 px, and no table cell
wrapping onto a second line.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import nbformat
import pytest

from e2e.conftest import (
    EXERCISE_TWINS,
    READABLE_PX,
    SHOWN_IMAGES,
    WatchedPage,
    image_bytes,
    ink_fraction,
    smallest_text_px,
)
from sgt_course.plots import SMALL_PT
from sgt_course.static_explorers import CSS_CLASS
from sgt_course.tools import site
from sgt_course.tools.run_records import EXECUTED_ENV

MATHJAX_DONE = "!window.MathJax || (MathJax.Hub && MathJax.Hub.queue.pending === 0 && MathJax.isReady)"
#: The widget notes on a page (site.WIDGET_NOTE; a static twin's own note may also mention a kernel).
WIDGET_NOTES = ("Array.from(document.querySelectorAll('.cell_output'))"
                ".filter(o => o.innerText.includes('An interactive widget is here')).length")
#: The code and output blocks wider than the text column (their first characters), at the page's width.
OVERFLOWING = """() => {
  const column = document.querySelector('article.bd-article').getBoundingClientRect();
  return Array.from(document.querySelectorAll('div.cell pre, div.cell_output pre'))
    .filter(b => b.scrollWidth > b.clientWidth + 1 || b.getBoundingClientRect().right > column.right + 1)
    .map(b => b.textContent.slice(0, 60));
}"""
#: Table cells whose text wraps onto more lines than it has (a range such as "−19.5 to −8.6" split in two).
WRAPPED_CELLS = """() => Array.from(document.querySelectorAll('.cell_output table td, .cell_output table th'))
  .filter(cell => {
    const range = document.createRange();
    range.selectNodeContents(cell);
    const half = parseFloat(getComputedStyle(cell).fontSize) / 2;
    const tops = Array.from(range.getClientRects(), r => r.top).sort((a, b) => a - b);
    const lines = tops.filter((top, i) => i === 0 || top - tops[i - 1] > half).length;
    return lines > 1 + (cell.innerText.match(/\\n/g) || []).length;
  })
  .map(cell => cell.innerText.slice(0, 40))"""
_EXPLORER = re.compile(r"^\w+_explorer\(", re.M)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory, deck: object) -> site.Site:
    folder = tmp_path_factory.mktemp("site")
    executed = Path(os.environ.get(EXECUTED_ENV) or folder / "executed")
    return site.build("ci", folder / "html", executed=executed, work=folder / "work", deck=deck.html.parent,
                      timeout=600)


def _expected(built: site.Site, page: Path) -> dict[str, int]:
    """What the page of the notebook behind ``page`` must show, counted in the staged notebook that Sphinx
    rendered: its figures, its Markdown tables, and its explorers (one widget each; progress bars are
    widgets too, and must not be shown)."""
    nb = nbformat.read(built.source / site.PAGES / f"{page.stem}.ipynb", as_version=4)
    outputs = [o.get("data", {}) for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    return {"exercises": sum(c.source.startswith('<details class="solution">') for c in nb.cells
                             if c.cell_type == "markdown"),
            "figures": sum("image/png" in data for data in outputs),
            "tables": sum("\n|---" in str(data.get("text/markdown", "")) for data in outputs),
            "widgets": sum(bool(_EXPLORER.search(c.source)) for c in nb.cells if c.cell_type == "code")}


def test_the_site_has_a_page_per_notebook_and_sphinx_had_nothing_to_say(built: site.Site) -> None:
    assert built.index.is_file() and len(built.pages) == 7 and all(p.is_file() for p in built.pages)
    assert built.warnings == []
    assert built.stderr == {}  # no notebook prints a warning in the ci profile
    assert (built.index.parent / "deck" / "index.html").is_file()
    assert not (built.index.parent.parent / "jupyter_execute").exists(), "MyST-NB's folder stays in the work folder"


def test_every_page_from_the_front_page_renders_with_its_figures_and_equations(built: site.Site,
                                                                              watched: WatchedPage) -> None:
    page, root = watched.page, built.index.parent.resolve().as_uri() + "/"
    todo, seen, typeset, problems = [built.index.resolve().as_uri()], set(), 0, []
    while todo:
        url = todo.pop(0)
        if url in seen:
            continue
        seen.add(url)
        errors = len(watched.errors)
        page.goto(url)
        page.wait_for_function(MATHJAX_DONE, timeout=60_000)
        name = url[len(root):]
        problems += [f"{name}: {error}" for error in watched.errors[errors:]]
        if name.startswith("deck/"):
            continue  # the deck's own test shows every slide
        for link in page.evaluate("Array.from(document.querySelectorAll('a[href]'), a => a.href)"):
            link = link.split("#")[0]
            if link.startswith(root) and link.endswith(".html") and link not in seen:
                todo.append(link)
        if not name.startswith(site.PAGES + "/"):
            continue
        expected = _expected(built, Path(name))
        images = page.evaluate("Array.from(document.querySelectorAll('.cell_output img:not(.frame)'), "
                               "i => i.naturalWidth)")
        if len(images) != expected["figures"] or 0 in images:
            problems.append(f"{name}: {len(images)} figures shown ({images.count(0)} broken), "
                            f"{expected['figures']} in the notebook")
        tables = page.evaluate("document.querySelectorAll('.cell_output table').length")
        if tables < expected["tables"]:
            problems.append(f"{name}: {tables} tables shown, {expected['tables']} Markdown tables in the outputs")
        notes, twins = page.evaluate(WIDGET_NOTES), page.evaluate(f"document.querySelectorAll('.{CSS_CLASS}').length")
        if notes or twins != expected["widgets"]:
            problems.append(f"{name}: {twins} static explorers and {notes} 'needs a kernel' notes for "
                            f"{expected['widgets']} explorers")
        problems += [f"{name}: {problem}" for problem in page.evaluate(EXERCISE_TWINS)]
        for src, natural, shown in page.evaluate(SHOWN_IMAGES):
            px = smallest_text_px(image_bytes(src), natural, shown, SMALL_PT)
            if px is None or px < READABLE_PX:
                what = "a static explorer's frame" if src.startswith("data:") else src.rsplit("/", 1)[-1]
                problems.append(f"{name}: {what} shows its {SMALL_PT} pt text at "
                                f"{'an unknown size' if px is None else f'{px:.1f} px'} (at least {READABLE_PX:.0f})")
        wrapped = page.evaluate(WRAPPED_CELLS)
        if wrapped:
            problems.append(f"{name}: {len(wrapped)} table cells wrap, e.g. {wrapped[0]!r}")
        wide = page.evaluate(OVERFLOWING)
        if wide:
            problems.append(f"{name}: {len(wide)} code or output blocks run past the text column, e.g. {wide[0]!r}")
        maths = page.evaluate("document.querySelectorAll('.math.notranslate').length")
        done = page.evaluate("document.querySelectorAll('.math.notranslate script[type^=\"math/tex\"]').length")
        failed = page.evaluate("document.querySelectorAll('.MathJax_Error, .MathJax .merror').length")
        typeset += done
        if done != maths or failed:
            problems.append(f"{name}: {done} of {maths} equations typeset, {failed} MathJax errors")
        bad = page.evaluate("document.querySelectorAll('.output.traceback, .output.error, .output.stderr').length")
        if bad:
            problems.append(f"{name}: {bad} error or stderr outputs")
        shown = page.evaluate("document.body.innerText")
        if "BEGIN SOLUTION" in shown or "END SOLUTION" in shown:
            problems.append(f"{name}: solution markers on the page")
        folded = page.evaluate("Array.from(document.querySelectorAll('details.solution'), d => d.open)")
        if folded != [False] * expected["exercises"]:
            problems.append(f"{name}: {folded} solution toggles for {expected['exercises']} exercises (all closed)")
        if expected["exercises"]:
            page.click("details.solution summary")
            if "NotImplementedError" in page.inner_text("details.solution") or not page.evaluate(
                    "document.querySelector('details.solution').open"):
                problems.append(f"{name}: the first 'show solution' toggle does not show the solution")
        for colab in page.evaluate("Array.from(document.querySelectorAll('a[href*=\"colab.research\"]'), a => a.href)"):
            if expected["exercises"] and "/notebooks/student/" not in colab:
                problems.append(f"{name}: its Colab link opens the instructor notebook ({colab})")
        record = page.evaluate("document.querySelector('.run-record')?.innerText ?? ''")
        if "Executed in the ci profile" not in record or "Data: " not in record:
            problems.append(f"{name}: no box saying how the page was made ({record[:80]!r})")
        if ink_fraction(page.screenshot(full_page=False)) < 0.02:
            problems.append(f"{name}: looks blank")
    pages = {url[len(root):] for url in seen}
    assert {f"{site.PAGES}/{p.name}" for p in built.pages} <= pages, sorted(pages)
    assert "deck/index.html" in pages
    assert problems == []
    assert typeset >= 50, f"only {typeset} equations on the notebook pages"
    assert [url for url in watched.requests if not url.startswith((root, "data:", "blob:"))] == []
