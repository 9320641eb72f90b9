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
# # 1 · Saliency maps
#
# A **saliency map** says, for one input and one class, how much each input feature matters to the
# model's score for that class. Saliency-guided training (next notebook) is built on it, so we first
# learn what a map is, four ways to compute one, and — most important — how to tell a good map from a
# bad one *with a number*, not by squinting at pictures.
#
# **Learning goals**
# 1. Write the vanilla gradient map $S(X) = \left|\partial f_\theta(X)_c / \partial X\right|$ and know
#    what Input×Gradient, Integrated Gradients and SmoothGrad change.
# 2. Read signed and absolute maps.
# 3. Measure a map against ground truth (planted patterns) and against a random map.
# 4. Run the sanity check of Adebayo et al. (2018): a map that does not change when the model is
#    randomized does not explain the model.

# %%
import torch

from sgt_course import runtime
from sgt_course.experiments import image_data, image_model
from sgt_course.recipes import PAPER_SGT
from sgt_course.training import evaluate

profile, device = runtime.start(seed=0)  # run profile, device, seeds, and one line saying so

train, test = image_data(profile, device)
model, _ = image_model(profile, "standard", train, test)  # the model of notebook 0, from the cache
print(f"standard {profile.image_model} on {train.source}: test accuracy {evaluate(model, test):.1%}")

# %% [markdown]
# ## 1 · Four ways to compute a map
#
# All four functions share one signature, `method(model, x, target)`, take a batch `x` of shape
# (N, C, H, W) and return a map of the same shape. Let $f(X)_c$ be the model's output (logit) for
# class $c$.
#
# | method | map | library |
# |---|---|---|
# | Gradient (Simonyan et al. 2014) | $\left|\dfrac{\partial f(X)_c}{\partial X}\right|$ | `saliency.gradient` |
# | Input×Gradient (Shrikumar et al. 2016) | $X \odot \dfrac{\partial f(X)_c}{\partial X}$ | `saliency.input_x_gradient` |
# | Integrated Gradients (Sundararajan et al. 2017) | $(X - X')\odot\dfrac1m\sum_{k=1}^{m}\dfrac{\partial f(X' + \tfrac km (X - X'))_c}{\partial X}$ | `saliency.integrated_gradients` |
# | SmoothGrad (Smilkov et al. 2017) | $\dfrac1n\sum_{i=1}^{n}\left|\dfrac{\partial f(X + \varepsilon_i)_c}{\partial X}\right|,\ \varepsilon_i\sim\mathcal N(0, \sigma^2)$ | `saliency.smoothgrad` |
#
# *Intuition.* The gradient asks "if this pixel changed a little, how much would the class score
# move?". Input×Gradient weighs that by the pixel's value, so a black pixel (0) gets no credit.
# Integrated Gradients accumulates the gradient along the straight path from a black baseline $X'$
# to $X$; its attributions add up to $f(X)_c - f(X')_c$. SmoothGrad averages the gradient over noisy
# copies of the input, which removes much of its speckle. The SGT paper uses the plain gradient.

# %%
from sgt_course import saliency
from sgt_course.plots import saliency_grid

METHODS = ["gradient", "input_x_gradient", "integrated_gradients", "smoothgrad"]
x, y = test.x[:5], test.y[:5]
generator = torch.Generator().manual_seed(0)
absolute = {saliency.label(m): saliency.attribute(m, model, x, y, **({"generator": generator} if m == "smoothgrad" else {}))
            for m in METHODS}
saliency_grid(x, absolute, captions=[f"class {int(c)}" for c in y], title="absolute maps (bright = important)");

# %% [markdown]
# The same maps with their **sign**: red pixels raise the class score, blue ones lower it. Gradient
# and SmoothGrad are shown here without the absolute value.

# %%
signed = {
    "Gradient": saliency.gradient(model, x, y, abs=False),
    "Input×Gradient": absolute["Input×Gradient"],
    "Integrated Gradients": absolute["Integrated Gradients"],
    "SmoothGrad": saliency.smoothgrad(model, x, y, abs=False, generator=torch.Generator().manual_seed(0)),
}
saliency_grid(x, signed, signed=True, captions=[f"class {int(c)}" for c in y], title="signed maps");

# %% [markdown]
# Integrated Gradients satisfies *completeness*: its attributions sum to $f(X)_c - f(X')_c$. We can
# check that on our model (the gap shrinks as the number of steps grows):

# %%
with torch.no_grad():
    logit_gap = (model(x) - model(torch.zeros_like(x))).gather(1, y[:, None]).squeeze(1)
