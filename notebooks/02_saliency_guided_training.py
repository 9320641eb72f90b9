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
# 4. See what k and λ do, and what SGT costs.

# %%
import torch

from sgt_course import runtime
from sgt_course.experiments import image_data, image_model
from sgt_course.training import evaluate

profile, device = runtime.start(seed=0)  # run profile, device, seeds, and one line saying so
train, test = image_data(profile, device)
K, LAM = 0.5, 1.0  # the paper's MNIST settings: mask half the pixels, λ = 1

# %% [markdown]
# ## 1 · Algorithm 1, line by line
#
# For each minibatch $(X, y)$:
#
# | line | Algorithm 1 | library |
# |---|---|---|
# | 1 | $I = \operatorname{sort}\big(S(X)\big)$, $S(X) = \lvert\partial f(X)_y/\partial X\rvert$ | `saliency.gradient(model, x, y)` (in eval mode) |
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
accuracy = {"standard": evaluate(standard, test), "SGT": evaluate(sgt, test)}
for name, value in accuracy.items():
    print(f"{name:>8}: test accuracy {value:.1%}")
print(f"training time: standard {sum(standard_history.seconds):.1f} s, SGT {sum(sgt_history.seconds):.1f} s")
plot_history({"standard": standard_history, "SGT": sgt_history});

# %%
# The paper's first claim: SGT keeps the accuracy of standard training.
# Measured on MNIST-5k over seeds 0-2 (benchmarks/claims.py): SGT minus standard was -0.3 to +1.3
# points in the ci profile (small CNN) and -0.2 to +0.1 in the cpu profile (the authors' CNN).
assert accuracy["SGT"] >= accuracy["standard"] - 0.02, accuracy

# %% [markdown]
# ## 3 · Saliency maps of both models (the paper's Fig. 2)

# %%
from sgt_course import saliency
from sgt_course.plots import saliency_grid

METHODS = ["gradient", "integrated_gradients", "smoothgrad"]
xs, ys = test.x[:5], test.y[:5]
maps = {}
for m in METHODS:
    for name, model in (("standard", standard), ("SGT", sgt)):
        kwargs = {"generator": torch.Generator().manual_seed(0)} if m == "smoothgrad" else {}
        maps[f"{saliency.LABELS[m]}\n{name}"] = saliency.attribute(m, model, xs, ys, **kwargs)
saliency_grid(xs, maps, captions=[f"class {int(c)}" for c in ys], title="standard vs SGT");

# %% [markdown]
# ## 4 · Does the map point at what matters? Remove the salient pixels (Fig. 3)
#
# Rank each test image's pixels by a saliency method, replace the top $d\%$ by random values, and
# measure accuracy *without retraining*. If the map ranked the decisive pixels first, accuracy falls
# fast. A random ranking is the reference.

# %%
from sgt_course.metrics import removal_curve
from sgt_course.plots import removal_panels

xe, ye = test.x[:profile.n_explain], test.y[:profile.n_explain]
curves = {}
for m in METHODS:
    curves[saliency.LABELS[m]] = {
        name: removal_curve(model, xe, ye, m, generator=torch.Generator().manual_seed(0))
        for name, model in (("standard", standard), ("SGT", sgt))}
    curves[saliency.LABELS[m]].update({
        f"{name}, random ranking": removal_curve(model, xe, ye, "random", generator=torch.Generator().manual_seed(0))
        for name, model in (("standard", standard), ("SGT", sgt))})
removal_panels(curves, title="accuracy as the most salient pixels are replaced");
for method, by_model in curves.items():
    print(f"{method:<22}" + "  ".join(f"{name}: {curve.at(0.5):.1%}" for name, curve in by_model.items()) + "  (at 50% removed)")

# %%
# The paper's second claim: under gradient-ranked removal the SGT model loses accuracy faster.
# Measured at 50 % removed on MNIST-5k, seeds 0-2 (benchmarks/claims.py; RESULTS.md has every figure):
#   gradient ranking  ci:  standard 16.4 / 21.1 / 21.9 %, SGT 19.5 / 25.0 / 27.3 %  -> the claim FAILS
#                     cpu: standard 13.3 / 14.8 / 20.3 %, SGT 10.5 / 13.3 / 10.2 %  -> the claim holds
#   random ranking    ci:  standard  9.4 / 17.2 / 20.3 %, SGT 68.8 / 73.4 / 74.2 %
#                     cpu: standard 49.2 / 52.7 / 36.7 %, SGT 78.5 / 78.1 / 81.6 %
# So the claim as stated depends on the model, and is not asserted. What held on every seed in both
# profiles, and is asserted with half the smallest measured margin:
# 1. random removal hurts SGT far less (by 25 to 59 points);
# 2. only for SGT does the *ranking* matter: its gradient ranking removes 47 to 71 points more than a
#    random ranking; the standard model's, -7 to +38. SGT's lead on this gap: 27 to 56 points.
at_half = {name: curve.at(0.5) for name, curve in curves["Gradient"].items()}
ranking_gap = {name: at_half[f"{name}, random ranking"] - at_half[name] for name in ("standard", "SGT")}
print(f"random minus gradient ranking at 50 % removed: standard {ranking_gap['standard']:+.1%}, "
      f"SGT {ranking_gap['SGT']:+.1%}")
