"""The image notebooks' asserted claims, measured over several seeds: what their margins rest on.

    sgt-course claims --profile ci --seeds 0 1 2          # prints one row per quantity
    sgt-course claims --profile cpu --seeds 0 1 2 --record   # also writes benchmarks/claims-cpu.json

Each quantity is computed as the notebook that asserts it computes it (same cached models, same
generators, same ε grids), with ``seed`` in place of the notebooks' 0: it seeds the initial weights,
the shuffling, the fills of the removal curves, PGD's random start and the randomized layers. Seed 0
therefore reproduces the notebooks' own numbers, and its models land in the cache the notebooks read.
Accuracies, gaps and differences between models are measured with their 95 % interval over the images
(Wilson for an accuracy, a bootstrap for a gap, a paired bootstrap for a difference: :mod:`sgt_course.stats`).
It prints a Markdown table (benchmarks/RESULTS.md holds ours): every seed, the mean and the spread
(max − min), then one table per notebook with a row per model. Nothing is asserted here; the notebooks'
margins are set from these tables. ``--record`` keeps the results with their run record (date, machine,
data, seeds, library fingerprint) where :mod:`sgt_course.recorded` reads them, so that the notebooks'
and the deck's prose quote the recorded numbers rather than typing them.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from datetime import datetime, timezone

import torch

from sgt_course import recipes, runtime, saliency
from sgt_course.attacks import fgsm
from sgt_course.data import ImageSet
from sgt_course.experiments import NOISE_CONTROL, image_data, image_model, robust_model, robust_models, sgt_study_models
from sgt_course.metrics import foreground_share
from sgt_course.recipes import PAPER_SGT, ROBUST_REGIMES, TRAINING_EPS
from sgt_course.recorded import across, record_path, recorded
from sgt_course.removal import REMOVAL_SETTINGS, figure3_curves, removal_curve, removal_study
from sgt_course.robustness import RobustnessAudit, robust_accuracy, robustness_audits, robustness_curves
from sgt_course.sanity import randomized_correlation
from sgt_course.stats import Interval, accuracy, bootstrap_mean, interval_spread, paired_difference, spread
from sgt_course.tables import markdown_table
from sgt_course.tools.run_records import library_fingerprint
from sgt_course.training import correct, predict

NOTEBOOK5_EPS = (0.0, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3)
SANITY_METHODS = ("gradient", "input_x_gradient", "integrated_gradients", "smoothgrad", "random")
SANITY_GUIDED_METHODS = ("gradient", "smoothgrad")


#: A measured quantity: a number, or a number with its 95 % interval over the images.
Measured = float | Interval

#: The pairs of notebook 6's regimes whose differences are recorded (a − b), for every metric.
NOTEBOOK6_PAIRS = [("ASGT", "PGD-AT"), ("ASGT", "standard"), ("ASGT", "SGT"), ("PGD-AT+CE", "PGD-AT"),
                   ("ASGT", "PGD-AT+CE"), ("PGD-AT", "standard")]


def _generator(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _differences(label: str, per_image: dict[str, torch.Tensor], pairs: list[tuple[str, str]]) -> dict[str, Interval]:
    """``f"{label}, {a} minus {b}"`` for each pair: the paired-bootstrap difference of per-image scores."""
    return {f"{label}, {a} minus {b}": paired_difference(per_image[a].float(), per_image[b].float()) for a, b in pairs}


def measure(profile: recipes.Profile, seed: int, device: torch.device) -> tuple[dict[str, Measured], dict[str, str]]:
    """Every quantity an image notebook asserts, for one seed: ``{"notebook · quantity": value}`` (an
    :class:`~sgt_course.stats.Interval` where the quantity has one), and the worst single attack of each
    audited model: ``{"notebook · model": attack}``."""
    train, test = image_data(profile, device, verbose=False)
    study_models = sgt_study_models(profile, train, test, seed=seed, progress=False)
    standard, sgt = study_models["standard"], study_models["SGT"]
    models = {"standard": standard, "SGT": sgt}
    out: dict[str, Measured] = {f"0/2 · clean accuracy, {name}": accuracy(correct(model, test))
                                for name, model in study_models.items()}

    xs, ys = test.x[:16], test.y[:16]  # notebook 1's sanity-check images
    on_digit = xs > 0  # the digit's strokes: the rank correlation without the background's ties
    rho = {m: randomized_correlation(standard, xs, ys, m, seed=seed) for m in SANITY_METHODS}
    out.update({f"1 · ρ after randomizing every layer, {saliency.label(m)}": bootstrap_mean(v) for m, v in rho.items()})
    out.update({f"1 · ρ on the digit's pixels after randomizing every layer, {saliency.label(m)}": bootstrap_mean(
        randomized_correlation(standard, xs, ys, m, seed=seed, where=on_digit)) for m in SANITY_METHODS})
    asgt, _ = robust_model(profile, "ASGT", train, test, seed=seed, progress=False)
    for name, model in (("SGT", sgt), ("ASGT", asgt)):
        for m in SANITY_GUIDED_METHODS:
            guided = randomized_correlation(model, xs, ys, m, seed=seed)
            out[f"1 · ρ after randomizing every layer, {saliency.label(m)}, {name}"] = bootstrap_mean(guided)
            out[f"1 · ρ after randomizing every layer, {saliency.label(m)}, {name} minus standard"] = paired_difference(
                guided, rho[m])

    xe, ye = test.x[:profile.n_explain], test.y[:profile.n_explain]
    xr, yr = test.x[:profile.n_removal], test.y[:profile.n_removal]
    whose = {"authors": "the authors'", "course": "the course's"}
    for settings in REMOVAL_SETTINGS:
        figure3 = figure3_curves(models, xr, yr, settings, seed=seed)
        quantity = f"2 · accuracy with 50% removed, {whose[settings]} settings"
        for method in figure3.methods:
            for name in figure3.models:
                out[f"{quantity}, {saliency.label(method)} ranking, {name}"] = figure3.curve(name, method).interval(0.5)
        for name in figure3.models:
            out[f"{quantity}, random ranking, {name}"] = figure3.random(name).interval(0.5)
            out[f"{quantity}, random minus gradient ranking, {name}"] = figure3.ranking_gap_interval(name)
        for ranking in (*figure3.methods, "random"):
            label = "random" if ranking == "random" else saliency.label(ranking)
            out[f"{quantity}, {label} ranking, SGT minus standard"] = figure3.difference("SGT", "standard", ranking)
        out[f"{quantity}, random minus gradient ranking, SGT minus standard"] = figure3.ranking_gap_difference(
            "SGT", "standard")

    out.update(_fair_removal("2", study_models, [("SGT", "standard"), ("SGT", NOISE_CONTROL),
                                                 (NOISE_CONTROL, "standard")], xr, yr, seed))

    out.update(_signed_ranking(profile, train, test, sgt, xr, yr, seed))

    out.update(_differences("0/2 · clean accuracy", {name: correct(model, test) for name, model in study_models.items()},
                            [("SGT", "standard"), (NOISE_CONTROL, "standard")]))
    for name, model in models.items():
        stepped = {label: predict(model, inputs).argmax(1) == ye
                   for label, inputs in (("clean", xe), ("x + ε·sign ∇", fgsm(model, xe, ye, 0.1)),
                                         ("x − ε·sign ∇", fgsm(model, xe, ye, 0.1, targeted=True)))}
        for label, outcomes in stepped.items():
            out[f"5 · accuracy after one step {label}, ε = 0.1, {name}"] = accuracy(outcomes)
            if label != "clean":
                out[f"5 · accuracy after one step {label} minus clean, ε = 0.1, {name}"] = paired_difference(
                    outcomes.float(), stepped["clean"].float())

    robustness = robustness_curves(models, xe, ye, NOTEBOOK5_EPS, seed=seed)
    for attack, by_model in robustness.items():
        for name, curve in by_model.items():
            out[f"5 · {attack} accuracy at ε = 0.2, {name}"] = curve.interval(0.2)
            out[f"5 · {attack} drop from ε = 0 to 0.3, {name}"] = curve.accuracy[0] - curve.accuracy[-1]
            out[f"5 · {attack} largest rise along ε, {name}"] = max(
                b - a for a, b in zip(curve.accuracy, curve.accuracy[1:]))
        out.update(_differences(f"5 · {attack} accuracy at ε = 0.2",
                                {name: curve.outcomes(0.2) for name, curve in by_model.items()}, [("SGT", "standard")]))

    audits = {"5": (robustness_audits(models, test.x, test.y, 0.2, budget=profile.audit, seed=seed, progress=False),
                    0.2, [("SGT", "standard")])}

    eps = TRAINING_EPS[train.source]
    robust, histories = robust_models(profile, train, test, seed=seed, progress=False)
    pairs = NOTEBOOK6_PAIRS
    audits["6"] = (robustness_audits(robust, test.x, test.y, eps, budget=profile.audit, seed=seed, progress=False),
                   eps, pairs)
    for name, history in histories.items():
        out[f"6 · epochs trained, {name}"] = float(history.epochs)
        if history.best_epoch is not None:
            out[f"6 · epoch kept (1 = first), {name}"] = float(history.best_epoch + 1)
    out.update(_fair_removal("6", robust, pairs, xr, yr, seed))
    out["6 · share of the top gradient pixels on the digit, random map"] = bootstrap_mean((xe > 0).flatten(1).float().mean(1))
    shares = {name: foreground_share(saliency.per_pixel(saliency.gradient(model, xe, ye)), xe)
              for name, model in robust.items()}
    out.update({f"6 · share of the top gradient pixels on the digit, {name}": bootstrap_mean(share)
                for name, share in shares.items()})
    out.update(_differences("6 · share of the top gradient pixels on the digit", shares, pairs))
    robust["SGA"], _ = robust_model(profile, "ASGT", train, test, seed=seed, progress=False, order="mask_then_attack")
    notebook6_eps = tuple(round(eps * f, 4) for f in (0, 0.25, 0.5, 0.75, 1.0, 1.5))
    clean, attacked = {}, {}
    for name, model in robust.items():
        clean[name] = correct(model, test)
        attacked[name] = robust_accuracy(model, xe, ye, "pgd", notebook6_eps, generator=_generator(seed)).outcomes(eps)
        out[f"6 · clean accuracy, {name}"] = accuracy(clean[name])
        out[f"6 · PGD accuracy at ε = {eps:g}, {name}"] = accuracy(attacked[name])
        out[f"6 · gradient removal-curve area, {name}"] = removal_curve(
            model, xr, yr, "gradient", generator=_generator(seed)).area()
    out.update(_differences("6 · clean accuracy", clean, pairs))
    out.update(_differences(f"6 · PGD accuracy at ε = {eps:g}", attacked, [*pairs, ("ASGT", "SGA")]))
    worst_attacks = {}
    for notebook, (by_model, radius, differences) in audits.items():
        out.update(_audited(notebook, by_model, radius, differences))
        worst_attacks.update({f"{notebook} · {name}": audit.worst_attack for name, audit in by_model.items()})
    return out, worst_attacks


def _audited(notebook: str, audits: dict[str, RobustnessAudit], eps: float,
             differences: list[tuple[str, str]]) -> dict[str, Measured]:
    """The quantities of a notebook's robustness audit, for one seed: per model its PGD-10 and worst-case
    accuracy, whether gradient masking was suspected (1) or not (0), and how many sanity checks failed;
    the worst-case difference of each pair in ``differences`` (the models are audited on the same images)."""
    out: dict[str, Measured] = {}
    for name, audit in audits.items():
        out[f"{notebook} · PGD-10 accuracy at ε = {eps:g} (audit), {name}"] = accuracy(audit.outcome("PGD-10").correct)
        out[f"{notebook} · worst-case accuracy at ε = {eps:g}, {name}"] = audit.worst_case_interval()
        out[f"{notebook} · gradient masking suspected, {name}"] = float(audit.masking_suspected)
        out[f"{notebook} · sanity checks failed, {name}"] = float(sum(not c.passed for c in audit.checks))
    out.update(_differences(f"{notebook} · worst case at ε = {eps:g}",
                            {name: audit.worst_case_correct for name, audit in audits.items()}, differences))
    return out


def _fair_removal(notebook: str, models: dict[str, torch.nn.Module], pairs: list[tuple[str, str]],
                  x: torch.Tensor, y: torch.Tensor, seed: int) -> dict[str, Measured]:
    """The quantities of a notebook's fair removal study, for one seed, each with its interval: every
    model's ROAD gap and random-ranking accuracy at 50 % removed under every fill and, for each pair (a, b)
    in ``pairs``, a's lead over b in the gap and their random-ranking difference at 50 % removed."""
    study = removal_study({seed: models}, x, y, progress=False)
    out: dict[str, Measured] = {}
    for fill in study.fills:
        for name in models:
            out[f"{notebook} · ROAD gap, {fill} fill, {name}"] = study.gap_intervals(name, fill)[0]
            out[f"{notebook} · random ranking at 50%, {fill} fill, {name}"] = study.curve(
                seed, name, fill, ranking="random").interval(0.5)
        for a, b in pairs:
            out[f"{notebook} · {a}'s ROAD-gap lead over {b}, {fill} fill"] = study.lead_intervals(a, b, fill)[0]
            out[f"{notebook} · random ranking at 50%, {a} minus {b}, {fill} fill"] = (
                study.random_difference_intervals(a, b, fill)[0])
    for a, b in pairs:
        out[f"{notebook} · {a}'s ROAD-gap lead over {b}, uniform minus linear fill"] = study.lead_change_intervals(
            a, b, "uniform", "linear")[0]
    return out


