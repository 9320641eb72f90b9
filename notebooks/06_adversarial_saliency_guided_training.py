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
import subprocess
import sys

if "google.colab" in sys.modules:
    subprocess.run([sys.executable, "-m", "pip", "install", "-q",
                    "sgt-course[course] @ git+https://github.com/sgt-course/sgt-course"], check=True)
    from google.colab import output

    output.enable_custom_widget_manager()

# %% [markdown]
# # 6 · Adversarial saliency-guided training (Algorithm 2)
#
# Notebook 5 showed that SGT alone does not make a model robust; adversarial training (Madry et al.)
# does, but its saliency maps are not what SGT's are. Guesmi, Aswani & Shafique (2024) combine the
# two: train on adversarial examples *and* require the prediction to survive masking of the
# adversarial example's least salient features.
#
# **Learning goals**
# 1. Read Algorithm 2 and say what each of its three terms is for.
# 2. Train four regimes with one recipe — standard, SGT, PGD adversarial training, ASGT — and
#    compare robustness under FGSM, PGD and MI-FGSM.
# 3. Compare their saliency maps and removal curves, under the noise SGT and ASGT train on and under fair fills.
# 4. Weigh the result against the cost, and against what the paper reports.

# %%
import torch

from sgt_course import runtime
from sgt_course.experiments import image_data, image_model
from sgt_course.training import evaluate

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
# formed **before** masking. Li et al. (2022, "SGA") mask first and attack after; section 5 compares.
#
# ## 2 · Four regimes, one recipe
#
# All four train on the same data for the same epochs with the same optimizer; the adversarial
# regimes use PGD at the paper's MNIST radius, ε = 0.2, which is also the headline ε of the evaluation
# below — on real MNIST digits in every profile (MNIST-5k when there is no network). The attack inside
# training takes `profile.robust_steps` steps: 10, or 5 in the `ci` profile to fit its time budget;
# every evaluation attacks with 10.

# %%
from sgt_course.experiments import robust_models
from sgt_course.recipes import TRAINING_EPS, robust_profile, robust_regimes

EPS_TRAIN = TRAINING_EPS[train.source]  # 0.2 on MNIST and MNIST-5k
HEADLINE_EPS = EPS_TRAIN
robust = robust_profile(profile)  # the profile's robust_epochs at lr 1e-3: PGD training at 3e-3 collapsed
data = train.head(profile.n_robust)
regimes = robust_regimes(EPS_TRAIN, steps=profile.robust_steps)
for name, (regime, settings) in regimes.items():
    print(f"{name:>9}: regime {regime!r}, settings {settings}")
models, histories = robust_models(profile, train, test)
for name, model in models.items():
    print(f"{name:>9}: clean test accuracy {evaluate(model, test):.1%}, "
          f"{sum(histories[name].seconds) / histories[name].epochs:.1f} s per epoch")

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
pgd_headline = {name: curve.at(HEADLINE_EPS) for name, curve in robustness["PGD"].items()}
print("PGD-10 at the headline ε:", {k: f"{v:.1%}" for k, v in pgd_headline.items()})

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
worst = {name: audit.worst_case for name, audit in audits.items()}

# %%
# Asserted on every run: no regime masks its gradients (Square and the transfer attack fool almost nothing
# the white-box attacks left, and ε = 1 fools almost everything).
for name, audit in audits.items():
    assert not audit.masking_suspected, (name, audit.checks)
# The paper's claim on robustness (MNIST, PGD at ε = 0.2, quoted): ASGT about 35 points above the standard
# model. Asserted on the worst case: ASGT keeps at least 10 points more than the better of standard and SGT.
display(Markdown(
    f"Worst case at ε = {HEADLINE_EPS:g}: ASGT **{worst['ASGT']:.1%}**, PGD-AT **{worst['PGD-AT']:.1%}**, "
    f"SGT {worst['SGT']:.1%}, standard {worst['standard']:.1%} (PGD-10 said "
    + ", ".join(f"{name} {audit.accuracy('PGD-10'):.1%}" for name, audit in audits.items())
    + f"). ASGT minus standard: {100 * (worst['ASGT'] - worst['standard']):+.1f} points (the paper, quoted: about "
    f"+35 points under PGD); ASGT minus PGD-AT: {100 * (worst['ASGT'] - worst['PGD-AT']):+.1f} points."))
assert worst["ASGT"] > max(worst["standard"], worst["SGT"]) + 0.10, worst

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
              captions=[f"class {int(c)}" for c in ys], title="gradient maps of the four regimes");
