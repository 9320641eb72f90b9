"""Interactive figures for the notebooks. Each widget is a thin shell around a plain ``render_*``
function that returns a matplotlib Figure, so the tests call the renderer without a browser.

Figures redraw *in place*: each widget owns one ``Output`` area that it clears before drawing,
which works the same in JupyterLab, VS Code and Colab (no stacked duplicates).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

import ipywidgets as widgets
import matplotlib.pyplot as plt
import torch
from IPython.display import HTML, display
from matplotlib.figure import Figure
from torch import Tensor, nn

from sgt_course.attacks import ATTACKS, attack_label, get_attack
from sgt_course.data.text import tokenize
from sgt_course.models import eval_mode
from sgt_course.plots import (
    AttackedImage,
    attack_grid,
    highlight_tokens,
    maps_and_removal,
    saliency_grid,
    series_heatmaps,
)
from sgt_course.recipes import PAPER_SGT
from sgt_course.removal import removal_curve
from sgt_course.saliency import METHODS, attribute, label, token_saliency
from sgt_course.training import as_tensors, predict


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
    return saliency_grid(x[None], {label(method): saliency_map}, signed=signed, captions=[caption], size=2.6)


def saliency_explorer(model: nn.Module, x: Tensor, y: Tensor, methods: Sequence[str] = tuple(METHODS),
                      class_names: Sequence[str] = ()) -> widgets.VBox:
    """Pick a sample, a method and signed/absolute; the map redraws in place."""
    as_tensors((x, y))  # the same batch size, or a ValueError saying so
    sample = widgets.IntSlider(0, 0, x.shape[0] - 1, description="sample")
    method = widgets.Dropdown(options=[(label(m), m) for m in methods], description="method")
    signed = widgets.ToggleButtons(options=[("absolute", False), ("signed", True)], description="values")
    output = widgets.Output()

    def update(_: object = None) -> None:
        i = sample.value
        class_name = class_names[int(y[i])] if class_names else str(int(y[i]))
        redraw_in(output, lambda: render_saliency(model, x[i], int(y[i]), method.value, signed.value,
                                                  caption=f"class {class_name}"))

    for control in (sample, method, signed):
        control.observe(update, names="value")
    update()
    return widgets.VBox([widgets.HBox([sample, method]), signed, output])


#: The fills the explorers offer for their removal curves, ROAD's first: the course shows (notebook 2,
#: section 5) that the uniform fill SGT trains on favours SGT, so the fair fill is the default.
EXPLORER_FILLS = {"ROAD's linear": "linear", "uniform (SGT's training noise)": "uniform", "zero": "zero",
                  "image mean": "mean"}


def render_sgt_comparison(standard: nn.Module, sgt: nn.Module, x: Tensor, y: Tensor, *, title: str = "",
                          fractions: Sequence[float] = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9),
                          label: str = "SGT", fill: str = "linear") -> Figure:
    """Gradient maps of a standard and an SGT (or ``label``) model on the same images, and their removal
    curves with the removed pixels filled by ``fill`` (ROAD's linear imputation by default)."""

    show = x[:4]
    maps = {"standard": attribute("gradient", standard, show, y[:4]), label: attribute("gradient", sgt, show, y[:4])}
    curves = {name: removal_curve(model, x, y, "gradient", fractions=tuple(fractions), fill=fill,
                                  generator=torch.Generator().manual_seed(0))
              for name, model in (("standard", standard), (label, sgt))}
    return maps_and_removal(maps, curves, title=title or f"removal curves with the {fill} fill")


def _k_lambda_sliders(k: float, lam: float) -> tuple[widgets.FloatSlider, widgets.FloatSlider]:
    """The explorers' k and λ sliders."""
    return (widgets.FloatSlider(k, min=0.0, max=0.9, step=0.1, description="k", continuous_update=False),
            widgets.FloatSlider(lam, min=0.0, max=3.0, step=0.25, description="λ", continuous_update=False))


def _rounded(slider: widgets.FloatSlider) -> float:
    """A slider's value to 2 decimals: its float noise (0.30000000000000004) must not make a new cache entry."""
    return round(slider.value, 2)


def sgt_explorer(train: Callable[[float, float], nn.Module], standard: nn.Module, x: Tensor, y: Tensor, *,
                 k: float = PAPER_SGT.k, lam: float = PAPER_SGT.lam, label: str = "SGT") -> widgets.VBox:
    """Sliders for k and λ: ``train(k, lam)`` (both rounded to 2 decimals) returns an SGT (or ASGT:
    ``label``) model, cached per setting by the caller, and the maps and removal curves of both models
    redraw in place. A dropdown picks the removal curves' fill (:data:`EXPLORER_FILLS`, ROAD's linear
    fill first); changing it redraws without training."""
    k_slider, lam_slider = _k_lambda_sliders(k, lam)
    fill = widgets.Dropdown(options=list(EXPLORER_FILLS.items()), value="linear", description="fill")
    status = widgets.Label()
    output = widgets.Output()
    trained: dict[str, nn.Module] = {}

    def retrain(_: object = None) -> None:
        status.value = f"training {label} with k={k_slider.value:.1f}, λ={lam_slider.value:.2f} ..."
        start = time.perf_counter()
        trained["model"] = train(_rounded(k_slider), _rounded(lam_slider))
        status.value = f"k={k_slider.value:.1f}, λ={lam_slider.value:.2f}: ready in {time.perf_counter() - start:.1f} s"
        redraw()

    def redraw(_: object = None) -> None:
        redraw_in(output, lambda: render_sgt_comparison(standard, trained["model"], x, y, label=label, fill=fill.value))

    for control in (k_slider, lam_slider):
        control.observe(retrain, names="value")
    fill.observe(redraw, names="value")
    retrain()
    return widgets.VBox([widgets.HBox([k_slider, lam_slider, fill]), status, output])


def render_attack(models: dict[str, nn.Module], x: Tensor, y: int, attack: str, eps: float,
                  class_names: Sequence[str] = ()) -> Figure:
    """For each model: the clean image, the perturbation (amplified), the adversarial image with the
    model's predictions, and the gradient map of the adversarial image. PGD's random start is seeded,
    so the same ε always draws the same picture."""

    def name_of(c: int) -> str:
        return class_names[c] if class_names else str(c)

    target = torch.tensor([y], device=x.device)
    rows = {}
    for name, model in models.items():
        seeded = {"generator": torch.Generator().manual_seed(0)} if attack == "pgd" else {}
        adversarial = get_attack(attack)(model, x[None], target, eps=eps, **seeded)
        clean_pred, adv_pred = predict(model, torch.cat([x[None], adversarial])).argmax(1).tolist()
        rows[name] = AttackedImage(x, adversarial[0], attribute("gradient", model, adversarial, target)[0],
                                   name_of(clean_pred), name_of(adv_pred), fooled=adv_pred != y)
    return attack_grid(rows, attack=attack_label(attack), eps=eps)


def attack_explorer(models: dict[str, nn.Module], x: Tensor, y: Tensor, *, eps_max: float = 0.3,
                    class_names: Sequence[str] = ()) -> widgets.VBox:
    """An ε slider, an attack picker and a sample slider; the attacked images redraw in place."""

    eps = widgets.FloatSlider(eps_max / 2, min=0.0, max=eps_max, step=eps_max / 30, description="ε",
                              readout_format=".3f", continuous_update=False)
    attack = widgets.Dropdown(options=[(attack_label(a), a) for a in ATTACKS], value="pgd", description="attack")
    sample = widgets.IntSlider(0, 0, x.shape[0] - 1, description="sample", continuous_update=False)
    output = widgets.Output()

    def update(_: object = None) -> None:
        i = sample.value
        redraw_in(output, lambda: render_attack(models, x[i], int(y[i]), attack.value, eps.value, class_names))

    for control in (eps, attack, sample):
        control.observe(update, names="value")
    update()
    return widgets.VBox([widgets.HBox([eps, attack, sample]), output])


def render_series_saliency(models: dict[str, nn.Module], x: Tensor, y: int, mask: Tensor, method: str = "gradient",
                           title: str = "") -> Figure:
    """One time series (steps, features): the input, its ground truth and each model's saliency map."""

    panels = {"input": x, "ground truth": mask.float()}
    target = torch.tensor([y], device=x.device)
    for name, model in models.items():
        panels[f"{name}: {label(method)}"] = attribute(method, model, x[None], target)[0].abs()
    return series_heatmaps(panels, title=title, ncols=len(panels))


def timeseries_explorer(train: Callable[[str, str, float, float], tuple[nn.Module, nn.Module, object]],
                        layouts: Sequence[str], architectures: Sequence[str] = ("lstm", "tcn"), *,
                        k: float = PAPER_SGT.k, lam: float = PAPER_SGT.lam) -> widgets.VBox:
    """Layout, model, k and λ (rounded to 2 decimals): ``train(layout, architecture, k, lam)`` returns
    (standard, SGT, test set), and one test series with its ground truth and both saliency maps
    redraws in place."""
    layout = widgets.Dropdown(options=list(layouts), description="layout")
    architecture = widgets.Dropdown(options=list(architectures), description="model")
    k_slider, lam_slider = _k_lambda_sliders(k, lam)
    status = widgets.Label()
    output = widgets.Output()

    def update(_: object = None) -> None:
        status.value = "training ..."
        start = time.perf_counter()
        standard, sgt, test = train(layout.value, architecture.value, _rounded(k_slider), _rounded(lam_slider))
        status.value = f"ready in {time.perf_counter() - start:.1f} s"
        positive = int(torch.nonzero(test.y == 1)[0])
        redraw_in(output, lambda: render_series_saliency({"standard": standard, "SGT": sgt}, test.x[positive], 1,
                                                         test.mask[positive]))

    for control in (layout, architecture, k_slider, lam_slider):
        control.observe(update, names="value")
    update()
    return widgets.VBox([widgets.HBox([layout, architecture]), widgets.HBox([k_slider, lam_slider]), status, output])


def render_token_saliency(models: dict[str, nn.Module], tokens: Tensor, vocab: object, target: int | None = None,
                          method: str = "gradient", rationale: Tensor | None = None) -> str:
    """HTML: one line per model, the text's tokens shaded by their saliency for ``target`` (default:
    each model's prediction), with the predicted class and its probability."""

    row = tokens[None]
    real = int((tokens != 0).sum())
    words = vocab.decode(tokens[:real].tolist())
    lines = []
    for name, model in models.items():
        probability = torch.softmax(predict(model, row), 1)[0]
        predicted = int(probability.argmax())
        with eval_mode(model):
            scores = token_saliency(model, row, predicted if target is None else target, method)[0, :real]
        flags = None if rationale is None else rationale[:real].tolist()
        lines.append(highlight_tokens(words, scores, rationale=flags,
                                      label=f"{name} → class {predicted} ({probability[predicted]:.0%})"))
    return "".join(lines)


def text_explorer(models: dict[str, nn.Module], vocab: object, text: str = "") -> widgets.VBox:
    """Type a sentence: its token saliency under each model redraws as you type (HTML, no figure)."""
    box = widgets.Text(value=text, description="text", layout=widgets.Layout(width="90%"), continuous_update=True)
    method = widgets.Dropdown(options=[(label(m), m) for m in ("gradient", "input_x_gradient",
                                                                "integrated_gradients")], description="method")
    output = widgets.Output()

    def update(_: object = None) -> None:
        ids = vocab.encode(tokenize(box.value)) or [1]
        html = render_token_saliency(models, torch.tensor(ids), vocab, method=method.value)
        with output:
            output.clear_output(wait=True)
            display(HTML(html))

    for control in (box, method):
        control.observe(update, names="value")
    update()
    return widgets.VBox([box, method, output])
