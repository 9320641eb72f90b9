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
# # 2 · Saliency-guided training (Algorithm 1)
#
# Gradient saliency maps of ordinary networks are noisy: they light up pixels the model does not
# really need. Ismail, Corrada Bravo & Feizi (NeurIPS 2021) propose to fix this *during training*:
# hide the features the model currently finds least important and require its prediction not to
# change. A model trained this way can only rely on the features its saliency ranks high, so its
# saliency should point at what matters.
#
# **Learning goals**
# 1. Read Algorithm 1 line by line and find each line in the library.
# 2. Train a standard and an SGT model and compare their accuracy.
# 3. Reproduce the paper's Fig. 2 (maps) and Fig. 3 (accuracy as salient features are removed) and
#    check the claim with numbers.
# 4. Test the claim fairly: other fills, both removal orders, a control, several seeds.
# 5. See what k and λ do, and what SGT costs.

# %%
import torch

from sgt_course import runtime
from sgt_course.experiments import image_data, image_model
from sgt_course.recipes import PAPER_SGT
from sgt_course.stats import accuracy, paired_difference
from sgt_course.training import correct

profile, device = runtime.start(seed=0)  # run profile, device, seeds, and one line saying so
train, test = image_data(profile, device)
K, LAM = PAPER_SGT.k, PAPER_SGT.lam  # the paper's MNIST settings: mask half the pixels, λ = 1

# %% [markdown]
# ## 1 · Algorithm 1, line by line
#
# For each minibatch $(X, y)$:
#
# | line | Algorithm 1 | library |
# |---|---|---|
# | 1 | $I = S\big(\nabla_X f(X)\big)$, $S$ the sort; the course sorts the magnitude $\lvert\partial f(X)_y/\partial X\rvert$ | `saliency.gradient(model, x, y)` (in eval mode) |
# | 2 | $\tilde X = M_k(I, X)$: replace the $k$ lowest-saliency features by $\mathcal U(\min X, \max X)$ | `masking.mask_bottom_k(x, s, k)` |
# | 3 | $L = \mathrm{CE}\big(f(X), y\big) + \lambda\,\mathrm{KL}\big(\operatorname{softmax} f(X)\,\big\|\,\operatorname{softmax} f(\tilde X)\big)$ | `losses.sgt_loss(model, x, y, k, lam)` |
# | 4 | a gradient step on $L$ | `training.fit(model, data, sgt_loss)` |
#
# Two details matter. The saliency in line 1 is taken **in eval mode** (dropout off), as in the
# authors' code — `sgt_loss(..., reuse_forward=True)` flips this: it takes the gradient from the
# training forward pass itself (dropout on) and saves one forward pass. And the clean output $f(X)$
# inside the KL term is **not detached**: both outputs are pulled towards each other.
#
# Here is one masked batch:

# %%
from sgt_course.masking import mask_bottom_k
from sgt_course.plots import show_images
from sgt_course.saliency import gradient, per_pixel

standard, standard_history = image_model(profile, "standard", train, test)  # cached since notebook 0
x, y = test.x[:6], test.y[:6]
s = per_pixel(gradient(standard, x, y))                                        # line 1
x_masked, mask = mask_bottom_k(x, s, K, generator=torch.Generator().manual_seed(0))  # line 2
show_images(torch.cat([x, s / s.flatten(1).amax(1).view(-1, 1, 1, 1), x_masked]), ncols=6,
            title="X (top), its saliency S(X) (middle), X̃ with the 50% least salient pixels replaced (bottom)");
print(f"masked {mask[0].sum().item()} of {mask[0].numel()} pixels per image")

# %% [markdown]
# ## 2 · Train a standard and an SGT model
#
# Both use the same data, architecture, epochs and seed; only the loss differs. Both are cached, so
# notebooks 5 and 6 reuse them.

# %%
from sgt_course.plots import plot_history

sgt, sgt_history = image_model(profile, "sgt", train, test, k=K, lam=LAM)
clean = {"standard": correct(standard, test), "SGT": correct(sgt, test)}  # per test image: right or wrong
for name, outcomes in clean.items():
    print(f"{name:>8}: test accuracy {accuracy(outcomes)} % (95 % interval over {len(outcomes):,} images)")
print(f"training time: standard {sum(standard_history.seconds):.1f} s, SGT {sum(sgt_history.seconds):.1f} s")
plot_history({"standard": standard_history, "SGT": sgt_history});