removal = {name: removal_curve(model, xa, ya, "gradient", generator=torch.Generator().manual_seed(0))
           for name, model in models.items()}
plot_removal_curves(removal, title="gradient-ranked removal");
for name, curve in removal.items():
    print(f"{name:>9}: removal-curve area {curve.area():.3f}, accuracy with 50% removed {curve.at(0.5):.1%}")

# %% [markdown]
# **Is that fair?** The curve above fills removed pixels with $\mathcal U(\min X, \max X)$, which SGT
# and ASGT train on and the standard and PGD-AT models never saw. Notebook 2 (section 5) showed how
# much that favours the saliency-guided models; here is the same study for the four regimes: fills
# neither model trained on, both orders (ROAD's gap, area(LeRF) − area(MoRF): larger is more
# faithful), the random-ranking control, and the profile's seeds (`profile.robust_seeds`: one in the
# `ci` profile, where every further seed costs four more training runs; three in `cpu` and `gpu`).

# %%
from IPython.display import Markdown, display

from sgt_course.plots import gap_bars, removal_study_panels
from sgt_course.removal import removal_study
from sgt_course.stats import spread

seed_models = {seed: robust_models(profile, train, test, seed=seed)[0] for seed in profile.robust_seeds}
study = removal_study(seed_models, xa, ya, "gradient")
removal_study_panels(study);
gap_bars(study);
display(Markdown(study.table()))

# %%
# What the measurements support, asserted with half the smallest margin measured on MNIST-5k over
# seeds 0-2 in both profiles (`sgt-course claims`; RESULTS.md has every figure):
lead = {fill: study.lead("ASGT", "PGD-AT", fill) for fill in study.fills}
random_difference = {fill: study.random_difference("ASGT", "PGD-AT", fill) for fill in ("uniform", "linear")}
for fill in study.fills:
    print(f"{fill:>8} fill: ROAD gap " + ", ".join(f"{m} {spread(study.gap(m, fill))}" for m in study.models)
          + f"; ASGT's lead over PGD-AT {spread(lead[fill])} points")
# 1. The control: the uniform fill is familiar to ASGT, not to PGD-AT. Random ranking, 50 % removed,
#    ASGT minus PGD-AT: uniform +22 to +31 points; linear +1 to +6.
assert all(d > 0.11 for d in random_difference["uniform"]), random_difference
assert all(abs(d) < 0.10 for d in random_difference["linear"]), random_difference
# 2. Under ROAD's fill all four regimes' gradient rankings are faithful: gaps of 42 to 65 points.
assert all(g > 0.21 for m in study.models for g in study.gap(m, "linear")), {m: study.gap(m, "linear") for m in study.models}
# 3. ASGT's lead over PGD-AT shrinks from the uniform to the linear fill on every seed, by 18 to 33 points.
assert all(u - f > 0.09 for u, f in zip(lead["uniform"], lead["linear"])), lead
# Not asserted, because the two models disagree: ASGT's lead over PGD-AT under the linear fill was
# +4 to +5 points with the small CNN (ci) and -5 to -1 with the authors' CNN (cpu).

# %% [markdown]
# The same seeds' models under PGD at the headline ε (attacked at that ε only, so seed 0 can differ from
# section 3's curve by a point or two), each "mean (min–max)" over `profile.robust_seeds`:

# %%
headline_by_seed = {name: [robust_accuracy(by_name[name], xa, ya, "pgd", (HEADLINE_EPS,),
                                           generator=torch.Generator().manual_seed(seed)).accuracy[0]
                           for seed, by_name in seed_models.items()] for name in study.models}
clean_by_seed = {name: [evaluate(by_name[name], test) for by_name in seed_models.values()] for name in study.models}
for name in study.models:
    print(f"{name:<9} clean {spread(clean_by_seed[name]):<20} PGD at ε = {HEADLINE_EPS:g}: {spread(headline_by_seed[name])}")


# %% [markdown]
# ## 5 · Attack first, or mask first?
#
# Algorithm 2 attacks the clean input and masks the adversarial example by its own saliency. Li et
# al.'s SGA masks the clean input first and attacks the masked input. Same budget, other order:

# %%
sga, _ = image_model(robust, "asgt", data, test, order="mask_then_attack", **regimes["ASGT"][1])
sga_pgd = robust_accuracy(sga, xa, ya, "pgd", (HEADLINE_EPS,), generator=torch.Generator().manual_seed(0)).accuracy[0]
sga_removal = removal_curve(sga, xa, ya, "gradient", generator=torch.Generator().manual_seed(0))
print(f"attack then mask (ASGT): clean {evaluate(models['ASGT'], test):.1%}, PGD {pgd_headline['ASGT']:.1%}, "
      f"removal area {removal['ASGT'].area():.3f}")
