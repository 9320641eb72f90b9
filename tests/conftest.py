"""Shared fixtures: every test runs with its own cache folder and the ci profile, and its explorers are
interactive only (``sgt-course test`` sets $SGT_COURSE_STATIC_EXPLORERS for the notebooks it runs; a test
of a static twin sets it itself); CIFAR-10 files to read."""

from __future__ import annotations

import os
import pickle

import numpy as np
import pytest
import torch


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SGT_COURSE_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("SGT_COURSE_DATA", raising=False)
    monkeypatch.delenv("SGT_COURSE_DEVICE", raising=False)
    monkeypatch.delenv("SGT_COURSE_STATIC_EXPLORERS", raising=False)
    torch.manual_seed(0)


@pytest.fixture
def cifar_root(tmp_path, monkeypatch):
    """A folder holding CIFAR-10 in its own pickle-batch format: 20 training and 4 test images of noise."""
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    rng = np.random.default_rng(0)
    names = ["data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4", "data_batch_5", "test_batch"]
    for name in names:
        batch = {"data": rng.integers(0, 256, (4, 3072)).astype(np.uint8), "labels": list(range(4))}
        (folder / name).write_bytes(pickle.dumps(batch))
    (folder / "batches.meta").write_bytes(pickle.dumps({"label_names": [f"class{i}" for i in range(10)]}))
    # Our files cannot match the real archive's MD5 sums; everything else is torchvision's own code.
    monkeypatch.setattr("torchvision.datasets.cifar.check_integrity", lambda path, md5=None: os.path.isfile(path))
    return tmp_path