# %%
# The paper's first claim: SGT keeps the accuracy of standard training. The difference, paired over the
# same test images, with its 95 % bootstrap interval; section 5 renders what `sgt-course claims` recorded
# over three seeds in both profiles. Asserted: SGT is not lower beyond the interval.
kept = paired_difference(clean["SGT"].float(), clean["standard"].float())
print(f"SGT minus standard: {kept} points")
assert kept.high >= 0, kept

# %% [markdown]
# ## 3 · Saliency maps of both models (the paper's Fig. 2)

# %%
from sgt_course import saliency
from sgt_course.plots import saliency_grid
from sgt_course.removal import FIGURE3_METHODS

xs, ys = test.x[:5], test.y[:5]
maps = {}
for m in FIGURE3_METHODS:
    for name, model in (("standard", standard), ("SGT", sgt)):
        kwargs = {"generator": torch.Generator().manual_seed(0)} if saliency.METHODS[m].random else {}
        maps[f"{saliency.label(m)}\n{name}"] = saliency.attribute(m, model, xs, ys, **kwargs)
saliency_grid(xs, maps, captions=[f"class {int(c)}" for c in ys], title="standard vs SGT");

# %% [markdown]
# ## 4 · Does the map point at what matters? Remove the salient pixels (Fig. 3)
#
# Rank each test image's pixels by a saliency method, remove the top $d\%$, and measure accuracy
# *without retraining*. If the map ranked the decisive pixels first, accuracy falls fast. A random
# ranking is the reference. We compute it as the authors' removal script does
# (`removal.REMOVAL_SETTINGS["authors"]`, from their `Scripts/Helper.py`):
#
# - a removed pixel takes the image's **background** value, its top-left pixel (0 on MNIST digits). Their
#   script reads the fill from an argument its parser does not define; of the fills their code offers,
#   we take this one;
# - Integrated Gradients starts from a **random baseline**, $\mathcal U(0, 1)$ per pixel of the
#   *standardised* input $(x - 0.1307)/0.3081$ that their models read: in pixel units that is
#   $\mathcal U(0.1307, 0.4388)$, a grey haze rather than black;
# - SmoothGrad is Captum's **squared** variant (the mean of squared gradients over 5 noisy copies).

# %%
from sgt_course.plots import figure3_panels
from sgt_course.removal import figure3_curves

xr, yr = test.x[:profile.n_removal], test.y[:profile.n_removal]  # the images pixels are removed from
curves = figure3_curves({"standard": standard, "SGT": sgt}, xr, yr, "authors")
figure3_panels(curves, title="accuracy as the most salient pixels are removed (the authors' settings)");
print(f"% correct with 50 % of the pixels removed, with 95 % intervals over {len(xr)} images:")
for method in curves.methods:
    cells = [f"{name} {curves.curve(name, method).interval(0.5)}" for name in curves.models]
    print(f"  {saliency.label(method):<22}" + ", ".join(cells))
print(f"  {'random ranking':<22}" + ", ".join(f"{name} {curves.random(name).interval(0.5)}" for name in curves.models))

# %%
# The paper's second claim: ranked by their own saliency, the SGT model loses accuracy faster (lower is
# the paper's direction). This run, seed 0, each difference paired over the same images:
for method in curves.methods:
    print(f"{saliency.label(method):<22} SGT minus standard: {curves.difference('SGT', 'standard', method)} points")
ranking_gap = {name: curves.ranking_gap_interval(name) for name in curves.models}
print("random minus gradient ranking: " + ", ".join(f"{name} {gap} points" for name, gap in ranking_gap.items()))
# What held on every seed of both profiles (the recorded verdicts are rendered below), asserted for this
# run: both models' gradient rankings remove more than a random ranking. The paper's claim itself is not
# asserted: its verdict differs between the two CNNs.
assert all(gap.low > 0 for gap in ranking_gap.values()), ranking_gap

# %% [markdown]
# **Does departing from the authors' settings change the result?** Earlier versions of this course
# filled removed pixels with $\mathcal U(\min X, \max X)$ noise, the very perturbation SGT trains on
# (line 2 of Algorithm 1), started Integrated Gradients from a black image and used the plain SmoothGrad
# (`REMOVAL_SETTINGS["course"]`). The same models, the same images, the course's settings:

# %%
from IPython.display import Markdown, display

