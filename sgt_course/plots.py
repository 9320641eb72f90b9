"""Figures the notebooks share. Each function draws on matplotlib and returns the Figure."""

from __future__ import annotations

import html
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.figure import Figure
from matplotlib.layout_engine import ConstrainedLayoutEngine
from matplotlib.text import Text
from torch import Tensor

from sgt_course.saliency import label as method_label
from sgt_course.stats import Interval
from sgt_course.training import History

if TYPE_CHECKING:
    from sgt_course.removal import Figure3Curves, RemovalCurve, RemovalStudy
    from sgt_course.robustness import RobustnessCurve

#: The smallest text on the course's figures, in points (captions, legends, tick labels, bar labels).
SMALL_PT = 9
#: The widest figure, in inches. At matplotlib's 100 dpi and the website's 960 px column (1280 px
#: window), SMALL_PT text is then shown at least 9 px tall; ``e2e/test_site.py`` measures it.
MAX_WIDTH_IN = 12.0
#: The deck's figures (``slides/deck.py``): drawn at SLIDE_DPI and shown at their natural size on the
#: 1280 × 720 slide, SMALL_PT text is 20 px, the size of the slides' body text; a figure SLIDE_WIDTH_IN wide
#: is 1,200 px, the slide's width within its margins. :func:`fit_figure` sizes a figure for a slide.
SLIDE_DPI = 160
SLIDE_WIDTH_IN = 7.5


def _fit(width: float) -> float:
    """A figure width in inches, capped at :data:`MAX_WIDTH_IN` (panels get narrower, text stays)."""
    return min(width, MAX_WIDTH_IN)


def _as_image(x: Tensor) -> np.ndarray:
    """(C, H, W) -> (H, W) for one channel or (H, W, C) for colour: a NumPy array, as matplotlib wants."""
    x = x.detach().float().cpu()
    return (x[0] if x.shape[0] == 1 else x.permute(1, 2, 0).clamp(0, 1)).numpy()


