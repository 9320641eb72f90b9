# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %%
# Colab set-up: installs the course package when this notebook runs on Google Colab; a no-op elsewhere.
# The library alone and torchattacks, without dependencies: Colab has torch, ipywidgets and the rest, and
# none of Colab's own packages changes (no restart needed).
import subprocess
import sys

if "google.colab" in sys.modules:
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps",
                    "sgt-course @ git+https://github.com/sgt-course/sgt-course", "torchattacks"], check=True)
    from google.colab import output

    output.enable_custom_widget_manager()

# %% [markdown]
# # 6 · Adversarial saliency-guided training (Algorithm 2)
#
# Notebook 5 showed that SGT alone does not make a model robust; adversarial training (Madry et al.)
# does. Guesmi, Aswani & Shafique (2024) combine the two: train on adversarial examples *and* require
# the prediction to survive masking of the adversarial example's least salient features.
#
# **Learning goals**
# 1. Read Algorithm 2 and say what each of its three terms is for.
# 2. Train five regimes with one recipe — standard, SGT, PGD adversarial training with and without a
#    clean term, ASGT — and compare robustness under FGSM, PGD and MI-FGSM, and the field's audit.
# 3. Compare their saliency maps and removal curves, under the noise SGT and ASGT train on and under fair
#    fills, against what adversarial training alone already does to the maps.
# 4. Weigh the result against the cost, and against what the paper reports.

# %%
import torch

from sgt_course import runtime
from sgt_course.experiments import image_data, image_model
from sgt_course.stats import accuracy, bootstrap_mean, paired_difference
from sgt_course.training import correct

profile, device = runtime.start(seed=0)  # run profile, device, seeds, and one line saying so
train, test = image_data(profile, device)

# %% [markdown]
# ## 1 · Algorithm 2, line by line
#
# For each minibatch $(X, y)$:
#
# | line | Algorithm 2 | library |
# |---|---|---|
# | 1 | $X' = X + \delta^*$, $\delta^*$ from an L∞ attack of radius ε (PGD) | `attacks.pgd(model, x, y, eps)` |
# | 2 | $\tilde X' = M_k\big(\operatorname{sort} S(X'), X'\big)$: mask $X'$ by **its own** saliency | `masking.mask_bottom_k(x_adv, gradient(model, x_adv, y), k)` |
# | 3 | $L = \mathrm{CE}(f(X), y) + \mathrm{CE}(f(X'), y) + \lambda\,\mathrm{KL}\big(\operatorname{softmax} f(\tilde X')\,\big\|\,\operatorname{softmax} f(X)\big)$ | `losses.asgt_loss(model, x, y, k, lam, attack)` |
# | 4 | a gradient step on $L$ | `training.fit(model, data, asgt_loss)` |
#
# *What each term is for.* $\mathrm{CE}(f(X), y)$ keeps clean accuracy; $\mathrm{CE}(f(X'), y)$ is
# adversarial training; the KL term is SGT applied to the adversarial example: the prediction must
# not depend on the features its saliency ranks low. Note the order: the adversarial example is
# formed **before** masking. Masking first and attacking after, the order of Li et al.'s SGA (2022), is
# a different algorithm; section 5 compares the two orders.
#
# The three inputs of the loss, for a few test digits, with notebook 2's standard model (from the cache) in
# place of the model being trained:

# %%
from sgt_course.attacks import pgd
from sgt_course.losses import masked_by_saliency
from sgt_course.plots import show_images
from sgt_course.recipes import PAPER_SGT, TRAINING_EPS

standard, _ = image_model(profile, "standard", train, test)
x_clean, y_clean = test.x[:5], test.y[:5]
eps = TRAINING_EPS[train.source]
x_adversarial = pgd(standard, x_clean, y_clean, eps, generator=torch.Generator().manual_seed(0))  # line 1
x_masked = masked_by_saliency(standard, x_adversarial, y_clean, PAPER_SGT.k,                       # line 2
                              generator=torch.Generator().manual_seed(0))
