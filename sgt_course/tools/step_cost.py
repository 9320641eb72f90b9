"""What one SGT and one ASGT step cost, against the steps they extend.

    sgt-course step-cost [--batch 128] [--repeats 20] [--device cpu]

- SGT: standard step, SGT step (faithful and reused-forward), the saliency pass and the masking M_k alone;
- ASGT: a PGD adversarial-training step and an ASGT step with the same 10-step PGD (ε = 0.3).

One process, one model (the authors' MNIST CNN), one batch of random images in [0, 1]; the kinds of
step are timed interleaved and each figure is the median of ``--repeats`` steps. Prints
milliseconds per step, the ratios the course quotes and the targets they are held to.
"""

from __future__ import annotations

import argparse
import copy
import platform
from functools import partial

import torch

from sgt_course.attacks import make_attack
from sgt_course.losses import adversarial_loss, asgt_loss, sgt_loss, standard_loss
from sgt_course.masking import mask_bottom_k
from sgt_course.models import MnistCNN
from sgt_course.recipes import PAPER_SGT
from sgt_course.runtime import get_device
from sgt_course.saliency import gradient, per_pixel
from sgt_course.timing import compare, training_step


def measure(batch: int = 128, repeats: int = 20, device: str | torch.device | None = None) -> dict[str, float]:
    """Time the steps (medians over ``repeats``), print them with the ratios and targets, return the ratios."""
    device = get_device(device)
    torch.manual_seed(0)
    model = MnistCNN().to(device)
    x = torch.rand(batch, 1, 28, 28, device=device)
    y = torch.randint(0, 10, (batch,), device=device)
    scores = per_pixel(gradient(model.eval(), x, y))
    attack = make_attack("pgd", 0.3, steps=10)
    timed = compare({
        "standard step": training_step(copy.deepcopy(model), standard_loss, x, y),
        "SGT step (faithful)": training_step(copy.deepcopy(model), sgt_loss, x, y),
        "SGT step (reused forward)": training_step(copy.deepcopy(model), partial(sgt_loss, reuse_forward=True), x, y),
        "saliency S(X) alone (eval)": lambda: gradient(model.eval(), x, y),
        "masking M_k alone": lambda: mask_bottom_k(x, scores, PAPER_SGT.k),
    }, repeats=repeats, warmup=3, device=device)
    timed.update(compare({
        "PGD-AT step (10-step PGD)": training_step(copy.deepcopy(model), partial(adversarial_loss, attack=attack), x, y),
        "ASGT step (same PGD)": training_step(copy.deepcopy(model), partial(asgt_loss, attack=attack), x, y),
    }, repeats=max(3, repeats // 4), warmup=1, device=device))
    print(f"MNIST CNN, batch {batch}, device {device} ({platform.processor() or platform.machine()}, "
          f"{torch.get_num_threads()} threads), torch {torch.__version__}, medians")
    for name, seconds in timed.items():
        print(f"  {name:<28} {1000 * seconds:8.2f} ms")
    ratios = {
        "SGT faithful / standard": timed["SGT step (faithful)"] / timed["standard step"],
        "SGT reused forward / standard": timed["SGT step (reused forward)"] / timed["standard step"],
        "masking / SGT faithful step": timed["masking M_k alone"] / timed["SGT step (faithful)"],
        "ASGT / PGD-AT": timed["ASGT step (same PGD)"] / timed["PGD-AT step (10-step PGD)"],
    }
    targets = {"SGT faithful / standard": 2.4, "SGT reused forward / standard": 2.1,
               "masking / SGT faithful step": 0.05, "ASGT / PGD-AT": 1.4}
    for name, ratio in ratios.items():
        verdict = "within" if ratio <= targets[name] else "ABOVE"
        print(f"  {name:<32} {ratio:6.3f}   ({verdict} the target {targets[name]})")
    # A faithful SGT step is two standard steps (clean and masked pass) plus the saliency pass:
    floor = 2 + timed["saliency S(X) alone (eval)"] / timed["standard step"]
    print(f"  floor of SGT faithful / standard: 2 + saliency / standard = {floor:.3f}")
    return ratios


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="sgt-course step-cost", description=__doc__.split("\n")[0])
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--device", default=None, help="cpu, cuda, mps (default: the fastest available)")
    args = parser.parse_args(argv)
    measure(args.batch, args.repeats, args.device)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
