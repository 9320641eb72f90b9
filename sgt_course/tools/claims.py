"""The image notebooks' asserted claims, measured over several seeds: what their margins rest on.

    sgt-course claims --profile ci --seeds 0 1 2          # prints one row per quantity
    sgt-course claims --profile cpu --seeds 0 1 2 --json claims-cpu.json

Each quantity is computed as the notebook that asserts it computes it (same cached models, same
generators, same ε grids), with ``seed`` in place of the notebooks' 0: it seeds the initial weights,
the shuffling, the fills of the removal curves, PGD's random start and the randomized layers. Seed 0
therefore reproduces the notebooks' own numbers, and its models land in the cache the notebooks read.
It prints a Markdown table (benchmarks/RESULTS.md holds ours): every seed, the mean and the spread
(max − min). Nothing is asserted here; the notebooks' margins are set from these tables.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time

import torch

from sgt_course import recipes, runtime, saliency
from sgt_course.attacks import fgsm
from sgt_course.experiments import image_data, image_model, robust_model, robust_models
from sgt_course.recipes import PAPER_SGT, ROBUST_REGIMES, TRAINING_EPS, robust_profile, robust_regimes
from sgt_course.removal import REMOVAL_SETTINGS, figure3_curves, removal_curve, removal_study
from sgt_course.robustness import RobustnessAudit, robust_accuracy, robustness_audits, robustness_curves
from sgt_course.sanity import cascading_randomization
from sgt_course.training import evaluate, predict

NOTEBOOK5_EPS = (0.0, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3)
SANITY_METHODS = ("gradient", "input_x_gradient", "integrated_gradients", "smoothgrad", "random")
SANITY_GUIDED_METHODS = ("gradient", "smoothgrad")


def _generator(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def measure(profile: recipes.Profile, seed: int, device: torch.device) -> tuple[dict[str, float], dict[str, str]]:
    """Every quantity an image notebook asserts, for one seed: ``{"notebook · quantity": value}``, and the
    worst single attack of each audited model: ``{"notebook · model": attack}``."""
    train, test = image_data(profile, device, verbose=False)
    k, lam = PAPER_SGT.k, PAPER_SGT.lam
    standard, _ = image_model(profile, "standard", train, test, seed=seed, progress=False)
    sgt, _ = image_model(profile, "sgt", train, test, seed=seed, progress=False, k=k, lam=lam)
    models = {"standard": standard, "SGT": sgt}
    out = {f"0/2 · clean accuracy, {name}": evaluate(model, test) for name, model in models.items()}

    finals = {m: cascading_randomization(standard, test.x[:16], test.y[:16], m, seed=seed)[-1][1]
              for m in SANITY_METHODS}
    out.update({f"1 · ρ after randomizing every layer, {saliency.label(m)}": v for m, v in finals.items()})
    asgt, _ = robust_model(profile, "ASGT", train, test, seed=seed, progress=False)
    for name, model in (("SGT", sgt), ("ASGT", asgt)):
        for m in SANITY_GUIDED_METHODS:
            out[f"1 · ρ after randomizing every layer, {saliency.label(m)}, {name}"] = cascading_randomization(
                model, test.x[:16], test.y[:16], m, seed=seed)[-1][1]

    xe, ye = test.x[:profile.n_explain], test.y[:profile.n_explain]
    whose = {"authors": "the authors'", "course": "the course's"}
    for settings in REMOVAL_SETTINGS:
        figure3 = figure3_curves(models, xe, ye, settings, seed=seed)
        quantity = f"2 · accuracy with 50% removed, {whose[settings]} settings"
        for method in figure3.methods:
            for name in figure3.models:
                out[f"{quantity}, {saliency.label(method)} ranking, {name}"] = figure3.curve(name, method).at(0.5)
        for name in figure3.models:
            out[f"{quantity}, random ranking, {name}"] = figure3.random(name).at(0.5)

    out.update(_fair_removal("2", models, "SGT", "standard", xe, ye, seed))

    for name, model in models.items():
        for label, inputs in (("clean", xe), ("x + ε·sign ∇", fgsm(model, xe, ye, 0.1)),
                              ("x − ε·sign ∇", fgsm(model, xe, ye, 0.1, targeted=True))):
            out[f"5 · accuracy after one step {label}, ε = 0.1, {name}"] = (
                (predict(model, inputs).argmax(1) == ye).float().mean().item())

    robustness = robustness_curves(models, xe, ye, NOTEBOOK5_EPS, seed=seed)
    for attack, by_model in robustness.items():
        for name, curve in by_model.items():
            out[f"5 · {attack} accuracy at ε = 0.2, {name}"] = curve.at(0.2)
            out[f"5 · {attack} drop from ε = 0 to 0.3, {name}"] = curve.accuracy[0] - curve.accuracy[-1]
            out[f"5 · {attack} largest rise along ε, {name}"] = max(
                b - a for a, b in zip(curve.accuracy, curve.accuracy[1:]))

    audits = {"5": (robustness_audits(models, test.x, test.y, 0.2, budget=profile.audit, seed=seed, progress=False),
                    0.2, [("SGT", "standard")])}

    eps = TRAINING_EPS[train.source]
    robust, _ = robust_models(profile, train, test, seed=seed, progress=False)
    audits["6"] = (robustness_audits(robust, test.x, test.y, eps, budget=profile.audit, seed=seed, progress=False),
                   eps, [("ASGT", "PGD-AT"), ("ASGT", "standard")])
    settings = robust_regimes(eps, k=k, lam=lam, steps=profile.robust_steps)["ASGT"][1]
    robust["SGA"], _ = image_model(robust_profile(profile), "asgt", train.head(profile.n_robust), test, seed=seed,
                                   progress=False, order="mask_then_attack", **settings)
    notebook6_eps = tuple(round(eps * f, 4) for f in (0, 0.25, 0.5, 0.75, 1.0, 1.5))
    for name, model in robust.items():
        out[f"6 · clean accuracy, {name}"] = evaluate(model, test)
        out[f"6 · PGD accuracy at ε = {eps:g}, {name}"] = robust_accuracy(
            model, xe, ye, "pgd", notebook6_eps, generator=_generator(seed)).at(eps)
        out[f"6 · gradient removal-curve area, {name}"] = removal_curve(
            model, xe, ye, "gradient", generator=_generator(seed)).area()
    out.update(_fair_removal("6", {name: robust[name] for name in ROBUST_REGIMES}, "ASGT", "PGD-AT", xe, ye, seed))
    worst_attacks = {}
    for notebook, (by_model, radius, differences) in audits.items():
        out.update(_audited(notebook, by_model, radius, differences))
        worst_attacks.update({f"{notebook} · {name}": audit.worst_attack for name, audit in by_model.items()})
    return out, worst_attacks


def _audited(notebook: str, audits: dict[str, RobustnessAudit], eps: float,
             differences: list[tuple[str, str]]) -> dict[str, float]:
    """The quantities of a notebook's robustness audit, for one seed: per model its PGD-10 and worst-case
    accuracy, whether gradient masking was suspected (1) or not (0), and how many sanity checks failed;
    the worst-case difference of each pair in ``differences``."""
    out = {}
    for name, audit in audits.items():
        out[f"{notebook} · PGD-10 accuracy at ε = {eps:g} (audit), {name}"] = audit.accuracy("PGD-10")
        out[f"{notebook} · worst-case accuracy at ε = {eps:g}, {name}"] = audit.worst_case
        out[f"{notebook} · gradient masking suspected, {name}"] = float(audit.masking_suspected)
        out[f"{notebook} · sanity checks failed, {name}"] = float(sum(not c.passed for c in audit.checks))
    for a, b in differences:
        out[f"{notebook} · worst case at ε = {eps:g}, {a} minus {b}"] = audits[a].worst_case - audits[b].worst_case
    return out


def _fair_removal(notebook: str, models: dict[str, torch.nn.Module], guided: str, other: str,
                  x: torch.Tensor, y: torch.Tensor, seed: int) -> dict[str, float]:
    """The quantities of a notebook's fair removal study, for one seed: every model's ROAD gap under
    every fill, ``guided``'s lead over ``other`` and their random-ranking difference at 50 % removed."""
    study = removal_study({seed: models}, x, y, progress=False)
    out = {}
    for fill in study.fills:
        for name in models:
            out[f"{notebook} · ROAD gap, {fill} fill, {name}"] = study.gap(name, fill)[0]
        out[f"{notebook} · {guided}'s ROAD-gap lead over {other}, {fill} fill"] = study.lead(guided, other, fill)[0]
        out[f"{notebook} · random ranking at 50%, {guided} minus {other}, {fill} fill"] = (
            study.random_difference(guided, other, fill)[0])
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="sgt-course claims", description=__doc__.split("\n")[0])
    parser.add_argument("--profile", default="ci", choices=tuple(recipes.PROFILES))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--json", help="also write {quantity: {seed: value}} to this file")
    args = parser.parse_args(argv)
    profile, device = recipes.get_profile(args.profile), runtime.get_device()
    print(runtime.describe(profile, device))
    train, test = image_data(profile, device)
    results: dict[str, dict[int, float]] = {}
    worst_attacks: dict[str, dict[int, str]] = {}
    for seed in args.seeds:
        start = time.perf_counter()
        numbers, attacks = measure(profile, seed, device)
        for quantity, value in numbers.items():
            results.setdefault(quantity, {})[seed] = value
        for model, attack in attacks.items():
            worst_attacks.setdefault(model, {})[seed] = attack
        print(f"seed {seed}: {time.perf_counter() - start:.0f} s", file=sys.stderr, flush=True)
    print("| notebook · quantity | " + " | ".join(f"seed {s}" for s in args.seeds) + " | mean | spread |")
    print("|---|" + "---:|" * (len(args.seeds) + 2))
    for quantity, by_seed in results.items():
        values = list(by_seed.values())
        cells = [f"{v:.3f}" for v in values] + [f"{statistics.mean(values):.3f}", f"{max(values) - min(values):.3f}"]
        print(f"| {quantity} | " + " | ".join(cells) + " |")
    print("\n| notebook · model | worst attack, per seed |\n|---|---|")
    for model, by_seed in worst_attacks.items():
        print(f"| {model} | {', '.join(by_seed.values())} |")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump({"profile": profile.name, "data": train.describe(), "results": results,
                       "worst_attacks": worst_attacks}, handle, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
