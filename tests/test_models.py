import pytest
import torch
from torch import nn

from sgt_course.models import (
    IMAGE_MODELS,
    BiLSTMClassifier,
    CifarResNet,
    MnistCNN,
    Normalize,
    accelerate,
    build_model,
    count_parameters,
    mode_dependent_layers,
)


@pytest.mark.parametrize("name, shape", [("mnist_cnn", (2, 1, 28, 28)), ("small_cnn", (2, 1, 28, 28)),
                                         ("small_cnn", (2, 3, 32, 32)), ("cifar_resnet", (2, 3, 32, 32))])
def test_models_map_images_to_logits(name, shape):
    model = build_model(name, in_channels=shape[1], n_classes=7)
    assert model(torch.rand(shape)).shape == (2, 7)


def test_mnist_cnn_is_the_authors_architecture():
    model = MnistCNN()
    convs = [m for m in model.modules() if isinstance(m, torch.nn.Conv2d)]
    linears = [m for m in model.modules() if isinstance(m, torch.nn.Linear)]
    assert [c.out_channels for c in convs] == [32, 64]
    assert [(m.in_features, m.out_features) for m in linears] == [(9216, 128), (128, 10)]
    assert [m.p for m in model.modules() if isinstance(m, torch.nn.Dropout)] == [0.25, 0.5]
    assert count_parameters(model) == 1_199_882


def test_resnet20_size():
    assert abs(count_parameters(CifarResNet(width=16, blocks=3)) - 272_474) < 1000


def test_normalization_is_inside_the_model():
    norm = Normalize((0.5,), (0.25,))
    assert torch.allclose(norm(torch.full((1, 1, 2, 2), 0.75)), torch.ones(1, 1, 2, 2))
    assert "normalize" in dict(MnistCNN().named_children())


@pytest.mark.parametrize("kwargs, message", [
    (dict(name="vgg"), "model must be one of mnist_cnn, small_cnn, cifar_resnet"),
    (dict(name="small_cnn", width=0), "width must be a positive int"),
    (dict(name="small_cnn", n_classes=-1), "n_classes must be a positive int"),
    (dict(name="mnist_cnn", in_channels=3), "mnist_cnn takes 1-channel"),
])
def test_bad_model_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        build_model(**kwargs)


def test_every_listed_model_builds():
    for name in IMAGE_MODELS:
        build_model(name)
    with pytest.raises(ValueError, match="std must be positive"):
        Normalize((0.0,), (0.0,))


def test_accelerate_keeps_the_function_and_changes_only_what_was_asked():
    torch.manual_seed(0)
    model = build_model("cifar_resnet", in_channels=3, width=4).eval()
    x = torch.rand(2, 3, 32, 32)
    expected = model(x)
    assert accelerate(model) is model
    fast = accelerate(model, channels_last=True)
    conv = next(m for m in fast.modules() if isinstance(m, torch.nn.Conv2d))
    assert conv.weight.is_contiguous(memory_format=torch.channels_last)
    torch.testing.assert_close(fast(x), expected, atol=1e-5, rtol=1e-4)
    compiled = accelerate(model, compile=True)  # compiles at its first call, which gpu-check --toy makes
    assert isinstance(compiled, torch._dynamo.eval_frame.OptimizedModule) and compiled._orig_mod is model


def test_mode_dependent_layers_finds_dropout_batch_norm_and_recurrent_dropout():
    assert mode_dependent_layers(build_model("small_cnn")) == []
    assert mode_dependent_layers(build_model("mnist_cnn")) == ["Dropout"]
    assert mode_dependent_layers(build_model("cifar_resnet")) == ["BatchNorm2d"]
    assert mode_dependent_layers(nn.Sequential(nn.Linear(3, 3), nn.BatchNorm1d(3))) == ["BatchNorm1d"]
    assert mode_dependent_layers(nn.LSTM(2, 2, num_layers=2, dropout=0.1)) == ["LSTM"]
    assert mode_dependent_layers(nn.LSTM(2, 2)) == [], "one layer: no dropout between layers"
    assert mode_dependent_layers(BiLSTMClassifier(10, 2)) == []