from sgt_course.tables import markdown_table

course_curves = figure3_curves({"standard": standard, "SGT": sgt}, xr, yr, "course")
both = (curves, course_curves)
rows = [[saliency.label(method), *(str(c.curve(name, method).interval(0.5)) for c in both for name in c.models)]
        for method in curves.methods]
rows.append(["random ranking", *(str(c.random(name).interval(0.5)) for c in both for name in c.models)])
header = ["% at 50 % removed [95 % interval]", "authors: standard", "authors: SGT", "course: standard", "course: SGT"]
display(Markdown(markdown_table(header, rows)))

# %%
course_random = course_curves.difference("SGT", "standard", "random")
course_lead = course_curves.ranking_gap_difference("SGT", "standard")
print(f"course's settings, 50 % removed, paired over the same images: random ranking, SGT minus standard "
      f"{course_random} points; random minus gradient ranking, SGT minus standard {course_lead} points")
# What held on every seed of both profiles, asserted for this run: under the uniform fill random removal
# hurts SGT less than the standard model, and only there does SGT's ranking remove more beyond a random one.
assert course_random.low > 0, course_random
assert course_lead.low > 0, course_lead

# %% [markdown]
# What `sgt-course claims` recorded for this section over three seeds, with the small CNN (`ci`) and the
# authors' CNN (`cpu`) on MNIST-5k. Each difference is paired over the same images; a verdict holds only
# where every seed's 95 % interval excludes 0 in every profile, *no difference* only where every one
# contains 0:

# %%
from sgt_course.recorded import across, recorded_profiles

records = recorded_profiles(("ci", "cpu"))  # benchmarks/claims-<profile>.json
if records:
    at_half = "2 · accuracy with 50% removed, {} settings, {}, SGT minus standard"
    findings = {f"{whose} settings, {ranking}: SGT − standard (the paper's claim: lower)": at_half.format(
                    whose, ranking) for whose in ("the authors'", "the course's")
                for ranking in ("Gradient ranking", "Integrated Gradients ranking", "SmoothGrad ranking")}
    for whose in ("the authors'", "the course's"):
        findings[f"{whose} settings, random ranking: SGT − standard (the fill's familiarity)"] = at_half.format(
            whose, "random ranking")
        findings[f"{whose} settings, random minus gradient ranking: SGT − standard"] = at_half.format(
            whose, "random minus gradient ranking")
    display(Markdown("\n".join(f"- {what}: **{result}** ({ranges})." for what, (result, ranges) in
                               ((what, across(records, quantity)) for what, quantity in findings.items()))
                     + "\n\nRecorded by " + "; ".join(r.source() for r in records.values()) + "."))

# %%
from sgt_course.stats import interval_verdict

if records:
    def verdicts(quantity):  # the verdict per profile, e.g. "lower with ci, undecided with cpu"
        return ", ".join(f"**{interval_verdict(r.intervals(quantity))}** with {name}" for name, r in records.items())

    at_half = "2 · accuracy with 50% removed, {} settings, {} ranking, SGT minus standard"
    authors, course = "the authors'", "the course's"
    claim = {whose: verdicts(at_half.format(whose, "Gradient")) for whose in (authors, course)}
    familiar = {whose: verdicts(at_half.format(whose, "random")) for whose in (authors, course)}
    display(Markdown(
        "**Reading the curves.** The paper's claim (SGT minus standard at 50 % removed, gradient ranking: "
        f"*lower*) was, with the authors' settings, {claim[authors]}; with the course's settings, {claim[course]}. "
        "The random ranking, which ranks nothing, shows why the settings matter: SGT minus standard under it "
        f"was {familiar[authors]} with the authors' background fill, and {familiar[course]} with the course's "
        "U(min, max) noise, the very perturbation SGT trains on."))