show_images(torch.cat([x_clean, x_adversarial, x_masked]), ncols=5,
            row_labels=["X", f"X′ (PGD, ε = {eps})", f"X̃′ (k = {PAPER_SGT.k})"], title="what ASGT's loss compares");

# %% [markdown]
# ## 2 · Five regimes, one recipe
#
# All five train on the same data with the same optimizer; the adversarial regimes use PGD at the
# paper's MNIST radius, ε = 0.2, which is also the headline ε of the evaluation below — on real MNIST
# digits in every profile (MNIST-5k when there is no network). The attack inside training takes
# `profile.robust_steps` steps: 10, or 5 in the `ci` profile to fit its time budget; every evaluation
# attacks with 10.
#
# ASGT differs from PGD adversarial training (PGD-AT) in **two** terms: a clean cross-entropy and the
# masked KL term. The fifth regime, **PGD-AT+CE**, is ASGT with λ = 0: PGD-AT plus the clean term and
# nothing else. Whatever separates ASGT from PGD-AT+CE is the masked term's doing; whatever separates
# PGD-AT+CE from PGD-AT, the clean term's.
#
# **How long.** A comparison of regimes stopped after a few epochs may only compare how fast they learn.
# In the `cpu` and `gpu` profiles every regime therefore trains until it stops improving: part of the
# training images is held out, each regime is scored on it after every epoch (clean accuracy, and PGD-10
# accuracy at ε = 0.2), and training stops once the score it optimises (PGD accuracy for the adversarial
# regimes, clean accuracy for standard and SGT) has not improved for `patience` epochs; the best epoch's
# weights are kept, the usual remedy for robust overfitting (Rice, Wong & Kolter, ICML 2020). The `ci`
# profile keeps a short fixed recipe, and says so below.

# %%
from sgt_course.experiments import robust_model, robust_models
from sgt_course.recipes import TRAINING_EPS, robust_profile, robust_regimes

EPS_TRAIN = TRAINING_EPS[train.source]  # 0.2 on MNIST and MNIST-5k
HEADLINE_EPS = EPS_TRAIN
robust = robust_profile(profile)  # the profile's robust_epochs at lr 1e-3: PGD training at 3e-3 collapsed
regimes = robust_regimes(EPS_TRAIN, steps=profile.robust_steps)
for name, (regime, settings) in regimes.items():
    print(f"{name:>9}: regime {regime!r}, settings {settings}")
models, histories = robust_models(profile, train, test)
for name, model in models.items():
    stopped = (f", kept epoch {histories[name].best_epoch + 1} of {histories[name].epochs}"
               if histories[name].best_epoch is not None else f", {histories[name].epochs} epochs")
    print(f"{name:>9}: clean test accuracy {accuracy(correct(model, test))} %, "
          f"{sum(histories[name].seconds) / histories[name].epochs:.1f} s per epoch{stopped}")

# %%
from sgt_course.plots import held_out_curves

if profile.robust_plateau is not None:
    plateau = profile.robust_plateau
    held_out_curves(histories, title=f"held-out scores per epoch ({plateau.held_out} held-out training images; "
                                     f"patience {plateau.patience}, at most {profile.robust_epochs} epochs)");
else:
    print(f"The {profile.name!r} profile trains every regime for {profile.robust_epochs} epochs, short of a "
          "plateau; SGT_COURSE_PROFILE=cpu or gpu trains until held-out scores stop improving.")

# %% [markdown]
# ## 3 · Robustness (the seminar's Fig. 9/10)

# %%
from sgt_course.plots import robustness_panels
from sgt_course.robustness import robust_accuracy, robustness_curves, robustness_table

EPS = tuple(round(HEADLINE_EPS * f, 4) for f in (0, 0.25, 0.5, 0.75, 1.0, 1.5))
xa, ya = test.x[:profile.n_explain], test.y[:profile.n_explain]
robustness = robustness_curves(models, xa, ya, EPS)  # {attack: {model: accuracy per ε}}, PGD seeded
robustness_panels(robustness, title=f"robust accuracy, {len(xa)} test images");
print(robustness_table(robustness))

