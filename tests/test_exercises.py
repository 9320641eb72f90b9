"""The exercises: every checker rejects the student stub and accepts the solution, and the committed
student notebooks are exactly what `sgt-course exercises` generates."""

import contextlib
import io
import shutil
from pathlib import Path

import jupytext
import pytest

from sgt_course.exercises import ExerciseFailed
from sgt_course.tools.notebook_files import STUDENT_FOLDER, exercise_cells, strip_solutions, write_student_versions

ROOT = Path(__file__).resolve().parents[1]
SOURCES = sorted(p for p in (ROOT / "notebooks").glob("0*.py"))
EXERCISES = [(path, index) for path in SOURCES for index in exercise_cells(jupytext.read(path))]


def test_every_notebook_after_the_tour_has_an_exercise():
    with_exercise = {path.name for path, _ in EXERCISES}
    expected = {p.name for p in SOURCES if not p.name.startswith("00_")}
    assert expected <= with_exercise, f"no exercise in {sorted(expected - with_exercise)}"


def run_cell(source: str) -> tuple[BaseException | None, str]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        try:
            exec(compile(source, "<exercise>", "exec"), {})  # noqa: S102 - the course's own cell
        except Exception as error:  # noqa: BLE001
            return error, out.getvalue()
    return None, out.getvalue()


@pytest.mark.parametrize("path, index", EXERCISES, ids=[f"{p.stem}-cell{i}" for p, i in EXERCISES])
def test_checker_accepts_the_solution_and_rejects_the_stub(path, index):
    source = jupytext.read(path).cells[index].source
    error, out = run_cell(source)
    assert error is None and "✔" in out, f"the solution fails its checker: {error!r}\n{out}"
    stub = strip_solutions(source)
    assert "### BEGIN SOLUTION" not in stub and 'raise NotImplementedError("your code here")' in stub
    error, out = run_cell(stub)
    assert isinstance(error, ExerciseFailed) and "Not implemented yet" in str(error), (error, out)
    assert error._render_traceback_() == [f"\x1b[31m✘ {error}\x1b[0m"], "one red line, no traceback"


def test_student_notebooks_are_in_sync_with_their_sources(tmp_path):
    for source in SOURCES:
        shutil.copy(source, tmp_path / source.name)
    generated = write_student_versions(tmp_path)
    assert generated, "student notebooks are generated"
    for path in generated:
        committed = ROOT / "notebooks" / STUDENT_FOLDER / path.name
        assert committed.exists(), f"{committed} is missing: run `sgt-course exercises`"
        assert committed.read_text() == path.read_text(), f"{committed.name} is stale: run `sgt-course exercises`"
    assert "### BEGIN SOLUTION" not in "".join(p.read_text() for p in generated)


def test_strip_solutions_keeps_indentation_and_the_rest():
    source = "def f(x):\n    ### BEGIN SOLUTION\n    return x + 1\n    ### END SOLUTION\n\n\nassert f(1) == 2\n"
    assert strip_solutions(source) == ('def f(x):\n    raise NotImplementedError("your code here")\n\n\n'
                                       "assert f(1) == 2\n")