def _signed_ranking(profile: recipes.Profile, train: ImageSet, test: ImageSet, sgt: torch.nn.Module, x: torch.Tensor,
                    y: torch.Tensor, seed: int) -> dict[str, Measured]:
    """Notebook 2 section 7, for one seed: SGT trained on the authors' signed ranking against the course's
    |∇| ranking, each evaluated by its |∇| map: clean accuracy, accuracy with half the pixels removed under
    the uniform fill, and the ROAD gap under the uniform and the linear fill, each with the paired difference."""
    signed, _ = image_model(profile, "sgt", train, test, k=PAPER_SGT.k, lam=PAPER_SGT.lam, signed=True, seed=seed,
                            progress=False)
    pair = {"SGT": sgt, "signed SGT": signed}
    study = removal_study({seed: pair}, x, y, fills=("uniform", "linear"), progress=False)
    clean = {name: correct(model, test) for name, model in pair.items()}
    out: dict[str, Measured] = {f"2 · clean accuracy, {name}": accuracy(c) for name, c in clean.items()
                                if name != "SGT"}
    out.update(_differences("2 · clean accuracy", clean, [("signed SGT", "SGT")]))
    half = {name: study.curve(seed, name, "uniform").outcomes(0.5) for name in pair}
    out.update({f"2 · gradient ranking at 50%, uniform fill, {name}": accuracy(h) for name, h in half.items()})
    out.update(_differences("2 · gradient ranking at 50%, uniform fill", half, [("signed SGT", "SGT")]))
    for fill in study.fills:
        out[f"2 · ROAD gap, {fill} fill, signed SGT"] = study.gap_intervals("signed SGT", fill)[0]
        out[f"2 · signed SGT's ROAD-gap lead over SGT, {fill} fill"] = study.lead_intervals("signed SGT", "SGT", fill)[0]
    return out