def show_images(x: Tensor, labels: Sequence[str] | Tensor | None = None, *, ncols: int = 8,
                title: str | None = None, cmap: str = "gray", size: float = 1.3,
                row_labels: Sequence[str] | None = None) -> Figure:
    """A grid of images (N, C, H, W) in [0, 1], with an optional caption above each and an optional label
    left of each row."""
    if x.ndim != 4:
        raise ValueError(f"x must have shape (N, C, H, W); got {tuple(x.shape)}")
    n = x.shape[0]
    if labels is not None and len(labels) != n:
        raise ValueError(f"labels must have one entry per image; got {len(labels)} for {n} images")
    ncols = max(1, min(ncols, n))
    nrows = -(-n // ncols)
    if row_labels is not None and len(row_labels) != nrows:
        raise ValueError(f"row_labels must have one entry per row; got {len(row_labels)} for {nrows} rows")
    fig, axes = plt.subplots(nrows, ncols, figsize=(_fit(size * ncols), size * nrows + 0.3), squeeze=False)
    for i, ax in enumerate(axes.flat):
        if row_labels is not None and i % ncols == 0:  # keep the axes for its label, hide its ticks and frame
            ax.set(xticks=[], yticks=[])
            ax.set_ylabel(row_labels[i // ncols], rotation=0, ha="right", va="center")
            ax.spines[:].set_visible(False)
        else:
            ax.axis("off")
        if i < n:
            ax.imshow(_as_image(x[i]), cmap=cmap, vmin=0, vmax=1)
            if labels is not None:
                label = labels[i].item() if isinstance(labels, Tensor) else labels[i]
                ax.set_title(str(label), fontsize=SMALL_PT)
    return _suptitled(fig, title)


def plot_history(histories: Mapping[str, History] | History, *, title: str | None = None) -> Figure:
    """Training loss and accuracy per epoch, one line per named run."""
    if isinstance(histories, History):
        histories = {"model": histories}
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(9, 3.2))
    for name, history in histories.items():
        epochs = range(1, history.epochs + 1)
        ax_loss.plot(epochs, history.loss, marker="o", label=name)
        accuracy = history.val_accuracy or history.train_accuracy
        ax_acc.plot(epochs, [100 * a for a in accuracy], marker="o", label=name)
    ax_loss.set(xlabel="epoch", ylabel="training loss")
    ax_acc.set(xlabel="epoch", ylabel="accuracy (%)")
    for ax in (ax_loss, ax_acc):
        ax.grid(alpha=0.3)
        ax.legend()
    return _suptitled(fig, title)


def held_out_curves(histories: Mapping[str, History], *, title: str | None = None) -> Figure:
    """Learning curves of early-stopped runs: one panel per held-out score (clean and PGD accuracy), one
    line per named run, a ring on the epoch whose weights were kept (:class:`~sgt_course.training.EarlyStopping`)."""
    stopped = {name: h for name, h in histories.items() if h.held_out}
    if not stopped:
        raise ValueError("no history holds held-out scores; they come from fit(..., early_stopping=...)")
    scores = list(next(iter(stopped.values())).held_out)
    fig, axes = plt.subplots(1, len(scores), figsize=(_fit(4.6 * len(scores)), 3.4), squeeze=False)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for ax, score in zip(axes[0], scores):
        for color, (name, history) in zip(colors, stopped.items()):
            values = [100 * v for v in history.held_out[score]]
            ax.plot(range(1, len(values) + 1), values, marker="o", markersize=3, color=color, label=name)
            if history.best_epoch is not None:
                ax.plot(history.best_epoch + 1, values[history.best_epoch], "o", markersize=10, mfc="none", color=color)
        ax.set(xlabel="epoch", ylabel=f"held-out {score} (%)", title=score)
        ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=SMALL_PT)
    return _suptitled(fig, title)


def class_grid(x: Tensor, y: Tensor, per_class: int = 4, class_names: Sequence[str] = ()) -> tuple[Tensor, list[str]]:
    """The first ``per_class`` images of every class, ordered by class, with their captions."""
    picks = [torch.nonzero(y.cpu() == c).flatten()[:per_class] for c in torch.unique(y.cpu()).tolist()]
    index = torch.cat(picks)
    names = [class_names[i] if class_names else str(i) for i in y.cpu()[index].tolist()]
    return x[index.to(x.device)], names


def _map_image(saliency_map: Tensor, signed: bool) -> tuple[np.ndarray, dict]:
    """A (H, W) array and imshow options: signed maps diverge around 0, absolute maps go from 0 up."""
    if signed:
        image = saliency_map.detach().float().cpu().sum(0)
        limit = image.abs().max().clamp_min(1e-12).item()
        return image.numpy(), {"cmap": "coolwarm", "vmin": -limit, "vmax": limit}
    image = saliency_map.detach().float().cpu().abs().amax(0)
    return image.numpy(), {"cmap": "inferno", "vmin": 0, "vmax": image.max().clamp_min(1e-12).item()}


def saliency_grid(x: Tensor, maps: Mapping[str, Tensor], *, signed: bool = False,
                  captions: Sequence[str] | None = None, size: float = 1.6, title: str | None = None) -> Figure:
    """One row per image (N, C, H, W): the image, then its map under each method (each (N, C, H, W)).

    Absolute maps show max |s| over channels (black = irrelevant); signed maps show the sum over
    channels in blue (lowers the class score) and red (raises it), each map scaled to its own maximum.
    """
    n = x.shape[0]
    for name, saliency_map in maps.items():
        if saliency_map.shape != x.shape:
            raise ValueError(f"map {name!r} has shape {tuple(saliency_map.shape)}; expected {tuple(x.shape)}")
    fig, axes = plt.subplots(n, 1 + len(maps), figsize=(_fit(size * (1 + len(maps))), size * n + 0.4), squeeze=False)
    for i in range(n):
        axes[i, 0].imshow(_as_image(x[i]), cmap="gray", vmin=0, vmax=1)
        if captions is not None:
            axes[i, 0].set_ylabel(captions[i], fontsize=SMALL_PT)
        for j, (name, saliency_map) in enumerate(maps.items(), start=1):
            image, options = _map_image(saliency_map[i], signed)
            axes[i, j].imshow(image, **options)
            if i == 0:
                axes[i, j].set_title(name, fontsize=SMALL_PT)
    axes[0, 0].set_title("input", fontsize=SMALL_PT)
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    return _suptitled(fig, title)


@dataclass(frozen=True)
class AttackedImage:
    """One row of :func:`attack_grid`: an image (C, H, W) before and after an attack, what the model
    predicted for each, and the model's saliency map (C, H, W) of the attacked image."""

    clean: Tensor
    adversarial: Tensor
    saliency: Tensor
    clean_prediction: str
    adversarial_prediction: str
    fooled: bool


def attack_grid(rows: Mapping[str, AttackedImage], *, attack: str, eps: float) -> Figure:
    """One row per model: the clean image, the perturbation x' − x (mean over channels, blue to red
    within ±ε, with its colour scale), the attacked image with the prediction (red when the model was
    fooled) and the saliency map of the attacked image."""
    fig, axes = plt.subplots(len(rows), 4, figsize=(9.0, 2.3 * len(rows)), squeeze=False)
    limit = max(eps, 1e-6)
    for (name, row), ax_row in zip(rows.items(), axes):
        perturbation = (row.adversarial - row.clean).detach().float().cpu().mean(0).numpy()
        saliency, saliency_options = _map_image(row.saliency, signed=False)
        gray = {"cmap": "gray", "vmin": 0, "vmax": 1}
        panels = [(_as_image(row.clean), f"{name}: clean → {row.clean_prediction}", gray),
                  (perturbation, f"perturbation (ε={eps:.3f})", {"cmap": "coolwarm", "vmin": -limit, "vmax": limit}),
                  (_as_image(row.adversarial), f"{attack} → {row.adversarial_prediction}", gray),
                  (saliency, "gradient map of\nthe attacked image", saliency_options)]
        for column, (ax, (image, caption, options)) in enumerate(zip(ax_row, panels)):
            shown = ax.imshow(image, **options)
            if column == 1:  # the perturbation's scale: pixels moved down (blue) or up (red), at most ε
                fig.colorbar(shown, ax=ax, fraction=0.046, pad=0.03, ticks=[-limit, 0, limit], format="%+.2g")
            fooled = caption.startswith(attack) and row.fooled
            ax.set_title(caption, fontsize=SMALL_PT, color="red" if fooled else "black")
            ax.set_xticks([])
            ax.set_yticks([])
    return _suptitled(fig, None)


def maps_and_removal(maps: Mapping[str, Tensor], curves: Mapping[str, RemovalCurve], *,
                     title: str | None = None) -> Figure:
    """Left: one row of saliency maps (N, C, H, W; max |s| over channels) per model; right: the models'
    removal curves. Notebook 2's k/λ explorer draws this for a standard and an SGT model."""
    fig = plt.figure(figsize=(10.5, 3.8))
    left, right = fig.subfigures(1, 2, width_ratios=[1.5, 1])
    n = next(iter(maps.values())).shape[0]
    axes = left.subplots(len(maps), n, squeeze=False)
    for ax_row, (name, saliency_map) in zip(axes, maps.items()):
        for ax, one in zip(ax_row, saliency_map):
            image, options = _map_image(one, signed=False)
            ax.imshow(image, cmap=options["cmap"])
            ax.set_xticks([])
            ax.set_yticks([])
        ax_row[0].set_ylabel(name)
    left.suptitle("gradient maps", fontsize=10)
    plot_removal_curves(curves, ax=right.subplots(), title="gradient-ranked removal")
    if title:
        fig.suptitle(title, y=1.02)
    return fig


def bar_chart(values: Mapping[str, float], *, ylabel: str, title: str | None = None,
              floor: float | None = None, floor_label: str = "random") -> Figure:
    """Bars with their values written on top, and an optional dashed floor line."""
    fig, ax = plt.subplots(figsize=(_fit(1.3 * len(values) + 1.5), 3.2))
    bars = ax.bar(list(values), list(values.values()), color="tab:blue")
    ax.bar_label(bars, fmt="%.2f", fontsize=SMALL_PT)
    if floor is not None:
        ax.axhline(floor, color="gray", linestyle="--", label=floor_label)
        ax.legend()
    ax.set_ylabel(ylabel)
    ax.tick_params(axis="x", labelrotation=20)
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return fig


def _suptitled(fig: Figure, title: str | None) -> Figure:
    """The common end of a figure of several axes: the title above them all, then the layout."""
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def _finish(fig: Figure, ax: plt.Axes, title: str | None, **legend: object) -> Figure:
    """The common end of a one-axes figure: grid, legend (placed by ``legend``, e.g. ``loc``), title, layout."""
    ax.grid(alpha=0.3)
    ax.legend(fontsize=SMALL_PT, **legend)
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return fig


def line_chart(curves: Mapping[str, Sequence[float]], x_labels: Sequence[str], *, ylabel: str,
               xlabel: str = "", title: str | None = None) -> Figure:
    """One line per named curve over shared categorical x positions."""
    fig, ax = plt.subplots(figsize=(_fit(max(5.0, 0.55 * len(x_labels) + 2)), 3.4))
    for name, values in curves.items():
        ax.plot(range(len(values)), list(values), marker="o", label=name)
    ax.set_xticks(range(len(x_labels)), x_labels, rotation=45, ha="right", fontsize=SMALL_PT)
    ax.set(xlabel=xlabel, ylabel=ylabel)
    return _finish(fig, ax, title)


def _plot_curves(ax: plt.Axes, curves: Mapping[str, tuple[Sequence[float], Sequence[float]]], *, xlabel: str,
                 title: str | None, dashed: Collection[str] = (), legend: bool = True) -> None:
    """Accuracy (%) lines on ``ax``; the curves named in ``dashed`` are dashed baselines; ``legend``: name
    them on ``ax`` (False where the figure names them once)."""
    for name, (xs, accuracy) in curves.items():
        style = "--" if name in dashed else "-"
        ax.plot(list(xs), [100 * a for a in accuracy], style, marker="o", markersize=3, label=name)
    ax.set(xlabel=xlabel, ylabel="accuracy (%)", ylim=(0, 100))
    ax.grid(alpha=0.3)
    if legend:
        ax.legend(fontsize=SMALL_PT)
    if title:
        ax.set_title(title, fontsize=10)


def plot_removal_curves(curves: Mapping[str, RemovalCurve], *, ax: plt.Axes | None = None,
                        title: str | None = None) -> Figure:
    """Accuracy (%) against the fraction of most-salient features removed, one line per named curve."""
    figure = ax.figure if ax is not None else plt.figure(figsize=(4.6, 3.4))
    _plot_curves(ax or figure.add_subplot(),
                 {name: ([100 * f for f in c.fractions], c.accuracy) for name, c in curves.items()},
                 xlabel="most salient features removed (%)", title=title)
    if isinstance(figure, Figure):  # a subfigure is laid out by its parent
        figure.tight_layout()
    return figure


def removal_panels(panels: Mapping[str, Mapping[str, RemovalCurve]], *, title: str | None = None,
                   dashed: Collection[str] = ()) -> Figure:
    """One removal-curve panel per ``{panel title: {line name: curve}}``; the lines named in ``dashed``
    are dashed baselines."""
    return _panels({name: {k: ([100 * f for f in c.fractions], c.accuracy) for k, c in curves.items()}
                    for name, curves in panels.items()}, xlabel="most salient features removed (%)", title=title,
                   dashed=dashed)


def figure3_panels(curves: Figure3Curves, *, title: str | None = None) -> Figure:
    """The SGT paper's Fig. 3 from :func:`~sgt_course.removal.figure3_curves`: one panel per saliency
    method, a line per model, and each model's random ranking dashed."""
    randoms = {f"{model}, random ranking": curves.random(model) for model in curves.models}
    return removal_panels({method_label(method): {**{model: curves.curve(model, method) for model in curves.models},
                                           **randoms} for method in curves.methods},
                          title=title, dashed=tuple(randoms))


def robustness_panels(panels: Mapping[str, Mapping[str, RobustnessCurve]], *, title: str | None = None) -> Figure:
    """One robust-accuracy-against-ε panel per attack (Fig. 7-10 of the ASGT paper)."""
    return _panels({name: {k: (c.eps, c.accuracy) for k, c in curves.items()} for name, curves in panels.items()},
                   xlabel="ε (L∞, pixel units)", title=title)


def _panels(panels: Mapping[str, Mapping[str, tuple[Sequence[float], Sequence[float]]]], *, xlabel: str,
            title: str | None, dashed: Collection[str] = ()) -> Figure:
    """Side-by-side accuracy panels sharing one legend below them, where it hides no line."""
    fig, axes = plt.subplots(1, len(panels), figsize=(_fit(4.2 * len(panels)), 3.9), squeeze=False, sharey=True,
                             layout="constrained")
    for ax, (name, curves) in zip(axes[0], panels.items()):
        _plot_curves(ax, curves, xlabel=xlabel, title=name, dashed=dashed, legend=False)
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=min(len(labels), 4), fontsize=SMALL_PT)
    if title:
        fig.suptitle(title)
    return fig


