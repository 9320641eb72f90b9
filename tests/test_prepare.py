"""`sgt-course prepare`: executes what is not prepared yet, skips what is, and reports the cache."""

import nbformat

from sgt_course.tools.prepare import prepare


def notebook(path, *cells):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(c) for c in cells]
    nbformat.write(nb, path)
    return path


def test_prepare_executes_each_notebook_once_and_resumes_where_it_stopped(tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    (cache / "checkpoints").mkdir(parents=True)
    monkeypatch.setenv("SGT_COURSE_CACHE", str(cache))
    good = notebook(tmp_path / "00_good.ipynb",
                    "import os, pathlib\n"
                    "pathlib.Path(os.environ['SGT_COURSE_CACHE'], 'checkpoints', 'm.pt').write_bytes(b'x' * 2048)")
    broken = notebook(tmp_path / "01_broken.ipynb", "raise RuntimeError('no data')")
    executed = tmp_path / "runs"

    first = prepare("ci", [good, broken], executed, progress=False)
    assert first.executed == ["00_good.ipynb"] and list(first.failed) == ["01_broken.ipynb"]
    assert "RuntimeError: no data" in first.failed["01_broken.ipynb"]
    assert (first.cache.checkpoints, first.cache.bytes) == (1, 2048)

    notebook(broken, "print('fixed')")
    second = prepare("ci", [good, broken], executed, progress=False)
    assert second.skipped == ["00_good.ipynb"] and second.executed == ["01_broken.ipynb"] and not second.failed
    third = prepare("ci", [good, broken], executed, progress=False)
    assert third.skipped == ["00_good.ipynb", "01_broken.ipynb"] and not third.executed
    assert prepare("cpu", [good], executed, progress=False).executed == ["00_good.ipynb"], "another profile: again"
