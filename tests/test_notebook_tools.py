"""Headless execution: a notebook runs in a fresh kernel, its error is reported, and the kernel says
nothing a student need not read."""

from __future__ import annotations

import nbformat
from nbformat.v4 import new_code_cell, new_notebook

from sgt_course.tools.notebook_tools import run_cells


def test_a_notebook_runs_quietly_in_its_folder_and_a_failing_cell_is_reported(tmp_path, capfd):
    (tmp_path / "data.txt").write_text("42")
    nb = new_notebook(cells=[new_code_cell("import os; print(open('data.txt').read(), os.environ['SGT_COURSE_PROFILE'])")])
    seconds, error = run_cells(nb, tmp_path, profile="ci", timeout=120)
    assert error is None and seconds > 0
    assert nb.cells[0].outputs[0]["text"].strip() == "42 ci"
    captured = capfd.readouterr()
    assert "without encryption" not in captured.err + captured.out

    failing = new_notebook(cells=[new_code_cell("1 / 0"), new_code_cell("print('not reached')")])
    _, error = run_cells(failing, tmp_path, timeout=120)
    assert error is not None and "ZeroDivisionError" in error
    assert nbformat.validate(failing) is None and failing.cells[1].get("outputs") == []