#: The per-model tables that :func:`model_tables` prints: per notebook, its models and its columns, each
#: column a quantity's prefix (the quantity is ``f"{prefix}, {model}"``).
MODEL_TABLES: dict[str, tuple[tuple[str, ...], dict[str, str]]] = {
    "2": ((*ROBUST_REGIMES[:2], NOISE_CONTROL), {
        "clean accuracy": "0/2 · clean accuracy",
        "ROAD gap, uniform fill": "2 · ROAD gap, uniform fill", "ROAD gap, linear fill": "2 · ROAD gap, linear fill",
        "random ranking at 50 %, uniform fill": "2 · random ranking at 50%, uniform fill",
        "random ranking at 50 %, linear fill": "2 · random ranking at 50%, linear fill"}),
    "6": (ROBUST_REGIMES, {
        "epochs trained": "6 · epochs trained", "clean accuracy": "6 · clean accuracy",
        "PGD-10 accuracy": "6 · PGD accuracy at ε", "worst case": "6 · worst-case accuracy at ε",
        "ROAD gap, uniform fill": "6 · ROAD gap, uniform fill", "ROAD gap, linear fill": "6 · ROAD gap, linear fill",
        "random ranking at 50 %, uniform fill": "6 · random ranking at 50%, uniform fill",
        "random ranking at 50 %, linear fill": "6 · random ranking at 50%, linear fill",
        "top gradient pixels on the digit": "6 · share of the top gradient pixels on the digit"}),
}


