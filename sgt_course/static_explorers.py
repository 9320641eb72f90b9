"""Explorers that need no kernel: every frame of an explorer's grid of slider values, drawn ahead by the
explorer's own ``render_*`` function and embedded in one HTML element with the same controls.

A course website or a deck has no Python behind it, so an ipywidgets slider cannot redraw there. The
explorers of :mod:`sgt_course.widgets` are plain renderers over small grids of values, so we draw the grid
once, at build time, and let a few lines of JavaScript swap the frame::

    eps = Control("eps", "ε", (0.0, 0.1, 0.2, 0.3), default=2)
    twin = static_explorer(lambda eps: render_attack(models, x, y, "pgd", eps), [eps])
    display(twin)          # an <img> per frame (PNG, base64), a range input, the value shown

The element works from ``file://``, loads nothing from the network and, without JavaScript, shows the
default frame. :func:`static_mode` says whether the explorers of a run should build one (the headless
runs behind the site and the deck do; a student's live kernel does not pay for frames it never shows).
"""

from __future__ import annotations

import base64
import html
import io
import itertools
import json
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import matplotlib.pyplot as plt
from matplotlib.figure import Figure
from tqdm.auto import tqdm

#: Set to 1 by the headless runs (``sgt-course run``, ``site``, ``slides``, ``test``): explorers then also
#: display their static twin (:func:`static_mode`).
STATIC_ENV = "SGT_COURSE_STATIC_EXPLORERS"
#: The class of the element :class:`StaticExplorer` writes; the site and the deck look for it.
CSS_CLASS = "sgt-static-explorer"
#: Resolution of the frames, and the colours of their palette: the figures' smallest text
#: (:data:`sgt_course.plots.SMALL_PT`) is 10 px at 80 dpi, and a palette keeps many frames small.
DPI, COLORS = 80, 128

_SCRIPT = """(function (root) {
  var data = JSON.parse(root.querySelector('script.frames').textContent);
  var frame = root.querySelector('.frame');
  var controls = root.querySelectorAll('[data-control]');
  function update() {
    var key = [];
    controls.forEach(function (c, i) {
      key.push(c.value);
      var shown = root.querySelector('output[data-for="' + i + '"]');
      if (shown) { shown.textContent = data.shown[i][+c.value]; }
    });
    var found = data.frames[key.join(',')];
    if (data.html) { frame.innerHTML = found; } else { frame.src = found; }
  }
  controls.forEach(function (c) { c.addEventListener('input', update); c.addEventListener('change', update); });
})(document.currentScript.parentElement);"""


def static_mode() -> bool:
    """Whether the explorers of this run also display a static twin: $SGT_COURSE_STATIC_EXPLORERS is 1."""
    return os.environ.get(STATIC_ENV, "") == "1"


@dataclass(frozen=True)
class Control:
    """One control of a static explorer: the keyword ``name`` it passes to the renderer, the ``label``
    the reader sees, the ``values`` of its grid, how each value is ``shown`` (default: ``str``), the
    index of the ``default`` value and its ``kind``: ``"range"`` (a slider over the values in order) or
    ``"select"`` (a dropdown)."""

    name: str
    label: str
    values: tuple[object, ...]
    default: int = 0
    shown: tuple[str, ...] = ()
    kind: str = "range"

    def __post_init__(self) -> None:
        if not self.values:
            raise ValueError(f"control {self.name!r} needs at least one value")
        if not 0 <= self.default < len(self.values):
            raise ValueError(f"control {self.name!r}: default must index its {len(self.values)} values; "
                             f"got {self.default}")
        if self.kind not in ("range", "select"):
            raise ValueError(f"control {self.name!r}: kind must be 'range' or 'select'; got {self.kind!r}")
        if self.shown and len(self.shown) != len(self.values):
            raise ValueError(f"control {self.name!r}: shown needs one text per value ({len(self.values)}); "
                             f"got {len(self.shown)}")
        if not self.shown:
            object.__setattr__(self, "shown", tuple(str(v) for v in self.values))