# %% [markdown]
# So a removal curve mixes two things: whether the ranking found the decisive pixels, and whether the
# model tolerates the fill at all. Under the noise SGT trains on, the standard model loses its accuracy
# whichever pixels go, and the SGT model keeps it. The next section separates the two.
#
# ## 5 · Is the removal curve fair?
#
# A test that removes pixels *without retraining* cannot tell "the model needed these pixels" from
# "the model never saw inputs like this" (Hooker et al., NeurIPS 2019), and a fill that one of the two
# models trained on, like the $\mathcal U(\min X, \max X)$ noise of line 2 of Algorithm 1, favours that
# model by construction. One fill and one ranking per model, as in the paper's figure, cannot show
# whether a fill is fair. A fair test changes four things:
#
# 1. **Fills neither model trained on**: `"zero"` (on MNIST the same as the authors' background fill),
#    each image's `"mean"`, and ROAD's noisy `"linear"` imputation (Rong et al., ICML 2022: each removed pixel becomes the weighted mean of its 8
#    neighbours, so the hole looks like its surroundings and does not outline its own shape).
# 2. **Both orders**: most relevant first (MoRF, should fall fast) and least relevant first (LeRF,
#    should stay high), as ROAD does (its reference code reports each order's curve). The course sums
#    the two up in one number of its own, the **gap** area(LeRF) − area(MoRF) ("ROAD gap" below: the
#    gap under ROAD's orders): about 0 for a random ranking, larger for a more faithful one.
# 3. **A control for every fill**: the random ranking. Where a fill is equally familiar to both
#    models, their random-ranking curves agree.
# 4. **Several seeds**: the models for each of the profile's seeds, with the spread.
# 5. **A control for the training noise**: *random-mask SGT* keeps SGT's objective, fill, k and λ but
#    masks a random k % of the pixels (`sgt_loss(..., saliency="random")`). If it does as well as SGT,
#    SGT's gains come from training on noise-filled inputs, not from *which* pixels its saliency masks.
#
# The standard and SGT models of seed 0 are the ones above; the others are trained here (and cached).

# %%
from sgt_course.experiments import NOISE_CONTROL, sgt_study_models
from sgt_course.plots import gap_bars, removal_study_panels
from sgt_course.removal import removal_study
from sgt_course.stats import interval_spread

seed_models = {seed: sgt_study_models(profile, train, test, seed=seed) for seed in profile.seeds}
study = removal_study(seed_models, xr, yr, "gradient")
removal_study_panels(study);
gap_bars(study);
display(Markdown(study.table()))
print("clean accuracy over the seeds: " + ", ".join(
    f"{name} {interval_spread([accuracy(correct(by_name[name], test)) for by_name in seed_models.values()])} %"
    for name in study.models))

# %% [markdown]
# Read the two figures fill by fill. Under the uniform fill, the dashed random-ranking curves of the
# two models lie far apart: the fill itself, not the ranking, decides most of the standard model's
# curve, and its LeRF curve falls as fast as its MoRF curve. Under the other fills the random-ranking
# curves of both models come together, both models' LeRF curves stay high, and both MoRF curves fall
# fast: **both** models' gradient maps rank the pixels they need first.

# %%
# What the measurements support. The rule (`stats.interval_verdict`): a difference between two models holds
# only when its 95 % interval, paired over the same images, excludes 0 on every seed; "no difference" only
# when every seed's interval contains 0; otherwise "undecided". Asserted: what held on every seed of both
# profiles (`sgt-course claims`; the recorded verdicts are rendered at the end of this section).
from sgt_course.stats import judged

random_difference = {fill: study.random_difference_intervals("SGT", "standard", fill) for fill in study.fills}
for fill in study.fills:
    print(f"{fill:>8} fill: ROAD gap standard {interval_spread(study.gap_intervals('standard', fill))}, "
          f"SGT {interval_spread(study.gap_intervals('SGT', fill))}; "
          f"SGT − standard {judged(study.lead_intervals('SGT', 'standard', fill))}")
shrinks = study.lead_change_intervals("SGT", "standard", "uniform", "linear")
print(f"SGT's lead, uniform minus linear fill: {judged(shrinks)}")
# 1. The control: the uniform fill is familiar to SGT only (random ranking, half the pixels removed).
assert interval_verdict(random_difference["uniform"]) == "higher", random_difference
assert interval_verdict(random_difference["linear"]) == "no difference", random_difference
# 2. Under ROAD's fill both models' gradient rankings are faithful: each gap lies above 0, a random ranking's.
assert all(i.low > 0 for m in study.models for i in study.gap_intervals(m, "linear")), study.table()
# 3. SGT's lead is larger under the uniform fill, SGT's own training noise, than under ROAD's.
assert interval_verdict(shrinks) == "higher", shrinks

