"""Where a training step's time goes on this machine, and what each speed lever would gain.

    sgt-course speed-levers [--batch 128] [--repeats 15] [--seeds 3]

All on the authors' MNIST CNN and random images in [0, 1], one process, timed interleaved, medians:

1. **Efficiency**: the standard step's model FLOP/s (forward and backward: 3 × the forward's multiply-adds
   × 2) against a 2048² float32 matrix product on the same threads, the ceiling of what the CPU gives.
2. **Levers on the step**: ``channels_last`` weights and inputs, and bfloat16 autocast, on the standard and
   the SGT step, each as a speed-up over float32 (what they change in the results is
   ``sgt-course gpu-check --laptop``'s part).
3. **Seeds together**: one standard step of ``--seeds`` models whose weights are stacked
   (``torch.func.stack_module_state``) and whose forward is ``vmap``-ed, against the same steps one model
   after another.
4. **The SGT and ASGT steps against their floors**: SGT = 2 standard steps + 1 saliency pass; ASGT = the
   attack + 1 saliency pass + 3 steps on the attacked batch, against PGD-AT = the attack + 1 such step. The
   attack and the steps after it are timed apart (the attack precomputed), to say where the time goes.

Nothing here asserts a speed (the machines are shared and noisy); ``benchmarks/RESULTS.md`` records runs.
"""

from __future__ import annotations

import argparse
import copy
import platform
from collections.abc import Callable, Sequence
from functools import partial

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.func import functional_call, stack_module_state, vmap

from sgt_course.attacks import make_attack
from sgt_course.losses import adversarial_loss, asgt_loss, sgt_loss, standard_loss
from sgt_course.models import MnistCNN, accelerate
from sgt_course.recipes import PAPER_SGT
from sgt_course.saliency import gradient
from sgt_course.timing import compare, training_step


