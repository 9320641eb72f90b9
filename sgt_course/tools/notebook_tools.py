"""The notebook pipeline: find the course's notebooks, check their jupytext pairing, execute them.

The ``.py`` file (jupytext "percent" format) is the source we edit and review; the ``.ipynb`` beside
it is generated from it, committed without outputs, and is what students open.
"""

from __future__ import annotations

import faulthandler
import hashlib
import os
import re
import signal
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

NOTEBOOK_PREFIXES = tuple(f"{i:02d}_" for i in range(7))
#: The folder that holds the sgt_course package this process imported.
PACKAGE_PARENT = Path(__file__).resolve().parents[2]


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
    return sorted(p for p in folder.glob("*.ipynb") if p.name.startswith(NOTEBOOK_PREFIXES))


def unsynced_pairs(folder: Path) -> list[str]:
    """Problems with the jupytext pairs in ``folder``: a missing twin, or cells that differ.

    Returns an empty list when every ``.ipynb`` has a ``.py`` twin with the same cells (type and
    source) and vice versa.
    """
    import jupytext

    problems = []
    sources = sorted(p for p in folder.glob("*.py") if p.name.startswith(NOTEBOOK_PREFIXES))
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
    return problems


def sync(folder: Path) -> list[Path]:
    """Write every ``NN_*.ipynb`` from its ``.py`` source, without outputs; return the files written."""
    import jupytext

    written = []
    for py in sorted(p for p in folder.glob("*.py") if p.name.startswith(NOTEBOOK_PREFIXES)):
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


@dataclass
class Execution:
    """The result of running one notebook headlessly."""

    notebook: str
    seconds: float
    error: str | None = None


def execute(notebook: Path, output: Path | None = None, *, profile: str | None = None,
            timeout: int = 1800, backend: str | None = None) -> Execution:
    """Run ``notebook`` top to bottom in a fresh kernel (cwd: its folder), optionally saving the result
    with its :class:`~sgt_course.tools.executed.RunRecord` (profile, data, machine, date) in its metadata.

    ``profile`` sets $SGT_COURSE_PROFILE for the kernel, ``backend`` matplotlib's backend (see
    :func:`run_cells`). A failing cell stops the run; the error's last line is returned, and the partly
    executed notebook is still saved to ``output``.
    """
    import nbformat

    from sgt_course.tools import executed

    nb = nbformat.read(notebook, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(executed.PROBE))
    seconds, error = run_cells(nb, notebook.parent, profile=profile, timeout=timeout, backend=backend)
    probe = nb.cells.pop()
    facts = executed.probe_facts(probe.get("outputs", []))
    asked = profile or os.environ.get("SGT_COURSE_PROFILE") or "unknown"
    executed.attach(nb, executed.make_record(nb, facts, profile=asked, seconds=seconds, executor="sgt-course run",
                                             error=error))
    if output is not None:
        output.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, output)
    return Execution(notebook.name, seconds, error)


INLINE_BACKEND = "module://matplotlib_inline.backend_inline"


def run_cells(nb: object, cwd: Path, *, profile: str | None = None, timeout: int = 1800,
              backend: str | None = None) -> tuple[float, str | None]:
    """Execute the notebook object ``nb`` in place in a fresh kernel working in ``cwd``.

    The kernel gets this process's environment with $SGT_COURSE_PROFILE set to ``profile``, matplotlib's
    backend set to ``backend`` (default: $MPLBACKEND, else inline figures) and this sgt_course first on
    its $PYTHONPATH.
    Returns the wall time in seconds and, when a cell failed, the last line of its error (else None).

    A cell that runs out of its ``timeout`` seconds fails its notebook, and shortly before that the
    Python stacks of the kernel and of this client are written to a file that the error names
    (:class:`StackDump`): what a hung kernel, or a client that stopped listening, was doing.
    """
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

    env = dict(os.environ)
    # The kernel imports the sgt_course this process runs, also when that is a checkout on a relative
    # $PYTHONPATH (the kernel works in the notebook's folder) rather than an installed package.
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PACKAGE_PARENT), env.get("PYTHONPATH")]))
    if profile is not None:
        env["SGT_COURSE_PROFILE"] = profile
    env["MPLBACKEND"] = backend or env.get("MPLBACKEND") or INLINE_BACKEND
    start, error = time.perf_counter(), None
    with _kernel_config() as config, StackDump(timeout) as dump:
        client = NotebookClient(nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(cwd)}},
                                config=config, extra_arguments=dump.kernel_arguments,
                                on_cell_execute=lambda cell, cell_index: dump.arm(client, cell_index),
                                on_cell_executed=lambda **_: dump.disarm())
        try:
            client.execute(env=env)
        except CellExecutionError as failure:
            text = re.sub(r"\x1b\[[0-9;]*m", "", str(failure))  # drop the traceback's colour codes
            lines = [line for line in text.strip().splitlines() if line.strip()]
            error = lines[-1] if lines else "cell failed"
        except (CellTimeoutError, DeadKernelError) as failure:  # a hung or killed kernel fails this notebook only
            error = f"{type(failure).__name__}: {str(failure).strip().splitlines()[0] if str(failure).strip() else ''}"
            if dump.written:
                error += f" (the kernel's and the client's stacks before the timeout: {dump.path})"
    return time.perf_counter() - start, error