# %%
print(f"PGD-10 at the headline ε, % with its 95 % interval over {len(xa)} images:\n  "
      + ", ".join(f"{name} {curve.interval(HEADLINE_EPS)}" for name, curve in robustness["PGD"].items()))

# %% [markdown]
# **Is this robustness real?** The curves above use PGD-10, FGSM and MI-FGSM. As in notebook 5
# (section 3), `robustness_audit` attacks every regime at the headline ε with the field's ensemble
# (a strong PGD, AutoAttack's APGD-CE, APGD-DLR and Square, and a transfer attack from the standard
# model) and runs Carlini et al.'s sanity checks. The worst case per image is the robust accuracy this
# notebook reports and asserts; adversarial training is where the stronger attacks matter most.

# %%
from IPython.display import Markdown, display

from sgt_course.robustness import audit_table, robustness_audits

audits = robustness_audits(models, test.x, test.y, HEADLINE_EPS, budget=profile.audit)
display(Markdown(audit_table(audits)))
display(Markdown(audits["ASGT"].table()))
worst = {name: audit.worst_case_interval() for name, audit in audits.items()}

# %%
# Asserted on every run: no regime masks its gradients (Square and the transfer attack fool almost nothing
# the white-box attacks left, and ε = 1 fools almost everything).
for name, audit in audits.items():
    assert not audit.masking_suspected, (name, audit.checks)
# The paper's claim on robustness (MNIST, PGD at ε = 0.2, quoted): ASGT about 35 points above the standard
# model. Tested on the worst case, each difference paired over the same audited images:
over = {other: paired_difference(audits["ASGT"].worst_case_correct.float(), audits[other].worst_case_correct.float())
        for other in ("standard", "SGT", "PGD-AT")}
display(Markdown(
    f"Worst case at ε = {HEADLINE_EPS:g}, % with 95 % intervals: " + ", ".join(
        f"{name} **{interval}**" for name, interval in worst.items())
    + ". ASGT minus: " + ", ".join(f"{other} {difference} points" for other, difference in over.items())
    + " (the paper, quoted: ASGT about +35 points over standard under PGD)."))
# Asserted: ASGT keeps more than both the standard and the SGT model (every seed of both profiles agreed).
assert over["standard"].low > 0 and over["SGT"].low > 0, over

# %% [markdown]
# **Reading the audit.** Where a regime's worst case lies below its PGD-10 accuracy, stronger attacks
# (the table's "worst attack" column says which) found adversarial examples that ten steps from one
# random start missed: PGD-10 overstated that regime's robustness, and the curves of section 3 are an
# upper bound. The gradient-masking checks passed for every regime, so the worst case is a real lower
# bound on what the attacks can do, not an artefact of hidden gradients. Whether ASGT or PGD-AT comes out
# ahead on the worst case over seeds, `sgt-course claims` measures (benchmarks/RESULTS.md).

# %% [markdown]
# ## 4 · Interpretability (the seminar's Fig. 11)

# %%
from sgt_course import saliency
from sgt_course.plots import plot_removal_curves, saliency_grid
from sgt_course.removal import removal_curve

xs, ys = test.x[:4], test.y[:4]
saliency_grid(xs, {name: saliency.gradient(model, xs, ys) for name, model in models.items()},
              captions=[f"class {int(c)}" for c in ys], title="gradient maps of the five regimes");
xr, yr = test.x[:profile.n_removal], test.y[:profile.n_removal]  # the images pixels are removed from
removal = {name: removal_curve(model, xr, yr, "gradient", generator=torch.Generator().manual_seed(0))
           for name, model in models.items()}
