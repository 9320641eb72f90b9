"""The course's notebook files: find them, keep each ``.ipynb`` paired with its ``.py``, point them at
the repository, write the student versions. Running them is :mod:`sgt_course.tools.headless`.

The ``.py`` file (jupytext "percent" format) is the source we edit and review; the ``.ipynb`` beside
it is generated from it, committed without outputs, and is what students open. A course notebook's
name begins with its two-digit place in the course (``00_`` ... ``99_``).
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

#: A course notebook's name: its two-digit place in the course, then the rest (``02_saliency_guided_training``).
COURSE_NAME = re.compile(r"\d\d_")


def repo_root(start: Path | None = None) -> Path:
    """The course checkout: the nearest folder above ``start`` (default: cwd, then this package)
    holding both ``pyproject.toml`` and ``notebooks/``.

    Raises:
        FileNotFoundError: neither place is inside a checkout of the course.
    """
    candidates = [start] if start else [Path.cwd(), Path(__file__).resolve().parent]
    for begin in candidates:
        for folder in (begin, *begin.parents):
            if (folder / "pyproject.toml").is_file() and (folder / "notebooks").is_dir():
                return folder
    raise FileNotFoundError("not inside a checkout of sgt-course: no folder with pyproject.toml and notebooks/ "
                            "above the current directory; cd into the repository first")


def course_notebooks(folder: Path) -> list[Path]:
    """The course's notebooks (``NN_name.ipynb``) in ``folder``, in course order."""
    return _course_files(folder, ".ipynb")


def _course_files(folder: Path, suffix: str) -> list[Path]:
    """The files ``NN_*<suffix>`` in ``folder``, in course order."""
    return sorted(p for p in folder.glob(f"*{suffix}") if COURSE_NAME.match(p.name))


def unsynced_pairs(folder: Path) -> list[str]:
    """Problems with the jupytext pairs in ``folder``: a missing twin, or cells that differ.

    Returns an empty list when every ``.ipynb`` has a ``.py`` twin with the same cells (type and
    source) and vice versa.
    """
    import jupytext

    problems = []
    sources = _course_files(folder, ".py")
    for py in sources:
        ipynb = py.with_suffix(".ipynb")
        if not ipynb.exists():
            problems.append(f"{py.name} has no paired {ipynb.name}: run `sgt-course sync`")
            continue
        expected = [(c.cell_type, c.source) for c in jupytext.read(py).cells]
        actual = [(c.cell_type, c.source) for c in jupytext.read(ipynb).cells]
        if expected != actual:
            differing = next((i for i, (a, b) in enumerate(zip(expected, actual)) if a != b), min(len(expected), len(actual)))
            problems.append(f"{ipynb.name} differs from {py.name} at cell {differing}: run `sgt-course sync`")
    for ipynb in course_notebooks(folder):
        if not ipynb.with_suffix(".py").exists():
            problems.append(f"{ipynb.name} has no paired {ipynb.with_suffix('.py').name}")
    problems += [f"{path.name} names another repository than pyproject.toml's: run `sgt-course sync`"
                 for path in _pointed_elsewhere(folder.parent)]
    return problems


#: Where the course's repository address lives: ``[project.urls] Repository`` in pyproject.toml.
REPOSITORY_KEY = "Repository"
_GIT_INSTALL = re.compile(r"git\+https://github\.com/[^\s\"')]+")
_COLAB_BADGE = re.compile(r"https://colab\.research\.google\.com/github/[^/\s)]+/[^/\s)]+/")


def repository_url(root: Path) -> str:
    """The repository's address, ``https://github.com/<owner>/<name>``, from ``root``'s pyproject.toml.

    Raises:
        ValueError: pyproject.toml has no ``[project.urls] Repository`` on GitHub.
    """
    import tomllib

    urls = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8")).get("project", {}).get("urls", {})
    url = urls.get(REPOSITORY_KEY, "").rstrip("/")
    if not re.fullmatch(r"https://github\.com/[^/\s]+/[^/\s]+", url):
        raise ValueError(f"pyproject.toml's [project.urls] {REPOSITORY_KEY} must be https://github.com/<owner>/<name>; "
                         f"got {url!r}")
    return url


