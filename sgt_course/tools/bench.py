"""Every benchmark of the course in one command; prints each figure beside its target.

    sgt-course bench --profile cpu                 # step costs, widget latency, memory
    sgt-course bench --profile ci --toy            # the same at toy size, in seconds (CI runs this)
    sgt-course bench --profile cpu --notebooks     # ... and every notebook's wall time

- step costs: :mod:`~sgt_course.tools.step_cost` (SGT ÷ standard, ASGT ÷ PGD-AT, masking ÷ SGT step;
  MNIST CNN, batch 128);
- widget latency: the ε slider of notebook 5 (attack + maps + figure for two models) and the k/λ
  retrain of notebook 2 (a quick SGT model trained from scratch at a new setting);
- memory: peak RSS of this process, and the peak GPU memory of one SGT epoch when there is a GPU;
- time to accuracy: training seconds until SGT reaches 99 % test accuracy (on a GPU; one epoch elsewhere);
- ``--notebooks``: the wall time of each notebook and of the whole course, and each notebook's time to
  its first figure (``sgt-course run``).

``--json FILE`` also writes the figures as JSON. Nothing here asserts a speed: the targets are printed.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from functools import partial
from pathlib import Path

import matplotlib.pyplot as plt
import torch

from sgt_course import recipes, runtime
from sgt_course.data import ImageSet
from sgt_course.experiments import image_data, image_model
from sgt_course.losses import sgt_loss
from sgt_course.models import build_model
from sgt_course.recipes import PAPER_SGT
from sgt_course.tools import step_cost
from sgt_course.training import evaluate, fit
from sgt_course.widgets import render_attack

TARGETS = {"ε slider redraw (s)": 0.5, "k/λ retrain (s)": 20.0}


def _median_seconds(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return sorted(times)[len(times) // 2]


def widget_latency(profile: recipes.Profile, train: ImageSet, test: ImageSet, repeats: int) -> dict[str, float]:
    """Seconds from a slider change to a redrawn figure (ε) and to a retrained model (k/λ)."""
    models = {"standard": image_model(profile, "standard", train, test, progress=False)[0],
              "SGT": image_model(profile, "sgt", train, test, k=PAPER_SGT.k, lam=PAPER_SGT.lam, progress=False)[0]}
    x, y = test.x[:32], test.y[:32]

    def redraw() -> None:
        plt.close(render_attack(models, x[0], int(y[0]), "pgd", 0.1, test.class_names))

    quick = train.head(profile.n_quick)
    with tempfile.TemporaryDirectory() as empty:  # a k, λ never trained before: nothing in the cache
        os.environ[runtime.CACHE_ENV], before = empty, os.environ.get(runtime.CACHE_ENV)
        start = time.perf_counter()
        image_model(profile, "sgt", quick, test, k=0.37, lam=0.63, progress=False)
        retrain = time.perf_counter() - start
        os.environ.pop(runtime.CACHE_ENV) if before is None else os.environ.update({runtime.CACHE_ENV: before})
    return {"ε slider redraw (s)": _median_seconds(redraw, repeats), "k/λ retrain (s)": retrain}


def _fresh_model(profile: recipes.Profile, train: ImageSet) -> torch.nn.Module:
    """The profile's image model, seeded, untrained, on the data's device."""
    torch.manual_seed(0)
    return build_model(profile.image_model, in_channels=train.x.shape[1], width=profile.width).to(train.x.device)


def gpu_sgt_epoch_memory(profile: recipes.Profile, train: ImageSet) -> float | None:
    """Peak GPU memory (GiB) of one SGT epoch on the profile's data and model; None without a GPU."""
    device = train.x.device
    if device.type != "cuda":
        return None
    model = _fresh_model(profile, train)
    torch.cuda.reset_peak_memory_stats(device)
    fit(model, train, partial(sgt_loss, k=PAPER_SGT.k, lam=PAPER_SGT.lam), epochs=1, batch_size=profile.batch_size,
        lr=profile.lr, progress=False)
    return torch.cuda.max_memory_allocated(device) / 2**30


