"""End-to-end tests in a real browser: Debian's Chromium driven by Playwright (no browser download).

They use the checkpoint cache of the whole test run ($SGT_COURSE_CACHE, set by ``sgt-course test``),
so the models the notebooks trained before are loaded, not trained again. Without Chromium or
Playwright they are skipped, saying what to install.
"""

from __future__ import annotations

import io
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from sgt_course.tools.cli import CHROMIUM_ENV

#: Flags for a headless Chromium on a machine with no network and no display, running as root.
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def chromium_path() -> str | None:
    """$SGT_COURSE_CHROMIUM, else Debian's ``chromium`` (or ``chromium-browser``) on the PATH."""
    return os.environ.get(CHROMIUM_ENV) or shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="session")
def deck(tmp_path_factory: pytest.TempPathFactory) -> object:
    """The seminar deck built once in the ci profile (an :class:`sgt_course.tools.slides.Deck`): the deck's
    test shows it, the website links it."""
    from sgt_course.tools import slides
    from sgt_course.tools.notebook_files import repo_root

    source = repo_root() / "slides" / "deck.py"
    return slides.build(source, tmp_path_factory.mktemp("deck"), profile="ci", timeout=600)


@pytest.fixture(autouse=True)
def _isolated_cache() -> None:
    """Overrides the unit tests' per-test cache: the browser tests share the run's checkpoints."""


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    executable = chromium_path()
    if executable is None:
        pytest.skip("Chromium not found: install Debian's `chromium` package (`sgt-course test` does when it runs "
                    "as root) or point $SGT_COURSE_CHROMIUM at a Chromium binary")
    sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright is missing: pip install -e .[test]")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_FLAGS)
        yield browser
        browser.close()


@dataclass
class WatchedPage:
    """A browser page and everything it reported: console errors, uncaught exceptions, failed loads,
    and every URL it requested."""

    page: object
    errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)


@pytest.fixture
def watched(browser: object) -> Iterator[WatchedPage]:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    watched = WatchedPage(context.new_page())
    watched.page.on("console", lambda message: watched.errors.append(message.text) if message.type == "error" else None)
    watched.page.on("pageerror", lambda error: watched.errors.append(f"uncaught: {error}"))
    watched.page.on("requestfailed", lambda request: watched.errors.append(f"failed to load {request.url}"))
    watched.page.on("request", lambda request: watched.requests.append(request.url))
    yield watched
    context.close()


def ink_fraction(png: bytes) -> float:
    """The fraction of a screenshot's pixels that differ from its most common colour (0 for a blank page)."""
    from PIL import Image

    image = Image.open(io.BytesIO(png)).convert("L")
    histogram = image.histogram()
    return 1 - max(histogram) / sum(histogram)


#: The smallest figure text a reader should get, in CSS pixels.
READABLE_PX = 9.0
#: In the page: every figure shown (a static explorer's visible frame too), as [src, natural width, shown width].
SHOWN_IMAGES = """() => Array.from(document.querySelectorAll('.cell_output img'))
  .filter(i => i.offsetParent !== null && i.naturalWidth > 0)
  .map(i => [i.currentSrc || i.src, i.naturalWidth, i.getBoundingClientRect().width])"""


def smallest_text_px(png: bytes, natural_width: float, shown_width: float, points: float) -> float | None:
    """How tall ``points``-point figure text is on screen, in CSS pixels: the PNG's dots per inch (its
    pHYs chunk, which matplotlib writes) turn points into image pixels, and the shown width scales them.
    None when the PNG does not say its resolution."""
    from PIL import Image

    dpi = Image.open(io.BytesIO(png)).info.get("dpi")
    if not dpi or not natural_width:
        return None
    return points * float(dpi[0]) / 72 * shown_width / natural_width


def image_bytes(src: str) -> bytes:
    """The bytes of an image the page shows: a ``data:`` URI's or a ``file://`` URL's."""
    import base64
    from urllib.parse import unquote, urlparse

    if src.startswith("data:"):
        return base64.b64decode(src.split(",", 1)[1])
    return Path(unquote(urlparse(src).path)).read_bytes()


#: In the page: move every control of every static explorer (:mod:`sgt_course.static_explorers`) away from
#: its default, one at a time, and list what did not follow: the frame must change, and a range's shown
#: value with it. Every control then goes back, and the default frame must come back.
EXERCISE_TWINS = """() => {
  const problems = [];
  document.querySelectorAll('.sgt-static-explorer').forEach((twin, t) => {
    const frame = twin.querySelector('.frame');
    const look = () => frame.tagName === 'IMG' ? frame.src : frame.innerHTML;
    const first = look();
    if (!first || (frame.tagName === 'IMG' && !frame.naturalWidth)) problems.push(`explorer ${t}: no default frame`);
    twin.querySelectorAll('[data-control]').forEach((control, c) => {
      const count = control.tagName === 'SELECT' ? control.options.length : +control.max + 1;
      if (count < 2) return;
      const before = control.value, shown = twin.querySelector(`output[data-for="${c}"]`);
      const text = shown ? shown.textContent : null, was = look();
      control.value = String((+before + 1) % count);
      control.dispatchEvent(new Event('input'));
      if (look() === was) problems.push(`explorer ${t}, control ${c}: the frame did not change`);
      if (shown && shown.textContent === text) problems.push(`explorer ${t}, control ${c}: the shown value did not change`);
      control.value = before;
      control.dispatchEvent(new Event('input'));
    });
    if (look() !== first) problems.push(`explorer ${t}: the default frame did not come back`);
  });
  return problems;
}"""
