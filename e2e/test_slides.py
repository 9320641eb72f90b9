"""The seminar deck, built in the ci profile and shown in headless Chromium at a projector's 1280 × 720: every
slide renders, no text runs off a slide, every figure's text is at least as large as the slides' body text,
the equations are typeset, the ε explorer's controls work without a kernel, and the page reports no error
and asks for nothing beyond its folder."""

from __future__ import annotations

from e2e.conftest import EXERCISE_TWINS, WatchedPage, image_bytes, ink_fraction, smallest_text_px
from sgt_course.plots import SMALL_PT
from sgt_course.static_explorers import CSS_CLASS
from sgt_course.tools import slides

#: A projector's resolution.
PROJECTOR = {"width": 1280, "height": 720}
#: On the current slide, in CSS pixels of the screen: the body text's size (a paragraph's or a list item's),
#: every figure shown as [src, natural width, shown width], the texts that end outside the slide, and the pairs
#: of elements (text, figure or control; neither inside the other) that overlap.
SLIDE_TEXT = """() => {
  const slide = Reveal.getCurrentSlide(), scale = Reveal.getScale(), box = slide.getBoundingClientRect();
  const body = document.querySelector('.reveal .jp-RenderedHTMLCommon p, .reveal .jp-RenderedHTMLCommon li');
  const shown = Array.from(slide.querySelectorAll('h1, h2, p, li, th, td, pre, output, label, select, input, img'))
    .filter(e => e.offsetParent !== null && e.getBoundingClientRect().width > 0);
  const name = e => (e.textContent.trim() || e.tagName).slice(0, 40);
  const outside = shown.filter(e => {
    const r = e.getBoundingClientRect();
    return r.left < box.left - 1 || r.right > box.right + 1 || r.top < box.top - 1 || r.bottom > box.bottom + 1;
  }).map(name);
  const overlaps = [];
  shown.forEach((a, i) => shown.slice(i + 1).forEach(b => {
    if (a.contains(b) || b.contains(a)) return;
    const r = a.getBoundingClientRect(), q = b.getBoundingClientRect();
    if (Math.min(r.right, q.right) - Math.max(r.left, q.left) > 1 && Math.min(r.bottom, q.bottom) - Math.max(r.top, q.top) > 1)
      overlaps.push(`${name(a)} / ${name(b)}`);
  }));
  const images = shown.filter(e => e.tagName === 'IMG' && e.naturalWidth > 0)
    .map(i => [i.currentSrc || i.src, i.naturalWidth, i.getBoundingClientRect().width]);
  return [parseFloat(getComputedStyle(body).fontSize) * scale, images, outside, overlaps];
}"""


def test_the_deck_renders_every_slide_in_chromium(deck: slides.Deck, watched: WatchedPage) -> None:
    page = watched.page
    page.set_viewport_size(PROJECTOR)
    page.goto(deck.html.as_uri())
    page.wait_for_function("window.Reveal && Reveal.isReady()", timeout=30_000)
    page.evaluate("Reveal.configure({transition: 'none', backgroundTransition: 'none'})")  # measure slides at rest
    page.wait_for_function("window.MathJax && MathJax.Hub && MathJax.Hub.queue.pending === 0", timeout=30_000)
    assert page.evaluate("Reveal.getTotalSlides()") == deck.slides >= 15
    sizes: list[float] = []
    for index in range(deck.slides):
        page.evaluate(f"Reveal.slide({index})")
        page.wait_for_timeout(100)
        assert page.evaluate("Reveal.getIndices().h") == index
        ink = ink_fraction(page.screenshot())
        assert ink > 0.01, f"slide {index + 1} looks blank ({ink:.2%} of pixels drawn)"
        height = page.evaluate("Reveal.getCurrentSlide().scrollHeight")
        assert height <= page.evaluate("Reveal.getConfig().height"), f"slide {index + 1} overflows ({height} px)"
        body_px, images, outside, overlaps = page.evaluate(SLIDE_TEXT)
        assert outside == [], f"slide {index + 1}: text runs off the slide: {outside}"
        assert overlaps == [], f"slide {index + 1}: these overlap: {overlaps}"
        for src, natural, shown in images:
            text_px = smallest_text_px(image_bytes(src), natural, shown, SMALL_PT)
            assert text_px is not None and text_px >= body_px - 0.5, \
                f"slide {index + 1}: a figure's smallest text is {text_px} px, the body text {body_px:.1f} px"
            sizes.append(text_px)
    assert page.evaluate("document.querySelectorAll('.MathJax').length") >= 20, "the equations were not typeset"
    assert page.evaluate("document.querySelectorAll('.MathJax .merror, .MathJax_Error').length") == 0
    assert page.evaluate("document.querySelectorAll('.reveal img:not(.frame)').length") == deck.figures >= 5
    assert len(sizes) >= deck.figures + 1, "every figure and the explorer's frame were measured"
    assert page.evaluate(f"document.querySelectorAll('.{CSS_CLASS}').length") >= 1, "the ε slide's explorer"
    assert page.evaluate(EXERCISE_TWINS) == []
    assert watched.errors == []
    assert [url for url in watched.requests if not url.startswith(("file:", "data:"))] == []