def sgt_time_to_accuracy(profile: recipes.Profile, train: ImageSet, test: ImageSet, target: float = 0.99,
                         max_epochs: int = 1) -> dict[str, float]:
    """Train SGT (k = 0.5, λ = 1) on the profile's image data and model, one epoch at a time with one Adam
    optimizer, until the test accuracy reaches ``target`` or ``max_epochs`` have run. Seconds count
    training steps only (:attr:`History.seconds`), not the evaluation after each epoch."""
    model = _fresh_model(profile, train)
    optimizer = torch.optim.Adam(model.parameters(), lr=profile.lr)
    seconds, accuracy, epoch = 0.0, 0.0, 0
    while epoch < max_epochs and accuracy < target:
        epoch += 1
        history = fit(model, train, partial(sgt_loss, k=PAPER_SGT.k, lam=PAPER_SGT.lam), epochs=1,
                      batch_size=profile.batch_size, optimizer=optimizer, seed=epoch, progress=False)
        seconds, accuracy = seconds + history.seconds[0], evaluate(model, test)
    return {"epochs": epoch, "training seconds": seconds, "test accuracy": accuracy, "target": target,
            "data": f"{train.source}, {len(train)} training images"}


def notebook_times(profile: str) -> str:
    """`sgt-course run` in the profile: its table of wall times and times to the first figure."""
    run = subprocess.run([sys.executable, "-m", "sgt_course.tools.cli", "run", "--profile", profile,
                          "--output", tempfile.mkdtemp(prefix="bench-notebooks-")],
                         capture_output=True, text=True, check=False)
    return run.stdout


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="sgt-course bench", description=__doc__.split("\n")[0])
    parser.add_argument("--profile", choices=tuple(recipes.PROFILES), default=recipes.default_profile_name(),
                        help="run profile (default: $SGT_COURSE_PROFILE, else gpu with CUDA and cpu without)")
    parser.add_argument("--toy", action="store_true",
                        help="tiny batches, few repeats and 512 training images (seconds, for CI)")
    parser.add_argument("--notebooks", action="store_true", help="also time every notebook")
    parser.add_argument("--json", help="write the figures to this file")
    args = parser.parse_args(argv)
    os.environ[recipes.PROFILE_ENV] = args.profile
    profile, device = recipes.get_profile(args.profile), runtime.get_device()
    print(f"{platform.node()}: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"torch {torch.__version__} ({torch.get_num_threads()} threads), device {device}, profile {args.profile}")
    print("\n# step costs")
    results: dict = {"machine": {"cores": os.cpu_count(), "device": str(device), "torch": torch.__version__,
                                 "profile": args.profile, "date": time.strftime("%Y-%m-%d")}}
    results["step cost ratios"] = step_cost.measure(batch=16 if args.toy else 128, repeats=3 if args.toy else 20)
    print("\n# widget latency")
    train, test = image_data(profile, device)  # on the device: what the widgets, memory and accuracy runs use
    if args.toy:
        train, test = train.head(512), test.head(256)
    results["widget latency"] = widget_latency(profile, train, test, repeats=2 if args.toy else 5)
    for name, seconds in results["widget latency"].items():
        print(f"  {name:<22} {seconds:7.2f}   (target {TARGETS[name]})")
    print("\n# memory")
    results["peak RSS of this process (GiB)"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    print(f"  peak RSS of this process: {results['peak RSS of this process (GiB)']:.2f} GiB")
    gpu = gpu_sgt_epoch_memory(profile, train)
    results["peak GPU memory of an SGT epoch (GiB)"] = gpu
    print(f"  peak GPU memory of an SGT epoch: {'no GPU here' if gpu is None else f'{gpu:.2f} GiB'}")
    print("\n# time to accuracy")
    epochs = profile.epochs if device.type == "cuda" else 1
    results["SGT time to 99 % test accuracy"] = reached = sgt_time_to_accuracy(profile, train, test, max_epochs=epochs)
    print(f"  SGT on {reached['data']}: {reached['test accuracy']:.2%} test accuracy after {reached['epochs']} "
          f"epoch(s), {reached['training seconds']:.1f} s of training (target on one H100: >= 99 % in < 60 s"
          f"{'' if device.type == 'cuda' else '; no GPU here, so one epoch only'})")
    if args.notebooks:
        print("\n# notebooks")
        results["notebooks"] = notebook_times(args.profile)
        print(results["notebooks"])
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
