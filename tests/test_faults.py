"""Faults a class can meet, each with a clear outcome and nothing lost: processes racing on one cache
entry, a process killed while saving, a cache or data folder that cannot be written, a disk that fills
up, a cache folder removed during training, seeded calls that must repeat exactly, and the mistakes
whose torch errors name nothing (a label outside the classes, an input of another dtype, a map with no
mass, more images than a split holds)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from urllib.error import URLError

import pytest
import torch

from sgt_course import attacks, masking, saliency
from sgt_course.data import load_images, load_mnist
from sgt_course.models import build_model
from sgt_course.training import History, checkpoint_path, fit, load_or_train

PRELUDE = """
import sys, torch
from sgt_course.models import build_model
from sgt_course.training import History, checkpoint_path, fit, load_or_train, save_atomic

def build():
    torch.manual_seed(0)
    return build_model("small_cnn", width=8)
"""


def _python(script: str, **popen: object) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", PRELUDE + textwrap.dedent(script)], env=dict(os.environ),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **popen)


def test_a_reader_never_sees_a_checkpoint_half_written_by_another_process():
    """One process rewrites the entry (with 16 MB of padding, so that each write takes a while) 40 times
    while another loads it 200 times; a half-written file would make load_or_train report it and call
    ``train``, which here fails the reader."""
    writer = _python("""
        model = build()
        path = checkpoint_path("race", {"k": 1}); path.parent.mkdir(parents=True, exist_ok=True)
        state = {"state_dict": model.state_dict(), "history": History().to_dict(), "padding": torch.zeros(4_000_000)}
        for _ in range(40):
            save_atomic(state, path)
        print("wrote")
    """)
    reader = _python("""
        import time
        path = checkpoint_path("race", {"k": 1})
        while not path.exists():
            time.sleep(0.001)
        def must_not_train(model):
            raise SystemExit("a reader had to train: it met an unreadable file")
        for _ in range(200):
            load_or_train("race", {"k": 1}, build, must_not_train, verbose=False)
        print("read")
    """)
    for process, word in ((writer, "wrote"), (reader, "read")):
        out, err = process.communicate(timeout=300)
        assert process.returncode == 0 and out.strip() == word, err[-2000:]


def test_two_processes_training_one_entry_both_finish_with_a_readable_checkpoint():
    script = """
        import time
        from sgt_course.data import load_images
        train = load_images("mnist5k", "train", 64)
        def slow(model):
            time.sleep(1.0)  # both are training at once
            return fit(model, train, epochs=1, batch_size=32, progress=False)
        model, _ = load_or_train("twins", {"k": 2}, build, slow, verbose=False)
        print(float(sum(p.sum() for p in model.parameters())))
    """
    first, second = _python(script), _python(script)
    sums = []
    for process in (first, second):
        out, err = process.communicate(timeout=300)
        assert process.returncode == 0, err[-2000:]
        sums.append(float(out))
    assert sums[0] == pytest.approx(sums[1]), "the same seed trains the same weights in both"
    model, _ = load_or_train("twins", {"k": 2}, lambda: build_model("small_cnn", width=8), lambda m: 1 / 0)
    assert not list(checkpoint_path("twins", {"k": 2}).parent.glob("*.tmp")), "no temporary file is left"


def test_a_process_killed_while_saving_leaves_no_file_that_is_ever_loaded(capsys):
    """torch.save writes half the checkpoint, then the process is killed (SIGKILL): the entry is
    absent, so the next call trains it; nothing half-written is read."""
    killed = _python("""
        import os, signal
        real_save = torch.save
        def save_half_then_die(state, handle, *args, **kwargs):
            handle.write(b"PK\\x03\\x04 half a checkpoint")
            handle.flush()
            os.kill(os.getpid(), signal.SIGKILL)
        torch.save = save_half_then_die
        load_or_train("killed", {"k": 3}, build, lambda model: History(), verbose=False)
    """)
    killed.communicate(timeout=300)
    assert killed.returncode == -signal.SIGKILL
    path = checkpoint_path("killed", {"k": 3})
    assert not path.exists() and list(path.parent.glob("*.tmp")), "only the temporary file was written"
    calls = []

    def train(model):
        calls.append(1)
        return History()

    load_or_train("killed", {"k": 3}, lambda: build_model("small_cnn", width=8), train)
    assert calls == [1] and "trained killed" in capsys.readouterr().out and path.exists()


def test_a_cache_folder_that_cannot_be_written_is_named_with_its_variable(tmp_path, monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("SGT_COURSE_CACHE", str(blocker / "cache"))
    trained = []
    with pytest.raises(OSError, match=rf"the checkpoint cache {blocker}/cache/checkpoints cannot be used .*"
                                      "set SGT_COURSE_CACHE to a writable folder"):
        load_or_train("tiny", {}, lambda: build_model("small_cnn", width=4), lambda m: trained.append(1))
    assert trained == [], "it fails before spending any time on training"


def test_a_data_folder_that_cannot_be_written_is_named_with_its_variable(tmp_path, monkeypatch, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    data = load_mnist("test", 10, root=blocker / "data")
    out = capsys.readouterr().out
    assert data.source == "mnist5k" and out.count("\n") == 1
    assert f"cannot write {blocker}" in out and "SGT_COURSE_DATA moves the data folder" in out, out


def test_without_network_the_reason_is_the_network(tmp_path, monkeypatch, capsys):
    def no_network(*args, **kwargs):
        raise URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr("torchvision.datasets.mnist.download_and_extract_archive", no_network)
    load_mnist("test", 10, root=tmp_path)
    assert "Temporary failure in name resolution" in capsys.readouterr().out


def _twice(fn):
    return fn(), fn()


@pytest.fixture(scope="module")
def trained():
    torch.manual_seed(0)
    model = build_model("small_cnn", width=8)
    data = load_images("mnist5k", "train", 64)
    fit(model, data, epochs=1, batch_size=32, progress=False)
    return model.eval(), data.x[:8], data.y[:8]


@pytest.mark.parametrize("call", [
    lambda m, x, y: saliency.smoothgrad(m, x, y, samples=4, generator=torch.Generator().manual_seed(3)),
    lambda m, x, y: saliency.random_saliency(m, x, y, generator=torch.Generator().manual_seed(3)),
    lambda m, x, y: masking.mask_bottom_k(x, saliency.per_pixel(saliency.gradient(m, x, y)), 0.5,
                                          generator=torch.Generator().manual_seed(3))[0],
    lambda m, x, y: attacks.pgd(m, x, y, 0.2, generator=torch.Generator().manual_seed(3)),
], ids=["smoothgrad", "random_saliency", "mask_bottom_k", "pgd_random_start"])
def test_a_seeded_call_repeats_exactly(trained, call):
    first, second = _twice(lambda: call(*trained))
    assert torch.equal(first, second)


def test_one_seeded_epoch_of_fit_repeats_exactly():
    data = load_images("mnist5k", "train", 96)

    def one_epoch():
        torch.manual_seed(0)
        model = build_model("small_cnn", width=8)
        history = fit(model, data, epochs=1, batch_size=32, seed=5, progress=False)
        return model.state_dict(), history.loss

    (first, loss_a), (second, loss_b) = _twice(one_epoch)
    assert loss_a == loss_b and all(torch.equal(first[k], second[k]) for k in first)


def _on_a_small_filesystem(script: str, folder) -> subprocess.CompletedProcess:
    """Run ``script`` (after PRELUDE) with ``folder`` a real 64 KiB filesystem (tmpfs) that a checkpoint
    cannot fit on. The tmpfs is mounted in a private mount namespace (``unshare``, which needs no privilege
    where user namespaces are enabled), so the host's mounts are never touched; skipped where neither works."""
    folder.mkdir()
    mount = 'mount -t tmpfs -o size=64k tmpfs "$1" && exec "$2" -c "$3"'
    for unshare in (["unshare", "--mount"], ["unshare", "--user", "--map-root-user", "--mount"]):
        done = subprocess.run([*unshare, "sh", "-c", mount, "sh", str(folder), sys.executable,
                               PRELUDE + textwrap.dedent(script)], capture_output=True, text=True, check=False,
                              env={**os.environ, "SGT_COURSE_CACHE": str(folder)}, timeout=300)
        if "mount" not in done.stderr and "unshare" not in done.stderr:
            return done
    pytest.skip(f"cannot mount a small tmpfs here ({done.stderr.strip()[-300:]})")