# %% [markdown]
# **Guidance or noise?** Three comparisons separate the two explanations, each per seed and under each
# fill: SGT against the standard model (the paper's comparison), random-mask SGT against the standard
# model (what training on noise-filled inputs alone does), and SGT against random-mask SGT (what the
# guidance adds). Each cell: the difference's mean (min–max) over seeds, ± the seeds' mean 95 % half-width,
# and the verdict by the rule above.

# %%
from sgt_course.tables import markdown_table

pairs = [("SGT", "standard"), (NOISE_CONTROL, "standard"), ("SGT", NOISE_CONTROL)]
control = {(a, b, fill): study.lead_intervals(a, b, fill) for a, b in pairs for fill in study.fills}
random_control = {fill: study.random_difference_intervals("SGT", NOISE_CONTROL, fill) for fill in study.fills}
display(Markdown(markdown_table(
    ["fill", *(f"{a} − {b}: ROAD gap" for a, b in pairs), "SGT − random-mask SGT: random ranking at 50 %"],
    [[fill, *(judged(control[a, b, fill]) for a, b in pairs), judged(random_control[fill])]
     for fill in study.fills])))
guidance = {fill: interval_verdict(control["SGT", NOISE_CONTROL, fill]) for fill in study.fills}
compared = {"higher": "larger than", "lower": "smaller than", "no difference": "the same as",
            "undecided": "not told apart from"}
display(Markdown(
    f"SGT's gap was **{compared[guidance['uniform']]}** random-mask SGT's under the uniform fill and "
    f"**{compared[guidance['linear']]}** it under ROAD's linear fill. " + {
        "higher": "The guidance adds faithfulness beyond the noise augmentation under the fair fill.",
        "lower": "Under the fair fill the noise augmentation alone does better than the guidance.",
        "no difference": "Under the fair fill the guidance adds nothing the noise augmentation does not.",
        "undecided": "Under the fair fill the seeds do not settle whether the guidance adds anything."
    }[guidance["linear"]]))
# What held on every seed of both profiles (benchmarks/claims-ci.json and claims-cpu.json), asserted; the
# rest is rendered above, not asserted:
# 1. Under the uniform fill SGT's ranking opens a larger gap than random-mask SGT's: there, the guidance shapes
#    what the model relies on ...
assert guidance["uniform"] == "higher", control
# 2. ... although random-mask SGT tolerates that fill better (the random-ranking control) ...
assert interval_verdict(random_control["uniform"]) == "lower", random_control
# 3. ... and under ROAD's linear fill SGT's gap exceeds its noise control's on no seed.
assert not any(i.low > 0 for i in control["SGT", NOISE_CONTROL, "linear"]), control

# %% [markdown]
# **What the course concludes**, from what `sgt-course claims` recorded over three seeds with the small
# CNN (`ci`) and the authors' CNN (`cpu`) on MNIST-5k (your run prints its own numbers above). A verdict
# holds only where every seed of every profile agrees by the rule above:

# %%
if records:
    lead = "2 · {}'s ROAD-gap lead over {}, {} fill"
    findings = {f"{a} − {b}, ROAD gap, {fill} fill": lead.format(a, b, fill)
                for fill in ("uniform", "linear") for a, b in pairs}
    findings["SGT − standard, ROAD gap, uniform minus linear fill"] = (
        "2 · SGT's ROAD-gap lead over standard, uniform minus linear fill")
    for fill in ("uniform", "linear"):
        findings[f"SGT − standard, random ranking at 50 %, {fill} fill"] = (
            f"2 · random ranking at 50%, SGT minus standard, {fill} fill")
        findings[f"SGT − random-mask SGT, random ranking at 50 %, {fill} fill"] = (
            f"2 · random ranking at 50%, SGT minus {NOISE_CONTROL}, {fill} fill")
    findings["Clean accuracy, SGT − standard (the paper's first claim: no loss)"] = (
        "0/2 · clean accuracy, SGT minus standard")
    findings["Clean accuracy, random-mask SGT − standard"] = f"0/2 · clean accuracy, {NOISE_CONTROL} minus standard"
    display(Markdown("\n".join(f"- {what}: **{result}** ({ranges})." for what, (result, ranges) in
                               ((what, across(records, quantity)) for what, quantity in findings.items()))
                     + "\n\nRecorded by " + "; ".join(r.source() for r in records.values()) + "."))