def _seed_band(ax: plt.Axes, fractions: Sequence[float], runs: Sequence[Sequence[float]], *, color: str,
               label: str, dashed: bool = False) -> None:
    """The mean over seeds as a line and the min–max over seeds as a shaded band, in percent."""
    xs = [100 * f for f in fractions]
    columns = list(zip(*runs))
    ax.plot(xs, [100 * sum(c) / len(c) for c in columns], "--" if dashed else "-", color=color,
            marker=None if dashed else "o", markersize=3, linewidth=1 if dashed else 1.5, label=label)
    ax.fill_between(xs, [100 * min(c) for c in columns], [100 * max(c) for c in columns], color=color,
                    alpha=0.1 if dashed else 0.2, linewidth=0)


def removal_study_panels(study: RemovalStudy, *, title: str | None = None) -> Figure:
    """The removal curves of a :class:`~sgt_course.removal.RemovalStudy`: one column per fill, MoRF
    on top and LeRF below; per model its mean over seeds (line), the seeds' range (band) and its random
    ranking (dashed)."""
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    columns = len(study.fills)
    fig, axes = plt.subplots(2, columns, figsize=(_fit(3.3 * columns), 6.2), squeeze=False, sharex=True, sharey=True)
    for row, order in enumerate(("morf", "lerf")):
        for ax, fill in zip(axes[row], study.fills):
            for color, model in zip(colors, study.models):
                curves = [study.curve(s, model, fill, order=order) for s in study.seeds]
                _seed_band(ax, curves[0].fractions, [c.accuracy for c in curves], color=color,
                           label=f"{model}, {study.method}")
                randoms = [study.curve(s, model, fill, ranking="random") for s in study.seeds]
                _seed_band(ax, randoms[0].fractions, [c.accuracy for c in randoms], color=color,
                           label=f"{model}, random ranking", dashed=True)
            ax.set(ylim=(0, 100))
            ax.grid(alpha=0.3)
            if row == 0:
                ax.set_title(f"fill: {fill}", fontsize=10)
            else:
                ax.set_xlabel("features removed (%)")
        axes[row][0].set_ylabel(f"{order.upper()}: accuracy (%)")
    axes[0][0].legend(fontsize=SMALL_PT)
    fig.suptitle(title or f"removed most (MoRF, top) or least (LeRF, bottom) relevant first; "
                          f"mean and range over seeds {', '.join(map(str, study.seeds))}", fontsize=10)
    fig.tight_layout()
    return fig