print(f"mask then attack (SGA) : clean {evaluate(sga, test):.1%}, PGD {sga_pgd:.1%}, removal area {sga_removal.area():.3f}")

# %% [markdown]
# ## 6 · Summary of the four regimes
#
# Removal-curve area is the mean accuracy over the removal fractions of section 4's curve (the
# uniform fill SGT and ASGT train on, seed 0): *lower* means the gradient map ranked the decisive pixels first. That
# fill favours SGT and ASGT (section 4); ROAD's gaps above are the fair comparison.

# %%
from sgt_course.experiments import regime_summary
from sgt_course.plots import summary_bars

summary = regime_summary(models, histories, test, robustness["PGD"], removal, HEADLINE_EPS)
summary_bars(summary, title="standard, SGT, adversarial training and ASGT");
for name, row in summary.items():
    print(f"{name:<9} " + ", ".join(f"{metric} {value:.3f}" for metric, value in row.items()))

# %% [markdown]
# **What reproduced, and what did not.** Read the table above (your run prints its own numbers); the
# figures below are real MNIST digits (MNIST-5k), the worst case of the robustness audit at the paper's
# ε = 0.2, three seeds per profile (`sgt-course claims`; benchmarks/RESULTS.md).
#
# - *Robustness.* On the worst case ASGT was far more robust than the standard and SGT models on every
#   seed of both profiles (the paper, quoted: about +35 points over standard under PGD); the cells above
#   render this run's difference and assert it. No regime showed gradient masking on any seed.
# - *Against PGD adversarial training.* With the same budget neither won everywhere: on the worst case
#   ASGT was ahead of PGD-AT on every seed with the authors' CNN, on one of three with the small CNN.
#   We do not assert a winner. ASGT kept more clean accuracy with the small CNN (88-90 % against PGD-AT's
#   83 %) and about as much with the authors' CNN (95-96 % against 94-95 %). Trained from scratch at
#   ε = 0.2, PGD-AT is the fragile one: the small CNN at width 16 stalled at chance in our trial.
# - *Interpretability.* Under a removal test filled with uniform noise (gradient ranking) ASGT looked
#   far more faithful than PGD-AT: its lead in ROAD's gap was 25 to 37 points with the small CNN and
#   17 to 24 with the authors' CNN. That fill is ASGT's own training noise. Under ROAD's linear fill,
#   which no regime trained on, the lead was +4 to +5 points with the small CNN and −5 to −1 with the
#   authors' CNN, and all four regimes' gradient maps passed the fair test (gaps of 42 to 65 points).
#   So ASGT's interpretability claim, measured fairly, did not hold up beyond a few points, and
#   not in both models.
# - *Attack first or mask first.* SGA (mask, then attack) was less robust than ASGT on every run
#   (ci 16-23 % against 35-45 %, cpu 60-70 % against 70-75 %) and lost more clean accuracy.
# - *Cost.* Each ASGT step runs the attack, a saliency pass and three forward passes: compare the
#   seconds per epoch above (`sgt-course step-cost` measures the step ratio against PGD-AT).
#
# ## 7 · CIFAR-10 with the compact ResNet (gpu profile)
#
# The paper's second headline: CIFAR-10, where it reports +20 points for ASGT under PGD at
# ε = 0.02. In the `gpu` profile this cell trains the four regimes with the same recipe on
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
    summary_bars(cifar_summary, title=f"{cifar_train.source}: the four regimes");
    for name, row in cifar_summary.items():
        print(f"{name:<9} " + ", ".join(f"{metric} {value:.3f}" for metric, value in row.items()))
else:
    print(f"The CIFAR-10 part runs in the gpu profile (this run: {profile.name!r}). On a GPU: "
          "SGT_COURSE_PROFILE=gpu, or `python3 course.py reproduce --datasets cifar10` for the full runs.")

# %% [markdown]
# ## 8 · Explore
#
# The ε of the attack at test time, for all four models:

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
# - Trained with the same recipe on real MNIST digits, ASGT resisted PGD at ε = 0.2 (35-75 %) where the
#   standard and SGT models fell to 2-31 %; against PGD adversarial training it was on par (ahead with
#   one model, behind with the other, by a few points) and kept as much or more clean accuracy.
# - It costs an attack, a saliency pass and three forward passes per step.