def point_at_repository(root: Path) -> list[Path]:
    """Write :func:`repository_url` into the notebooks' Colab install cells (``git+<url>``) and the README's
    Colab badges (``colab.research.google.com/github/<owner>/<name>/``); return the files changed. A fork
    changes the address in pyproject.toml and runs ``sgt-course sync``."""
    changed = []
    for path, pointed in _pointed_elsewhere(root).items():
        path.write_text(pointed, encoding="utf-8")
        changed.append(path)
    return changed


def _pointed_elsewhere(root: Path) -> dict[Path, str]:
    """The sources that name another repository than :func:`repository_url`, each with its corrected text."""
    url = repository_url(root)
    colab = "https://colab.research.google.com/github/" + url.removeprefix("https://github.com/") + "/"
    found = {}
    for path in [*_course_files(root / "notebooks", ".py"), root / "README.md"]:
        text = path.read_text(encoding="utf-8")
        pointed = _COLAB_BADGE.sub(colab, _GIT_INSTALL.sub(f"git+{url}", text))
        if pointed != text:
            found[path] = pointed
    return found


def sync(folder: Path) -> list[Path]:
    """Point the sources at the repository (:func:`point_at_repository`), then write every ``NN_*.ipynb``
    from its ``.py`` source, without outputs; return the files written."""
    import jupytext

    written = point_at_repository(folder.parent)
    for py in _course_files(folder, ".py"):
        notebook = jupytext.read(py)
        notebook.metadata.setdefault("jupytext", {})["formats"] = "ipynb,py:percent"
        target = py.with_suffix(".ipynb")
        if _write_if_changed(notebook, target):
            written.append(target)
    return written


def _write_if_changed(notebook: object, target: Path) -> bool:
    """Write ``notebook`` to ``target`` as .ipynb with stable cell ids (a re-write of unchanged cells
    is no diff) and a Python 3 kernel; return whether the file changed."""
    import jupytext

    for index, cell in enumerate(notebook.cells):
        cell.id = hashlib.sha1(f"{index}:{cell.source}".encode()).hexdigest()[:8]
    notebook.metadata.setdefault("kernelspec", {"display_name": "Python 3", "language": "python", "name": "python3"})
    before = target.read_text() if target.exists() else None
    jupytext.write(notebook, target, fmt="ipynb")
    return target.read_text() != before


SOLUTION = re.compile(r"^(?P<indent>[ \t]*)### BEGIN SOLUTION\n.*?^[ \t]*### END SOLUTION\n?", re.S | re.M)
STUDENT_FOLDER = "student"


def strip_solutions(source: str) -> str:
    """A cell's source with each ``### BEGIN SOLUTION`` ... ``### END SOLUTION`` block replaced by a stub."""
    return SOLUTION.sub(lambda m: f'{m["indent"]}raise NotImplementedError("your code here")\n', source)


def exercise_cells(notebook: object) -> list[int]:
    """Indices of the code cells that hold a solution block."""
    return [i for i, cell in enumerate(notebook.cells) if cell.cell_type == "code" and SOLUTION.search(cell.source)]


def write_student_versions(folder: Path) -> list[Path]:
    """Write ``<folder>/student/NN_*.ipynb``: each course notebook with its solutions replaced by stubs
    (prose, checkers and everything else kept, no outputs); return the files that changed."""
    import jupytext

    written = []
    for source in _course_files(folder, ".py"):
        notebook = jupytext.read(source)
        cells = exercise_cells(notebook)
        if not cells:
            continue
        for index in cells:
            notebook.cells[index].source = strip_solutions(notebook.cells[index].source)
        notebook.metadata.pop("jupytext", None)
        target = folder / STUDENT_FOLDER / source.with_suffix(".ipynb").name
        target.parent.mkdir(exist_ok=True)
        if _write_if_changed(notebook, target):
            written.append(target)
    return written