plot_removal_curves(removal, title="gradient-ranked removal");
for name, curve in removal.items():
    print(f"{name:>9}: removal-curve area {bootstrap_mean(curve.image_areas())} %, "
          f"accuracy with 50% removed {curve.interval(0.5)} %")

# %% [markdown]
# **The baseline ASGT has to beat.** Adversarial training alone already changes the maps: adversarially
# trained models have input gradients that look like the object, "perceptually aligned" (Tsipras et al.,
# ICLR 2019; Etmann et al., ICML 2019), and penalising the input gradient's size makes them more
# interpretable as well (Ross & Doshi-Velez, AAAI 2018). So "ASGT's maps are cleaner than a standard
# model's" says little; the claim to test is that they are cleaner than PGD-AT's. One plain measure of
# alignment on MNIST's black background: the share of a map's top pixels that lie on the digit's
# strokes (`metrics.foreground_share`; as many top pixels as the digit has; noise scores the digit's
# share of the image).

# %%
from sgt_course.metrics import foreground_share

on_digit = {name: foreground_share(saliency.per_pixel(saliency.gradient(model, xa, ya)), xa)
            for name, model in models.items()}  # per image
print(f"share of the top gradient pixels on the digit, with 95 % intervals over {len(xa)} test images (a random "
      f"map: {bootstrap_mean((xa > 0).flatten(1).float().mean(1))}):\n  "
      + ", ".join(f"{name} {bootstrap_mean(v)}" for name, v in on_digit.items()))
aligned = paired_difference(on_digit["PGD-AT"], on_digit["standard"])
print(f"PGD-AT minus standard: {aligned} points (paired over the same images)")
# Adversarial training alone moves the maps onto the digit: the paired interval lay above 0 on every seed of
# both profiles (section 6 renders the recorded verdict); asserted for this run's seed.
assert aligned.low > 0, aligned

# %% [markdown]
# **Is that fair?** The curve above fills removed pixels with $\mathcal U(\min X, \max X)$, which SGT
# and ASGT train on and the standard and PGD-AT models never saw. Notebook 2 (section 5) showed how
# much that favours the saliency-guided models; here is the same study for the five regimes: fills
# neither model trained on, both orders (ROAD's gap, area(LeRF) − area(MoRF): larger is more
# faithful), the random-ranking control, and the profile's seeds (`profile.robust_seeds`: one in the
# `ci` profile, where every further seed costs five more training runs; three in `cpu` and `gpu`).

# %%
from IPython.display import Markdown, display

from sgt_course.plots import gap_bars, removal_study_panels
from sgt_course.removal import removal_study

seed_models = {seed: robust_models(profile, train, test, seed=seed)[0] for seed in profile.robust_seeds}
study = removal_study(seed_models, xr, yr, "gradient")
removal_study_panels(study);
gap_bars(study);
display(Markdown(study.table()))

# %%
# What the measurements support. The rule (`stats.interval_verdict`): a difference holds only when its
# paired 95 % interval over the images excludes 0 on every seed. Asserted here: what held on every seed of
# both profiles (`sgt-course claims`, benchmarks/claims-*.json; section 6 renders the recorded verdicts).
from sgt_course.stats import interval_spread, interval_verdict, judged

random_difference = {fill: study.random_difference_intervals("ASGT", "PGD-AT", fill) for fill in study.fills}
for fill in study.fills:
    print(f"{fill:>8} fill: ROAD gap " + ", ".join(f"{m} {interval_spread(study.gap_intervals(m, fill))}"
                                                    for m in study.models)
          + f"; ASGT − PGD-AT: {judged(study.lead_intervals('ASGT', 'PGD-AT', fill))}")