# %% [markdown]
# Read them in order. Under the uniform fill SGT trains on, its maps look far more faithful than the
# standard model's. Most of the standard model's collapse under that fill is unfamiliar noise: in the
# random-ranking control the noise-trained control tolerates the fill as well as SGT or better. Yet
# SGT's ranking opens a larger gap than the control's there: under its own fill, the guidance does shape
# what the model relies on. Under ROAD's linear fill, which no model trained on, SGT's gap exceeded the
# control's on no seed of either CNN (with the authors' CNN the control's was the larger on some seeds), and
# SGT's lead over the standard model is *undecided*: the seeds and the two CNNs disagree on its sign. So
# the course concludes that, measured fairly, SGT's gain in faithfulness over the standard model is not
# established, and that what the guidance adds beyond training on noise-filled inputs does not show.
#
# **Remove and retrain (ROAR).** A second way out of the confound is to retrain: remove the top $d\%$
# of every training *and* test image, train a fresh model on what is left, and test it. The fill is then
# part of its training data, and lower accuracy means the ranking removed more of what the task
# needs. It costs one training run per ranking and fraction, so it runs in the `cpu` and `gpu` profiles.

# %%
from sgt_course.experiments import roar_accuracy

rankers = {"standard": standard, "SGT": sgt, "random": None}  # gradient rankings; None: a random one
roar = {fraction: roar_accuracy(profile, rankers, train, test, fraction) for fraction in profile.roar_fractions}
for fraction, by_ranker in roar.items():
    print(f"{fraction:.0%} removed, retrained and tested (% with 95 % intervals over {len(test):,} images): "
          + ", ".join(f"{k} {v}" for k, v in by_ranker.items()))
if not roar:
    print(f"ROAR retrains one model per ranking and fraction: skipped in the {profile.name!r} profile "
          f"(SGT_COURSE_PROFILE=cpu or gpu runs it)")
# Both gradient rankings removed more of what the task needs than a random ranking: asserted where their
# intervals do not overlap. Which of the two removed more is read above, not asserted: with seed 0 it
# depended on the model, as in the study above.
if 0.5 in roar:
    assert max(roar[0.5]["standard"].high, roar[0.5]["SGT"].high) < roar[0.5]["random"].low, roar

# %% [markdown]
# ## 6 · Eval-mode or train-mode saliency?
#
# The authors take the saliency in eval mode; taking it from the training forward pass instead
# saves one forward pass per step. Does it change the result?

# %%
from sgt_course.losses import sgt_loss
from sgt_course.models import mode_dependent_layers
from sgt_course.removal import removal_curve

mode_dependent = mode_dependent_layers(sgt)
print(f"layers that behave differently in train mode: {mode_dependent or 'none'}")
if mode_dependent:
    reused, _ = image_model(profile, "sgt", train, test, k=K, lam=LAM, reuse_forward=True)
    reused_curve = removal_curve(reused, xr, yr, "gradient", generator=torch.Generator().manual_seed(0))
    for label, model, curve in (("eval-mode saliency", sgt, course_curves.curve("SGT")),
                                ("train-mode, reused", reused, reused_curve)):
        print(f"{label:<20}: accuracy {accuracy(correct(model, test))} %, "
              f"50% gradient removal (uniform fill) {curve.interval(0.5)} %")
else:  # one computation either way: show it on a batch instead of training the same model twice
    sgt.train()
    both = [sgt_loss(sgt, test.x[:64], test.y[:64], K, LAM, reuse_forward=reuse,
                     generator=torch.Generator().manual_seed(0)).item() for reuse in (False, True)]
    sgt.eval()
    print(f"SGT loss on one batch: eval-mode saliency {both[0]:.6f}, train-mode (reused) {both[1]:.6f}; "
          "training with either gives the same model, so it is not trained twice")

# %% [markdown]
# When the model has no dropout or batch norm (the small CNN of the `ci` profile), train and eval
# mode compute the same function: both ways give the same loss, so training would end identical. With the
# authors' MNIST CNN (dropout .25 and .5, the `cpu` and `gpu` profiles), the train-mode saliency is
# that of a randomly thinned network, and the results differ.
#
# ## 7 · The authors' ranking: signed gradients
#
# Line 1 of Algorithm 1 sorts $S(X) = \lvert\partial f(X)_y/\partial X\rvert$, and so does this course. The
# authors' code sorts the *signed* gradient by default (its `--abs` flag is off): the "least salient"
# half it masks is then the half whose increase would lower the class score most, not the half the
# score is least sensitive to. `sgt_loss(..., signed=True)` trains their way. Does it change the result?
# Both models are evaluated the same way (ranked by $\lvert\nabla\rvert$, seed 0):