class StackDump:
    """Writes the Python stacks of a kernel and of this client to a file when a cell has run for most of
    its timeout. The kernel registers a faulthandler for SIGUSR1 at start (``kernel_arguments``, or
    ``register`` run in it), which dumps every thread even while it waits in C; this process dumps its
    own threads. ``arm`` takes anything with the kernel's manager as ``.km`` (an nbclient client, an
    nbval kernel). POSIX only: where there is no SIGUSR1 nothing is armed."""

    def __init__(self, timeout: int) -> None:
        self.delay = max(1.0, timeout - min(5.0, timeout / 4))  # the dump takes about a second
        self.enabled = hasattr(signal, "SIGUSR1")
        handle, name = tempfile.mkstemp(prefix="sgt-course-stacks-", suffix=".txt")
        os.close(handle)
        self.path, self.written, self._timer = Path(name), False, None
        #: Python for a running kernel that did not get ``kernel_arguments`` (nbval's): registers the handler.
        self.register = (f"__import__('faulthandler').register(__import__('signal').SIGUSR1, "
                         f"file=open({str(self.path)!r}, 'a'), all_threads=True)")
        self.kernel_arguments = [f"--IPKernelApp.exec_lines={self.register}"] if self.enabled else []

    def __enter__(self) -> StackDump:
        return self

    def __exit__(self, *exc: object) -> None:
        self.disarm()
        if not self.written:
            self.path.unlink(missing_ok=True)

    def arm(self, client: object, cell_index: int) -> None:
        """Start the clock of cell ``cell_index``."""
        self.disarm()
        if self.enabled:
            self._timer = threading.Timer(self.delay, self._dump, args=(client, cell_index))
            self._timer.daemon = True
            self._timer.start()

    def disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _dump(self, client: object, cell_index: int) -> None:
        self.written = True
        with self.path.open("a") as file:
            file.write(f"cell {cell_index} still running after {self.delay:.0f} s\n\n# the kernel\n")
        pid = getattr(getattr(getattr(client, "km", None), "provisioner", None), "pid", None)
        if pid is not None:
            os.kill(pid, signal.SIGUSR1)
            time.sleep(1.0)  # the kernel writes its stacks to the same file
        with self.path.open("a") as file:
            file.write("\n# this client\n")
            file.flush()
            faulthandler.dump_traceback(file=file, all_threads=True)


@contextmanager
def _kernel_config() -> Iterator[object]:
    """How the headless kernel talks to its client (a traitlets ``Config``). Over TCP every kernel logs
    that its traffic is unencrypted; local socket files (IPC, POSIX only) open no network port and print
    nothing. Their path is absolute, in a folder removed afterwards, because the kernel runs in the
    notebook's folder."""
    from traitlets.config import Config

    if os.name != "posix":
        yield Config()
        return
    with tempfile.TemporaryDirectory(prefix="sgt-kernel-") as folder:
        yield Config({"KernelManager": {"transport": "ipc", "ip": str(Path(folder) / "kernel")}})


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
    for source in sorted(p for p in folder.glob("*.py") if p.name.startswith(NOTEBOOK_PREFIXES)):
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
