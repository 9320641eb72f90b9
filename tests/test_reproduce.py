"""`sgt-course reproduce` at toy size: two processes under torchrun with the gloo backend train as one
process with twice the batch would, agree on their weights, write metrics and figures, and resume."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
import torch

from sgt_course.tools import reproduce

TOY = ["--datasets", "mnist5k", "--n-train", "128", "--n-test", "64", "--epochs", "1", "--device", "cpu"]


def _torchrun(output, *args: str) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
               "-m", "sgt_course.tools.reproduce", *TOY, "--output", str(output), *args]
    env = dict(os.environ, OMP_NUM_THREADS="1", MPLBACKEND="Agg")
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=600, check=False)


def _weights(path) -> dict[str, torch.Tensor]:
    return torch.load(path, weights_only=True)["model"]


def test_two_gloo_processes_train_like_one_process_with_the_whole_batch(tmp_path):
    run = _torchrun(tmp_path / "ddp", "--regimes", "standard", "SGT", "--batch-size", "32")
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-4000:]
    report = json.loads((tmp_path / "ddp" / "metrics.json").read_text())
    data = report["datasets"]["mnist5k"]
    assert report["world_size"] == 2 and data["ranks_agree"] is True
    assert set(data["regimes"]) == {"standard", "SGT"}
    assert all((tmp_path / "ddp" / name).stat().st_size > 1000 for name in data["figures"])
    for result in data["regimes"].values():
        assert 0 <= result["clean_accuracy"] <= 1 and len(result["pgd"]["accuracy"]) == 6

    # One process, batch 64, sees the same 64 samples per step: DDP's averaged gradient is the same step.
    reproduce.main([*TOY, "--regimes", "standard", "--batch-size", "64", "--output", str(tmp_path / "one")])
    name = "mnist5k-small_cnn-standard.pt"
    ddp, one = _weights(tmp_path / "ddp" / "checkpoints" / name), _weights(tmp_path / "one" / "checkpoints" / name)
    for key in one:
        torch.testing.assert_close(ddp[key], one[key], rtol=1e-4, atol=1e-5, msg=key)


def test_a_second_run_resumes_from_the_last_epoch(tmp_path, capsys):
    arguments = [*TOY, "--regimes", "standard", "--batch-size", "32", "--output", str(tmp_path)]
    reproduce.main(arguments)
    checkpoint = tmp_path / "checkpoints" / "mnist5k-small_cnn-standard.pt"
    first = _weights(checkpoint)
    reproduce.main([*arguments, "--epochs", "2"])  # the later --epochs wins
    state = torch.load(checkpoint, weights_only=True)
    assert state["epoch"] == 2
    assert any(not torch.equal(first[k], state["model"][k]) for k in first)
    written = checkpoint.stat().st_mtime_ns
    reproduce.main([*arguments, "--epochs", "2"])  # finished: loads the model, trains nothing
    assert checkpoint.stat().st_mtime_ns == written


def test_unknown_dataset_is_named():
    with pytest.raises(ValueError, match="datasets must be among"):
        reproduce.reproduce(["imagenet"], output=None)


def test_a_run_killed_mid_training_resumes_to_the_same_result(tmp_path):
    """SIGKILL after the first checkpoint, then the same command again: the weights and metrics equal
    those of an uninterrupted run, because the checkpoint holds the random-number state as well."""
    arguments = ["--datasets", "mnist5k", "--n-train", "256", "--n-test", "64", "--device", "cpu",
                 "--regimes", "SGT", "--batch-size", "32", "--epochs", "12"]
    env = dict(os.environ, OMP_NUM_THREADS="1", MPLBACKEND="Agg")

    def command(output):
        return [sys.executable, "-m", "sgt_course.tools.reproduce", *arguments, "--output", str(output)]

    subprocess.run(command(tmp_path / "whole"), env=env, check=True, capture_output=True, timeout=600)
    checkpoint = tmp_path / "killed" / "checkpoints" / "mnist5k-small_cnn-sgt.pt"
    process = subprocess.Popen(command(tmp_path / "killed"), env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while not checkpoint.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=60)
    killed_at = torch.load(checkpoint, weights_only=True)["epoch"]
    assert 1 <= killed_at < 12, f"the kill must land mid-training (after epoch {killed_at})"
    subprocess.run(command(tmp_path / "killed"), env=env, check=True, capture_output=True, timeout=600)

    whole, resumed = (_weights(tmp_path / run / "checkpoints" / "mnist5k-small_cnn-sgt.pt") for run in ("whole", "killed"))
    for key in whole:
        assert torch.equal(whole[key], resumed[key]), key
    metrics = [json.loads((tmp_path / run / "metrics.json").read_text())["datasets"]["mnist5k"]["regimes"]["SGT"]
               for run in ("whole", "killed")]
    for result in metrics:
        result.pop("train_seconds")
    assert metrics[0] == metrics[1]


def test_an_unreadable_checkpoint_restarts_its_regime(tmp_path, capsys):
    arguments = [*TOY, "--regimes", "standard", "--batch-size", "32", "--output", str(tmp_path)]
    checkpoint = tmp_path / "checkpoints" / "mnist5k-small_cnn-standard.pt"
    checkpoint.parent.mkdir(parents=True)
    checkpoint.write_bytes(b"\x00" * 100)
    reproduce.main(arguments)
    out = capsys.readouterr().out
    assert f"the checkpoint {checkpoint} cannot be used" in out and "training standard from the start" in out
    assert torch.load(checkpoint, weights_only=True)["epoch"] == 1


def test_the_authors_mnist_recipe_trains_with_adadelta_and_keeps_its_own_checkpoints(tmp_path, monkeypatch):
    from dataclasses import replace

    authors = reproduce.RECIPES["mnist-authors"]
    assert (authors.dataset, authors.model, authors.optimizer, authors.lr, authors.batch_size) == (
        "mnist", "mnist_cnn", "adadelta", 1.0, 512)
    optimizer = authors.make_optimizer([torch.nn.Parameter(torch.zeros(2))])
    assert isinstance(optimizer, torch.optim.Adadelta) and optimizer.defaults["lr"] == 1.0
    # The same recipe on the offline digits with the small CNN, so the test needs no download.
    monkeypatch.setitem(reproduce.RECIPES, "authors-toy", replace(authors, dataset="mnist5k", model="small_cnn"))
    reproduce.main(["--datasets", "authors-toy", "--n-train", "128", "--n-test", "64", "--epochs", "1",
                    "--batch-size", "64", "--device", "cpu", "--regimes", "standard", "--output", str(tmp_path)])
    state = torch.load(tmp_path / "checkpoints" / "mnist5k-small_cnn-adadelta-standard.pt", weights_only=True)
    assert "acc_delta" in state["optimizer"]["state"][0], "Adadelta's running averages are in the checkpoint"
    with pytest.raises(ValueError, match="optimizer must be one of adam, adadelta; got 'sgd'"):
        replace(authors, optimizer="sgd").make_optimizer([torch.nn.Parameter(torch.zeros(2))])