# %%
signed_sgt, _ = image_model(profile, "sgt", train, test, k=K, lam=LAM, signed=True)
signed_study = removal_study({0: {"SGT": sgt, "signed SGT": signed_sgt}}, xr, yr, "gradient", ("uniform", "linear"),
                             progress=False)
signed_clean = {"SGT": clean["SGT"], "signed SGT": correct(signed_sgt, test)}
rows = [[name, f"{accuracy(signed_clean[name])}", f"{signed_study.curve(0, name, 'uniform').interval(0.5)}",
         f"{signed_study.gap_intervals(name, 'uniform')[0]}", f"{signed_study.gap_intervals(name, 'linear')[0]}"]
        for name in signed_study.models]
display(Markdown(markdown_table(["%, with 95 % intervals", "accuracy", "50% removed, uniform", "ROAD gap, uniform",
                                 "ROAD gap, linear"], rows)))
signed_half = paired_difference(*(signed_study.curve(0, name, "uniform").outcomes(0.5).float()
                                  for name in ("signed SGT", "SGT")))
print(f"signed SGT minus SGT, paired over the same images: 50 % removed under the uniform fill {signed_half} points; "
      + "; ".join(f"ROAD gap, {fill} fill {signed_study.lead_intervals('signed SGT', 'SGT', fill)[0]} points"
                  for fill in signed_study.fills))
# With half the pixels removed under the uniform fill, the signed model kept more on every seed of both
# profiles (section 5's recorded verdicts below); asserted for this run.
assert signed_half.low > 0, signed_half

# %%
if records:
    signed = {"clean accuracy": "2 · clean accuracy, signed SGT minus SGT",
              "50 % removed, uniform fill": "2 · gradient ranking at 50%, uniform fill, signed SGT minus SGT",
              **{f"ROAD gap, {fill} fill": f"2 · signed SGT's ROAD-gap lead over SGT, {fill} fill"
                 for fill in ("uniform", "linear")}}
    display(Markdown("Signed SGT − SGT, recorded over three seeds:\n\n" + "\n".join(
        f"- {what}: **{result}** ({ranges})." for what, (result, ranges) in
        ((what, across(records, quantity)) for what, quantity in signed.items()))))

# %% [markdown]
# **It moves the paper's measure, not the fair one.** Read the verdicts above. Under the uniform fill the
# signed model's removal curve falls more slowly: the uniform-fill removal test turns against the authors'
# own choice. Under ROAD's linear fill, the fair one, compare the two gaps' verdict. The paper's
# Algorithm 1 writes S(∇_X f(X)) with S a sort and says nothing of a magnitude; the authors' code sorts the
# signed gradient by default. The course chose |∇|, the usual reading of a gradient map, and keeps the
# signed ranking as the option above.
#
# **Colour images: one score per pixel.** A colour image's map has a value per channel, and M_k masks
# whole pixels, so the channels must be reduced to one score. The course takes $\max_c |s_c|$; the
# authors' code takes $|\frac{1}{C}\sum_c s_c|$, where channels of opposite sign cancel
# (`sgt_loss(..., channels="mean_signed")`, `saliency.per_pixel`). MNIST has one channel, where both are
# $|s|$. With CIFAR-10 (the `gpu` profile) the next cell trains SGT both ways on the compact ResNet.

# %%
from sgt_course.recipes import cifar_profile

if profile.cifar10:
    cifar = cifar_profile(profile)
    cifar_train, cifar_test = image_data(cifar, device)
    xc, yc = cifar_test.x[:profile.n_explain], cifar_test.y[:profile.n_explain]
    by_reduction = {"max": image_model(cifar, "sgt", cifar_train, cifar_test, k=K, lam=LAM)[0],  # notebook 5's
                    "mean_signed": image_model(cifar, "sgt", cifar_train, cifar_test, k=K, lam=LAM,
                                               channels="mean_signed")[0]}
    reduction_curves = figure3_curves(by_reduction, xc, yc, "authors", ("gradient",))
    for how, model in by_reduction.items():
        print(f"SGT, channels={how!r:<14} accuracy {accuracy(correct(model, cifar_test))} %, "
              f"50 % removed (authors' settings, gradient ranking) {reduction_curves.curve(how).interval(0.5)} %")
