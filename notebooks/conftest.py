"""How nbval runs the course's notebooks:

- its kernels draw figures inline, as a student's do;
- a cell that runs for most of its timeout leaves the Python stacks of the kernel and of pytest in a
  file, which the failing cell's report names (:class:`~sgt_course.tools.headless.StackDump`):
  what a hung kernel was waiting for;
- with $SGT_COURSE_EXECUTED set (``sgt-course test`` sets it), every notebook nbval runs is written
  there with its outputs and its run record (:mod:`sgt_course.tools.run_records`), so the course website
  is built from this run instead of executing the notebooks a second time.
"""

from __future__ import annotations

import os
import time
import tokenize
from pathlib import Path
from queue import Empty

import pytest

from sgt_course.recipes import PROFILE_ENV
from sgt_course.tools import run_records
from sgt_course.tools.headless import INLINE_BACKEND, StackDump
from sgt_course.tools.run_records import EXECUTED_ENV

_BACKEND = os.environ.get("MPLBACKEND")
_started: dict[str, float] = {}
_dumps: dict[str, StackDump] = {}


def _run_in_kernel(kernel: object, code: str, timeout: float = 60.0) -> list[dict]:
    """Run ``code`` in nbval's kernel, outside the notebook's history; return what it printed."""
    msg_id = kernel.execute_cell_input(code, allow_stdin=False)
    outputs = []
    try:
        while True:
            msg = kernel.get_message(stream="iopub", timeout=timeout)
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            if msg["msg_type"] == "stream":
                outputs.append({"output_type": "stream", "text": msg["content"]["text"]})
            elif msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
                return outputs
    except Empty:
        return outputs


def _stack_dump(item: pytest.Item) -> StackDump | None:
    """The notebook's :class:`StackDump`, made (and its handler registered in the kernel) at its first cell."""
    key, kernel = str(item.parent.path), item.parent.kernel
    if key not in _dumps and kernel is not None and kernel.is_alive():
        dump = StackDump(item.config.option.nbval_cell_timeout).__enter__()
        if dump.enabled:
            _run_in_kernel(kernel, dump.register)
        _dumps[key] = dump
    return _dumps.get(key)


def _quiet(cell: object) -> bool:
    """Whether the cell ends in ``;``, which silences its result in a notebook. nbval runs cells without
    storing them in the kernel's history, where IPython looks for that semicolon, so its results arrive
    anyway (a figure would show twice)."""
    from IPython.core.displayhook import DisplayHook

    try:
        return DisplayHook.semicolon_at_end_of_expression(cell.source)
    except (SyntaxError, ValueError, tokenize.TokenError):  # source IPython could not tokenize: not silenced
        return False


@pytest.hookimpl(tryfirst=True)  # before nbval starts the notebook's kernel, which inherits our environment
def pytest_runtest_setup(item: pytest.Item) -> None:
    if hasattr(item, "cell"):
        os.environ["MPLBACKEND"] = INLINE_BACKEND  # `sgt-course test` sets Agg for the unit tests
        _started.setdefault(str(item.parent.path), time.perf_counter())


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item: pytest.Item):
    dump = _stack_dump(item) if hasattr(item, "cell") else None
    if dump is not None:
        dump.arm(item.parent.kernel, item.cell_num)
    yield
    if dump is not None:
        dump.disarm()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    outcome = yield
    dump = _dumps.get(str(item.parent.path)) if hasattr(item, "cell") else None
    report = outcome.get_result()
    if dump is not None and dump.written and report.failed:
        where = f"the Python stacks of the kernel and of pytest shortly before the timeout: {dump.path}"
        report.sections.append(("stacks before the timeout", where))


@pytest.hookimpl(tryfirst=True)  # before nbval stops the kernel with the notebook's last cell
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> None:
    if not hasattr(item, "cell"):
        return
    last = nextitem is None or nextitem.parent is not item.parent
    folder = os.environ.get(EXECUTED_ENV)
    if folder:
        quiet = _quiet(item.cell)
        item.cell.outputs = [o for o in item.test_outputs or [] if not (quiet and o.output_type == "execute_result")]
        item.cell.execution_count = item.cell_num + 1 if item.test_outputs is not None else None
        if last:
            _save(item.parent, Path(folder))
    if last:
        _started.pop(str(item.parent.path), None)
        dump = _dumps.pop(str(item.parent.path), None)
        if dump is not None:
            dump.__exit__(None, None, None)  # the file goes unless stacks were written to it
        if _BACKEND is None:
            os.environ.pop("MPLBACKEND", None)
        else:
            os.environ["MPLBACKEND"] = _BACKEND


def _save(notebook: pytest.Collector, folder: Path) -> None:
    """Write nbval's notebook, its cells holding this run's outputs, to ``folder`` with its run record."""
    import nbformat

    kernel = notebook.kernel
    alive = kernel is not None and kernel.is_alive()
    facts = run_records.probe_facts(_run_in_kernel(kernel, run_records.PROBE)) if alive else {}
    outputs = [output for cell in notebook.nb.cells for output in cell.get("outputs", [])]
    failed = any(output.get("output_type") == "error" for output in outputs)
    seconds = time.perf_counter() - _started.get(str(notebook.path), time.perf_counter())
    run_records.attach(notebook.nb, run_records.make_record(
        notebook.nb, facts, profile=os.environ.get(PROFILE_ENV) or "unknown", seconds=seconds,
        executor="nbval", error="a cell raised an error" if failed else None))
    folder.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook.nb, folder / notebook.path.name)