def model_tables(results: dict[str, dict[int, float]],
                 intervals: dict[str, dict[int, tuple[float, float]]] | None = None) -> str:
    """Markdown tables, one per notebook of :data:`MODEL_TABLES`: a row per model, a column per quantity,
    each "mean (min–max)" over the seeds (accuracies and gaps in %), followed by "±h", the seeds' mean 95 %
    half-width over the images, where ``intervals`` holds the quantity's; a quantity not measured is left out."""
    intervals = intervals or {}
    tables = []
    for notebook, (models, columns) in MODEL_TABLES.items():
        found = {header: {model: _quantity(results, prefix, model) for model in models}
                 for header, prefix in columns.items()}
        found = {header: by_model for header, by_model in found.items() if all(by_model.values())}

        def cell(header: str, quantity: str) -> str:
            if quantity in intervals:
                return interval_spread([Interval(value, *intervals[quantity][seed])
                                        for seed, value in sorted(results[quantity].items())])
            return spread([v for _, v in sorted(results[quantity].items())], percent=header != "epochs trained")

        rows = [[model, *(cell(header, by_model[model]) for header, by_model in found.items())] for model in models]
        tables.append(f"Notebook {notebook}, mean (min–max) over seeds, ±: the seeds' mean 95 % half-width over the "
                      f"images:\n\n" + markdown_table(["model", *found], rows))
    return "\n\n".join(tables)


