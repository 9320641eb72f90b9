"""``sgt-course speed-levers``: its FLOP count, its stacked seeds (the same training as one model at a time)
and the command at toy size (it asserts nothing about speed)."""

from __future__ import annotations

import copy

import pytest
import torch

from sgt_course.losses import standard_loss
from sgt_course.models import MnistCNN, SmallCNN
from sgt_course.timing import training_step
from sgt_course.tools import speed_levers


def test_forward_flops_counts_the_authors_cnn_by_hand():
    # conv1 26·26·32·9, conv2 24·24·64·32·9, fc1 9216·128, fc2 128·10 multiply-adds per image, 2 FLOPs each
    per_image = 2 * (26 * 26 * 32 * 9 + 24 * 24 * 64 * 32 * 9 + 9216 * 128 + 128 * 10)
    assert speed_levers.forward_flops(MnistCNN(), torch.rand(3, 1, 28, 28)) == 3 * per_image


def test_stacked_seeds_train_each_model_as_its_own_steps_would():
    torch.manual_seed(0)
    models = [SmallCNN(width=4) for _ in range(2)]  # no dropout: the two ways draw nothing at random
    xs, ys = torch.rand(2, 8, 1, 28, 28), torch.randint(0, 10, (2, 8))
    alone = [copy.deepcopy(m) for m in models]
    steps = [training_step(m, standard_loss, xs[i], ys[i]) for i, m in enumerate(alone)]
    stacked, weights = speed_levers.stacked_step([copy.deepcopy(m) for m in models], xs, ys)
    for _ in range(3):
        for step in steps:
            step()
        stacked()
    for i, model in enumerate(alone):
        for name, weight in model.named_parameters():
            assert torch.allclose(weights[name][i], weight, atol=1e-5), name
    assert not torch.allclose(weights["classifier.weight"][0], models[0].classifier.weight), "they were trained"
    with pytest.raises(ValueError, match="one batch per model"):
        speed_levers.stacked_step(models, xs[:1], ys[:1])


def test_the_command_prints_every_part_at_toy_size(capsys):
    figures = speed_levers.measure(batch=4, repeats=1, seeds=2)
    out = capsys.readouterr().out
    for part in ("1. standard step", "2. standard step, channels_last", "3. 2 standard steps", "4. SGT", "ASGT / PGD-AT"):
        assert part in out
    assert figures["standard GFLOP/s"] > 0 and figures["SGT / its floor"] > 0 and figures["ASGT floor / PGD-AT"] > 1