def gap_bars(study: RemovalStudy, *, title: str | None = None) -> Figure:
    """ROAD's gap, area(LeRF) − area(MoRF) in points, per fill and model: the mean over seeds as a bar,
    the seeds' range as an error bar (larger gap: a more faithful ranking)."""
    models, fills = study.models, study.fills
    width = 0.8 / len(models)
    fig, ax = plt.subplots(figsize=(_fit(1.6 * len(fills) + 3.5), 3.4))
    for i, model in enumerate(models):
        gaps = [[100 * g for g in study.gap(model, fill)] for fill in fills]
        means = [sum(g) / len(g) for g in gaps]
        errors = [[m - min(g) for m, g in zip(means, gaps)], [max(g) - m for m, g in zip(means, gaps)]]
        positions = [j + (i - (len(models) - 1) / 2) * width for j in range(len(fills))]
        bars = ax.bar(positions, means, width, yerr=errors, capsize=3, label=model)
        ax.bar_label(bars, fmt="%.0f", fontsize=SMALL_PT, padding=2)
    ax.set_xticks(range(len(fills)), [f"fill: {f}" for f in fills])
    ax.set_ylabel("ROAD gap (points)")
    ax.axhline(0, color="gray", linewidth=0.8)
    ax.margins(y=0.15)
    return _finish(fig, ax, title or f"LeRF minus MoRF area ({study.method} ranking), seeds {', '.join(map(str, study.seeds))}",
                   loc="upper left", bbox_to_anchor=(1.01, 1))  # the legend beside the bars, never on them


