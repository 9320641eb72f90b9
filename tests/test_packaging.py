"""The project's own files agree with each other: pyproject, environment.yml, README, CI, notebooks."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

tomllib = pytest.importorskip("tomllib", reason="tomllib needs Python >= 3.11")

from sgt_course.tools import cli, notebook_files

ROOT = Path(__file__).resolve().parents[1]
CONDA_NAMES = {"pytorch": "torch"}  # conda-forge name -> PyPI name


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~\[ ;]", requirement.strip(), maxsplit=1)[0].lower()


def test_environment_yml_lists_the_same_packages_as_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pip_names = {_name(r) for r in project["dependencies"]}
    for extra in project["optional-dependencies"].values():
        pip_names |= {_name(r) for r in extra}
    conda_names = set()
    dependencies = (ROOT / "environment.yml").read_text().split("dependencies:", 1)[1]
    for line in dependencies.splitlines():
        item = re.match(r"^\s*-\s+([A-Za-z][\w.-]*[^:\s]*)\s*$", line)
        if item and not line.strip().startswith("- -e"):
            name = _name(item.group(1))
            conda_names.add(CONDA_NAMES.get(name, name))
    conda_names -= {"python", "pip"}
    assert conda_names == pip_names, (
        f"only in environment.yml: {sorted(conda_names - pip_names)}; only in pyproject: {sorted(pip_names - conda_names)}")


def test_pins_live_in_the_constraints_file_not_the_metadata():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert not any("==" in r for r in project["dependencies"]), "exact pins would fight Colab's torch"
    pins = (ROOT / "constraints.txt").read_text()
    assert re.search(r"^torch==\S+$", pins, re.M) and re.search(r"^torchvision==\S+$", pins, re.M)


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    commands = [line.strip() for block in re.findall(r"```(?:bash|sh)?\n(.*?)```", readme, re.S)
                for line in block.splitlines() if line.strip() and not line.strip().startswith("#")]
    assert "python3 course.py test" in commands, "the README gives the test command"
    assert "python3 course.py lab" in commands, "the README gives the course command"
    assert re.search(r"^python3 course\.py test$", ci, re.M), ".ci/run calls exactly the README's test command"


def test_notebook_pairs_are_in_sync():
    problems = notebook_files.unsynced_pairs(ROOT / "notebooks")
    assert not problems, "\n".join(problems)


def test_committed_notebooks_carry_no_outputs():
    import nbformat

    for path in notebook_files.course_notebooks(ROOT / "notebooks"):
        nb = nbformat.read(path, as_version=4)
        stored = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and (c.outputs or c.execution_count)]
        assert not stored, f"{path.name} has stored outputs in cells {stored}: run `sgt-course sync`"


def test_every_notebook_opens_with_the_colab_cell():
    for path in notebook_files.course_notebooks(ROOT / "notebooks"):
        import nbformat

        first_code = next(c for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code")
        assert '"google.colab" in sys.modules' in first_code.source, f"{path.name}: first code cell is not the Colab set-up"


def test_the_repository_address_is_written_once_and_sync_carries_it_everywhere(tmp_path, monkeypatch):
    """A fork changes pyproject.toml's [project.urls] Repository; `sgt-course sync` rewrites the Colab
    cells and the README's badges, and `sync --check` reports a source that names another address."""
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\n[project.urls]\n'
                                             'Repository = "https://github.com/a-fork/sgt-course"\n')
    cell = (ROOT / "notebooks" / "00_setup_and_tour.py").read_text()
    (tmp_path / "notebooks" / "00_setup_and_tour.py").write_text(cell)
    (tmp_path / "README.md").write_text((ROOT / "README.md").read_text())
    assert [p.name for p in notebook_files._pointed_elsewhere(tmp_path)] == ["00_setup_and_tour.py", "README.md"]
    assert any("names another repository" in problem for problem in notebook_files.unsynced_pairs(
        tmp_path / "notebooks"))
    notebook_files.point_at_repository(tmp_path)
    assert '"sgt-course @ git+https://github.com/a-fork/sgt-course"' in (tmp_path / "notebooks" / "00_setup_and_tour.py").read_text()
    readme = (tmp_path / "README.md").read_text()
    assert "colab.research.google.com/github/a-fork/sgt-course/blob/main/" in readme and "github/sgt-course/" not in readme
    assert notebook_files._pointed_elsewhere(tmp_path) == {}
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\n')
    with pytest.raises(ValueError, match=r"\[project.urls\] Repository must be"):
        notebook_files.repository_url(tmp_path)


