"""One training loop for every regime, evaluation helpers and a checkpoint cache.

A regime is just a loss function of (model, x, y) (see :mod:`sgt_course.losses`), so standard
training, SGT, adversarial training and ASGT all run through :func:`fit`::

    history = fit(model, train, standard_loss, epochs=3, val=test)

:func:`load_or_train` caches the trained weights under a key made from the configuration, so a later
notebook gets the model an earlier one trained in a second instead of training it again.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Union

import torch
from torch import Tensor, nn
from tqdm.auto import tqdm

from sgt_course import __version__
from sgt_course.checks import check_choice, check_finite, check_input_dtype
from sgt_course.data.base import Dataset
from sgt_course.losses import LossFn, standard_loss
from sgt_course.models import eval_mode
from sgt_course.runtime import CACHE_ENV, PRECISIONS, cache_dir, default_precision, mixed_precision

#: What training and evaluation take: any :class:`~sgt_course.data.Dataset`, or an (x, y) pair of tensors.
Data = Union[Dataset, tuple[Tensor, Tensor]]


def as_tensors(data: Data) -> tuple[Tensor, Tensor]:
    """(x, y) from a :class:`~sgt_course.data.Dataset` or an (x, y) pair, checking that they match."""
    x, y = (data.x, data.y) if hasattr(data, "x") and hasattr(data, "y") else data
    if not isinstance(x, Tensor) or not isinstance(y, Tensor):
        raise TypeError(f"data must be a Dataset (ImageSet, TimeSeriesSet, TextSet) or an (x, y) pair of tensors; "
                        f"got {type(data).__name__}")
    if x.shape[0] != y.shape[0]:
        raise ValueError(f"x and y must have the same batch size; got {x.shape[0]} and {y.shape[0]}")
    return x, y


@dataclass
class History:
    """Per-epoch record of a :func:`fit` run: mean training loss, accuracies and seconds; with early
    stopping, the held-out scores of every epoch and the epoch whose weights were kept (0-based)."""

    loss: list[float] = field(default_factory=list)
    train_accuracy: list[float] = field(default_factory=list)
    val_accuracy: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    held_out: dict[str, list[float]] = field(default_factory=dict)
    best_epoch: int | None = None

    @property
    def epochs(self) -> int:
        return len(self.loss)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> History:
        """The inverse of :meth:`to_dict`; a record written before early stopping existed has none."""
        lists = {k: [float(v) for v in values[k]] for k in ("loss", "train_accuracy", "val_accuracy", "seconds")}
        held_out = {name: [float(v) for v in scores] for name, scores in values.get("held_out", {}).items()}
        best = values.get("best_epoch")
        return cls(**lists, held_out=held_out, best_epoch=None if best is None else int(best))


@dataclass(frozen=True)
class EarlyStopping:
    """Train until a held-out score stops improving: :func:`fit`'s ``epochs`` become a cap.

    After every epoch ``scores(model)`` gives named scores on data the model does not train on (e.g.
    ``{"clean accuracy": ..., "PGD accuracy": ...}``), all recorded in :attr:`History.held_out`. Training
    stops once ``scores[monitor]`` has not risen above its best for ``patience`` epochs, and the best
    epoch's weights are kept: for adversarial training, early stopping on held-out robust accuracy is
    the remedy for robust overfitting (Rice, Wong & Kolter, ICML 2020).

    Attributes:
        scores: the model -> {name: score} function, higher is better.
        monitor: the name of the score that must improve.
        patience: epochs without a new best before training stops.
        key: a JSON-able description of ``scores`` (what data, which attack) for a checkpoint's cache key.
    """

    scores: Callable[[nn.Module], Mapping[str, float]]
    monitor: str
    patience: int = 2
    key: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.patience, int) or isinstance(self.patience, bool) or self.patience < 1:
            raise ValueError(f"patience must be a positive int; got {self.patience!r}")

    def describe(self) -> dict[str, Any]:
        """What identifies this rule in a cache key: the monitored score, the patience and :attr:`key`."""
        return {"monitor": self.monitor, "patience": self.patience, **self.key}


def _model_device(model: nn.Module) -> torch.device:
    parameter = next(model.parameters(), None)
    return parameter.device if parameter is not None else torch.device("cpu")


@torch.no_grad()
def predict(model: nn.Module, x: Tensor, batch_size: int = 1000) -> Tensor:
    """Logits of ``model`` on ``x`` (N, ...) -> (N, n_classes), in eval mode, batched, without gradients;
    the mode is restored."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1; got {batch_size}")
    check_input_dtype(model, x)
    device = _model_device(model)
    with eval_mode(model), torch.no_grad():
        return torch.cat([model(x[i:i + batch_size].to(device)) for i in range(0, x.shape[0], batch_size)])


