"""Figures the notebooks share. Each function draws on matplotlib and returns the Figure."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import torch
from matplotlib.figure import Figure
from torch import Tensor

from sgt_course.training import History


def _as_image(x: Tensor) -> Tensor:
    """(C, H, W) -> (H, W) for one channel or (H, W, C) for colour, on the CPU."""
    x = x.detach().float().cpu()
    return x[0] if x.shape[0] == 1 else x.permute(1, 2, 0).clamp(0, 1)


def show_images(x: Tensor, labels: Sequence[str] | Tensor | None = None, *, ncols: int = 8,
                title: str | None = None, cmap: str = "gray", size: float = 1.3) -> Figure:
    """A grid of images (N, C, H, W) in [0, 1], with an optional caption under each."""
    if x.ndim != 4:
        raise ValueError(f"x must have shape (N, C, H, W); got {tuple(x.shape)}")
    n = x.shape[0]
    if labels is not None and len(labels) != n:
        raise ValueError(f"labels must have one entry per image; got {len(labels)} for {n} images")
    ncols = max(1, min(ncols, n))
    nrows = -(-n // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows + 0.3), squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i < n:
            ax.imshow(_as_image(x[i]), cmap=cmap, vmin=0, vmax=1)
            if labels is not None:
                label = labels[i].item() if isinstance(labels, Tensor) else labels[i]
                ax.set_title(str(label), fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


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
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def class_grid(x: Tensor, y: Tensor, per_class: int = 4, class_names: Sequence[str] = ()) -> tuple[Tensor, list[str]]:
    """The first ``per_class`` images of every class, ordered by class, with their captions."""
    picks = [torch.nonzero(y.cpu() == c).flatten()[:per_class] for c in torch.unique(y.cpu()).tolist()]
    index = torch.cat(picks)
    names = [class_names[i] if class_names else str(i) for i in y.cpu()[index].tolist()]
    return x[index.to(x.device)], names
