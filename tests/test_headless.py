"""Headless execution: a notebook runs in a fresh kernel, its error is reported, and the kernel says
nothing a student need not read."""

from __future__ import annotations

import asyncio
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from sgt_course.tools import headless
from sgt_course.tools.headless import INLINE_BACKEND, run_cells


def test_a_notebook_runs_quietly_in_its_folder_and_a_failing_cell_is_reported(tmp_path, capfd):
    (tmp_path / "data.txt").write_text("42")
    nb = new_notebook(cells=[new_code_cell("import os; print(open('data.txt').read(), os.environ['SGT_COURSE_PROFILE'], "
                                           "os.environ['SGT_COURSE_STATIC_EXPLORERS'])")])
    seconds, error, first_figure = run_cells(nb, tmp_path, profile="ci", timeout=120)
    assert error is None and seconds > 0 and first_figure is None, "no figure drawn"
    assert nb.cells[0].outputs[0]["text"].strip() == "42 ci 1", "a headless run's explorers draw their static twins"
    captured = capfd.readouterr()
    assert "without encryption" not in captured.err + captured.out

    failing = new_notebook(cells=[new_code_cell("1 / 0"), new_code_cell("print('not reached')")])
    _, error, _ = run_cells(failing, tmp_path, timeout=120)
    assert error is not None and "ZeroDivisionError" in error
    assert nbformat.validate(failing) is None and failing.cells[1].get("outputs") == []


def test_a_cell_that_runs_out_of_time_leaves_the_stacks_of_kernel_and_client(tmp_path):
    nb = new_notebook(cells=[new_code_cell("def waiting_for_ever():\n    import time\n    time.sleep(60)\n\n"
                                           "waiting_for_ever()")])
    _, error, _ = run_cells(nb, tmp_path, timeout=8)
    assert error is not None and error.startswith("CellTimeoutError") and "stacks before the timeout" in error
    stacks = Path(error.rsplit(": ", 1)[1].rstrip(")")).read_text()
    kernel, client = stacks.split("# this client")
    assert "cell 0 still running" in kernel and "waiting_for_ever" in kernel, kernel
    assert "run_cells" in client, client


def test_no_stack_file_is_left_behind_when_every_cell_finishes(tmp_path):
    import tempfile

    before = set(Path(tempfile.gettempdir()).glob("sgt-course-stacks-*"))
    _, error, _ = run_cells(new_notebook(cells=[new_code_cell("1 + 1")]), tmp_path, timeout=60)
    assert error is None and set(Path(tempfile.gettempdir()).glob("sgt-course-stacks-*")) == before


def test_the_kernel_imports_this_sgt_course_first_even_from_a_relative_pythonpath(tmp_path, monkeypatch):
    import sgt_course
    from sgt_course.tools.headless import PACKAGE_PARENT

    monkeypatch.setenv("PYTHONPATH", ".")  # relative: the kernel works in another folder
    nb = new_notebook(cells=[new_code_cell("import os, sgt_course\n"
                                           "print(os.environ['PYTHONPATH'].split(os.pathsep)[0]); print(sgt_course.__file__)")])
    _, error, _ = run_cells(nb, tmp_path, timeout=120)
    first, imported = nb.cells[0].outputs[0]["text"].split()
    assert error is None and first == str(PACKAGE_PARENT) and imported == sgt_course.__file__


def test_the_time_to_the_first_figure_is_when_the_first_cell_that_draws_one_finished(tmp_path):
    nb = new_notebook(cells=[new_code_cell("import time; time.sleep(1.5)"),
                             new_code_cell("import matplotlib.pyplot as plt; plt.plot([1, 2]); plt.show()"),
                             new_code_cell("time.sleep(1.5); plt.plot([2, 1]); plt.show()")])
    seconds, error, first_figure = run_cells(nb, tmp_path, timeout=120, backend=INLINE_BACKEND)
    assert error is None and 1.5 < first_figure < seconds - 1.4


@pytest.mark.parametrize("reply_after, asked, expected", [
    (None, 0, "reply"),      # the reply comes before "idle"
    (0.02, 0, "reply"),      # ... or soon after it
    (0.15, 1, "reply"),      # late: the kernel is asked again, and the reply is taken
    (9.0, 1, None),          # never: "idle" ends the cell
])
def test_a_reply_overdue_after_idle_gets_one_more_request_then_idle_ends_the_cell(reply_after, asked, expected):
    async def scenario():
        loop = asyncio.get_running_loop()
        reply, idle, calls = loop.create_future(), loop.create_future(), []
        if reply_after is None:
            reply.set_result("reply")
            loop.call_later(0.01, idle.set_result, None)
        else:
            idle.set_result(None)
            loop.call_later(reply_after, lambda: reply.done() or reply.set_result("reply"))
        result = await headless.reply_or_idle(reply, idle, lambda: calls.append(1), grace=0.1)
        return result, len(calls), reply.cancelled()

    result, calls, cancelled = asyncio.run(scenario())
    assert (result, calls) == (expected, asked)
    assert cancelled == (expected is None)


def test_an_overdue_reply_is_rebuilt_from_the_cells_outputs():
    error = {"output_type": "error", "ename": "ValueError", "evalue": "bad", "traceback": ["..."]}
    ok = headless._reply_from_outputs({"outputs": [{"output_type": "stream"}], "execution_count": 3}, "m1")
    failed = headless._reply_from_outputs({"outputs": [error], "execution_count": 4}, "m2")
    assert ok["content"] == {"status": "ok", "execution_count": 3} and ok["parent_header"]["msg_id"] == "m1"
    assert failed["content"]["status"] == "error" and failed["content"]["ename"] == "ValueError"