def test_a_full_disk_costs_the_trained_model_nothing(tmp_path):
    done = _on_a_small_filesystem("""
        import json, os
        from sgt_course.data import load_images

        def tiny_training(model):
            fit(model, load_images("mnist5k", "train", 64), epochs=1, batch_size=32, progress=False)
            return History(loss=[1.0], train_accuracy=[0.5], seconds=[0.1])

        folder = os.environ["SGT_COURSE_CACHE"]
        model, history = load_or_train("full", {"k": 1}, lambda: build_model("mnist_cnn"), tiny_training)
        print(json.dumps({"training": model.training, "loss": history.loss,
                          "left": os.listdir(os.path.join(folder, "checkpoints")),
                          "shape": list(model(torch.rand(2, 1, 28, 28)).shape)}))
        load_or_train("full", {"k": 1}, lambda: build_model("mnist_cnn"), tiny_training)
    """, tmp_path / "small")
    assert done.returncode == 0, done.stderr[-2000:]
    first, report, second = done.stdout.splitlines()
    assert "trained full in 0.1 s but could not cache it (" in first and "MiB free there" in first, first
    assert "set SGT_COURSE_CACHE to another folder" in first
    result = json.loads(report)
    assert not result["training"] and result["loss"] == [1.0], "the model just trained is returned, in eval mode"
    assert result["left"] == [], "no checkpoint and no temporary file remain"
    assert result["shape"] == [2, 10]
    assert "could not cache it" in second, "nothing was cached, so it trains again"