def _quantity(results: dict[str, dict[int, float]], prefix: str, model: str) -> str | None:
    """The one quantity that starts with ``prefix`` and ends with ``", {model}"``."""
    matches = [quantity for quantity in results
               if quantity.startswith(prefix) and quantity.endswith(f", {model}")
               and "minus" not in quantity and "(audit)" not in quantity]
    return matches[0] if len(matches) == 1 else None


def is_difference(quantity: str) -> bool:
    """Whether a recorded quantity is a difference between two models (or two measurements of one)."""
    return " minus " in quantity or "'s ROAD-gap lead over " in quantity


def summary(profiles: tuple[str, ...] = ("ci", "cpu")) -> str:
    """Markdown for benchmarks/RESULTS.md, from the recorded claims of ``profiles``: each run record, the
    per-model tables with intervals, and every recorded difference with its verdict over all profiles
    (:func:`~sgt_course.recorded.across`). Nothing in it is typed by hand."""
    records = {p: recorded(p) for p in profiles if record_path(p).exists()}
    parts = []
    for name, record in records.items():
        bounds = {q: {seed: b for seed, b in by_seed.items()} for q, by_seed in record.bounds.items()}
        parts.append(f"### `{name}` profile\n\nRecorded by {record.source()}; data: {record.run.get('data', '?')}; "
                     f"library {record.run.get('library', '?')}.\n\n" + model_tables(record.results, bounds))
    for name in records:
        saved = json.loads(record_path(name).read_text())
        rows = [[model, " / ".join(by_seed[seed] for seed in sorted(by_seed, key=int)),
                 f"{sum(saved['results'][f'{notebook} · gradient masking suspected, {regime}'].values()):.0f} of "
                 f"{len(by_seed)}"]
                for model, by_seed in saved.get("worst_attacks", {}).items()
                for notebook, regime in [model.split(" · ")]]
        parts.append(f"The robustness audit, `{name}`: the worst single attack per seed and the seeds on which "
                     "gradient masking was suspected.\n\n"
                     + markdown_table(["notebook · model", "worst attack, per seed", "masking suspected"], rows))
    shared = [q for q in next(iter(records.values())).results if is_difference(q)
              and all(q in r.bounds for r in records.values())] if records else []
    rows = [[q, *across(records, q, percent=" ρ " not in q)] for q in shared]
    parts.append("### Every recorded difference, with its verdict over " + " and ".join(records) + "\n\n"
                 "Each difference is paired over the same images, per seed, with its 95 % bootstrap interval. "
                 "*higher*/*lower*: every seed's interval on that side of 0 in every profile; *no difference*: "
                 "every interval contains 0; *undecided*: anything else. Per profile: the range over seeds, "
                 "then the seeds' mean half-width.\n\n" + markdown_table(["difference", "verdict", "per profile"], rows))
    return "\n\n".join(parts)


#: The lines between which benchmarks/RESULTS.md holds :func:`summary`'s output (``--summary-into`` writes it).
SUMMARY_MARKERS = ("<!-- claims summary: written by `sgt-course claims --summary-into`; do not edit -->",
                   "<!-- end of the claims summary -->")