for steps in (8, 32, 128):
    total = saliency.integrated_gradients(model, x, y, steps=steps).flatten(1).sum(1)
    print(f"steps={steps:>3}: largest |sum of attributions − logit gap| = {(total - logit_gap).abs().max():.4f} "
          f"(logit gaps are around {logit_gap.abs().mean():.1f})")

# %% [markdown]
# ## 2 · Is the map right? Measure it against ground truth
#
# On real digits nobody knows which pixels *should* matter. So we build data where we do know: each
# image is noise with one 5×5 pattern pasted at a random place, and the pattern alone decides the
# class. A good map puts its 25 highest-scoring pixels inside the pattern's box:
#
# $$\text{precision} = \frac{|\,\text{top-25 pixels of } S(X) \;\cap\; \text{box}\,|}{25}$$
#
# A random map scores $25/784 \approx 0.03$ on average: the floor every method must beat.

# %%
from sgt_course.data import make_planted_patches
from sgt_course.plots import show_images

# The pattern can be anywhere, so we use the small CNN with pooling (it learns "a ring somewhere" in
# seconds), with the same recipe in every profile; only the number of images grows with the profile.
planted_recipe = profile.scaled(image_model="small_cnn", width=16, epochs=4, batch_size=32, lr=3e-3)
planted_train = make_planted_patches(profile.n_planted, seed=0, device=device)
planted_test = make_planted_patches(500, seed=1, device=device)
planted_model, _ = image_model(planted_recipe, "standard", planted_train, planted_test)
planted_accuracy = evaluate(planted_model, planted_test)
print(f"small CNN on planted patterns: test accuracy {planted_accuracy:.1%}")
show_images(planted_test.x[:8], [planted_test.class_names[int(c)] for c in planted_test.y[:8]], title="planted patterns");

# %%
from sgt_course.metrics import mask_precision
from sgt_course.plots import bar_chart

xp, yp, truth = (t[:profile.n_explain] for t in (planted_test.x, planted_test.y, planted_test.mask))
precision = {}
for m in METHODS + ["random"]:
    kwargs = {"generator": torch.Generator().manual_seed(0)} if m in ("smoothgrad", "random") else {}
    maps = saliency.per_pixel(saliency.attribute(m, planted_model, xp, yp, **kwargs))
    precision[m] = mask_precision(maps, truth).mean().item()
    print(f"{saliency.label(m):<22} precision at the patch size: {precision[m]:.3f}")
bar_chart({saliency.label(m): v for m, v in precision.items() if m != "random"}, ylabel="precision at 25 pixels",
          floor=precision["random"], title="how often the top pixels fall inside the planted pattern");

# %%
# The claim: every real method points at the pattern far more often than a random map does.
# (Measured on two seeds: the weakest method reached 0.39 against a random floor of 0.03.)
assert planted_accuracy > 0.95, f"the planted-pattern model should be near perfect; got {planted_accuracy:.1%}"
for m in METHODS:
    assert precision[m] > precision["random"] + 0.15, f"{m} does not beat the random map: {precision}"

# %% [markdown]
# **Look at the numbers.** Input×Gradient and Integrated Gradients score lower than the plain gradient
# here — not because they are worse in general, but because they multiply by the input: the black
# pixels of a pattern are 0, so they receive exactly 0 attribution, although the model needs them
# to tell a ring from a cross. The gradient has no such blind spot. Every measure of "right" carries
# assumptions; ground truth makes them visible.
#
# ## 3 · Sanity check: does the map depend on the model?
#
# Adebayo et al. (2018) proposed a simple test: re-initialize the model's layers one by one from the
# output down ("cascading randomization") and compare each new map with the trained model's map
# (Spearman rank correlation). A map that explains the model must change; an edge detector that
# ignores the model would not.

# %%
from sgt_course.plots import line_chart
from sgt_course.sanity import cascading_randomization

curves = {saliency.label(m): cascading_randomization(model, test.x[:16], test.y[:16], m) for m in METHODS + ["random"]}
layers = [name for name, _ in next(iter(curves.values()))]
line_chart({name: [rho for _, rho in curve] for name, curve in curves.items()}, layers,
           ylabel="Spearman ρ with the trained model's map", xlabel="randomized down to layer",
           title="cascading randomization");

