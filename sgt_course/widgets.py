"""Interactive figures for the notebooks. Each widget is a thin shell around a plain ``render_*``
function that returns a matplotlib Figure, so the tests call the renderer without a browser.

Figures redraw *in place*: each widget owns one ``Output`` area that it clears before drawing,
which works the same in JupyterLab, VS Code and Colab (no stacked duplicates).

Each explorer also has a static twin (``*_twin``): the same renderer drawn over a small grid of its
controls' values, as one HTML element whose controls work without a kernel
(:mod:`sgt_course.static_explorers`). An explorer displays its twin above itself in the headless runs
behind the course website and the deck (``static=None`` reads :func:`~sgt_course.static_explorers.static_mode`).
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
    fit_figure,
    highlight_tokens,
    maps_and_removal,
    saliency_grid,
    series_heatmaps,
)
from sgt_course.recipes import PAPER_SGT
from sgt_course.removal import FRACTIONS, RemovalCurve, removal_curve
from sgt_course.saliency import METHODS, attribute, label, token_saliency
from sgt_course.static_explorers import DPI, Control, StaticExplorer, static_explorer, static_mode
from sgt_course.training import as_tensors, predict

#: How many samples the saliency explorer's static twin offers (its sample slider's first values).
TWIN_SAMPLES = 3
#: The line under every static twin.
TWIN_NOTE = ("Drawn when this page was built, over a grid of the explorer's values: no kernel needed. "
             "Run the notebook to move the controls freely.")


def _show_twin(static: bool | None, build: Callable[[], StaticExplorer]) -> None:
    """Display ``build()`` when ``static`` says so (None: :func:`~sgt_course.static_explorers.static_mode`)."""
    if static_mode() if static is None else static:
        display(build())


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


def _class_name(class_names: Sequence[str], c: int) -> str:
    return class_names[c] if class_names else str(c)


def saliency_twin(model: nn.Module, x: Tensor, y: Tensor, methods: Sequence[str] = tuple(METHODS),
                  class_names: Sequence[str] = (), *, samples: int = TWIN_SAMPLES,
                  progress: bool = True) -> StaticExplorer:
    """:func:`saliency_explorer`'s static twin: its first ``samples`` samples × every method × signed or
    absolute, drawn by :func:`render_saliency`."""
    as_tensors((x, y))
    count = min(samples, x.shape[0])

    def render(sample: int, method: str, signed: bool) -> Figure:
        return render_saliency(model, x[sample], int(y[sample]), method, signed,
                               caption=f"class {_class_name(class_names, int(y[sample]))}")

    controls = [Control("sample", "sample", tuple(range(count))),
                Control("method", "method", tuple(methods), shown=tuple(label(m) for m in methods), kind="select"),
                Control("signed", "values", (False, True), shown=("absolute", "signed"), kind="select")]
    return static_explorer(render, controls, note=TWIN_NOTE, title="an image and its saliency map", progress=progress)


def saliency_explorer(model: nn.Module, x: Tensor, y: Tensor, methods: Sequence[str] = tuple(METHODS),
                      class_names: Sequence[str] = (), *, static: bool | None = None) -> widgets.VBox:
    """Pick a sample, a method and signed/absolute; the map redraws in place. ``static``: also display
    :func:`saliency_twin` (None: in the headless runs behind the site and the deck)."""
    as_tensors((x, y))  # the same batch size, or a ValueError saying so
    _show_twin(static, lambda: saliency_twin(model, x, y, methods, class_names))
    sample = widgets.IntSlider(0, 0, x.shape[0] - 1, description="sample")
    method = widgets.Dropdown(options=[(label(m), m) for m in methods], description="method")
    signed = widgets.ToggleButtons(options=[("absolute", False), ("signed", True)], description="values")
    output = widgets.Output()

    def update(_: object = None) -> None:
        i = sample.value
        redraw_in(output, lambda: render_saliency(model, x[i], int(y[i]), method.value, signed.value,
                                                  caption=f"class {_class_name(class_names, int(y[i]))}"))

    for control in (sample, method, signed):
        control.observe(update, names="value")
    update()
    return widgets.VBox([widgets.HBox([sample, method]), signed, output])


#: The fills the explorers offer for their removal curves, ROAD's first: the course shows (notebook 2,
#: section 5) that the uniform fill SGT trains on favours SGT, so the fair fill is the default.
EXPLORER_FILLS = {"ROAD's linear": "linear", "uniform (SGT's training noise)": "uniform", "zero": "zero",
                  "image mean": "mean"}


def gradient_comparison_half(model: nn.Module, x: Tensor, y: Tensor, fill: str = "linear",
                             fractions: Sequence[float] = FRACTIONS) -> tuple[Tensor, RemovalCurve]:
    """One model's half of :func:`render_sgt_comparison`: the gradient maps of the first 4 images and the
    gradient-ranked removal curve of all of ``x`` filled by ``fill`` (its random draws seeded with 0)."""
    curve = removal_curve(model, x, y, "gradient", fractions=tuple(fractions), fill=fill,
                          generator=torch.Generator().manual_seed(0))
    return attribute("gradient", model, x[:4], y[:4]), curve


def render_sgt_comparison(standard: nn.Module, sgt: nn.Module, x: Tensor, y: Tensor, *, title: str = "",
                          fractions: Sequence[float] = FRACTIONS, label: str = "SGT", fill: str = "linear",
                          standard_half: tuple[Tensor, RemovalCurve] | None = None) -> Figure:
    """Gradient maps of a standard and an SGT (or ``label``) model on the same images, and their removal
    curves with the removed pixels filled by ``fill`` (ROAD's linear imputation by default).
    ``standard_half``: the standard model's :func:`gradient_comparison_half` for this ``fill``, when already
    computed (the static twin draws many SGT models against one standard model)."""
    halves = {"standard": standard_half or gradient_comparison_half(standard, x, y, fill, fractions),
              label: gradient_comparison_half(sgt, x, y, fill, fractions)}
    return maps_and_removal({name: half[0] for name, half in halves.items()},
                            {name: half[1] for name, half in halves.items()},
                            title=title or f"removal curves with the {fill} fill")


def _k_lambda_sliders(k: float, lam: float) -> tuple[widgets.FloatSlider, widgets.FloatSlider]:
    """The explorers' k and λ sliders."""
    return (widgets.FloatSlider(k, min=0.0, max=0.9, step=0.1, description="k", continuous_update=False),
            widgets.FloatSlider(lam, min=0.0, max=3.0, step=0.25, description="λ", continuous_update=False))


def _rounded(slider: widgets.FloatSlider) -> float:
    """A slider's value to 2 decimals: its float noise (0.30000000000000004) must not make a new cache entry."""
    return round(slider.value, 2)


#: The k and λ values of the k/λ explorers' static twins (the paper's setting and one on each side), and
#: their fills: ROAD's, and the noise SGT trains on, which favours SGT (notebook 2, section 5).
TWIN_KS, TWIN_LAMS, TWIN_FILLS = (0.3, 0.5, 0.7), (0.5, 1.0, 2.0), ("linear", "uniform")


def sgt_twin(train: Callable[[float, float], nn.Module], standard: nn.Module, x: Tensor, y: Tensor, *,
             ks: Sequence[float] = TWIN_KS, lams: Sequence[float] = TWIN_LAMS,
             fills: Sequence[str] = TWIN_FILLS, k: float = PAPER_SGT.k, lam: float = PAPER_SGT.lam,
             label: str = "SGT", progress: bool = True) -> StaticExplorer:
    """:func:`sgt_explorer`'s static twin: ``ks`` × ``lams`` × ``fills`` (values of :data:`EXPLORER_FILLS`),
    drawn by :func:`render_sgt_comparison`; ``train(k, lam)`` runs once per setting (cached by the caller),
    the standard model's maps and curves once per fill. It opens on (``k``, ``lam``) when the grid holds
    them, and on the first fill (ROAD's linear)."""
    unknown = [f for f in fills if f not in EXPLORER_FILLS.values()]
    if not fills or unknown:
        raise ValueError(f"fills must be values of EXPLORER_FILLS ({', '.join(EXPLORER_FILLS.values())}); "
                         f"got {list(fills)}")
    trained = {(kk, ll): train(kk, ll) for kk in ks for ll in lams}
    standard_halves = {f: gradient_comparison_half(standard, x, y, f) for f in fills}

    def render(k: float, lam: float, fill: str) -> Figure:
        return render_sgt_comparison(standard, trained[(k, lam)], x, y, label=label, fill=fill,
                                     standard_half=standard_halves[fill])

    def control(name: str, shown: str, values: Sequence[float], default: float) -> Control:
        values = tuple(values)
        return Control(name, shown, values, default=values.index(default) if default in values else 0)

    controls = [control("k", "k", ks, k), control("lam", "λ", lams, lam),
                Control("fill", "fill", tuple(fills), kind="select",
                        shown=tuple({f: name for name, f in EXPLORER_FILLS.items()}[f] for f in fills))]
    return static_explorer(render, controls, note=TWIN_NOTE, title=f"maps and removal curves, standard and {label}",
                           progress=progress)


def sgt_explorer(train: Callable[[float, float], nn.Module], standard: nn.Module, x: Tensor, y: Tensor, *,
                 k: float = PAPER_SGT.k, lam: float = PAPER_SGT.lam, label: str = "SGT",
                 static: bool | None = None) -> widgets.VBox:
    """Sliders for k and λ: ``train(k, lam)`` (both rounded to 2 decimals) returns an SGT (or ASGT:
    ``label``) model, cached per setting by the caller, and the maps and removal curves of both models
    redraw in place. A dropdown picks the removal curves' fill (:data:`EXPLORER_FILLS`, ROAD's linear
    fill first); changing it redraws without training. ``static``: also display :func:`sgt_twin` (None: in
    the headless runs behind the site and the deck)."""
    _show_twin(static, lambda: sgt_twin(train, standard, x, y, k=k, lam=lam, label=label))
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
    target = torch.tensor([y], device=x.device)
    rows = {}
    for name, model in models.items():
        seeded = {"generator": torch.Generator().manual_seed(0)} if attack == "pgd" else {}
        adversarial = get_attack(attack)(model, x[None], target, eps=eps, **seeded)
        clean_pred, adv_pred = predict(model, torch.cat([x[None], adversarial])).argmax(1).tolist()
        rows[name] = AttackedImage(x, adversarial[0], attribute("gradient", model, adversarial, target)[0],
                                   _class_name(class_names, clean_pred), _class_name(class_names, adv_pred),
                                   fooled=adv_pred != y)
    return attack_grid(rows, attack=attack_label(attack), eps=eps)


def attack_twin(models: dict[str, nn.Module], x: Tensor, y: Tensor, *, eps_max: float = 0.3,
                class_names: Sequence[str] = (), steps: int = 6, samples: int = 1,
                figsize: tuple[float, float] | None = None, dpi: int = DPI, progress: bool = True) -> StaticExplorer:
    """:func:`attack_explorer`'s static twin: ε ∈ {0, eps_max/steps, ..., eps_max} × every attack × its first
    ``samples`` samples, drawn by :func:`render_attack`; it opens on ε = eps_max/2 and PGD, as the explorer.
    ``figsize`` (inches) lays each frame out again at that size (:func:`~sgt_course.plots.fit_figure`, as the
    deck does at ``dpi`` = :data:`~sgt_course.plots.SLIDE_DPI`)."""
    as_tensors((x, y))
    count = min(samples, x.shape[0])
    grid = tuple(round(eps_max * i / steps, 4) for i in range(steps + 1))

    def render(eps: float, attack: str, sample: int) -> Figure:
        figure = render_attack(models, x[sample], int(y[sample]), attack, eps, class_names)
        return figure if figsize is None else fit_figure(figure, *figsize)

    controls = [Control("eps", "ε", grid, default=steps // 2, shown=tuple(f"{e:.3f}" for e in grid)),
                Control("attack", "attack", tuple(ATTACKS), default=list(ATTACKS).index("pgd"),
                        shown=tuple(attack_label(a) for a in ATTACKS), kind="select"),
                Control("sample", "sample", tuple(range(count)))]
    return static_explorer(render, controls, note=TWIN_NOTE, title="attacked images", dpi=dpi, progress=progress)


def attack_explorer(models: dict[str, nn.Module], x: Tensor, y: Tensor, *, eps_max: float = 0.3,
                    class_names: Sequence[str] = (), static: bool | None = None) -> widgets.VBox:
    """An ε slider, an attack picker and a sample slider; the attacked images redraw in place. ``static``:
    also display :func:`attack_twin` (None: in the headless runs behind the site and the deck)."""
    _show_twin(static, lambda: attack_twin(models, x, y, eps_max=eps_max, class_names=class_names))

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


#: How many of its layouts the time-series explorer's static twin draws (each trains two models per architecture).
TWIN_LAYOUTS = 2


def _first_positive(models: tuple[nn.Module, nn.Module, object]) -> Figure:
    standard, sgt, test = models
    positive = int(torch.nonzero(test.y == 1)[0])
    return render_series_saliency({"standard": standard, "SGT": sgt}, test.x[positive], 1, test.mask[positive])


def timeseries_twin(train: Callable[[str, str, float, float], tuple[nn.Module, nn.Module, object]],
                    layouts: Sequence[str], architectures: Sequence[str] = ("lstm", "tcn"), *,
                    k: float = PAPER_SGT.k, lam: float = PAPER_SGT.lam, progress: bool = True) -> StaticExplorer:
    """:func:`timeseries_explorer`'s static twin: every layout × architecture at one (``k``, ``lam``), drawn
    like the explorer (one positive test series, its ground truth and both gradient maps); ``train`` runs
    once per frame (cached by the caller)."""
    def render(layout: str, architecture: str) -> Figure:
        return _first_positive(train(layout, architecture, round(k, 2), round(lam, 2)))

    controls = [Control("layout", "layout", tuple(layouts), kind="select"),
                Control("architecture", "model", tuple(architectures), kind="select")]
    note = f"k = {k:g} and λ = {lam:g} here; the notebook's sliders change them. " + TWIN_NOTE
    return static_explorer(render, controls, note=note, title="a series, its ground truth and two saliency maps",
                           progress=progress)


def timeseries_explorer(train: Callable[[str, str, float, float], tuple[nn.Module, nn.Module, object]],
                        layouts: Sequence[str], architectures: Sequence[str] = ("lstm", "tcn"), *,
                        k: float = PAPER_SGT.k, lam: float = PAPER_SGT.lam,
                        static: bool | None = None) -> widgets.VBox:
    """Layout, model, k and λ (rounded to 2 decimals): ``train(layout, architecture, k, lam)`` returns
    (standard, SGT, test set), and one test series with its ground truth and both saliency maps
    redraws in place. ``static``: also display :func:`timeseries_twin` (None: in the headless runs behind
    the site and the deck) over the first :data:`TWIN_LAYOUTS` layouts."""
    _show_twin(static, lambda: timeseries_twin(train, layouts[:TWIN_LAYOUTS], architectures, k=k, lam=lam))
    layout = widgets.Dropdown(options=list(layouts), description="layout")
    architecture = widgets.Dropdown(options=list(architectures), description="model")
    k_slider, lam_slider = _k_lambda_sliders(k, lam)
    status = widgets.Label()
    output = widgets.Output()

    def update(_: object = None) -> None:
        status.value = "training ..."
        start = time.perf_counter()
        trained = train(layout.value, architecture.value, _rounded(k_slider), _rounded(lam_slider))
        status.value = f"ready in {time.perf_counter() - start:.1f} s"
        redraw_in(output, lambda: _first_positive(trained))

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


#: The saliency methods the text explorer offers.
TEXT_METHODS = ("gradient", "input_x_gradient", "integrated_gradients")


def _text_html(models: dict[str, nn.Module], vocab: object, text: str, method: str) -> str:
    ids = vocab.encode(tokenize(text)) or [1]
    return render_token_saliency(models, torch.tensor(ids), vocab, method=method)


def text_twin(models: dict[str, nn.Module], vocab: object, sentences: Sequence[str], *,
              progress: bool = True) -> StaticExplorer:
    """:func:`text_explorer`'s static twin: a dropdown of prepared ``sentences`` (the box cannot be typed in
    without a kernel) × every method, each frame the explorer's HTML."""
    if not sentences:
        raise ValueError("sentences must hold at least one prepared sentence")
    controls = [Control("text", "sentence", tuple(sentences), kind="select"),
                Control("method", "method", TEXT_METHODS, shown=tuple(label(m) for m in TEXT_METHODS), kind="select")]
    note = ("Prepared sentences only: typing your own needs a running kernel (open the notebook). "
            "Computed when this page was built.")
    return static_explorer(lambda text, method: _text_html(models, vocab, text, method), controls, note=note,
                           progress=progress)


def text_explorer(models: dict[str, nn.Module], vocab: object, text: str = "", *, sentences: Sequence[str] = (),
                  static: bool | None = None) -> widgets.VBox:
    """Type a sentence: its token saliency under each model redraws as you type (HTML, no figure).
    ``static``: also display :func:`text_twin` over ``text`` and the prepared ``sentences`` (None: in the
    headless runs behind the site and the deck)."""
    _show_twin(static, lambda: text_twin(models, vocab, [t for t in (text, *sentences) if t]))
    box = widgets.Text(value=text, description="text", layout=widgets.Layout(width="90%"), continuous_update=True)
    method = widgets.Dropdown(options=[(label(m), m) for m in TEXT_METHODS], description="method")
    output = widgets.Output()

    def update(_: object = None) -> None:
        html = _text_html(models, vocab, box.value, method.value)
        with output:
            output.clear_output(wait=True)
            display(HTML(html))

    for control in (box, method):
        control.observe(update, names="value")
    update()
    return widgets.VBox([box, method, output])
