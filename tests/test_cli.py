"""`sgt-course test` sets up the browser tests: Chromium is used when present, installed with apt-get
only as root on Debian, and otherwise the user is told that the browser tests will be skipped."""

from __future__ import annotations

import pytest

from sgt_course.tools import cli


@pytest.fixture
def calls(monkeypatch):
    made = []
    monkeypatch.setattr(cli.subprocess, "call", lambda command, **_: made.append(command) or 0)
    monkeypatch.delenv("SGT_COURSE_CHROMIUM", raising=False)
    return made


def _which(present: set[str]):
    return lambda name: f"/usr/bin/{name}" if name in present else None


def test_a_chromium_on_the_path_is_used_as_it_is(monkeypatch, calls):
    monkeypatch.setattr(cli.shutil, "which", _which({"chromium", "apt-get"}))
    cli._ensure_chromium()
    assert calls == []


def test_without_root_nothing_is_installed_and_the_skip_is_announced(monkeypatch, calls, capsys):
    monkeypatch.setattr(cli.shutil, "which", _which({"apt-get"}))
    monkeypatch.setattr(cli.os, "geteuid", lambda: 1000, raising=False)
    cli._ensure_chromium()
    assert calls == []
    assert "will be skipped" in capsys.readouterr().out


def test_as_root_on_debian_apt_get_installs_chromium(monkeypatch, calls, capsys):
    monkeypatch.setattr(cli.shutil, "which", _which({"apt-get"}))
    monkeypatch.setattr(cli.os, "geteuid", lambda: 0, raising=False)
    cli._ensure_chromium()
    assert calls == [["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "chromium"]]
    assert "Installing Debian's chromium" in capsys.readouterr().out


def test_a_failed_install_is_reported(monkeypatch, capsys):
    monkeypatch.delenv("SGT_COURSE_CHROMIUM", raising=False)
    monkeypatch.setattr(cli.shutil, "which", _which({"apt-get"}))
    monkeypatch.setattr(cli.os, "geteuid", lambda: 0, raising=False)
    monkeypatch.setattr(cli.subprocess, "call", lambda command, **_: 100)
    cli._ensure_chromium()
    assert "could not install chromium" in capsys.readouterr().out


def test_prepare_and_cache_are_commands_and_prepare_reports_the_cache(monkeypatch, tmp_path, capsys):
    from sgt_course.tools import cli, prepare
    from sgt_course.tools.cache_archive import CacheSummary

    parser = cli.build_parser()
    assert parser.parse_args(["prepare", "--profile", "ci"]).handler is cli._prepare
    assert parser.parse_args(["prepare"]).timeout == cli.PREPARE_CELL_TIMEOUT > parser.parse_args(["run"]).timeout
    done = prepare.Prepared(executed=["00_setup_and_tour.ipynb"], skipped=["01_saliency_maps.ipynb"], seconds=90.0,
                            cache=CacheSummary(tmp_path, 4, 3 * 2**20))
    monkeypatch.setattr(prepare, "prepare", lambda profile, notebooks, executed, timeout: done)
    assert cli.main(["prepare", "--profile", "ci", "--output", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "prepared the 'ci' class in 1.5 min: 1 notebook(s) executed, 1 already prepared, 0 failed" in out
    assert "4 checkpoint(s), 3.0 MiB" in out and "sgt-course cache export" in out
    monkeypatch.setenv("SGT_COURSE_CACHE", str(tmp_path / "cache"))
    assert cli.main(["cache", "info"]) == 0 and "0 checkpoint(s)" in capsys.readouterr().out