shrinks = study.lead_change_intervals("ASGT", "PGD-AT", "uniform", "linear")
print(f"ASGT's lead over PGD-AT, uniform minus linear fill: {judged(shrinks)}")
# 1. The control: the uniform fill is familiar to ASGT, not to PGD-AT (random ranking, half the pixels removed).
assert interval_verdict(random_difference["uniform"]) == "higher", random_difference
# 2. Under ROAD's fill every regime's gradient ranking is faithful: its gap lies above 0, a random ranking's.
assert all(i.low > 0 for m in study.models for i in study.gap_intervals(m, "linear")), study.table()
# 3. ASGT's lead over PGD-AT is larger under the uniform fill, ASGT's training noise, than under ROAD's.
assert interval_verdict(shrinks) == "higher", shrinks

# %% [markdown]
# The same seeds' models under PGD at the headline ε (attacked at that ε only, so seed 0 can differ from
# section 3's curve by a point or two), each "mean (min–max) ±h" over `profile.robust_seeds`, where h is
# the seeds' mean 95 % half-width over the images:

# %%
# per seed and model, which images it got right: clean on the test split, attacked on the first n_explain
clean_by_seed = {name: [correct(by_name[name], test) for by_name in seed_models.values()] for name in study.models}
headline_by_seed = {name: [robust_accuracy(by_name[name], xa, ya, "pgd", (HEADLINE_EPS,),
                                           generator=torch.Generator().manual_seed(seed)).outcomes(HEADLINE_EPS)
                           for seed, by_name in seed_models.items()] for name in study.models}
for name in study.models:
    print(f"{name:<9} clean {interval_spread([accuracy(c) for c in clean_by_seed[name]]):<26} "
          f"PGD at ε = {HEADLINE_EPS:g}: {interval_spread([accuracy(c) for c in headline_by_seed[name]])}")


# %% [markdown]
# **Which term moves what?** Each column is one difference, per seed: adversarial training itself
# (PGD-AT − standard), ASGT's clean term (PGD-AT+CE − PGD-AT) and its masked KL term (ASGT − PGD-AT+CE).
# Each seed's difference is paired over the same images, with its 95 % bootstrap interval; the verdict
# follows the rule above: *higher* or *lower* only when every seed's interval excludes 0 on that side,
# *no difference* only when every one contains 0, *undecided* otherwise.

# %%
from sgt_course.tables import markdown_table

per_image = {"clean accuracy": clean_by_seed, f"PGD accuracy, ε = {HEADLINE_EPS:g}": headline_by_seed,
             **{f"ROAD gap, {fill} fill": {m: [study.image_gaps(s, m, fill) for s in study.seeds]
                                           for m in study.models} for fill in ("uniform", "linear")}}
effects = {"adversarial training": ("PGD-AT", "standard"), "clean term": ("PGD-AT+CE", "PGD-AT"),
           "masked KL term": ("ASGT", "PGD-AT+CE")}
moved = {(metric, effect): [paired_difference(x.float(), y.float()) for x, y in zip(values[a], values[b])]
         for metric, values in per_image.items() for effect, (a, b) in effects.items()}
display(Markdown(markdown_table(
    ["points, mean (min–max) ±h over seeds", *(f"{effect}: {a} − {b}" for effect, (a, b) in effects.items())],
    [[metric, *(judged(moved[metric, effect]) for effect in effects)] for metric in per_image])))
# What held on every seed of both profiles (benchmarks/claims-*.json), asserted; the rest is rendered:
# the masked KL term raises clean accuracy on no seed, and it raises the gap under the uniform fill it
# trains on.
assert not any(i.low > 0 for i in moved["clean accuracy", "masked KL term"]), moved
assert interval_verdict(moved["ROAD gap, uniform fill", "masked KL term"]) == "higher", moved

# %% [markdown]
# ## 5 · Attack first, or mask first?
#
# Algorithm 2 attacks the clean input and masks the adversarial example by its own saliency. The
# course's **mask-then-attack variant** masks the clean input first and attacks the masked input, with
# ASGT's loss otherwise unchanged: the order of Li et al.'s SGA (2022), not SGA's own objective, which
# the course does not implement. It is labelled "SGA" below for short. Same budget, other order:

# %%
sga, _ = robust_model(profile, "ASGT", train, test, order="mask_then_attack")  # same recipe, other order
sga_pgd = robust_accuracy(sga, xa, ya, "pgd", (HEADLINE_EPS,), generator=torch.Generator().manual_seed(0))
sga_removal = removal_curve(sga, xr, yr, "gradient", generator=torch.Generator().manual_seed(0))
asgt_pgd = robust_accuracy(models["ASGT"], xa, ya, "pgd", (HEADLINE_EPS,), generator=torch.Generator().manual_seed(0))
for label, model, attacked, curve in (("attack then mask (ASGT)", models["ASGT"], asgt_pgd, removal["ASGT"]),
                                      ("mask then attack (SGA) ", sga, sga_pgd, sga_removal)):
    print(f"{label}: clean {accuracy(correct(model, test))} %, PGD {attacked.interval(HEADLINE_EPS)} %, "
          f"removal area {bootstrap_mean(curve.image_areas())} %")
order = paired_difference(asgt_pgd.outcomes(HEADLINE_EPS).float(), sga_pgd.outcomes(HEADLINE_EPS).float())
print(f"PGD accuracy, ASGT minus SGA: {order} points, paired over the same {len(xa)} images")

# %% [markdown]
# ## 6 · Summary of the five regimes
#
# Removal-curve area is the mean accuracy over the removal fractions of section 4's curve (the
# uniform fill SGT and ASGT train on, seed 0): *lower* means the gradient map ranked the decisive pixels first. That
# fill favours SGT and ASGT (section 4); ROAD's gaps above are the fair comparison.

# %%
from sgt_course.experiments import regime_summary, regime_table
from sgt_course.plots import summary_bars

summary = regime_summary(models, histories, test, robustness["PGD"], removal, HEADLINE_EPS)
summary_bars(summary, title="the five regimes, with 95 % intervals over the test images");
display(Markdown(regime_table(summary)))

# %% [markdown]
# **What reproduced, and what did not.** Your run prints its own numbers above. The cell below reads
# what `sgt-course claims` recorded over three seeds in the `ci` profile (small CNN, short fixed recipe)
# and the `cpu` profile (the authors' CNN, trained to a held-out plateau), on real MNIST digits
# (MNIST-5k), with the worst case of the robustness audit at the paper's ε = 0.2, and states each
# verdict with the rule used throughout: a difference holds only where its paired 95 % interval excludes 0
# on every seed of every profile, *no difference* only where every interval contains 0; otherwise it is
# *undecided*. Each profile's range is followed by the seeds' mean half-width (±).

# %%
from sgt_course.recorded import across, recorded_profiles

