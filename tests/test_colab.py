"""The Colab set-up cell against Colab's runtime (``colab/runtime-2026-08.txt``): it installs the library
and torchattacks alone, changing none of Colab's packages, and every package the library needs that Colab
pins is accepted at Colab's version."""

import ast
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import Version

from sgt_course.tools import notebook_files

tomllib = pytest.importorskip("tomllib", reason="tomllib needs Python >= 3.11")
ROOT = Path(__file__).resolve().parents[1]
RUNTIME = ROOT / "colab" / "runtime-2026-08.txt"
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.py"))


def colab_pins(path: Path = RUNTIME) -> dict[str, Version]:
    """The runtime file's ``name==version`` lines, by canonical name (``python`` included)."""
    lines = [line.split("#")[0].strip() for line in path.read_text().splitlines()]
    return {canonicalize_name(name): Version(version) for name, version in
            (line.split("==") for line in lines if line)}


def colab_install(source: str) -> list[str]:
    """What a notebook's Colab cell hands to ``pip install``: the list given to ``subprocess.run``."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "run" and node.args:
            words = [w.value for w in getattr(node.args[0], "elts", []) if isinstance(w, ast.Constant)]
            if "install" in words:
                return words[words.index("install") + 1:]
    return []


def changed_by(install: list[str], pins: dict[str, Version]) -> list[str]:
    """The Colab packages that ``pip install <install>`` could change: all of them without ``--no-deps``
    (pip may upgrade any dependency), else those named."""
    names = [canonicalize_name(Requirement(w).name) for w in install if not w.startswith("-")]
    if "--no-deps" not in install:
        return sorted(pins)
    return sorted(set(names) & set(pins))


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_the_colab_cell_installs_the_library_alone_and_changes_no_colab_package(notebook):
    install = colab_install(notebook.read_text(encoding="utf-8"))
    names = sorted(canonicalize_name(Requirement(w).name) for w in install if not w.startswith("-"))
    assert names == ["sgt-course", "torchattacks"], install
    assert f"sgt-course @ git+{notebook_files.repository_url(ROOT)}" in install, "the address pyproject.toml gives"
    assert changed_by(install, colab_pins()) == []


def test_the_library_accepts_every_version_colab_pins():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pins = colab_pins()
    assert SpecifierSet(project["requires-python"]).contains(pins["python"])
    checked = []
    for requirement in map(Requirement, project["dependencies"]):
        name = canonicalize_name(requirement.name)
        if name in pins:
            assert requirement.specifier.contains(pins[name], prereleases=True), \
                f"{requirement} refuses Colab's {pins[name]}"
            checked.append(name)
    assert {"torch", "ipywidgets", "mlxtend"} <= set(checked)


def test_the_check_fails_on_an_install_that_would_change_a_colab_package(tmp_path):
    pins = {"ipywidgets": Version("7.7.1"), "torch": Version("2.11")}
    assert changed_by(["-q", "sgt-course[course]"], pins) == ["ipywidgets", "torch"]
    assert changed_by(["--no-deps", "sgt-course", "ipywidgets>=8"], pins) == ["ipywidgets"]
    runtime = tmp_path / "runtime.txt"
    runtime.write_text("# a comment\npython==3.13\nipywidgets==7.7.1  # Colab's\n")
    assert colab_pins(runtime) == {"python": Version("3.13"), "ipywidgets": Version("7.7.1")}
    assert not Requirement("ipywidgets>=8").specifier.contains(Version("7.7.1"))
