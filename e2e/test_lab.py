"""Notebook 5 in JupyterLab, in headless Chromium: run every cell, move the ε slider, and see the
attacked images redraw — with no error in the notebook or in the page."""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator

import pytest

from e2e.conftest import WatchedPage
from sgt_course.tools.notebook_files import repo_root

NOTEBOOK = "05_adversarial_attacks.ipynb"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """JupyterLab on a free loopback port, serving a copy of notebook 5; yields the notebook's URL."""
    folder = tmp_path_factory.mktemp("lab")
    shutil.copy(repo_root() / "notebooks" / NOTEBOOK, folder / NOTEBOOK)
    port, token = _free_port(), secrets.token_hex(16)
    env = dict(os.environ, SGT_COURSE_PROFILE="ci", JUPYTER_CONFIG_DIR=str(folder / ".jupyter"))
    env.pop("MPLBACKEND", None)  # the kernel draws inline, as for a student
    command = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
               f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={folder}", "--allow-root",
               "--LabApp.expose_app_in_browser=True", "--LabApp.news_url=None", "--LabApp.extension_manager=readonly",
               "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"]
    log = open(folder / "lab.log", "w")  # noqa: SIM115 - closed below
    server = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2)
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"JupyterLab did not start:\n{(folder / 'lab.log').read_text()[-3000:]}")
                time.sleep(0.5)
        yield f"{base}/lab/tree/{NOTEBOOK}?token={token}"
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()


NOTEBOOK_PANEL = "jupyterapp.shell.currentWidget"
ALL_RAN = f"""() => {{
  const panel = {NOTEBOOK_PANEL};
  if (!panel || !panel.sessionContext || !panel.sessionContext.session) return false;
  const kernel = panel.sessionContext.session.kernel;
  const cells = panel.content.widgets.filter(c => c.model.type === 'code');
  return kernel.status === 'idle' && cells.every(c => c.model.executionCount !== null);
}}"""
ERRORS = f"""() => {NOTEBOOK_PANEL}.content.widgets.filter(c => c.model.type === 'code')
  .flatMap(c => c.model.outputs.toJSON()).filter(o => o.output_type === 'error').map(o => o.ename + ': ' + o.evalue)"""
SLIDER = ".widget-slider:has(.widget-label:text-is('ε'))"


def _attack_image(page: object) -> str:
    """The src of the image that the ε slider's explorer shows (the last figure of the notebook)."""
    explorer = page.locator(f".widget-vbox:has({SLIDER})").last
    return explorer.locator(".jp-OutputArea-output img").first.get_attribute("src")


def test_epsilon_slider_redraws_the_attacked_images(lab: str, watched: WatchedPage) -> None:
    page = watched.page
    page.goto(lab)
    page.wait_for_function(f"window.jupyterapp && {NOTEBOOK_PANEL} && {NOTEBOOK_PANEL}.sessionContext", timeout=60_000)
    page.wait_for_function(f"{NOTEBOOK_PANEL}.sessionContext.session && "
                           f"{NOTEBOOK_PANEL}.sessionContext.session.kernel.status === 'idle'", timeout=60_000)
    page.evaluate("jupyterapp.commands.execute('notebook:run-all-cells')")
    page.wait_for_timeout(2000)
    page.wait_for_function(ALL_RAN, timeout=300_000, polling=1000)
    assert page.evaluate(ERRORS) == []

    slider = page.locator(SLIDER).last
    slider.scroll_into_view_if_needed()
    page.wait_for_function("(s) => document.querySelectorAll(s).length > 0", arg=".jp-OutputArea-output img")
    before = _attack_image(page)
    value_before = slider.locator(".widget-readout").inner_text()
    slider.locator(".noUi-handle").focus()
    for _ in range(5):
        page.keyboard.press("ArrowRight")
    deadline = time.monotonic() + 60
    while _attack_image(page) == before and time.monotonic() < deadline:
        page.wait_for_timeout(250)
    page.wait_for_function(ALL_RAN, timeout=60_000, polling=500)  # every redraw the key presses asked for is done
    value_after = slider.locator(".widget-readout").inner_text()
    assert value_after != value_before, "the slider did not move"
    assert _attack_image(page) != before, f"ε moved from {value_before} to {value_after} but the figure stayed"
    assert page.evaluate(ERRORS) == []
    assert [e for e in watched.errors if "favicon" not in e] == []