records = recorded_profiles(("ci", "cpu"))  # benchmarks/claims-<profile>.json
if records:
    worst, clean = f"6 · worst case at ε = {HEADLINE_EPS:g}, {{}} minus {{}}", "6 · clean accuracy, {} minus {}"
    gap, on_digit = "6 · {}'s ROAD-gap lead over {}, {} fill", "6 · share of the top gradient pixels on the digit, {} minus {}"
    findings = {
        "Worst case, ASGT − standard (the paper, quoted: about +35 points under PGD)": worst.format("ASGT", "standard"),
        "Worst case, ASGT − PGD-AT": worst.format("ASGT", "PGD-AT"),
        "Clean accuracy, ASGT − PGD-AT": clean.format("ASGT", "PGD-AT"),
        "The clean term, worst case: PGD-AT+CE − PGD-AT": worst.format("PGD-AT+CE", "PGD-AT"),
        "The clean term, clean accuracy: PGD-AT+CE − PGD-AT": clean.format("PGD-AT+CE", "PGD-AT"),
        "The masked term, worst case: ASGT − PGD-AT+CE": worst.format("ASGT", "PGD-AT+CE"),
        "The masked term, ROAD gap under the linear fill: ASGT − PGD-AT+CE": gap.format("ASGT", "PGD-AT+CE", "linear"),
        "ROAD gap under the uniform fill, ASGT − PGD-AT (ASGT's own training noise)": gap.format("ASGT", "PGD-AT",
                                                                                               "uniform"),
        "ROAD gap under ROAD's linear fill, ASGT − PGD-AT": gap.format("ASGT", "PGD-AT", "linear"),
        "Adversarial training's own maps, ROAD gap under the linear fill: PGD-AT − standard": gap.format(
            "PGD-AT", "standard", "linear"),
        "Top gradient pixels on the digit, PGD-AT − standard": on_digit.format("PGD-AT", "standard"),
        "Top gradient pixels on the digit, ASGT − PGD-AT": on_digit.format("ASGT", "PGD-AT"),
        "Attack first or mask first: PGD-10 accuracy, ASGT − SGA": f"6 · PGD accuracy at ε = {HEADLINE_EPS:g}, ASGT minus SGA",
    }
    masking = {profile_name: sum(sum(record.values(f"6 · gradient masking suspected, {regime}")) for regime in models)
               for profile_name, record in records.items()}
    display(Markdown("\n".join(f"- {text}: **{result}** ({ranges})." for text, (result, ranges) in
                               ((text, across(records, quantity)) for text, quantity in findings.items()))
                     + "\n\n" + "; ".join(f"{profile_name}: gradient masking suspected on {int(n)} audited runs"
                                         for profile_name, n in masking.items())
                     + ".\n\nRecorded by " + "; ".join(record.source() for record in records.values()) + "."))

# %% [markdown]
# **What the course concludes.** Read the verdicts above; where they say *undecided*, so does the
# course. ASGT's robustness over the standard and SGT models is large and survives the audit, but what
# a fair comparison has to beat is PGD adversarial training, and there ASGT shows no edge: on the worst
# case no seed of either CNN put it above PGD-AT. Adversarial training alone already moves the maps onto
# the digit (Tsipras et al.); ASGT's maps sit no further on it than PGD-AT's. Of ASGT's two extra terms,
# the masked KL term raises the removal gap under the uniform fill it trains on, its own training noise,
# and not under ROAD's fill; the clean term's gain in clean accuracy is clear with the short `ci` recipe
# and small, not on every seed, once the regimes train to a held-out plateau (`cpu`): stopping early
# compared how fast the regimes learn. The cost: each ASGT step runs the attack, a saliency pass and
# three forward passes (compare the seconds per epoch above; `sgt-course step-cost` measures the step
# ratio against PGD-AT).
#
# ## 7 · CIFAR-10 with the compact ResNet (gpu profile)
#
# The paper's second headline: CIFAR-10, where it reports +20 points for ASGT under PGD at
# ε = 0.02. In the `gpu` profile this cell trains the five regimes with the same recipe on
# CIFAR-10 (adversarial training at ε = 8/255; the standard and SGT models come from notebook 5's
# cache) and repeats sections 3, 4 and 6; elsewhere it says how to run it. We have not run it on a GPU
# yet, so it asserts no margin: read your own numbers against the paper's. Offline, CIFAR-10 falls
# back to planted-patch colour images (printed).

# %%
from sgt_course.recipes import cifar_profile

CIFAR_EPS = (0.0, round(2 / 255, 4), 0.02, round(8 / 255, 4), round(12 / 255, 4))
if profile.cifar10:
    cifar = cifar_profile(profile)  # CIFAR-10 and the compact ResNet, this profile's sizes
    cifar_train, cifar_test = image_data(cifar, device)
    cifar_models, cifar_histories = robust_models(cifar, cifar_train, cifar_test)
    cifar_x, cifar_y = cifar_test.x[:profile.n_explain], cifar_test.y[:profile.n_explain]
    cifar_robustness = robustness_curves(cifar_models, cifar_x, cifar_y, CIFAR_EPS)
    robustness_panels(cifar_robustness, title=f"{cifar_train.source}, compact ResNet: robust accuracy");
    print(robustness_table(cifar_robustness))
    cifar_removal = {name: removal_curve(model, cifar_x, cifar_y, "gradient", generator=torch.Generator().manual_seed(0))
                     for name, model in cifar_models.items()}
    plot_removal_curves(cifar_removal, title=f"{cifar_train.source}: gradient-ranked removal");
    cifar_summary = regime_summary(cifar_models, cifar_histories, cifar_test, cifar_robustness["PGD"], cifar_removal, 0.02)
    summary_bars(cifar_summary, title=f"{cifar_train.source}: the five regimes");
    display(Markdown(regime_table(cifar_summary)))
