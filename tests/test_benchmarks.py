"""The benchmark command runs at toy size and prints every figure (it asserts nothing about speed)."""

from __future__ import annotations

import json
import subprocess
import sys

from sgt_course.tools import notebook_tools


def test_bench_runs_at_toy_size_and_reports_every_figure(tmp_path):
    out = tmp_path / "bench.json"
    run = subprocess.run([sys.executable, "-m", "sgt_course.tools.cli", "bench", "--profile", "ci", "--toy",
                          "--json", str(out)], cwd=notebook_tools.repo_root(), capture_output=True, text=True,
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