# %% [markdown]
# **A tie that decides ρ.** On MNIST's black background, Input×Gradient and Integrated Gradients are
# exactly 0 for *every* model: they multiply by the input. Most pixels then share one tied rank in both
# maps, and that shared tie alone pulls ρ towards 1. Restricting ρ to the digit's own pixels
# (`spearman(..., where=x > 0)`, `cascading_randomization(..., where=...)`) removes it:

# %%
on_digit = test.x[:16] > 0  # the strokes: the pixels where a map that multiplies by the input can differ
digit_curves = {saliency.label(m): cascading_randomization(model, test.x[:16], test.y[:16], m, where=on_digit)
                for m in METHODS + ["random"]}
line_chart({name: [rho for _, rho in curve] for name, curve in digit_curves.items()}, layers,
           ylabel="Spearman ρ on the digit's pixels", xlabel="randomized down to layer",
           title="cascading randomization, the digit's pixels only");
# per image, ρ once every layer is randomized; its mean is the curves' last point, with a 95 % bootstrap
# interval over the 16 images
from sgt_course.sanity import randomized_correlation
from sgt_course.stats import bootstrap_mean

xs, ys = test.x[:16], test.y[:16]
per_image = {m: randomized_correlation(model, xs, ys, m) for m in METHODS + ["random"]}  # reused below
final = {saliency.label(m): bootstrap_mean(rho) for m, rho in per_image.items()}
digit_final = {saliency.label(m): bootstrap_mean(randomized_correlation(model, xs, ys, m, where=on_digit))
               for m in METHODS + ["random"]}
print(f"{'ρ after randomizing every layer':<34}{'all pixels':>24}{'the digit only':>24}")
for name in final:
    print(f"{name:<34}{final[name].unscaled():>24}{digit_final[name].unscaled():>24}")

# %%
# The claims: the gradient and SmoothGrad change once the model is randomized, more than the maps that
# multiply by the input, on all pixels and on the digit alone. (The random map draws the same numbers for
# every model, so its ρ is 1 by construction: a reference line, not a finding.) What `sgt-course claims`
# recorded over three seeds in both profiles:
from sgt_course.recorded import recorded_profiles

for profile_name, record in recorded_profiles(("ci", "cpu")).items():
    for where in ("", "on the digit's pixels "):
        quantity = "1 · ρ " + where + "after randomizing every layer, {}"
        print(f"{profile_name}, ρ {where or 'on all pixels '}after randomizing every layer: " + "; ".join(
            f"{saliency.label(m)} {record.range(quantity.format(saliency.label(m)), signed=False, percent=False)}"
            for m in METHODS))
for rho in (final, digit_final):  # on this run's 16 images: the intervals themselves are apart
    assert min(rho["Input×Gradient"].low, rho["Integrated Gradients"].low) > max(
        rho["Gradient"].high, rho["SmoothGrad"].high), rho

# %% [markdown]
# **What we measured.** The gradient and SmoothGrad pass the test: for a random network their maps keep
# little of the trained model's. Input×Gradient and Integrated Gradients barely move on all pixels: they
# multiply by the input, so every black background pixel gets exactly 0 under *any* model, and much of
# what the map shows is the digit itself — Adebayo et al. found the same. On the digit's pixels alone
# the tie is gone; compare the two columns above to see how much of their ρ it made. Keep that in mind when
# a map "looks like a digit": that is not proof that it explains the model.
#
# **And the models trained for better maps?** SGT (notebook 2) and ASGT (notebook 6) claim more
# faithful maps; those maps must depend on their model as well. The same test for their gradient and
# SmoothGrad maps (the models come from the cache, or are trained here once and reused there):

# %%
from sgt_course.experiments import robust_model

guided = {"SGT": image_model(profile, "sgt", train, test, k=PAPER_SGT.k, lam=PAPER_SGT.lam)[0],
          "ASGT": robust_model(profile, "ASGT", train, test)[0]}
guided_curves = {}
for m in ("gradient", "smoothgrad"):
    guided_curves[f"{saliency.label(m)}, standard"] = curves[saliency.label(m)]  # from the cell above
    guided_curves.update({f"{saliency.label(m)}, {name}": cascading_randomization(network, xs, ys, m)
                          for name, network in guided.items()})
line_chart({name: [rho for _, rho in curve] for name, curve in guided_curves.items()}, layers,
           ylabel="Spearman ρ with the trained model's map", xlabel="randomized down to layer",
           title="cascading randomization of three regimes");

# %%
# The claim compares each guided model with the standard model, method by method, on the same 16 images:
# ρ(guided) − ρ(standard) once every layer is randomized, with its paired 95 % bootstrap interval. A map
# that depends on its model less than the standard model's would keep more of it: a difference above 0.
from sgt_course.stats import paired_difference