def summary_bars(table: Mapping[str, Mapping[str, float | Interval]], *, title: str | None = None) -> Figure:
    """One panel per metric, one horizontal bar per row of ``table`` ({row: {metric: value}}), the rows named
    once on the left and each value written at its bar's end.

    A value that is an :class:`~sgt_course.stats.Interval` (a fraction) is drawn in percent, or points for a
    difference, as it prints: its estimate with its 95 % interval as an error bar, so two bars whose intervals
    overlap read as what they are. A plain number is drawn as it is."""
    rows = list(table)
    metrics = list(next(iter(table.values())))
    fig, axes = plt.subplots(1, len(metrics), figsize=(_fit(2.6 * len(metrics) + 1.2), 0.45 * len(rows) + 1.3),
                             squeeze=False, sharey=True)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for ax, metric in zip(axes[0], metrics):
        values = [table[r][metric] for r in rows]
        bounds = [(100 * v.estimate, 100 * v.low, 100 * v.high) if isinstance(v, Interval) else (v, v, v)
                  for v in values]
        lengths = [length for length, _, _ in bounds]
        errors = None
        if any(isinstance(v, Interval) for v in values):
            errors = [[length - low for length, low, _ in bounds], [high - length for length, _, high in bounds]]
        ax.barh(rows, lengths, color=colors[:len(rows)], xerr=errors, capsize=3 if errors else 0)
        for row, ((length, low, high), value) in enumerate(zip(bounds, values)):  # beyond the bar and its error
            ax.annotate(f"{length:.1f}" if isinstance(value, Interval) else f"{length:.3g}",
                        (high if length >= 0 else low, row), xytext=(4 if length >= 0 else -4, 0),
                        textcoords="offset points", ha="left" if length >= 0 else "right", va="center",
                        fontsize=SMALL_PT)
        ax.set_title(metric, fontsize=SMALL_PT)
        ax.axvline(0, color="gray", linewidth=0.8)
        ax.margins(x=0.3)
    axes[0][0].invert_yaxis()  # the first row on top
    return _suptitled(fig, title)


