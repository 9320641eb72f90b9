"""The benchmark command runs at toy size and prints every figure (it asserts nothing about speed)."""

from __future__ import annotations

import json
import subprocess
import sys

from sgt_course.recipes import ROBUST_REGIMES
from sgt_course.tools.notebook_files import repo_root


def test_bench_runs_at_toy_size_and_reports_every_figure(tmp_path):
    out = tmp_path / "bench.json"
    run = subprocess.run([sys.executable, "-m", "sgt_course.tools.cli", "bench", "--profile", "ci", "--toy",
                          "--json", str(out)], cwd=repo_root(), capture_output=True, text=True,
                         timeout=600, check=False)
    assert run.returncode == 0, run.stderr[-3000:]
    for heading in ("# step costs", "# widget latency", "# memory", "SGT faithful / standard", "ASGT / PGD-AT",
                    "ε slider redraw", "k/λ retrain", "peak RSS", "# time to accuracy", "one epoch only"):
        assert heading in run.stdout
    figures = json.loads(out.read_text())
    assert set(figures["step cost ratios"]) == {"SGT faithful / standard", "SGT reused forward / standard",
                                                "masking / SGT faithful step", "ASGT / PGD-AT"}
    assert all(v > 0 for v in [*figures["step cost ratios"].values(), *figures["widget latency"].values()])
    reached = figures["SGT time to 99 % test accuracy"]
    assert reached["epochs"] == 1 and reached["training seconds"] > 0 and 0 < reached["test accuracy"] <= 1


def test_gpu_check_runs_every_part_at_toy_size(tmp_path):
    out = tmp_path / "gpu.json"
    run = subprocess.run([sys.executable, "-m", "sgt_course.tools.cli", "gpu-check", "--toy", "--json", str(out)],
                         cwd=repo_root(), capture_output=True, text=True, timeout=900, check=False)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    for heading in ("# step costs", "SGT / standard", "ASGT / PGD-AT", "images/s", "# speed-ups", "bf16",
                    "channels_last", "compile", "# reproduce", "ASGT", "# notebooks", "00_setup_and_tour.ipynb"):
        assert heading in run.stdout
    figures = json.loads(out.read_text())
    steps = figures["step costs"]["MNIST CNN, batch 8"]
    assert set(steps["ms per step"]) == set(ROBUST_REGIMES) and steps["SGT / standard"] > 0
    speedups = figures["speed-ups"]
    assert set(speedups["step speed-up"]["MNIST CNN"]) == {"bf16", "channels_last", "compile"}
    control = speedups["fp32 again"]
    assert control["verdict"] == "control" and control["saliency ρ vs fp32 (mean over images)"] > 0.999
    assert speedups["bf16"]["verdict"] == "not judged at toy size"
    regimes = figures["reproduce"]["regimes"]
    assert set(regimes) == set(ROBUST_REGIMES)
    assert all(0 <= r["clean accuracy"] <= 1 and r["seconds per epoch"] > 0 for r in regimes.values())
    assert figures["notebooks"]["notebooks"]["00_setup_and_tour.ipynb"]["error"] is None
    assert figures["notebooks"]["failed"] == []