@dataclass(repr=False)
class StaticExplorer:
    """Every frame of a grid of controls, as one HTML element (:meth:`_repr_html_`).

    Attributes:
        controls: the controls, in the order of a frame's key.
        frames: per key (one value index per control, joined by commas: ``"2,0"``), the frame: a PNG data
            URI, or an HTML fragment when ``is_html``.
        is_html: whether the frames are HTML (a renderer that returns text) rather than images.
        note: a line under the frame, e.g. what the reader cannot do here.
        seconds: how long drawing the frames took.
        title: the frames' alternative text.
    """

    controls: tuple[Control, ...]
    frames: dict[str, str]
    is_html: bool = False
    note: str = ""
    seconds: float = 0.0
    title: str = ""

    def __repr__(self) -> str:
        """A line, not the frames: what a notebook's plain-text view of the element shows."""
        controls = ", ".join(f"{c.label} ({len(c.values)})" for c in self.controls)
        return f"<static explorer: {len(self.frames)} frames over {controls}, {self.nbytes / 1e6:.2f} MB>"

    @property
    def default_key(self) -> str:
        """The key of the frame the element shows first: every control at its default."""
        return ",".join(str(c.default) for c in self.controls)

    @property
    def nbytes(self) -> int:
        """The size of the element's HTML in bytes: what it adds to a page."""
        return len(self._repr_html_().encode("utf-8"))

    def _control_html(self, index: int, control: Control) -> str:
        label = html.escape(control.label)
        if control.kind == "select":
            options = "".join(f'<option value="{i}"{" selected" if i == control.default else ""}>'
                              f"{html.escape(shown)}</option>" for i, shown in enumerate(control.shown))
            return f'<label>{label} <select data-control="{index}">{options}</select></label>'
        return (f'<label>{label} <input type="range" data-control="{index}" min="0" max="{len(control.values) - 1}" '
                f'step="1" value="{control.default}"> <output data-for="{index}">'
                f"{html.escape(control.shown[control.default])}</output></label>")

    def _repr_html_(self) -> str:
        controls = " ".join(self._control_html(i, c) for i, c in enumerate(self.controls))
        first = self.frames[self.default_key]
        if self.is_html:
            shown = f'<div class="frame">{first}</div>'
        else:
            shown = f'<img class="frame" src="{first}" alt="{html.escape(self.title or "explorer frame")}">'
        data = json.dumps({"frames": self.frames, "shown": [list(c.shown) for c in self.controls],
                           "html": self.is_html}).replace("</", "<\\/")
        note = f'<p class="note">{html.escape(self.note)}</p>' if self.note else ""
        return (f'<div class="{CSS_CLASS}" data-frames="{len(self.frames)}" data-seconds="{self.seconds:.1f}">'
                f'<div class="sgt-controls">{controls}</div>{shown}{note}'
                f'<script type="application/json" class="frames">{data}</script><script>{_SCRIPT}</script></div>')


def png_data_uri(figure: Figure, dpi: int = DPI, colors: int | None = COLORS) -> str:
    """``figure`` as a PNG data URI (the figure is closed afterwards), its pixels reduced to a palette of
    ``colors`` colours (None: kept as drawn), which makes a frame about three times smaller."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
    plt.close(figure)
    if colors is not None:
        from PIL import Image

        image = Image.open(io.BytesIO(buffer.getvalue())).convert("RGB").quantize(colors)
        buffer = io.BytesIO()
        image.save(buffer, format="PNG", optimize=True, dpi=(dpi, dpi))  # the browser tests read it
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def static_explorer(render: Callable[..., Figure | str], controls: Sequence[Control], *, note: str = "",
                    title: str = "", dpi: int = DPI, progress: bool = True) -> StaticExplorer:
    """Draw ``render(**{control.name: value, ...})`` for every combination of the controls' values.

    ``render`` returns a matplotlib Figure (embedded as a PNG) or an HTML string (embedded as it is); every
    frame must be of the same kind.

    Raises:
        ValueError: no controls, two controls of one name, or a renderer that mixes figures and HTML.
    """
    if not controls:
        raise ValueError("a static explorer needs at least one control")
    names = [c.name for c in controls]
    if len(set(names)) != len(names):
        raise ValueError(f"control names must differ; got {names}")
    start = time.perf_counter()
    frames, kinds = {}, set()
    grid = list(itertools.product(*(range(len(c.values)) for c in controls)))
    for key in tqdm(grid, desc="drawing the explorer's frames", disable=not progress, leave=False):
        drawn = render(**{c.name: c.values[i] for c, i in zip(controls, key)})
        kinds.add(isinstance(drawn, str))
        frames[",".join(map(str, key))] = drawn if isinstance(drawn, str) else png_data_uri(drawn, dpi)
    if len(kinds) > 1:
        raise ValueError("render returned figures for some frames and HTML for others; return one kind")
    return StaticExplorer(tuple(controls), frames, is_html=kinds.pop(), note=note,
                          seconds=time.perf_counter() - start, title=title)
