"""The course's image classifiers. Every model takes inputs in [0, 1] and normalizes inside ``forward``.

Keeping normalization inside the model means saliency maps, masks and attacks all work in the
input's own units: "replace a pixel with a value between the image's min and max" and "an ε-ball
of radius 0.3" both mean what they say.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import torch
from torch import Tensor, nn

from sgt_course.checks import check_choice

MNIST_MEAN, MNIST_STD = (0.1307,), (0.3081,)
CIFAR_MEAN, CIFAR_STD = (0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)


class Normalize(nn.Module):
    """(x - mean) / std per channel, as the first layer of a model; x has shape (N, C, H, W)."""

    def __init__(self, mean: Sequence[float], std: Sequence[float]) -> None:
        super().__init__()
        if len(mean) != len(std):
            raise ValueError(f"mean and std must have one value per channel; got {len(mean)} and {len(std)}")
        if any(s <= 0 for s in std):
            raise ValueError(f"std must be positive; got {tuple(std)}")
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1))
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1))

    def forward(self, x: Tensor) -> Tensor:
        return (x - self.mean) / self.std


class MnistCNN(nn.Module):
    """The CNN of the SGT authors' MNIST code (the PyTorch MNIST example):
    conv3x3(32) → ReLU → conv3x3(64) → ReLU → maxpool2 → dropout .25 → fc128 → ReLU → dropout .5 → fc10.

    Input (N, 1, 28, 28) in [0, 1]; output logits (N, n_classes).
    """

    def __init__(self, n_classes: int = 10) -> None:
        super().__init__()
        self.normalize = Normalize(MNIST_MEAN, MNIST_STD)
        self.features = nn.Sequential(
            nn.Conv2d(1, 32, 3), nn.ReLU(),
            nn.Conv2d(32, 64, 3), nn.ReLU(),
            nn.MaxPool2d(2), nn.Dropout(0.25), nn.Flatten(),
        )
        self.classifier = nn.Sequential(
            nn.Linear(64 * 12 * 12, 128), nn.ReLU(), nn.Dropout(0.5), nn.Linear(128, n_classes),
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(self.features(self.normalize(x)))


class SmallCNN(nn.Module):
    """A fast CNN for the ci profile and quick retrains:
    [conv3x3(w) → ReLU → maxpool2] → [conv3x3(2w) → ReLU → maxpool2] → average pool to 4x4 → fc.

    Works for any image size and channel count; input (N, C, H, W) in [0, 1], output (N, n_classes).
    """

    def __init__(self, in_channels: int = 1, n_classes: int = 10, width: int = 16,
                 mean: Sequence[float] | None = None, std: Sequence[float] | None = None) -> None:
        super().__init__()
        self.normalize = Normalize(mean or (0.5,) * in_channels, std or (0.25,) * in_channels)
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, width, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(width, 2 * width, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.AdaptiveAvgPool2d(4), nn.Flatten(),
        )
        self.classifier = nn.Linear(2 * width * 16, n_classes)

    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(self.features(self.normalize(x)))


class _BasicBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int, stride: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(),
            nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False), nn.BatchNorm2d(c_out),
        )
        self.shortcut = (nn.Identity() if stride == 1 and c_in == c_out else
                         nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out)))

    def forward(self, x: Tensor) -> Tensor:
        return torch.relu(self.body(x) + self.shortcut(x))


class CifarResNet(nn.Module):
    """A compact CIFAR ResNet (He et al. 2016, the 6n+2 family): a 3x3 stem and three stages of
    ``blocks`` basic blocks with ``width``, 2·width and 4·width channels; ``blocks=3, width=16`` is
    ResNet-20 (0.27 M parameters).

    Input (N, 3, 32, 32) in [0, 1]; output (N, n_classes).
    """

    def __init__(self, n_classes: int = 10, width: int = 16, blocks: int = 3, in_channels: int = 3) -> None:
        super().__init__()
        if blocks < 1:
            raise ValueError(f"blocks must be >= 1; got {blocks}")
        mean = CIFAR_MEAN if in_channels == 3 else (0.5,) * in_channels
        std = CIFAR_STD if in_channels == 3 else (0.25,) * in_channels
        self.normalize = Normalize(mean, std)
        layers: list[nn.Module] = [nn.Conv2d(in_channels, width, 3, 1, 1, bias=False), nn.BatchNorm2d(width), nn.ReLU()]
        c_in = width
        for stage, c_out in enumerate((width, 2 * width, 4 * width)):
            for b in range(blocks):
                layers.append(_BasicBlock(c_in, c_out, stride=2 if stage > 0 and b == 0 else 1))
                c_in = c_out
        layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten()]
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Linear(c_in, n_classes)

    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(self.features(self.normalize(x)))


@contextmanager
def eval_mode(model: nn.Module) -> Iterator[nn.Module]:
    """Put ``model`` in eval mode for the block, then restore the mode it had."""
    was_training = model.training
    model.eval()
    try:
        yield model
    finally:
        model.train(was_training)


#: Layers that compute a different function in train mode: dropout draws masks, batch norm uses the
#: batch's statistics instead of its running ones.
MODE_DEPENDENT_LAYERS: tuple[type[nn.Module], ...] = (
    nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.Dropout3d, nn.AlphaDropout, nn.FeatureAlphaDropout,
    nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d, nn.SyncBatchNorm)


def mode_dependent_layers(model: nn.Module) -> list[str]:
    """The kinds of layer in ``model`` whose output depends on train or eval mode, by class name, sorted:
    those of :data:`MODE_DEPENDENT_LAYERS`, and recurrent layers with dropout between their layers. Empty
    when train and eval mode compute the same function."""
    return sorted({type(m).__name__ for m in model.modules()
                   if isinstance(m, MODE_DEPENDENT_LAYERS) or (isinstance(m, nn.RNNBase) and m.dropout > 0)})


IMAGE_MODELS = ("mnist_cnn", "small_cnn", "cifar_resnet")


def build_model(name: str, *, in_channels: int = 1, n_classes: int = 10, width: int = 16) -> nn.Module:
    """A fresh model by name: ``"mnist_cnn"`` (1x28x28 only), ``"small_cnn"`` or ``"cifar_resnet"``.

    Raises:
        ValueError: unknown name, non-positive sizes, or a size the model cannot take.
    """
    for arg, value in (("in_channels", in_channels), ("n_classes", n_classes), ("width", width)):
        if not isinstance(value, int) or value < 1:
            raise ValueError(f"{arg} must be a positive int; got {value!r}")
    check_choice("model", name, IMAGE_MODELS)
    if name == "mnist_cnn":
        if in_channels != 1:
            raise ValueError(f"mnist_cnn takes 1-channel 28x28 images; got in_channels={in_channels}")
        return MnistCNN(n_classes)
    if name == "small_cnn":
        return SmallCNN(in_channels, n_classes, width)
    return CifarResNet(n_classes, width, in_channels=in_channels)  # "cifar_resnet"


def accelerate(model: nn.Module, *, channels_last: bool = False, compile: bool = False) -> nn.Module:
    """``model`` made faster for a GPU, same function: ``channels_last`` stores its 4-d weights as NHWC
    (convolutions then run in the layout tensor cores prefer; an NCHW input is converted by the first
    convolution); ``compile`` wraps it in :func:`torch.compile` (the first calls are slow while it
    compiles; the wrapper shares the weights, but its ``state_dict`` keys gain ``_orig_mod.``).

    Both are off by default in the course: ``sgt-course gpu-check`` measures whether each is faster and
    whether it changes what a student sees.
    """
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    return torch.compile(model) if compile else model


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


class LSTMClassifier(nn.Module):
    """An LSTM over time whose last hidden state is classified: (N, steps, features) -> (N, n_classes).

    In eval mode on a GPU the cuDNN kernel is switched off, because cuDNN cannot backpropagate
    through an RNN in eval mode and saliency needs exactly that.
    """

    def __init__(self, features: int, n_classes: int = 2, hidden: int = 32) -> None:
        super().__init__()
        self.lstm = nn.LSTM(features, hidden, batch_first=True)
        self.classifier = nn.Linear(hidden, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        with torch.backends.cudnn.flags(enabled=self.training or not x.is_cuda):
            output, _ = self.lstm(x)
        return self.classifier(output[:, -1])


class _CausalBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int, kernel: int, dilation: int) -> None:
        super().__init__()
        self.pad = (kernel - 1) * dilation
        self.conv1 = nn.Conv1d(c_in, c_out, kernel, dilation=dilation)
        self.conv2 = nn.Conv1d(c_out, c_out, kernel, dilation=dilation)
        self.shortcut = nn.Conv1d(c_in, c_out, 1) if c_in != c_out else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.relu(self.conv1(nn.functional.pad(x, (self.pad, 0))))
        out = torch.relu(self.conv2(nn.functional.pad(out, (self.pad, 0))))
        return torch.relu(out + self.shortcut(x))


class TCN(nn.Module):
    """A temporal convolutional network (Bai et al. 2018): residual blocks of dilated *causal* 1-D
    convolutions (dilations 1, 2, 4, ...), classified from the last time step.

    Input (N, steps, features); output (N, n_classes). With kernel 4 and 3 levels the last step sees
    1 + 2·3·(1 + 2 + 4) = 43 steps back.
    """

    def __init__(self, features: int, n_classes: int = 2, hidden: int = 32, levels: int = 3, kernel: int = 4) -> None:
        super().__init__()
        if levels < 1 or kernel < 2:
            raise ValueError(f"levels must be >= 1 and kernel >= 2; got {levels} and {kernel}")
        self.blocks = nn.Sequential(*[_CausalBlock(features if i == 0 else hidden, hidden, kernel, 2**i)
                                      for i in range(levels)])
        self.classifier = nn.Linear(hidden, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.blocks(x.transpose(1, 2))[:, :, -1])


TIMESERIES_MODELS = ("lstm", "tcn")


def build_timeseries_model(name: str, *, features: int, n_classes: int = 2, hidden: int = 32) -> nn.Module:
    """A fresh time-series classifier by name: ``"lstm"`` or ``"tcn"``."""
    for arg, value in (("features", features), ("n_classes", n_classes), ("hidden", hidden)):
        if not isinstance(value, int) or value < 1:
            raise ValueError(f"{arg} must be a positive int; got {value!r}")
    check_choice("model", name, TIMESERIES_MODELS)
    return LSTMClassifier(features, n_classes, hidden) if name == "lstm" else TCN(features, n_classes, hidden)


class BiLSTMClassifier(nn.Module):
    """A bidirectional LSTM over word embeddings, max-pooled over time, then a linear layer.

    Input token ids (N, L) with 0 = padding (its embedding is the zero vector); output logits
    (N, n_classes). Saliency for text is taken with respect to the embedded input: :meth:`embed`
    gives it and :meth:`forward_embedded` continues from it, so every saliency method of
    :mod:`sgt_course.saliency` applies to ``model.forward_embedded`` unchanged (see
    :func:`sgt_course.saliency.token_saliency`). Padding is read like any token (no packing), which
    keeps the embedded view a plain function of one tensor.
    """

    def __init__(self, vocab_size: int, n_classes: int = 2, embed_dim: int = 64, hidden: int = 64) -> None:
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embed_dim, padding_idx=0)
        self.lstm = nn.LSTM(embed_dim, hidden, batch_first=True, bidirectional=True)
        self.classifier = nn.Linear(2 * hidden, n_classes)

    def embed(self, tokens: torch.Tensor) -> torch.Tensor:
        """Embeddings (N, L, E) of token ids (N, L)."""
        return self.embedding(tokens)

    def forward_embedded(self, embedded: torch.Tensor) -> torch.Tensor:
        """Logits (N, n_classes) from embeddings (N, L, E)."""
        with torch.backends.cudnn.flags(enabled=self.training or not embedded.is_cuda):
            output, _ = self.lstm(embedded)
        return self.classifier(output.amax(1))

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.forward_embedded(self.embed(tokens))


class EmbeddedInput(nn.Module):
    """A text model seen as a function of its embedded input, e (N, L, E) -> logits, for the saliency methods."""

    def __init__(self, model: BiLSTMClassifier) -> None:
        super().__init__()
        self.model = model

    def forward(self, embedded: torch.Tensor) -> torch.Tensor:
        return self.model.forward_embedded(embedded)


def load_glove(model: BiLSTMClassifier, path: str, itos: Sequence[str]) -> int:
    """Initialize ``model``'s embeddings from a GloVe text file (``word v1 v2 ...`` per line) for the
    words of the vocabulary ``itos``; returns how many words were found. Never downloads anything."""
    dim = model.embedding.embedding_dim
    index = {word: i for i, word in enumerate(itos)}
    found = 0
    with open(path, encoding="utf8") as handle, torch.no_grad():
        for line in handle:
            word, *values = line.rstrip().split(" ")
            if word in index and len(values) == dim:
                model.embedding.weight[index[word]] = torch.tensor([float(v) for v in values])
                found += 1
    return found
