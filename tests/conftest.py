"""Shared fixtures: every test runs with its own cache folder and the ci profile."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SGT_COURSE_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("SGT_COURSE_DATA", raising=False)
    monkeypatch.delenv("SGT_COURSE_DEVICE", raising=False)
    torch.manual_seed(0)