assert at_half["SGT, random ranking"] > at_half["standard, random ranking"] + 0.12, at_half
assert ranking_gap["SGT"] > ranking_gap["standard"] + 0.13, ranking_gap

# %% [markdown]
# **Reading the curves.** Three things, measured on real MNIST digits:
#
# - *The paper's Fig. 3, as it is stated, did not reproduce robustly.* With the authors' CNN (`cpu`)
#   the SGT model's gradient-ranked curve fell below the standard model's on all three seeds (by 1.5
#   to 10 points at 50 %); with the small CNN (`ci`) it stayed *above* it on all three (by 3 to 5
#   points). Ranked by Integrated Gradients, SGT stayed above in both. Your run prints its own numbers.
# - *The random-ranking control explains why.* Replacing half the pixels with uniform noise, in any
#   order, takes the standard model far from anything it saw in training: it loses most of its
#   accuracy whichever pixels go (with the small CNN a random ranking hurts it as much as its own
#   gradient ranking). The SGT model was trained on exactly these replacements and shrugs them off.
# - *So the curve mixes two things*: whether the ranking found the decisive pixels, and whether the
#   model tolerates the fill at all. Measured against its own random ranking, only SGT's gradient
#   ranking points at pixels the model needs — which is the claim in a form this test can support.
#   The fill that SGT trains on favours SGT by construction; a fair test removes pixels with a fill
#   neither model trained on (`metrics.removal_curve(..., imputation="linear")`, ROAD's imputation)
#   and in both orders (`order="lerf"`).
#
# ## 5 · Eval-mode or train-mode saliency?
#
# The authors take the saliency in eval mode; taking it from the training forward pass instead
# saves one forward pass per step. Does it change the result?

# %%
reused, _ = image_model(profile, "sgt", train, test, k=K, lam=LAM, reuse_forward=True)
reused_curve = removal_curve(reused, xe, ye, "gradient", generator=torch.Generator().manual_seed(0))
print(f"eval-mode saliency  : accuracy {accuracy['SGT']:.1%}, 50% gradient removal {at_half['SGT']:.1%}")
print(f"train-mode, reused  : accuracy {evaluate(reused, test):.1%}, 50% gradient removal {reused_curve.at(0.5):.1%}")
mode_dependent = [type(m).__name__ for m in sgt.modules() if isinstance(m, (torch.nn.Dropout, torch.nn.BatchNorm2d))]
print(f"layers that behave differently in train mode: {sorted(set(mode_dependent)) or 'none'}")

# %% [markdown]
# When the model has no dropout or batch norm (the small CNN of the `ci` profile), train and eval
# mode compute the same function: both runs then see the same saliency and end identical. With the
# authors' MNIST CNN (dropout .25 and .5, the `cpu` and `gpu` profiles), the train-mode saliency is
# that of a randomly thinned network, and the results differ.
#
# ## 6 · What SGT costs
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
# ## 7 · Explore k and λ
#
# Move the sliders: an SGT model is retrained on a small subset for each setting (cached, so a
# setting you visited before comes back at once) and its maps and removal curve are drawn next to
# the standard model's. Try k = 0 or λ = 0 (both mean: no saliency guidance), and large λ.

# %%
from sgt_course.widgets import sgt_explorer

quick = train.head(profile.n_quick)
quick_standard, _ = image_model(profile, "standard", quick, test, progress=False)


def train_sgt(k, lam):
    return image_model(profile, "sgt", quick, test, k=round(k, 2), lam=round(lam, 2), progress=False)[0]


sgt_explorer(train_sgt, quick_standard, xe[:64], ye[:64], k=K, lam=LAM)

# %% [markdown]
# ## 8 · Exercise: implement $M_k$
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
#   accuracy (never more than 0.3 points below standard); whether its removal curve falls faster than the standard model's
#   depended on the model. Against a random ranking, only SGT's gradient ranking pointed at pixels it
#   needs — but the removal test fills pixels with the noise SGT trains on, so it favours SGT.
# - The price: one SGT step costs the multiple of a standard step printed above.
#
# Next: SGT on **time series**, where the informative features are known exactly.