else:
    print(f"The CIFAR-10 part runs in the gpu profile (this run: {profile.name!r}). On a GPU: "
          "SGT_COURSE_PROFILE=gpu, or `python3 course.py reproduce --datasets cifar10` for the full runs.")

# %% [markdown]
# ## 8 · Explore
#
# The ε of the attack at test time, for all five models:

# %%
from sgt_course.widgets import attack_explorer

attack_explorer(models, test.x[:32], test.y[:32], eps_max=2 * HEADLINE_EPS, class_names=test.class_names)

# %% [markdown]
# And k and λ of ASGT: a quick retrain on a small subset (one epoch; cached per setting).

# %%
from sgt_course.widgets import sgt_explorer

quick = train.head(profile.n_quick)
quick_profile = robust.scaled(epochs=1)
quick_standard, _ = image_model(quick_profile, "standard", quick, test, progress=False)


def train_asgt(k, lam):
    settings = {**regimes["ASGT"][1], "k": k, "lam": lam}
    return image_model(quick_profile, "asgt", quick, test, progress=False, **settings)[0]


sgt_explorer(train_asgt, quick_standard, xa[:64], ya[:64], label="ASGT")

# %% [markdown]
# ## 9 · Exercise: assemble the ASGT loss
#
# Write `my_asgt_loss(model, x, y, k, lam, attack)` from the library's parts: `attack(model, x, y)`,
# `saliency.gradient` and `saliency.per_pixel` (in eval mode: `with models.eval_mode(model):` restores the mode after),
# `masking.mask_bottom_k`, `torch.nn.functional.cross_entropy` and `losses.kl_divergence(p, q)`
# $=\mathrm{KL}(\operatorname{softmax} p\,\|\,\operatorname{softmax} q)$.

# %%
import torch.nn.functional as F

from sgt_course import saliency
from sgt_course.exercises import check_asgt_loss
from sgt_course.losses import kl_divergence
from sgt_course.masking import mask_bottom_k
from sgt_course.models import eval_mode


def my_asgt_loss(model, x, y, k, lam, attack):
    ### BEGIN SOLUTION
    adversarial = attack(model, x, y)
    with eval_mode(model):  # the saliency in eval mode, then back to the mode the model was in
        scores = saliency.per_pixel(saliency.gradient(model, adversarial, y))
    adversarial_masked, _ = mask_bottom_k(adversarial, scores, k)
    clean_logits = model(x)
    return (F.cross_entropy(clean_logits, y) + F.cross_entropy(model(adversarial), y)
            + lam * kl_divergence(model(adversarial_masked), clean_logits))
    ### END SOLUTION


assert check_asgt_loss(my_asgt_loss)

# %% [markdown]
# ## Summary
#
# - ASGT = adversarial training + SGT's masking consistency, applied to the adversarial example
#   (`losses.asgt_loss`); the attack comes before the masking.
# - Trained with the same recipe on real MNIST digits, ASGT resisted the audit's attacks at ε = 0.2 where
#   the standard and SGT models did not. The comparison that matters is with PGD adversarial training,
#   with and without ASGT's clean term, trained long enough: section 6 gives the recorded verdicts.
# - Adversarial training alone already moves the maps onto the digit: ASGT's interpretability claim has
#   to beat that baseline, under a fill no regime trained on.
# - It costs an attack, a saliency pass and three forward passes per step.