def forward_flops(model: nn.Module, x: Tensor) -> int:
    """Floating-point operations of one forward pass of ``model`` on ``x``: 2 × the multiply-adds of its
    convolutions and linear layers (activations, pooling and the bias are not counted)."""
    total = 0

    def count(module: nn.Module, inputs: tuple[Tensor, ...], output: Tensor) -> None:
        nonlocal total
        if isinstance(module, nn.Conv2d):
            per_output = module.in_channels // module.groups * module.kernel_size[0] * module.kernel_size[1]
            total += 2 * output.numel() * per_output
        elif isinstance(module, nn.Linear):
            total += 2 * output.numel() * module.in_features

    hooks = [m.register_forward_hook(count) for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    try:
        with torch.no_grad():
            model(x)
    finally:
        for hook in hooks:
            hook.remove()
    return total


def matmul_gflops(size: int = 2048, repeats: int = 10) -> float:
    """GFLOP/s of a ``size``² float32 matrix product on this process's threads (median of ``repeats``)."""
    a, b = torch.rand(size, size), torch.rand(size, size)
    seconds = compare({"matmul": lambda: a @ b}, repeats=repeats, warmup=2)["matmul"]
    return 2 * size ** 3 / seconds / 1e9


def stacked_step(models: Sequence[nn.Module], x: Tensor, y: Tensor,
                 lr: float = 1e-3) -> tuple[Callable[[], None], dict[str, Tensor]]:
    """A function doing one standard training step of every model in ``models`` (same architecture) at once,
    and the weights it trains, each stacked over the models ((S, ...) by parameter name): the forward is
    ``vmap``-ed over them (dropout drawn per model), and one Adam over the stacked weights updates each
    model's slice as its own Adam would. ``x`` (S, N, ...) and ``y`` (S, N) hold one batch per model."""
    if x.shape[0] != len(models) or y.shape[:1] != x.shape[:1]:
        raise ValueError(f"x and y need one batch per model ({len(models)}); got {tuple(x.shape)} and {tuple(y.shape)}")
    for model in models:
        model.train()
    params, buffers = stack_module_state(list(models))
    skeleton = copy.deepcopy(models[0]).to("meta")
    batched = vmap(lambda p, b, xs: functional_call(skeleton, (p, b), (xs,)), randomness="different")
    optimizer = torch.optim.Adam(params.values(), lr=lr)

    def step() -> None:
        logits = batched(params, buffers, x)
        loss = F.cross_entropy(logits.flatten(0, 1), y.flatten()) * len(models)  # Σ over models of each mean
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    return step, params


def _fixed(adversarial: Tensor) -> Callable[[nn.Module, Tensor, Tensor], Tensor]:
    """An "attack" that returns ``adversarial``: the steps around the attack, timed without it."""
    return lambda model, x, y: adversarial


def measure(batch: int = 128, repeats: int = 15, seeds: int = 3) -> dict[str, float]:
    """Run the four measurements, print them, return every figure by name."""
    torch.manual_seed(0)
    model = MnistCNN()
    x, y = torch.rand(batch, 1, 28, 28), torch.randint(0, 10, (batch,))
    sgt = partial(sgt_loss, k=PAPER_SGT.k, lam=PAPER_SGT.lam)
    fig: dict[str, float] = {}
    print(f"MNIST CNN, batch {batch}, {platform.processor() or platform.machine()}, {torch.get_num_threads()} "
          f"threads, torch {torch.__version__}; medians of {repeats}, interleaved")

    # 1 and 2: efficiency and the levers on one step
    last = accelerate(copy.deepcopy(model), channels_last=True)
    x_last = x.contiguous(memory_format=torch.channels_last)
    ms = {name: 1000 * s for name, s in compare({
        "standard, fp32": training_step(copy.deepcopy(model), standard_loss, x, y),
        "standard, channels_last": training_step(copy.deepcopy(last), standard_loss, x_last, y),
        "standard, bf16 autocast": training_step(copy.deepcopy(model), standard_loss, x, y, precision="bf16"),
        "SGT, fp32": training_step(copy.deepcopy(model), sgt, x, y),
        "SGT, channels_last": training_step(copy.deepcopy(last), sgt, x_last, y),
        "SGT, bf16 autocast": training_step(copy.deepcopy(model), sgt, x, y, precision="bf16"),
        "saliency pass (eval)": lambda: gradient(model.eval(), x, y),
    }, repeats=repeats, warmup=3).items()}
    step_flops = 3 * forward_flops(model, x)
    fig["standard GFLOP/s"] = step_flops / ms["standard, fp32"] / 1e6
    fig["matmul GFLOP/s"] = matmul_gflops()
    fig["standard, % of matmul"] = 100 * fig["standard GFLOP/s"] / fig["matmul GFLOP/s"]
    fig["channels_last GFLOP/s"] = step_flops / ms["standard, channels_last"] / 1e6
    for step in ("standard", "SGT"):
        for lever in ("channels_last", "bf16 autocast"):
            fig[f"{step} step, {lever}: speed-up"] = ms[f"{step}, fp32"] / ms[f"{step}, {lever}"]
    print(f"1. standard step {ms['standard, fp32']:.1f} ms = {fig['standard GFLOP/s']:.0f} GFLOP/s of model FLOPs, "
          f"{fig['standard, % of matmul']:.0f} % of a 2048² matmul ({fig['matmul GFLOP/s']:.0f} GFLOP/s); "
          f"channels_last {fig['channels_last GFLOP/s']:.0f} GFLOP/s")
    print("2. " + "; ".join(f"{name} {value:.2f}×" for name, value in fig.items() if "speed-up" in name))

    # 3: seeds together
    models = [MnistCNN() for _ in range(seeds)]
    xs, ys = torch.rand(seeds, batch, 1, 28, 28), torch.randint(0, 10, (seeds, batch))
    one_by_one = [training_step(copy.deepcopy(m), standard_loss, xs[i], ys[i]) for i, m in enumerate(models)]
    timed = compare({"one after another": lambda: [step() for step in one_by_one],
                     "stacked (vmap)": stacked_step([copy.deepcopy(m) for m in models], xs, ys)[0]},
                    repeats=repeats, warmup=3)
    fig["seeds stacked: speed-up"] = timed["one after another"] / timed["stacked (vmap)"]
    print(f"3. {seeds} standard steps one after another {1000 * timed['one after another']:.1f} ms, stacked "
          f"{1000 * timed['stacked (vmap)']:.1f} ms: {fig['seeds stacked: speed-up']:.2f}×")

    # 4: SGT and ASGT against their floors
    fig["SGT / standard"] = ms["SGT, fp32"] / ms["standard, fp32"]
    fig["SGT floor / standard"] = 2 + ms["saliency pass (eval)"] / ms["standard, fp32"]
    fig["SGT / its floor"] = fig["SGT / standard"] / fig["SGT floor / standard"]
    attack = make_attack("pgd", 0.3, steps=10)
    adversarial = attack(model.eval(), x, y).detach()
    parts = {name: 1000 * s for name, s in compare({
        "PGD-AT step": training_step(copy.deepcopy(model), partial(adversarial_loss, attack=attack), x, y),
        "ASGT step": training_step(copy.deepcopy(model), partial(asgt_loss, attack=attack), x, y),
        "attack alone": lambda: attack(model.eval(), x, y),
        "PGD-AT step, attack precomputed": training_step(copy.deepcopy(model),
                                                         partial(adversarial_loss, attack=_fixed(adversarial)), x, y),
        "ASGT step, attack precomputed": training_step(copy.deepcopy(model),
                                                       partial(asgt_loss, attack=_fixed(adversarial)), x, y),
    }, repeats=max(3, repeats // 3), warmup=1).items()}
    attack_ms, saliency_ms = parts["attack alone"], ms["saliency pass (eval)"]
    after_pgd, after_asgt = parts["PGD-AT step, attack precomputed"], parts["ASGT step, attack precomputed"]
    fig["ASGT / PGD-AT"] = parts["ASGT step"] / parts["PGD-AT step"]
    fig["ASGT floor / PGD-AT"] = (attack_ms + saliency_ms + 3 * after_pgd) / (attack_ms + after_pgd)
    fig["ASGT after its attack / its floor"] = after_asgt / (saliency_ms + 3 * after_pgd)
    for name, value in parts.items():
        fig[f"{name} (ms)"] = value
    print(f"4. SGT {ms['SGT, fp32']:.1f} ms = {fig['SGT / standard']:.2f}× standard; its floor (2 standard + saliency "
          f"{saliency_ms:.1f} ms) {fig['SGT floor / standard']:.2f}×: SGT at {fig['SGT / its floor']:.3f}× its floor")
    print("   " + "; ".join(f"{name} {value:.1f} ms" for name, value in parts.items()))
    print(f"   ASGT / PGD-AT {fig['ASGT / PGD-AT']:.2f} (target ≤ 1.4); floor (attack + saliency + 3 × a step on the "
          f"attacked batch, against attack + 1 step) {fig['ASGT floor / PGD-AT']:.2f}; ASGT's work after its attack "
          f"{fig['ASGT after its attack / its floor']:.2f}× its floor")
    return fig


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="sgt-course speed-levers", description=__doc__.split("\n")[0])
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--seeds", type=int, default=3, help="models stacked in part 3")
    args = parser.parse_args(argv)
    measure(args.batch, args.repeats, args.seeds)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