def correct(model: nn.Module, data: Data, batch_size: int = 1000) -> Tensor:
    """Which samples of ``data`` ``model`` classifies correctly: (N,) bool on the CPU, from which
    :func:`sgt_course.stats.accuracy` gives the accuracy with its interval."""
    x, y = as_tensors(data)
    if x.shape[0] == 0:
        raise ValueError("data is empty")
    return predict(model, x, batch_size).argmax(1).cpu() == y.cpu()


def evaluate(model: nn.Module, data: Data, batch_size: int = 1000) -> float:
    """Accuracy of ``model`` on ``data`` (a fraction in [0, 1])."""
    return correct(model, data, batch_size).float().mean().item()


def step(model: nn.Module, loss_fn: LossFn, optimizer: torch.optim.Optimizer, x: Tensor, y: Tensor, *,
         precision: str = "fp32") -> Tensor:
    """One step of training, the body of every loop of the course (:func:`fit`, ``reproduce``, the
    benchmarks): L = ``loss_fn(model, x, y)``; clear the gradients; backpropagate L; update the weights.
    ``precision="bf16"`` computes L under bfloat16 autocast (:func:`~sgt_course.runtime.mixed_precision`).
    Returns L, detached."""
    with mixed_precision(x.device, precision):
        loss = loss_fn(model, x, y)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return loss.detach()


