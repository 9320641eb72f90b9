"""`sgt-course reproduce` at toy size: two processes under torchrun with the gloo backend train as one
process with twice the batch would, agree on their weights, write metrics and figures, and resume."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import torch

from sgt_course import reproduce

TOY = ["--datasets", "digits", "--n-train", "128", "--n-test", "64", "--epochs", "1", "--device", "cpu"]


def _torchrun(output, *args: str) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
               "-m", "sgt_course.reproduce", *TOY, "--output", str(output), *args]
    env = dict(os.environ, OMP_NUM_THREADS="1", MPLBACKEND="Agg")
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=600, check=False)


def _weights(path) -> dict[str, torch.Tensor]:
    return torch.load(path, weights_only=True)["model"]


def test_two_gloo_processes_train_like_one_process_with_the_whole_batch(tmp_path):
    run = _torchrun(tmp_path / "ddp", "--regimes", "standard", "SGT", "--batch-size", "32")
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-4000:]
    report = json.loads((tmp_path / "ddp" / "metrics.json").read_text())
    digits = report["datasets"]["digits"]
    assert report["world_size"] == 2 and digits["ranks_agree"] is True
    assert set(digits["regimes"]) == {"standard", "SGT"}
    assert all((tmp_path / "ddp" / name).stat().st_size > 1000 for name in digits["figures"])
    for result in digits["regimes"].values():
        assert 0 <= result["clean_accuracy"] <= 1 and len(result["pgd"]["accuracy"]) == 6

    # One process, batch 64, sees the same 64 samples per step: DDP's averaged gradient is the same step.
    reproduce.main([*TOY, "--regimes", "standard", "--batch-size", "64", "--output", str(tmp_path / "one")])
    name = "digits-small_cnn-standard.pt"
    ddp, one = _weights(tmp_path / "ddp" / "checkpoints" / name), _weights(tmp_path / "one" / "checkpoints" / name)
    for key in one:
        torch.testing.assert_close(ddp[key], one[key], rtol=1e-4, atol=1e-5, msg=key)


def test_a_second_run_resumes_from_the_last_epoch(tmp_path, capsys):
    arguments = [*TOY, "--regimes", "standard", "--batch-size", "32", "--output", str(tmp_path)]
    reproduce.main(arguments)
    checkpoint = tmp_path / "checkpoints" / "digits-small_cnn-standard.pt"
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