else:
    print(f"{train.source}: one channel, where the two reductions give the same scores. "
          "The comparison on CIFAR-10 runs in the gpu profile (SGT_COURSE_PROFILE=gpu).")

# %% [markdown]
# ## 8 · What SGT costs
#
# Each SGT step computes a saliency map (a forward and a backward pass) and a second forward pass on
# $\tilde X$: it is "expensive", as the paper says. Measured here, on this machine, with the
# profile's model and batch:

# %%
import copy
from functools import partial

from sgt_course.losses import sgt_loss, standard_loss
from sgt_course.timing import compare, training_step

xb, yb = train.x[:profile.batch_size], train.y[:profile.batch_size]
cost = compare({
    "standard": training_step(copy.deepcopy(standard), standard_loss, xb, yb),
    "SGT": training_step(copy.deepcopy(standard), partial(sgt_loss, k=K, lam=LAM), xb, yb),
    "SGT, reused forward": training_step(copy.deepcopy(standard), partial(sgt_loss, k=K, lam=LAM, reuse_forward=True), xb, yb),
}, repeats=5, device=device)
for name, seconds in cost.items():
    print(f"{name:<20} {1000 * seconds:7.1f} ms per step  ({seconds / cost['standard']:.2f}x standard)")

# %% [markdown]
# ## 9 · Explore k and λ
#
# Move the sliders: an SGT model is retrained on a small subset for each setting (cached, so a
# setting you visited before comes back at once) and its maps and removal curve are drawn next to
# the standard model's. Try k = 0 or λ = 0 (both mean: no saliency guidance), and large λ. The removal
# curves fill with ROAD's linear imputation, the fair fill of section 5; switch the fill to the uniform
# noise SGT trains on and watch the standard model's curve collapse whatever its ranking.

# %%
from sgt_course.widgets import sgt_explorer

quick = train.head(profile.n_quick)
quick_standard, _ = image_model(profile, "standard", quick, test, progress=False)


def train_sgt(k, lam):
    return image_model(profile, "sgt", quick, test, k=k, lam=lam, progress=False)[0]


sgt_explorer(train_sgt, quick_standard, xr[:64], yr[:64], k=K, lam=LAM)

# %% [markdown]
# ## 10 · Exercise: implement $M_k$
#
# Write `my_mask(x, saliency, k)` that returns `(x_masked, mask)`: for each image, replace the
# `round(k * n_pixels)` pixels with the lowest saliency (`saliency` has shape (N, 1, H, W), so all
# channels of a pixel go together) by values drawn uniformly between that image's min and max.
# Hints: `saliency.flatten(1).argsort(1)` sorts each image's pixels; `torch.rand_like` draws the fills.

# %%
import torch

from sgt_course.exercises import check_mask_bottom_k


def my_mask(x, saliency, k):
    ### BEGIN SOLUTION
    n, n_pixels = x.shape[0], saliency[0].numel()
    lowest = saliency.flatten(1).argsort(1)[:, :round(k * n_pixels)]
    pixel_mask = torch.zeros(n, n_pixels, dtype=torch.bool).scatter(1, lowest, True)
    mask = pixel_mask.view(saliency.shape).expand_as(x)
    low = x.flatten(1).amin(1).view(n, 1, 1, 1)
    high = x.flatten(1).amax(1).view(n, 1, 1, 1)
    return torch.where(mask, low + (high - low) * torch.rand_like(x), x), mask
    ### END SOLUTION


assert check_mask_bottom_k(my_mask)

# %% [markdown]
# ## Summary
#
# - SGT adds one term to the loss: the prediction must survive masking of the least salient half of
#   the input. `losses.sgt_loss` is Algorithm 1; `fit` trains it like any other loss.
# - We measured the paper's claims on real MNIST digits, three seeds, two models: SGT kept the
#   accuracy; whether its removal curve falls faster than the standard model's depended on the model.
# - The paper's removal test fills pixels with the noise SGT trains on, so it favours SGT by
#   construction. Under fills neither model trained on, in both orders (ROAD's gap), both models'
#   gradient maps were faithful, and most of SGT's lead went away. The random-mask control separates
#   what the guidance adds from what training on noise-filled inputs does (section 5 gives the verdicts).
# - The price: one SGT step costs the multiple of a standard step printed above.
#
# Next: SGT on **time series**, where the informative features are known exactly.