def test_colab_cell_is_a_no_op_outside_colab():
    import nbformat

    path = notebook_files.course_notebooks(ROOT / "notebooks")[0]
    first_code = next(c for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code")
    # Run the cell in a fresh interpreter with pip replaced by a tripwire: it must not be called.
    probe = ("import subprocess\n"
             "def tripwire(*a, **k): raise SystemExit('pip was called outside Colab')\n"
             "subprocess.run = subprocess.check_call = tripwire\n" + first_code.source)
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr


def test_cli_knows_its_subcommands():
    parser = cli.build_parser()
    assert parser.parse_args(["run", "--profile", "ci"]).profile == "ci"
    assert parser.parse_args(["test", "tests/test_runtime.py", "-k", "seed"]).pytest_args == ["tests/test_runtime.py", "-k", "seed"]
    with pytest.raises(SystemExit):
        parser.parse_args(["run", "--profile", "laptop"])


def test_the_cli_s_profile_default_is_the_library_s(monkeypatch):
    from sgt_course.recipes import default_profile_name

    for name in ("ci", None):
        if name:
            monkeypatch.setenv("SGT_COURSE_PROFILE", name)
        else:
            monkeypatch.delenv("SGT_COURSE_PROFILE", raising=False)
        parser = cli.build_parser()
        assert {parser.parse_args([command]).profile for command in ("run", "slides", "site")} == {default_profile_name()}


def test_course_notebooks_are_every_two_digit_name_in_order(tmp_path):
    for name in ("12_later.ipynb", "07_next.ipynb", "00_first.ipynb", "conftest.py", "notes.ipynb", "7_odd.ipynb"):
        (tmp_path / name).write_text("{}")
    assert [p.name for p in notebook_files.course_notebooks(tmp_path)] == ["00_first.ipynb", "07_next.ipynb",
                                                                          "12_later.ipynb"]


def test_cli_sync_check_passes_on_the_checkout(capsys, monkeypatch):
    monkeypatch.chdir(ROOT)
    assert cli.main(["sync", "--check"]) == 0


def test_cli_outside_a_checkout_says_where_to_go(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(notebook_files, "__file__", str(tmp_path / "x.py"))
    assert cli.main(["sync", "--check"]) == 2
    assert "cd into the repository" in capsys.readouterr().err


def test_readme_maps_every_notebook_with_a_colab_badge_that_opens_its_student_version():
    readme = (ROOT / "README.md").read_text()
    for path in notebook_files.course_notebooks(ROOT / "notebooks"):
        assert f"(notebooks/{path.name})" in readme, f"{path.name} is missing from the README's course map"
        folder = "notebooks/student" if (ROOT / "notebooks" / "student" / path.name).is_file() else "notebooks"
        repository = notebook_files.repository_url(ROOT).removeprefix("https://github.com/")
        badge = f"colab.research.google.com/github/{repository}/blob/main/{folder}/{path.name}"
        assert badge in readme, f"{path.name}'s Colab badge should open {folder}/{path.name}"


#: The teaching library's layers, bottom up (the package docstring draws them): a module imports from its
#: own layer or below, never from above, and never from the course tooling in sgt_course.tools.
LAYERS = [("checks", "recipes", "runtime", "stats", "tables", "recorded"), ("data", "models"),
          ("saliency", "masking", "imputation", "attacks"), ("losses",), ("training", "timing"),
          ("metrics", "removal", "robustness", "sanity"), ("plots", "experiments", "static_explorers"),
          ("widgets", "exercises")]


def test_no_import_runs_back_up_the_layers_or_into_the_tooling():
    import ast

    layer_of = {module: i for i, layer in enumerate(LAYERS) for module in layer}
    package = ROOT / "sgt_course"
    teaching = sorted(p for p in package.rglob("*.py") if "tools" not in p.parts and p.name != "__init__.py"
                      or p.parent.name == "data")
    assert {p.stem if p.parent == package else "data" for p in teaching} == set(layer_of), "every module has a layer"
    problems = []
    for path in teaching:
        own = path.stem if path.parent == package else "data"
        for node in ast.walk(ast.parse(path.read_text())):
            names = ([node.module] if isinstance(node, ast.ImportFrom) and node.module else
                     [alias.name for alias in node.names] if isinstance(node, ast.Import) else [])
            for name in names:
                if name == "sgt_course" and isinstance(node, ast.ImportFrom):
                    imported = [alias.name for alias in node.names if alias.name in layer_of or alias.name == "tools"]
                elif name.startswith("sgt_course."):
                    imported = [name.split(".")[1]]
                else:
                    continue
                for module in imported:
                    if module == "tools" or layer_of[module] > layer_of[own]:
                        problems.append(f"{path.relative_to(ROOT)} imports sgt_course.{module}")
    assert not problems, problems