def fit(model: nn.Module, train: Data, loss_fn: LossFn = standard_loss, *, epochs: int = 1,
        batch_size: int = 128, lr: float = 1e-3, optimizer: torch.optim.Optimizer | None = None,
        val: Data | None = None, seed: int = 0, progress: bool = True, desc: str = "training",
        precision: str | None = None, early_stopping: EarlyStopping | None = None) -> History:
    """Train ``model`` in place by minimizing ``loss_fn(model, x_batch, y_batch)``; return its :class:`History`.

    Each epoch visits the training set in a fresh order drawn from ``seed``. The model is in train
    mode for the loss and is left in eval mode afterwards. Accuracy after each epoch is measured on
    up to 5000 training samples and on ``val`` when given.

    Args:
        model: the network, already on its device; batches are moved to that device.
        train: a :class:`~sgt_course.data.Dataset` (images, series or texts) or an (x, y) pair.
        loss_fn: a function (model, x, y) -> scalar, e.g. ``standard_loss`` or ``sgt_loss``.
        epochs, batch_size: the usual.
        lr: learning rate of the default Adam optimizer (ignored when ``optimizer`` is given).
        val: data to report accuracy on after each epoch.
        seed: seed of the shuffling order.
        progress: show a progress bar (a widget in notebooks, text in a terminal).
        desc: the progress bar's label.
        precision: ``"fp32"``, or ``"bf16"`` for bfloat16 autocast in every step (see :func:`step`); None:
            :func:`~sgt_course.runtime.default_precision` ($SGT_COURSE_PRECISION, else ``"fp32"``).
        early_stopping: stop once a held-out score stops improving and keep the best epoch's weights
            (:class:`EarlyStopping`); ``epochs`` is then the most it trains.
    """
    x, y = as_tensors(train)
    check_finite("train.x", x)
    check_input_dtype(model, x)
    for arg, value in (("epochs", epochs), ("batch_size", batch_size)):
        if not isinstance(value, int) or value < 1:
            raise ValueError(f"{arg} must be a positive int; got {value!r}")
    if lr <= 0:
        raise ValueError(f"lr must be > 0; got {lr}")
    precision = precision or default_precision()
    check_choice("precision", precision, PRECISIONS)
    optimizer = optimizer or torch.optim.Adam(model.parameters(), lr=lr)
    device = _model_device(model)
    generator = torch.Generator().manual_seed(seed)
    n = x.shape[0]
    steps_per_epoch = -(-n // batch_size)
    probe = slice(0, min(n, 5000))
    history = History()
    best_weights: dict[str, Tensor] | None = None  # with early stopping: the best epoch's
    # At most one redraw a second: a notebook bar is a widget, and every redraw is a message to the
    # front end (thousands of them can overflow the kernel's message queue and drop the cell's end).
    with tqdm(total=epochs * steps_per_epoch, desc=desc, disable=not progress, leave=False, mininterval=1.0) as bar:
        for epoch in range(epochs):
            model.train()
            start, total, order = time.perf_counter(), 0.0, torch.randperm(n, generator=generator)
            for i in range(0, n, batch_size):
                index = order[i:i + batch_size].to(x.device)
                loss = step(model, loss_fn, optimizer, x[index].to(device), y[index].to(device), precision=precision)
                total += loss.item() * index.shape[0]
                bar.update(1)
            history.seconds.append(time.perf_counter() - start)
            history.loss.append(total / n)
            history.train_accuracy.append(evaluate(model, (x[probe], y[probe])))
            if val is not None:
                history.val_accuracy.append(evaluate(model, val))
            bar.set_postfix(epoch=epoch + 1, loss=f"{history.loss[-1]:.3f}",
                            acc=f"{(history.val_accuracy or history.train_accuracy)[-1]:.3f}")
            if early_stopping is not None:
                if _held_out_improved(model, early_stopping, history):
                    best_weights = {k: v.detach().clone() for k, v in model.state_dict().items()}
                if history.epochs - 1 - history.best_epoch >= early_stopping.patience:
                    break
    if best_weights is not None:
        model.load_state_dict(best_weights)
    model.eval()
    return history


def _held_out_improved(model: nn.Module, rule: EarlyStopping, history: History) -> bool:
    """Record the held-out scores of the epoch just trained in ``history``; True (and ``best_epoch`` moved
    to it) when its monitored score is the best so far."""
    with eval_mode(model):
        scores = dict(rule.scores(model))
    if rule.monitor not in scores:
        raise KeyError(f"early_stopping.monitor {rule.monitor!r} is not among the scores ({', '.join(scores)})")
    for name, value in scores.items():
        history.held_out.setdefault(name, []).append(float(value))
    monitored = history.held_out[rule.monitor]
    if history.best_epoch is not None and monitored[-1] <= monitored[history.best_epoch]:
        return False
    history.best_epoch = len(monitored) - 1
    return True


def save_atomic(state: dict, path: Path) -> None:
    """``torch.save`` through a temporary file in the same folder, renamed into place: an interrupted
    run never leaves a half-written checkpoint behind, and a failed one (a full disk, a folder removed)
    leaves no temporary file either."""
    handle = tempfile.NamedTemporaryFile(dir=path.parent, suffix=".tmp", delete=False)
    try:
        with handle:
            torch.save(state, handle)
        os.replace(handle.name, path)
    except BaseException:
        Path(handle.name).unlink(missing_ok=True)
        raise


def checkpoint_path(name: str, config: Mapping[str, Any]) -> Path:
    """Where :func:`load_or_train` keeps the model ``name`` trained with ``config``.

    The key is a hash of the name, the configuration (JSON), the library version and, when it is not
    float32, the precision :func:`fit` trains in by default ($SGT_COURSE_PRECISION), so changing any of
    them trains a new model rather than loading a stale one.
    """
    if not name or not all(c.isalnum() or c in "-_" for c in name):
        raise ValueError(f"name must be letters, digits, '-' or '_'; got {name!r}")
    try:
        precision = default_precision()
        text = json.dumps({"name": name, "config": config, "version": __version__,
                           **({"precision": precision} if precision != "fp32" else {})}, sort_keys=True)
    except TypeError as error:
        raise TypeError(f"config must be JSON-serializable (numbers, strings, lists, dicts): {error}") from None
    return cache_dir() / "checkpoints" / f"{name}-{hashlib.sha256(text.encode()).hexdigest()[:12]}.pt"


def _load_checkpoint(model: nn.Module, path: Path) -> History:
    """Load ``path`` into ``model`` and return its history; raises if the file is unreadable or does not
    fit. The weights are checked against the model before any of them is copied in, so a mismatched
    file leaves the model untouched."""
    saved = torch.load(path, map_location=_model_device(model), weights_only=True)
    if not isinstance(saved, dict) or not {"state_dict", "history"} <= saved.keys():
        raise ValueError("not a checkpoint of this course (no state_dict and history)")
    expected = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    found = {k: tuple(v.shape) for k, v in saved["state_dict"].items()}
    misfits = sorted(expected.keys() ^ found.keys()) or [k for k in expected if expected[k] != found[k]]
    if misfits:
        key = misfits[0]
        raise ValueError(f"its weights do not fit {type(model).__name__}: {key} is {found.get(key, 'missing')} "
                         f"in the file and {expected.get(key, 'absent')} in the model")
    history = History.from_dict(saved["history"])
    model.load_state_dict(saved["state_dict"])
    return history


def error_line(error: BaseException) -> str:
    """``"Type: first line of the message"`` (cut at 160 characters), for one-line reports of a fault."""
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0][:160]}" if text else type(error).__name__


