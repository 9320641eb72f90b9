"""The seminar deck, built in the ci profile and shown in headless Chromium: every slide renders,
the equations are typeset, the ε explorer's controls work without a kernel, and the page reports no error
and asks for nothing beyond its folder."""

from __future__ import annotations

from e2e.conftest import EXERCISE_TWINS, WatchedPage, ink_fraction
from sgt_course.static_explorers import CSS_CLASS
from sgt_course.tools import slides


def test_the_deck_renders_every_slide_in_chromium(deck: slides.Deck, watched: WatchedPage) -> None:
    page = watched.page
    page.goto(deck.html.as_uri())
    page.wait_for_function("window.Reveal && Reveal.isReady()", timeout=30_000)
    page.wait_for_function("window.MathJax && MathJax.Hub && MathJax.Hub.queue.pending === 0", timeout=30_000)
    assert page.evaluate("Reveal.getTotalSlides()") == deck.slides >= 15
    for index in range(deck.slides):
        page.evaluate(f"Reveal.slide({index})")
        page.wait_for_timeout(300)  # the slide transition
        assert page.evaluate("Reveal.getIndices().h") == index
        ink = ink_fraction(page.screenshot())
        assert ink > 0.01, f"slide {index + 1} looks blank ({ink:.2%} of pixels drawn)"
        height = page.evaluate("Reveal.getCurrentSlide().scrollHeight")
        assert height <= page.evaluate("Reveal.getConfig().height"), f"slide {index + 1} overflows ({height} px)"
    assert page.evaluate("document.querySelectorAll('.MathJax').length") >= 20, "the equations were not typeset"
    assert page.evaluate("document.querySelectorAll('.MathJax .merror, .MathJax_Error').length") == 0
    assert page.evaluate("document.querySelectorAll('.reveal img:not(.frame)').length") == deck.figures >= 5
    assert page.evaluate(f"document.querySelectorAll('.{CSS_CLASS}').length") >= 1, "the ε slide's explorer"
    assert page.evaluate(EXERCISE_TWINS) == []
    assert watched.errors == []
    assert [url for url in watched.requests if not url.startswith(("file:", "data:"))] == []