def write_summary(path: str | os.PathLike[str], profiles: tuple[str, ...] = ("ci", "cpu")) -> None:
    """Replace what lies between :data:`SUMMARY_MARKERS` in the Markdown file ``path`` by :func:`summary`."""
    with open(path, encoding="utf-8") as handle:
        text = handle.read()
    start, end = SUMMARY_MARKERS
    if start not in text or end not in text:
        raise ValueError(f"{path} must hold the lines {start!r} and {end!r}, between which the summary goes")
    head, rest = text.split(start, 1)
    tail = rest.split(end, 1)[1]
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(f"{head}{start}\n\n{summary(profiles)}\n\n{end}{tail}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="sgt-course claims", description=__doc__.split("\n")[0])
    parser.add_argument("--profile", default="ci", choices=tuple(recipes.PROFILES))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--json", help="also write {quantity: {seed: value}} to this file")
    parser.add_argument("--record", action="store_true", help="also write the results with their run record to "
                                                              "benchmarks/claims-<profile>.json (sgt_course.recorded)")
    parser.add_argument("--tables-from", metavar="JSON", help="print the per-model tables of a file that --json "
                                                              "wrote, and measure nothing")
    parser.add_argument("--summary", action="store_true", help="print RESULTS.md's claims section from the recorded "
                                                               "claims of the ci and cpu profiles, and measure nothing")
    parser.add_argument("--summary-into", metavar="MARKDOWN", help="write that section into the file (between "
                                                                   "its markers), and measure nothing")
    args = parser.parse_args(argv)
    if args.summary:
        print(summary())
        return 0
    if args.summary_into:
        write_summary(args.summary_into)
        print(f"wrote the claims summary into {args.summary_into}", file=sys.stderr)
        return 0
    if args.tables_from:
        with open(args.tables_from) as handle:
            saved = json.load(handle)
        print(model_tables({q: {int(s): v for s, v in by_seed.items()} for q, by_seed in saved["results"].items()},
                           {q: {int(s): tuple(b) for s, b in by_seed.items()}
                            for q, by_seed in saved.get("intervals", {}).items()}))
        return 0
    profile, device = recipes.get_profile(args.profile), runtime.get_device()
    print(runtime.describe(profile, device))
    train, test = image_data(profile, device)
    results: dict[str, dict[int, float]] = {}
    intervals: dict[str, dict[int, tuple[float, float]]] = {}
    worst_attacks: dict[str, dict[int, str]] = {}
    for seed in args.seeds:
        start = time.perf_counter()
        numbers, attacks = measure(profile, seed, device)
        for quantity, value in numbers.items():
            if isinstance(value, Interval):
                intervals.setdefault(quantity, {})[seed] = (value.low, value.high)
                value = value.estimate
            results.setdefault(quantity, {})[seed] = value
        for model, attack in attacks.items():
            worst_attacks.setdefault(model, {})[seed] = attack
        print(f"seed {seed}: {time.perf_counter() - start:.0f} s", file=sys.stderr, flush=True)
    print("| notebook · quantity | " + " | ".join(f"seed {s}" for s in args.seeds) + " | mean | spread |")
    print("|---|" + "---:|" * (len(args.seeds) + 2))
    for quantity, by_seed in results.items():
        values = list(by_seed.values())
        cells = [f"{v:.3f}" + (" [{:.3f}, {:.3f}]".format(*intervals[quantity][s]) if quantity in intervals else "")
                 for s, v in by_seed.items()] + [f"{statistics.mean(values):.3f}", f"{max(values) - min(values):.3f}"]
        print(f"| {quantity} | " + " | ".join(cells) + " |")
    print("\n" + model_tables(results, intervals))
    print("\n| notebook · model | worst attack, per seed |\n|---|---|")
    for model, by_seed in worst_attacks.items():
        print(f"| {model} | {', '.join(by_seed.values())} |")
    saved = {"profile": profile.name, "run": run_record(train.describe(), args.seeds, device), "results": results,
             "intervals": intervals, "worst_attacks": worst_attacks}
    for path in filter(None, (args.json, record_path(profile.name) if args.record else None)):
        with open(path, "w") as handle:
            json.dump(saved, handle, indent=1, ensure_ascii=False)
        print(f"wrote {path}", file=sys.stderr)
    return 0


def run_record(data: str, seeds: list[int], device: torch.device) -> dict[str, object]:
    """What identifies a claims run: when, on what machine, on which data and seeds, with which library."""
    return {"date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"), "machine": machine(device),
            "data": data, "seeds": list(seeds), "library": library_fingerprint()}


def machine(device: torch.device) -> str:
    """This machine in a few words: cores, processor, memory, the device and torch."""
    processor = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as handle:
            processor = next(line.split(":", 1)[1].strip() for line in handle if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    try:
        memory = f", {os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30:.0f} GiB"
    except (ValueError, OSError, AttributeError):
        memory = ""
    gpu = f" ({torch.cuda.get_device_name(device)})" if device.type == "cuda" else ""
    return (f"{os.cpu_count()} cores ({processor}){memory}; {device.type}{gpu}, torch {torch.__version__}, "
            f"{torch.get_num_threads()} threads")


if __name__ == "__main__":
    raise SystemExit(main())