def _why_unwritable(error: BaseException, path: Path) -> str:
    """Why ``path`` could not be written, in a few words: the system's reason, and the free space left."""
    reason = error.strerror if isinstance(error, OSError) and error.strerror else error_line(error)
    try:
        free = shutil.disk_usage(path.parent).free
    except OSError:
        return f"{reason}; its folder is gone"
    return f"{reason}; {free / 2**20:.1f} MiB free there"


def load_or_train(name: str, config: Mapping[str, Any], build: Callable[[], nn.Module],
                  train: Callable[[nn.Module], History], *, device: torch.device | str | None = None,
                  retrain: bool = False, verbose: bool = True) -> tuple[nn.Module, History]:
    """The model ``name`` trained with ``config``: from the cache if it is there, else trained and cached.

    Args:
        name: a short name for the file, e.g. ``"mnist-sgt"``.
        config: everything that determines the trained weights (data, sizes, loss, seed...).
        build: makes a fresh, untrained model.
        train: trains the model in place and returns its :class:`History` (typically a call to :func:`fit`).
        device: where the model lives (default: where ``build`` put it).
        retrain: ignore the cache and train again.

    The checkpoint is written atomically (a temporary file renamed into place) and read back with
    ``weights_only=True``, so a half-written or foreign file can never be executed as code. A cached
    file that cannot be read, or does not fit the model ``build`` makes, is reported in one line and
    the model is trained again and re-cached: a broken cache never stops a notebook. A checkpoint that
    cannot be written (a full disk, a quota, the folder removed during training) costs nothing trained:
    one line says why, and the model is returned from memory.
    """
    path = checkpoint_path(name, config)
    try:  # before training, so that an unusable folder costs no training time
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise OSError(f"the checkpoint cache {path.parent} cannot be used ({error.strerror or error}); "
                      f"set {CACHE_ENV} to a writable folder") from error
    def fresh() -> nn.Module:
        return build() if device is None else build().to(device)

    model = fresh()
    if path.exists() and not retrain:
        try:
            history = _load_checkpoint(model, path)
        except Exception as error:  # any unreadable or mismatched file: say so, then train afresh
            print(f"the cached {name} ({path}) cannot be used ({error_line(error)}); training it again")
            model = fresh()
        else:
            if verbose:
                print(f"loaded {name} from the cache ({path.name})")
            return model.eval(), history
    history = train(model)
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    try:
        save_atomic({"state_dict": state, "history": history.to_dict(), "config": json.loads(json.dumps(config))},
                    path)
    except (OSError, RuntimeError) as error:  # torch reports a full disk as a RuntimeError
        print(f"trained {name} in {sum(history.seconds):.1f} s but could not cache it "
              f"({_why_unwritable(error, path)}); using it from memory: free space in {path.parent} or set "
              f"{CACHE_ENV} to another folder")
        return model.eval(), history
    if verbose:
        print(f"trained {name} in {sum(history.seconds):.1f} s and cached it ({path.name})")
    return model.eval(), history