def _drawn_texts(fig: Figure) -> list[Text]:
    """The texts that drawing ``fig`` shows: visible and not blank, and of the tick labels only those of
    ticks inside their axis's view on axes that are drawn."""
    tick_labels, drawn = set(), []
    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            low, high = sorted(axis.get_view_interval())
            slack = 1e-9 * max(high - low, 1e-12)
            for tick in axis.get_major_ticks() + axis.get_minor_ticks():
                shown = (ax.axison and axis.get_visible() and tick.get_visible() and tick.get_loc() is not None
                         and low - slack <= tick.get_loc() <= high + slack)
                for label in (tick.label1, tick.label2):
                    tick_labels.add(label)
                    if shown and label.get_visible() and label.get_text().strip():
                        drawn.append(label)
    others = [t for t in fig.findobj(Text) if t not in tick_labels and t.get_visible() and t.get_text().strip()]
    return drawn + others


def text_problems(fig: Figure, *, tolerance_px: float = 1.0) -> list[str]:
    """What is wrong with the text of ``fig`` as drawn at its size: text that runs off the figure, and
    pairs of texts whose boxes overlap by more than ``tolerance_px`` pixels both ways. Empty: no problem."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    boxes = [(t.get_text().replace("\n", " "), t.get_window_extent(renderer)) for t in _drawn_texts(fig)]
    width, height = fig.bbox.width, fig.bbox.height
    problems = [f"{text!r} runs off the figure" for text, box in boxes
                if box.x0 < -tolerance_px or box.y0 < -tolerance_px or box.x1 > width + tolerance_px
                or box.y1 > height + tolerance_px]
    for i, (text, box) in enumerate(boxes):
        for other, other_box in boxes[i + 1:]:
            overlap_x = min(box.x1, other_box.x1) - max(box.x0, other_box.x0)
            overlap_y = min(box.y1, other_box.y1) - max(box.y0, other_box.y0)
            if overlap_x > tolerance_px and overlap_y > tolerance_px:
                problems.append(f"{text!r} overlaps {other!r}")
    return problems


def fit_figure(fig: Figure, width: float, height: float) -> Figure:
    """``fig`` laid out again at ``width`` × ``height`` inches, its text at the same point size (its axes
    shrink or grow): how the deck sizes a notebook's figure for a slide.

    Raises:
        ValueError: at that size some text runs off the figure or overlaps other text (each one named).
    """
    fig.set_size_inches(width, height)
    if not isinstance(fig.get_layout_engine(), ConstrainedLayoutEngine):  # that one lays itself out when drawn
        fig.tight_layout()
    problems = text_problems(fig)
    if problems:
        raise ValueError(f"at {width:g} × {height:g} in the figure's text does not fit: " + "; ".join(problems))
    return fig


def series_heatmaps(panels: Mapping[str, Tensor], *, title: str | None = None, ncols: int = 5,
                    size: float = 2.2) -> Figure:
    """Heatmaps of (steps, features) panels — samples, masks, saliency maps — time on the x-axis."""
    n = len(panels)
    ncols = min(ncols, n)
    nrows = -(-n // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(_fit(size * ncols), size * nrows + 0.4), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, (name, panel) in zip(axes.flat, panels.items()):
        data = panel.detach().float().cpu()
        signed = bool((data < 0).any())
        limit = data.abs().max().clamp_min(1e-12).item()
        ax.imshow(data.T.numpy(), aspect="auto", origin="lower", cmap="coolwarm" if signed else "inferno",
                  vmin=-limit if signed else 0, vmax=limit)
        ax.set_title(name, fontsize=SMALL_PT)
        ax.axis("on")
        ax.set_xticks([])
        ax.set_yticks([])
    axes[-1, 0].set_xlabel("time →", fontsize=SMALL_PT)
    axes[-1, 0].set_ylabel("feature", fontsize=SMALL_PT)
    return _suptitled(fig, title)


def time_profiles(profiles: Mapping[str, Tensor], *, box: tuple[int, int] | None = None,
                  title: str | None = None) -> Figure:
    """Share of saliency per time step, one line per model; ``box`` shades the informative steps."""
    fig, ax = plt.subplots(figsize=(6.0, 3.2))
    if box is not None:
        ax.axvspan(box[0], box[1] - 1, color="tab:green", alpha=0.12, label="informative steps")
    for name, profile in profiles.items():
        ax.plot(profile.detach().cpu().numpy(), label=name)
    ax.set(xlabel="time step", ylabel="share of |saliency|")
    return _finish(fig, ax, title)


def highlight_tokens(words: Sequence[str], scores: Sequence[float] | Tensor, *, label: str = "",
                     rationale: Sequence[bool] | None = None) -> str:
    """HTML of the words with a background whose strength is each word's score (scaled to the maximum);
    rationale words, when given, are underlined."""
    values = [float(v) for v in (scores.tolist() if isinstance(scores, Tensor) else scores)]
    if len(values) != len(words):
        raise ValueError(f"scores must have one value per word; got {len(values)} for {len(words)} words")
    top = max(max(values, default=0.0), 1e-12)
    spans = []
    for i, (word, value) in enumerate(zip(words, values)):
        underline = "text-decoration: underline;" if rationale is not None and rationale[i] else ""
        spans.append(f'<span style="background: rgba(230, 80, 20, {max(value, 0.0) / top:.2f}); padding: 1px 2px; '
                     f'{underline}">{html.escape(word)}</span>')
    head = f"<b>{html.escape(label)}</b>: " if label else ""
    return f'<div style="line-height: 1.9; font-family: sans-serif; margin: 4px 0">{head}{" ".join(spans)}</div>'