print(f"{'ρ after randomizing every layer':<30}{'the model':>24}{'minus the standard model':>28}")
guided_minus_standard = {}
for m in ("gradient", "smoothgrad"):
    for name, network in guided.items():
        rho = randomized_correlation(network, xs, ys, m)
        guided_minus_standard[(m, name)] = paired_difference(rho, per_image[m])  # the standard model's, above
        print(f"{saliency.label(m) + ', ' + name:<30}{bootstrap_mean(rho).unscaled():>24}"
              f"{guided_minus_standard[(m, name)].unscaled():>28}")
# ... and over three seeds in both profiles, by the course's rule (higher / lower: every seed's interval on
# that side of 0 in every profile; no difference: every interval contains 0; else undecided):
from IPython.display import Markdown, display

from sgt_course.recorded import across

records, verdicts, above = recorded_profiles(("ci", "cpu")), {}, {}
for m in ("gradient", "smoothgrad"):
    for name in guided:
        quantity = f"1 · ρ after randomizing every layer, {saliency.label(m)}, {name} minus standard"
        verdicts[(m, name)], ranges = across(records, quantity, percent=False)
        above[(m, name)] = [i for r in records.values() for i in r.intervals(quantity) if i.low > 0]
        print(f"{saliency.label(m)}, {name} minus standard: {verdicts[(m, name)]} ({ranges})")


def pairs(chosen):
    return " and ".join(f"{name}'s {saliency.label(m)} map" for m, name in chosen) or "none"


less = [pair for pair, verdict in verdicts.items() if verdict == "lower"]
more = [pair for pair, verdict in verdicts.items() if verdict == "higher"]
mixed = [pair for pair, found in above.items() if found and pair not in more]
largest = max((i.high for found in above.values() for i in found), default=0.0)
display(Markdown(
    "**What the recorded seeds support.** "
    f"Kept *less* of the trained map than the standard model's on every seed of both profiles: {pairs(less)}. "
    f"Kept more on every seed: {pairs(more)}. "
    + (f"Above 0 on some seed but not on all (undecided): {pairs(mixed)}, by at most {largest:.2f} in ρ. "
       if mixed else "")
    + ("So the test gives no sign, on every seed, that saliency guidance makes a map depend less on its model."
       if not more else
       "So for these maps saliency guidance made the map depend less on its model.")))
# What held on every recorded seed of both profiles, asserted on this run: ASGT's SmoothGrad map keeps less.
assert guided_minus_standard[("smoothgrad", "ASGT")].high < 0, guided_minus_standard

# %% [markdown]
# ## 4 · Explore
#
# Pick a sample, a method and signed or absolute values; the figure redraws in place.

# %%
from sgt_course.widgets import saliency_explorer

saliency_explorer(model, test.x[:32], test.y[:32], class_names=test.class_names)

# %% [markdown]
# ## 5 · Exercise: the vanilla gradient
#
# Write `my_gradient(model, x, target)` that returns $\left|\partial f(X)_c/\partial X\right|$ for a
# batch `x` and a tensor `target` of one class per sample. Hints: work on `x.detach().clone()` with
# `requires_grad_(True)`; select each sample's target logit with `logits.gather(1, target[:, None])`;
# `torch.autograd.grad` returns the gradient without touching the model's parameters.
# `check_gradient` tells you what is wrong, if anything. (The SGT authors' code differentiates the
# log-probability log p_c instead of the logit; the checker accepts that too and says how it differs.)

# %%
import torch

from sgt_course.exercises import check_gradient


def my_gradient(model, x, target):
    ### BEGIN SOLUTION
    inputs = x.detach().clone().requires_grad_(True)
    logits = model(inputs)
    (grad,) = torch.autograd.grad(logits.gather(1, target[:, None]).sum(), inputs)
    return grad.abs()
    ### END SOLUTION


assert check_gradient(my_gradient)

# %% [markdown]
# ## Summary
#
# - A saliency map is a gradient of the class score with respect to the input; `sgt_course.saliency`
#   computes four kinds with one signature, batched.
# - Maps can be *measured*: with a planted pattern, every method beat a random map by a wide margin,
#   and the plain gradient scored highest because input-weighted methods cannot credit black pixels.
# - A map that does not change when the model is randomized explains nothing about the model.
#
# Next: **saliency-guided training** uses these maps *during training* to make them more faithful.