def _tiny_training(model):
    fit(model, load_images("mnist5k", "train", 64), epochs=1, batch_size=32, progress=False)
    return History(loss=[1.0], train_accuracy=[0.5], seconds=[0.1])


def test_a_cache_folder_removed_during_training_costs_nothing(tmp_path, monkeypatch, capsys):
    import shutil

    monkeypatch.setenv("SGT_COURSE_CACHE", str(tmp_path / "cache"))

    def train_then_lose_the_folder(model):
        history = _tiny_training(model)
        shutil.rmtree(tmp_path / "cache")
        return history

    model, _ = load_or_train("gone", {}, lambda: build_model("small_cnn", width=4), train_then_lose_the_folder)
    out = capsys.readouterr().out
    assert "could not cache it (No such file or directory; its folder is gone)" in out, out
    assert not (tmp_path / "cache").exists() and model(torch.rand(1, 1, 28, 28)).shape == (1, 10)


def test_a_label_outside_the_model_s_classes_is_named():
    from sgt_course.losses import sgt_loss, standard_loss

    model, x = build_model("small_cnn", width=4), torch.rand(4, 1, 28, 28)
    y = torch.tensor([1, 2, 12, 3])
    message = r"(y|target) must hold class indices 0 to 9 \(the model has 10 outputs\); got 12"
    for call in (lambda: standard_loss(model, x, y), lambda: sgt_loss(model, x, y),
                 lambda: fit(model, (x, y), progress=False), lambda: attacks.fgsm(model, x, y, 0.1)):
        with pytest.raises(ValueError, match=message):
            call()


def test_an_input_of_another_dtype_than_the_model_is_named():
    from sgt_course.training import predict

    model, x, y = build_model("small_cnn", width=4), torch.rand(2, 1, 28, 28, dtype=torch.float64), torch.tensor([0, 1])
    message = r"x must have the model's dtype torch.float32; got torch.float64 \(x.to\(torch.float32\) converts"
    for call in (lambda: predict(model, x), lambda: fit(model, (x, y), progress=False),
                 lambda: saliency.gradient(model, x, y), lambda: attacks.pgd(model, x, y, 0.1, steps=2)):
        with pytest.raises(TypeError, match=message):
            call()
    assert predict(model.double(), x).dtype == torch.float64, "a model of the input's dtype runs"


def test_a_saliency_map_without_mass_is_refused_by_the_precision_recall():
    from sgt_course.metrics import precision_recall

    mask = torch.zeros(3, 20, dtype=torch.bool)
    mask[:, :5] = True
    with pytest.raises(ValueError, match="saliency_map gives every feature of every sample the same"):
        precision_recall(torch.zeros(3, 20), mask)
    with pytest.raises(ValueError, match="no mass to rank"):
        precision_recall(torch.full((3, 20), 0.7), mask)
    one = torch.zeros(3, 20)
    one[0, :5] = 1.0
    assert precision_recall(one, mask).aup > 0, "a map with mass in one sample is measured on that sample"


def test_more_images_asked_for_than_a_split_holds_are_said(capsys):
    data = load_images("mnist5k", "test", 2000)
    assert len(data) == 1000
    assert capsys.readouterr().out == "n = 2,000 images asked for, but MNIST-5k's test split has 1,000: using all 1,000.\n"
    load_images("mnist5k", "test", 1000)
    assert capsys.readouterr().out == ""
