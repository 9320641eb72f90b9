"""The course website: every notebook executed in one run profile, as static HTML.

    site = build("ci", repo_root() / "site", executed=repo_root() / "runs" / "ci")

A student reads the figures and numbers before (or without) running anything; an instructor links a
section in a seminar. The stack is Sphinx + MyST-NB + sphinx-book-theme (what Jupyter Book 1 is built
on). MyST-NB renders notebooks that are already executed (``nb_execution_mode = "off"``): this module
decides what to execute, so the site shares its executed notebooks with ``sgt-course run`` and with
the nbval run of ``sgt-course test`` (:mod:`sgt_course.tools.run_records`):

1. For each course notebook, an executed copy in ``executed`` is reused when it ran without error, in
   this profile, from the same code cells; otherwise the notebook is executed and saved there. Prose
   edits re-execute nothing.
2. Each page is the executed notebook with a box at its top saying how it was made (profile, data,
   machine, date, wall time) and where to get it (the notebook, its student version, Colab). Progress
   bars are dropped; an explorer shows its static twin (:mod:`sgt_course.static_explorers`), whose controls
   work without a kernel; any other interactive widget becomes a line saying it needs one.
3. The front page is the README's introduction and course map, with the run of every notebook in a
   table, the seminar deck (built in the same profile, in ``deck/``) and the student notebooks.
4. MathJax 2 is copied beside the pages, as for the deck: the site needs no network, to build or to read.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from sgt_course.static_explorers import CSS_CLASS
from sgt_course.tools import run_records
from sgt_course.tools.headless import CELL_TIMEOUT, INLINE_BACKEND, execute
from sgt_course.tools.notebook_files import SOLUTION, STUDENT_FOLDER, course_notebooks, repo_root, strip_solutions
from sgt_course.tools.run_records import RunRecord

TEMPLATE = Path(__file__).parent / "site_template"
#: The staged Sphinx source: notebooks under ``notebooks/`` (as in the repository, so the README's links
#: resolve), files offered for download under ``downloads/``, the deck under ``extra/deck/``.
PAGES, DOWNLOADS, EXTRA = "notebooks", "downloads", "extra"
#: How the first cell of every notebook, which installs the course on Colab, begins.
COLAB_SETUP = "# Colab set-up:"
_BADGE = re.compile(r"\[!\[Open In Colab\]\([^)]*\)\]\((?P<url>[^)]*)\)")
_COLAB = re.compile(r"https://colab\.research\.google\.com/github/[^)\s]*?/blob/[^/)\s]+/")
#: A tqdm bar as text ("training:  40%|####      | 2/5 [00:01<00:01,  2.9it/s]"): what a progress widget
#: leaves as its plain-text form, and what tqdm writes to stderr without widgets.
_TQDM = re.compile(r"\d+%\|.*\| *[\d.]+[kMG]?/[\d.?]+[kMG]?")


class SiteError(RuntimeError):
    """The site could not be built: a notebook failed, or Sphinx reported an error."""


@dataclass
class Site:
    """A built site.

    Attributes:
        index: the front page, ``<output>/index.html``.
        source: the staged Sphinx source: the pages as notebooks (``notebooks/``), ``index.md``, ``conf.py``.
        pages: the notebook pages, ``<output>/notebooks/NN_name.html``, in course order.
        executed: notebooks executed for this build (the others were reused).
        stale: reused notebooks whose run used another version of the ``sgt_course`` library.
        stderr: what each page shows from standard error (warnings, mostly), by notebook; progress bars
            are not counted. Empty for a clean course.
        untwinned: pages with a widget that has no static twin (a run from before twins existed: build
            with ``fresh``), each with how many.
        warnings: what Sphinx warned about (empty for a clean build).
        seconds: the build's wall time, executions included.
    """

    index: Path
    source: Path
    pages: list[Path]
    executed: list[str] = field(default_factory=list)
    stale: list[str] = field(default_factory=list)
    stderr: dict[str, list[str]] = field(default_factory=dict)
    untwinned: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0


def colab_prefix(readme: str) -> str | None:
    """The Colab address of the repository's notebooks as the README's badges give it
    (``https://colab.research.google.com/github/<owner>/<repo>/blob/<branch>/``), or None."""
    found = _COLAB.search(readme)
    return found.group(0) if found else None


def front_page(readme: str, runs_table: str, notebooks: list[str], students: list[str]) -> str:
    """The site's ``index.md``: the README's title and introduction and its course map (section "The
    course"), Colab badges turned into plain links (their images live on another site), then the
    table of this site's runs, the seminar deck, the student notebooks and the table of contents
    (``notebooks``, file names in course order)."""
    intro = readme.split("\n## ", 1)[0]
    course = re.search(r"^## The course\n.*?(?=^## )", readme, re.S | re.M)
    if course is None:
        raise SiteError("README.md has no '## The course' section to use as the site's course map")
    course_map = _BADGE.sub(lambda m: f"[Colab]({m['url']})", course.group(0))
    downloads = "\n".join(f"- {{download}}`{name} <{DOWNLOADS}/{STUDENT_FOLDER}/{name}>`" for name in students)
    pages = "\n".join(f"{PAGES}/{Path(name).stem}" for name in notebooks)
    return f"""{intro}
{course_map}
## The runs on this site

Every page shows the outputs of one run of its notebook; the course's numbers are measured, so they
are only as good as the run that made them.

{runs_table}

## The seminar deck

<a href="deck/index.html">The seminar deck</a>, built in the same profile: reveal.js, no network needed;
`S` opens the speaker view.

## Student versions

The same notebooks with the exercise solutions replaced by `raise NotImplementedError`:

{downloads}

```{{toctree}}
:hidden:
:caption: Notebooks

{pages}
```
"""


def title(nb: object) -> str | None:
    """The notebook's title: its first level-1 heading, without the ``#``."""
    for cell in nb.cells:
        if cell.cell_type == "markdown" and cell.source.startswith("# "):
            return cell.source.splitlines()[0][2:].strip()
    return None


def runs_table(records: dict[str, RunRecord], titles: dict[str, str | None]) -> str:
    """A Markdown table of every page's run: notebook (by its title), profile, date, wall time, data."""
    rows = ["| notebook | profile | date | wall time | data |", "|---|---|---|---|---|"]
    for name, record in records.items():
        link = f"[{titles.get(name) or Path(name).stem}]({PAGES}/{name})"
        rows.append(f"| {link} | {record.profile} | {record.date[:10]} | {record.seconds:.0f} s | "
                    f"{'; '.join(record.data) or '—'} |")
    machines = sorted({f"{r.machine}; device {r.device}; {r.software}" for r in records.values()})
    return "\n".join(rows) + "\n\nMachine: " + " / ".join(machines) + "."


def _is_progress(output: dict) -> bool:
    data = output.get("data", {})
    if "application/vnd.jupyter.widget-view+json" in data:
        return bool(_TQDM.search(str(data.get("text/plain", ""))))
    return output.get("output_type") == "stream" and output.get("name") == "stderr" and bool(
        _TQDM.search(str(output.get("text", ""))))


#: What a page says where a widget had no static twin.
WIDGET_NOTE = ("*An interactive widget is here: it needs a running kernel. Open the notebook in JupyterLab or "
               "Colab to move its sliders.*")


def _widget_note() -> object:
    from nbformat.v4 import new_output

    return new_output("display_data", data={"text/markdown": WIDGET_NOTE, "text/plain": WIDGET_NOTE})


def is_static_twin(output: dict) -> bool:
    """Whether ``output`` is an explorer's static twin (:mod:`sgt_course.static_explorers`), which stands in
    for the explorer's widget on a page."""
    return f'class="{CSS_CLASS}"' in str(output.get("data", {}).get("text/html", ""))


def stderr_text(nb: object) -> list[str]:
    """What the code cells of ``nb`` wrote to standard error, one entry per output."""
    return [str(o.get("text", "")).strip() for cell in nb.cells if cell.cell_type == "code" for o in cell.outputs
            if o.get("output_type") == "stream" and o.get("name") == "stderr"]


def folded_solution(source: str, outputs: list) -> str:
    """Markdown that folds an exercise's solution away: a ``<details>`` element (it opens without
    JavaScript) holding the cell's code with the solution markers removed and what the cell printed when it
    ran (the checker's verdict)."""
    code = "\n".join(line for line in source.splitlines() if "### BEGIN SOLUTION" not in line
                     and "### END SOLUTION" not in line)
    printed = "".join(str(o.get("text", "")) for o in outputs if o.get("output_type") == "stream").strip()
    said = f"\n\nRun with this solution, the cell printed:\n\n```text\n{printed}\n```" if printed else ""
    return (f'<details class="solution">\n<summary>Show the solution</summary>\n\n```python\n{code}\n```{said}\n\n'
            "</details>")


def web_page(nb: object, name: str, *, student: bool, colab: str | None) -> object:
    """The page for the executed notebook ``nb`` (a copy): a box after its title saying how it was made
    and where to get it (this notebook, its student version when ``student``, Colab when ``colab`` is
    the repository's Colab prefix); the Colab set-up cell hidden; progress bars dropped; an interactive
    widget dropped where its cell displayed the explorer's static twin (which works without a kernel), and
    replaced by a line that says it needs a kernel where not; each exercise shown as the student sees it, its solution and
    what the checker said folded away below it (:func:`folded_solution`).

    Raises:
        SiteError: ``nb`` has no run record, or an output is an error.
    """
    import nbformat

    page = nbformat.from_dict(json.loads(json.dumps(nb)))
    record = run_records.record_of(page)
    if record is None:
        raise SiteError(f"{name} has no run record: execute it with `sgt-course run` or `sgt-course site`")
    page.metadata.pop("widgets", None)
    for cell in page.cells:
        if cell.cell_type != "code":
            continue
        if cell.source.startswith(COLAB_SETUP):  # installs the course on Colab; nothing for a reader
            cell.metadata.setdefault("tags", []).append("remove-cell")
        kept, twinned = [], any(is_static_twin(output) for output in cell.outputs)
        for output in cell.outputs:
            if output.get("output_type") == "error":
                raise SiteError(f"{name}: a cell's output is an error ({output.get('ename')}: {output.get('evalue')})")
            if _is_progress(output):
                continue
            if "application/vnd.jupyter.widget-view+json" in output.get("data", {}):
                if not twinned:
                    kept.append(_widget_note())
                continue
            if twinned and "image/png" in output.get("data", {}):
                continue  # the explorer's first drawing, which its twin's default frame already shows
            kept.append(output)
        cell.outputs = kept
    exercises = [i for i, cell in enumerate(page.cells) if cell.cell_type == "code" and SOLUTION.search(cell.source)]
    for index in reversed(exercises):
        cell = page.cells[index]
        page.cells.insert(index + 1, nbformat.v4.new_markdown_cell(folded_solution(cell.source, cell.outputs)))
        cell.source, cell.outputs = strip_solutions(cell.source), []
    links = [f"{{download}}`this notebook, executed <{name}>`"]
    if student:
        links.append(f"{{download}}`the student version <../{DOWNLOADS}/{STUDENT_FOLDER}/{name}>`")
    if colab:
        folder = f"notebooks/{STUDENT_FOLDER}" if student else "notebooks"
        links.append(f"[open {'the student version ' if student else ''}in Colab]({colab}{folder}/{name})")
    box = nbformat.v4.new_markdown_cell(f"```{{admonition}} How this page was made\n:class: note run-record\n"
                                        f"{record.summary()}\n\n{' · '.join(links)}\n```")
    title = next((i for i, c in enumerate(page.cells) if c.cell_type == "markdown" and c.source.startswith("# ")), None)
    if title is None:
        page.cells.insert(0, box)
    else:
        heading, _, rest = page.cells[title].source.partition("\n")
        page.cells[title].source = heading
        after = [nbformat.v4.new_markdown_cell(rest.strip("\n"))] if rest.strip() else []
        page.cells[title + 1:title + 1] = [box, *after]
    return page


def _stage_deck(profile: str, deck: Path | None, target: Path, stamp: Path, timeout: int,
                say: Callable[[str], None]) -> None:
    """Put the seminar deck in ``target``: a copy of the folder ``deck`` when given, else the deck built
    in ``profile``, kept there and rebuilt when ``slides/deck.py`` or the profile change (``stamp``)."""
    if deck is not None:
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(deck, target)
        return
    from sgt_course.tools import slides

    source = repo_root() / "slides" / "deck.py"
    key = hashlib.sha256(source.read_bytes() + profile.encode()).hexdigest()
    if (target / "index.html").is_file() and stamp.is_file() and stamp.read_text() == key:
        say(f"  deck: reused ({target})")
        return
    say("  deck: building it (its cells run in a fresh kernel) ...")
    shutil.rmtree(target, ignore_errors=True)
    built = slides.build(source, target, profile=profile, timeout=timeout)
    stamp.write_text(key)
    say(f"  deck: {built.slides} slides, {built.figures} figures, {built.seconds:.1f} s")


def _mathjax() -> Path:
    from sgt_course.tools.slides import asset_sources

    return asset_sources()["mathjax"]


def build(profile: str, output: Path, *, executed: Path, work: Path, deck: Path | None = None,
          fresh: bool = False, timeout: int = CELL_TIMEOUT, say: Callable[[str], None] | None = None) -> Site:
    """Build the website of the course's notebooks executed in ``profile`` into ``output``.

    Args:
        profile: the run profile of every page (``"ci"``, ``"cpu"``, ``"gpu"``).
        output: the folder for the HTML (``index.html`` and the rest); created when missing.
        executed: the folder of executed notebooks reused when their code and profile match, and where
            notebooks executed now are saved (``runs/<profile>/`` is ``sgt-course run``'s).
        work: the folder for the staged Sphinx source and Sphinx's cache (``runs/site-<profile>/`` for the
            command); neither inside ``output`` nor holding it.
        deck: an already built deck folder to link; default: build ``slides/deck.py`` in ``profile``.
        fresh: execute every notebook even where a matching executed copy exists.
        timeout: seconds allowed per cell.
        say: where progress lines go (default: printed at once, also into a pipe or a log file).

    Raises:
        SiteError: a notebook failed (all are tried first), or Sphinx reported an error.
    """
    say = say or (lambda line: print(line, flush=True))
    start, root = time.perf_counter(), repo_root()
    output, work = output.resolve(), work.resolve()
    if output == work or output in work.parents or work in output.parents:
        raise SiteError(f"the site ({output}) and its staging folder ({work}) must not hold one another")
    notebooks = course_notebooks(root / "notebooks")
    say(f"Building the site in the {profile!r} profile from {len(notebooks)} notebooks into {output}/")
    site = Site(output / "index.html", work / "source", [])
    readme = (root / "README.md").read_text(encoding="utf-8")
    records, titles = _stage_pages(site, notebooks, profile, executed, colab_prefix(readme), fresh=fresh,
                                   timeout=timeout, say=say)
    _stage_the_rest(site.source, readme, records, titles, profile, deck, work, timeout, say)
    say("  sphinx: writing the pages ...")
    site.warnings = _sphinx(site.source, output, work, fresh=fresh)
    site.pages = [output / PAGES / f"{p.stem}.html" for p in notebooks]
    site.seconds = time.perf_counter() - start
    say(f"wrote {site.index}: {len(site.pages)} notebook pages in {site.seconds:.1f} s "
        f"({len(site.executed)} executed, {len(notebooks) - len(site.executed)} reused, "
        f"{len(site.warnings)} Sphinx warnings, {sum(map(len, site.stderr.values()))} stderr outputs)")
    return site


def _stage_pages(site: Site, notebooks: list[Path], profile: str, executed: Path, colab: str | None, *,
                 fresh: bool, timeout: int, say: Callable[[str], None]) -> tuple[dict[str, RunRecord],
                                                                                 dict[str, str | None]]:
    """Write every notebook's page into ``site.source`` (:func:`_executed`, then :func:`web_page`); return
    each page's run record and title. Every notebook is tried before a failure is raised."""
    import nbformat

    records, titles, failures = {}, {}, []
    library = run_records.library_fingerprint()
    students = repo_root() / "notebooks" / STUDENT_FOLDER
    for path in notebooks:
        wanted = nbformat.read(path, as_version=4)
        try:
            nb = _executed(path, wanted, profile, executed, fresh=fresh, timeout=timeout, site=site, say=say)
        except SiteError as failure:
            failures.append(str(failure))
            continue
        record = run_records.record_of(nb)
        say(f"  {path.name}: {'executed' if path.name in site.executed else 'reused'} "
            f"({record.executor}, {record.date[:10]}, {record.seconds:.0f} s)")
        if record.library != library:
            site.stale.append(path.name)
        records[path.name], titles[path.name] = record, title(wanted)
        page = web_page(nb, path.name, student=(students / path.name).is_file(), colab=colab)
        notes = sum(o.get("data", {}).get("text/plain") == WIDGET_NOTE for c in page.cells if c.cell_type == "code"
                    for o in c.outputs)
        if notes:
            site.untwinned[path.name] = notes
            say(f"  {path.name}: {notes} widget(s) without a static twin, shown as a note "
                "(`sgt-course site --fresh` draws the twins)")
        stderr = stderr_text(page)
        if stderr:
            site.stderr[path.name] = stderr
            say(f"  {path.name} wrote to stderr: {stderr[0][:200]}")
        (site.source / PAGES).mkdir(parents=True, exist_ok=True)
        nbformat.write(page, site.source / PAGES / path.name)
    if failures:
        raise SiteError("notebooks failed, so the site was not built:\n  " + "\n  ".join(failures))
    if site.stale:
        say(f"  note: {', '.join(site.stale)} ran with another version of the sgt_course library; "
            "`sgt-course site --fresh` executes them again")
    return records, titles


def _executed(path: Path, wanted: object, profile: str, executed: Path, *, fresh: bool, timeout: int, site: Site,
              say: Callable[[str], None]) -> object:
    """The notebook ``path`` executed in ``profile``: reused from ``executed`` when its outputs still hold
    for ``wanted`` (and not ``fresh``), else executed now, saved there and listed in ``site.executed``.

    Raises:
        SiteError: the notebook failed to execute (its error's last line).
    """
    nb = None if fresh else run_records.load_reusable(executed / path.name, wanted, profile)
    if nb is not None:
        return nb
    say(f"  {path.name}: executing ...")
    result = execute(path, executed / path.name, profile=profile, timeout=timeout, backend=INLINE_BACKEND)
    site.executed.append(path.name)
    if result.error:
        raise SiteError(f"{path.name}: {result.error}")
    return run_records.load_reusable(executed / path.name, wanted, profile)


def _stage_the_rest(source: Path, readme: str, records: dict[str, RunRecord], titles: dict[str, str | None],
                    profile: str, deck: Path | None, work: Path, timeout: int, say: Callable[[str], None]) -> None:
    """Stage everything but the pages in ``source``: the front page, the student notebooks to download,
    Sphinx's configuration, MathJax and the deck."""
    folder = repo_root() / "notebooks" / STUDENT_FOLDER
    students = sorted(p.name for p in folder.glob("*.ipynb"))
    shutil.copytree(folder, source / DOWNLOADS / STUDENT_FOLDER, dirs_exist_ok=True)
    front = front_page(readme, runs_table(records, titles), list(records), students)
    (source / "index.md").write_text(front, encoding="utf-8")
    shutil.copytree(TEMPLATE, source, dirs_exist_ok=True)
    shutil.copytree(_mathjax(), source / "_static" / "mathjax", dirs_exist_ok=True)
    (source / "site.json").write_text(json.dumps({"profile": profile}))
    _stage_deck(profile, deck, source / EXTRA / "deck", work / "deck.stamp", timeout, say)


def _sphinx(source: Path, output: Path, work: Path, *, fresh: bool) -> list[str]:
    """Run Sphinx on the staged ``source`` into ``work/html``, then copy the pages into ``output``; return
    Sphinx's warnings. Building inside ``work`` keeps MyST-NB's ``jupyter_execute/`` folder, which it
    writes beside the build folder, out of the user's tree.

    Raises:
        SiteError: Sphinx reported an error.
    """
    from sphinx.application import Sphinx
    from sphinx.util.console import nocolor

    nocolor()
    warnings = io.StringIO()
    html = work / "html"
    app = Sphinx(str(source), str(source), str(html), str(work / "doctrees"), "html",
                 status=None, warning=warnings, freshenv=fresh)
    app.build()
    lines = [line for line in warnings.getvalue().splitlines() if line.strip()]
    if app.statuscode:
        raise SiteError("Sphinx failed:\n" + "\n".join(lines))
    shutil.copytree(html, output, dirs_exist_ok=True)
    return lines
