"""Interactive figures for the notebooks. Each widget is a thin shell around a plain ``render_*``
function that returns a matplotlib Figure, so the tests call the renderer without a browser.

Figures redraw *in place*: each widget owns one ``Output`` area that it clears before drawing,
which works the same in JupyterLab, VS Code and Colab (no stacked duplicates).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import ipywidgets as widgets
import matplotlib.pyplot as plt
from IPython.display import display
from matplotlib.figure import Figure
from torch import Tensor, nn

from sgt_course.plots import saliency_grid
from sgt_course.saliency import LABELS, METHODS, attribute


def redraw_in(output: widgets.Output, render: Callable[[], Figure]) -> None:
    """Replace what ``output`` shows by the figure ``render()`` makes."""
    with output:
        output.clear_output(wait=True)
        figure = render()
        display(figure)
        plt.close(figure)


def render_saliency(model: nn.Module, x: Tensor, target: int, method: str, signed: bool,
                    caption: str = "") -> Figure:
    """One image (C, H, W) and its saliency map for class ``target`` under ``method``."""
    saliency_map = attribute(method, model, x[None], target)
    return saliency_grid(x[None], {LABELS[method]: saliency_map}, signed=signed, captions=[caption], size=2.6)


def saliency_explorer(model: nn.Module, x: Tensor, y: Tensor, methods: Sequence[str] = tuple(METHODS),
                      class_names: Sequence[str] = ()) -> widgets.VBox:
    """Pick a sample, a method and signed/absolute; the map redraws in place."""
    if x.shape[0] != y.shape[0]:
        raise ValueError(f"x and y must have the same batch size; got {x.shape[0]} and {y.shape[0]}")
    sample = widgets.IntSlider(0, 0, x.shape[0] - 1, description="sample")
    method = widgets.Dropdown(options=[(LABELS[m], m) for m in methods], description="method")
    signed = widgets.ToggleButtons(options=[("absolute", False), ("signed", True)], description="values")
    output = widgets.Output()

    def update(_: object = None) -> None:
        i = sample.value
        label = class_names[int(y[i])] if class_names else str(int(y[i]))
        redraw_in(output, lambda: render_saliency(model, x[i], int(y[i]), method.value, signed.value,
                                                  caption=f"class {label}"))

    for control in (sample, method, signed):
        control.observe(update, names="value")
    update()
    return widgets.VBox([widgets.HBox([sample, method]), signed, output])
