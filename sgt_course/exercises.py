"""Checkers for the students' exercises. Each calls the student's function on a small case, compares
it with the library's reference and says, in words, what is wrong — or that it is right.

A checker prints "✔ ..." and returns True when the function is right. When it is wrong it raises
:class:`ExerciseFailed` with one line that says what to fix; in a notebook that line is all the student
sees (no traceback), the way an autograder answers, and the cell fails, so a headless run of the
instructor's notebook still fails on a broken solution.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from sgt_course import saliency
from sgt_course.attacks import fgsm, loss_gradient, make_attack
from sgt_course.losses import asgt_loss, kl_divergence
from sgt_course.masking import mask_bottom_k, top_k_mask
from sgt_course.metrics import comprehensiveness, precision_recall, saliency_mass_mask
from sgt_course.models import BiLSTMClassifier, SmallCNN, eval_mode


class ExerciseFailed(AssertionError):
    """A checker's verdict that the student's function is wrong: the message says what to fix. IPython
    shows it as one red line instead of a traceback (:meth:`_render_traceback_`)."""

    def _render_traceback_(self) -> list[str]:
        return [f"\x1b[31m✘ {self}\x1b[0m"]


def _verdict(passed: bool, message: str) -> bool:
    """Print ``message`` as the verdict and return True when ``passed``; otherwise raise :class:`ExerciseFailed`."""
    if not passed:
        raise ExerciseFailed(message)
    print("✔ " + message)
    return True


def _run(student: Callable[..., object], *args: object) -> object:
    """Call the student's function; a stub or an error becomes :class:`ExerciseFailed` that says so."""
    try:
        return student(*args)
    except NotImplementedError:
        message = "Not implemented yet: replace `raise NotImplementedError` with your code."
    except Exception as error:  # noqa: BLE001 - any error is feedback for the student
        message = f"Your function raised {type(error).__name__}: {error}"
    raise ExerciseFailed(message)


def _close(a: Tensor, b: Tensor) -> bool:
    return a.shape == b.shape and torch.allclose(a, b, atol=1e-6, rtol=1e-4)


def _case() -> tuple[nn.Module, Tensor, Tensor]:
    torch.manual_seed(0)
    model = SmallCNN(in_channels=1, n_classes=4, width=4).eval()
    with torch.no_grad():  # sharper outputs, so that every mistake changes the result measurably
        model.classifier.weight.mul_(10.0)
    x = torch.rand(5, 1, 12, 12)
    target = torch.tensor([0, 1, 2, 3, 1])
    return model, x, target


def _gradient_of(model: nn.Module, x: Tensor, output: Callable[[Tensor], Tensor]) -> Tensor:
    inputs = x.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(output(model(inputs)), inputs)
    return grad


def check_gradient(student: Callable[[nn.Module, Tensor, Tensor], Tensor]) -> bool:
    """Check a student's vanilla gradient S(X) = |∂ f(X)_c / ∂X| (signature: (model, x, target) -> map)."""
    model, x, target = _case()
    x_before = x.clone()
    result = _run(student, model, x, target)
    if not isinstance(result, Tensor):
        return _verdict(False, f"Return a tensor shaped like x; you returned {type(result).__name__}.")
    if result.shape != x.shape:
        return _verdict(False, f"The map must have the shape of x, {tuple(x.shape)}; yours has {tuple(result.shape)}.")
    if model.training:
        return _verdict(False, "Your function left the model in train mode; leave its mode as you found it.")
    if x.requires_grad or not torch.equal(x, x_before):
        return _verdict(False, "Your function changed x (or its requires_grad); work on x.detach().clone().")
    result = result.detach()
    reference = saliency.gradient(model, x, target)
    if _close(result, reference):
        return _verdict(True, "Correct: your map equals the reference |∂f(X)_c/∂X|.")
    picked = lambda logits: logits.gather(1, target[:, None]).sum()  # noqa: E731
    log_probability = _gradient_of(model, x, lambda z: F.log_softmax(z, 1).gather(1, target[:, None]).sum()).abs()
    if _close(result, log_probability):
        return _verdict(True, "Accepted, with a difference to know: you differentiated the log-probability "
                              "log p_c = f(X)_c − log Σ_j exp f(X)_j. That is what the SGT authors' code does "
                              "(their network ends in log-softmax); the course's S uses the logit f(X)_c. The two "
                              "maps differ by the gradient of log Σ_j exp f(X)_j, which is small when the model "
                              "is confident in c.")
    diagnoses = [
        (_gradient_of(model, x, picked), "You return the signed gradient; S(X) is its absolute value (.abs())."),
        (_gradient_of(model, x, lambda z: z.sum()).abs(),
         "You differentiated the sum of all class outputs; select each sample's target logit, e.g. "
         "logits.gather(1, target[:, None]).sum()."),
        (_gradient_of(model, x, lambda z: z[:, 0].sum()).abs(), "You differentiated class 0 for every sample; use target."),
        (_gradient_of(model, x, lambda z: z.gather(1, z.argmax(1, keepdim=True)).sum()).abs(),
         "You differentiated the predicted class; the exercise asks for the given target class."),
        (_gradient_of(model, x, lambda z: F.softmax(z, 1).gather(1, target[:, None]).sum()).abs(),
         "You differentiated the softmax probability; the paper's S uses the logit f(X)_c."),
    ]
    for wrong, explanation in diagnoses:
        if _close(result, wrong):
            return _verdict(False, explanation)
    gap = (result - reference).abs().max().item()
    return _verdict(False, f"Your map differs from the reference by up to {gap:.3g}; compare it with "
                           "sgt_course.saliency.gradient on the same input.")


def check_mask_bottom_k(student: Callable[[Tensor, Tensor, float], tuple[Tensor, Tensor]]) -> bool:
    """Check a student's M_k: ``student(x, saliency, k) -> (x_masked, mask)`` with the uniform fill.

    Checks the count round(k · features), that the lowest-saliency features are the ones chosen, that
    a (N, 1, H, W) map masks all channels of a pixel, that fills lie in each sample's [min, max]
    and that unmasked values are untouched.
    """
    torch.manual_seed(0)
    x = torch.rand(6, 3, 8, 8) * torch.linspace(0.2, 1.0, 6).view(6, 1, 1, 1)
    scores = torch.rand(6, 1, 8, 8)
    k = 0.3
    result = _run(student, x.clone(), scores.clone(), k)
    if not (isinstance(result, tuple) and len(result) == 2):
        return _verdict(False, "Return a pair (x_masked, mask).")
    masked, mask = result
    if masked.shape != x.shape or mask.shape != x.shape:
        return _verdict(False, f"x_masked and mask must both have x's shape {tuple(x.shape)}; "
                               f"got {tuple(masked.shape)} and {tuple(mask.shape)}.")
    mask = mask.bool()
    expected = round(k * 64)
    per_pixel_mask = mask.any(1)
    if not torch.equal(mask, per_pixel_mask[:, None].expand_as(mask)):
        return _verdict(False, "A pixel's channels must be masked together: the map has shape (N, 1, H, W).")
    counts = per_pixel_mask.flatten(1).sum(1)
    if not (counts == expected).all():
        return _verdict(False, f"Mask round(k · n_features) = {expected} pixels per image; you masked {counts.tolist()}.")
    lowest = scores.flatten(1).argsort(1)[:, :expected]
    chosen = per_pixel_mask.flatten(1).gather(1, lowest)
    if not chosen.all():
        highest = scores.flatten(1).argsort(1, descending=True)[:, :expected]
        if per_pixel_mask.flatten(1).gather(1, highest).all():
            return _verdict(False, "You masked the most salient pixels; M_k masks the k lowest.")
        return _verdict(False, "Some masked pixels are not among the lowest-saliency ones; sort the scores per image.")
    if not torch.equal(masked[~mask], x[~mask]):
        return _verdict(False, "Values outside the mask changed; only masked features are replaced.")
    low = x.flatten(1).amin(1).view(6, 1, 1, 1).expand_as(x)[mask]
    high = x.flatten(1).amax(1).view(6, 1, 1, 1).expand_as(x)[mask]
    values = masked[mask]
    if ((values < low - 1e-6) | (values > high + 1e-6)).any():
        return _verdict(False, "Fill values must lie between each sample's min and max (not the batch's, not [0, 1]).")
    if torch.equal(values, x[mask]) or values.unique().numel() < values.numel() // 2:
        return _verdict(False, "Draw a fresh uniform value for every masked feature.")
    return _verdict(True, f"Correct on the checker's own test case ({x.shape[0]} random {x.shape[2]}×{x.shape[3]} "
                          f"images, k = {k}): the {expected} lowest-saliency pixels of each image masked, all channels "
                          "together, uniform fills inside each image's range.")


def check_fgsm(student: Callable[[nn.Module, Tensor, Tensor, float], Tensor]) -> bool:
    """Check a student's FGSM: ``student(model, x, y, eps) -> x_adv`` = clip₀¹(x + ε · sign(∇ₓ CE(f(x), y)))."""
    model, x, target = _case()
    x = x.clamp(0.05, 0.95)
    x[:, :, 0, 0], x[:, :, -1, -1] = 0.0, 1.0  # pixels on the edges of [0, 1]: clipping matters
    eps = 0.1
    result = _run(student, model, x.clone(), target, eps)
    if not isinstance(result, Tensor) or result.shape != x.shape:
        return _verdict(False, f"Return adversarial images shaped like x, {tuple(x.shape)}.")
    if model.training:
        return _verdict(False, "Your function left the model in train mode; leave its mode as you found it.")
    result = result.detach()
    reference = fgsm(model, x, target, eps)
    if _close(result, reference):
        return _verdict(True, "Correct: x + ε·sign(∇ₓ CE), clipped to [0, 1].")
    grad = loss_gradient(model, x, target)
    diagnoses = [
        (x + eps * grad.sign(), "Clip the result to [0, 1]: images must stay valid (torch.clamp(..., 0, 1))."),
        ((x - eps * grad.sign()).clamp(0, 1), "You stepped down the loss; an attack goes up: x + ε·sign(∇)."),
        ((x + eps * grad).clamp(0, 1), "Use the sign of the gradient, not the gradient itself: ε·grad.sign()."),
        ((x + eps * _gradient_of(model, x, lambda z: z.gather(1, target[:, None]).sum()).sign()).clamp(0, 1),
         "You followed the true class's logit upwards; FGSM ascends the cross-entropy loss."),
    ]
    for wrong, explanation in diagnoses:
        if _close(result, wrong):
            return _verdict(False, explanation)
    if (result - x).abs().max() > eps + 1e-6:
        return _verdict(False, f"Some pixels moved by more than ε = {eps}.")
    gap = (result - reference).abs().max().item()
    return _verdict(False, f"Your images differ from the reference by up to {gap:.3g}.")


def check_asgt_loss(student: Callable[..., Tensor]) -> bool:
    """Check a student's ASGT loss ``student(model, x, y, k, lam, attack) -> scalar`` (Algorithm 2).

    The check uses a model without dropout and a deterministic attack, and seeds torch's global
    generator before each call, so the student's uniform fill draws the same numbers as the reference.
    """

    model, x, target = _case()
    model.train()
    attack = make_attack("fgsm", 0.1)
    k, lam = 0.75, 0.7

    def seeded(fn: Callable[..., Tensor], *args: object, **kwargs: object) -> Tensor:
        torch.manual_seed(123)
        return fn(*args, **kwargs)

    result = seeded(_run, student, model, x, target, k, lam, attack)
    if not isinstance(result, Tensor) or result.ndim != 0:
        return _verdict(False, "Return the loss as a scalar tensor.")
    if not result.requires_grad:
        return _verdict(False, "Your loss has no gradient: do not compute it under torch.no_grad() or with .detach().")
    if not model.training:
        return _verdict(False, "Your function left the model in eval mode; restore the mode you found.")
    reference = seeded(asgt_loss, model, x, target, k=k, lam=lam, attack=attack)
    if torch.allclose(result, reference, rtol=0.0, atol=1e-5):
        return _verdict(True, f"Correct: your loss {result.item():.4f} equals Algorithm 2's.")

    def variant(masked_from: str = "adversarial", kl: str = "masked_first", terms: str = "all",
                weight: float = lam) -> Tensor:
        torch.manual_seed(123)
        adversarial = attack(model, x, target)
        source = adversarial if masked_from == "adversarial" else x
        with eval_mode(model):
            scores = saliency.per_pixel(saliency.gradient(model, source, target))
        masked = mask_bottom_k(source if masked_from != "clean_then_attack" else x, scores, k)[0]
        if masked_from == "clean_then_attack":
            masked = attack(model, masked, target)
        clean, adv, msk = model(x), model(adversarial), model(masked)
        divergence = kl_divergence(msk, clean) if kl == "masked_first" else kl_divergence(clean, msk)
        ce_clean, ce_adv = F.cross_entropy(clean, target), F.cross_entropy(adv, target)
        total = {"all": ce_clean + ce_adv, "no_clean": ce_adv, "no_adv": ce_clean}[terms]
        return total + weight * divergence

    diagnoses = [
        (variant(kl="clean_first"), "Your KL has its arguments swapped: Algorithm 2 uses KL(f(X̃') ‖ f(X)), "
                                    "i.e. kl_divergence(masked_logits, clean_logits)."),
        (variant(masked_from="clean"), "You masked the clean input; ASGT masks X' by its own saliency S(X')."),
        (variant(masked_from="clean_then_attack"), "You masked first and attacked after (the order of Li et al.'s SGA); "
                                                   "Algorithm 2 attacks first, then masks."),
        (variant(terms="no_clean"), "The clean term CE(f(X), y) is missing."),
        (variant(terms="no_adv"), "The adversarial term CE(f(X'), y) is missing."),
        (variant(weight=1.0), "Weight the KL term by λ (lam)."),
    ]
    for wrong, explanation in diagnoses:
        if torch.allclose(result, wrong, rtol=0.0, atol=1e-5):
            return _verdict(False, explanation)
    return _verdict(False, f"Your loss is {result.item():.4f}; Algorithm 2 gives {reference.item():.4f}.")


def check_comprehensiveness(student: Callable[[nn.Module, Tensor, Tensor, float], float]) -> bool:
    """Check ``student(model, tokens, scores, fraction) -> float``: for ONE text (tokens (L,), no padding),
    p_j(X) − p_j(X ∖ R) with R its top round(fraction · L) tokens (at least 1), X ∖ R padded back to
    length L with 0, and j the predicted class."""

    torch.manual_seed(0)
    model = BiLSTMClassifier(30, embed_dim=8, hidden=8).eval()
    with torch.no_grad():
        model.classifier.weight.mul_(20.0)
    tokens = torch.randint(1, 30, (12,))
    scores = torch.rand(12)
    fraction = 0.25
    expected = comprehensiveness(model, tokens[None], scores[None], bins=(fraction,)).item()
    answer = _run(student, model, tokens.clone(), scores.clone(), fraction)
    try:
        result = float(answer)
    except (TypeError, ValueError):
        return _verdict(False, f"Return one number, the comprehensiveness; you returned {type(answer).__name__}.")
    if abs(result - expected) < 1e-5:
        return _verdict(True, f"Correct: comprehensiveness {result:.4f}.")
    with torch.no_grad():
        probabilities = torch.softmax(model(tokens[None]), 1)[0]
        top = scores.argsort(descending=True)[:3]
        def padded(kept_tokens: Tensor) -> Tensor:  # back to length 12 with padding, as the batch metric does
            return F.pad(kept_tokens, (0, 12 - len(kept_tokens)))[None]

        rest = tokens[torch.isin(torch.arange(12), top, invert=True)]
        only = tokens[top.sort().values]
        removed = probabilities - torch.softmax(model(padded(rest)), 1)[0]
        kept = probabilities - torch.softmax(model(padded(only)), 1)[0]
        lowest = scores.argsort()[:3]
        rest_low = tokens[torch.isin(torch.arange(12), lowest, invert=True)]
        removed_low = probabilities - torch.softmax(model(padded(rest_low)), 1)[0]
        unpadded = probabilities - torch.softmax(model(rest[None]), 1)[0]
    j, other = int(probabilities.argmax()), 1 - int(probabilities.argmax())
    if abs(result - kept[j].item()) < 1e-5:
        return _verdict(False, "You kept only the rationale R: that is sufficiency. Comprehensiveness removes R.")
    if abs(result - removed[other].item()) < 1e-5:
        return _verdict(False, "Use the probability of the predicted class j = argmax f(X).")
    if abs(result - removed_low[j].item()) < 1e-5:
        return _verdict(False, "R is the highest-scoring tokens; you removed the lowest.")
    if abs(result - unpadded[j].item()) < 1e-5:
        return _verdict(False, "Pad X ∖ R back to the text's length with 0: the model reads fixed-length batches.")
    return _verdict(False, f"Your value is {result:.4f}; the reference is {expected:.4f}. Remove the top "
                           f"round(fraction · L) tokens (keeping the others in order) and compare p_j.")


def check_precision_recall(student: Callable[[Tensor, Tensor, float], tuple[float, float]]) -> bool:
    """Check ``student(saliency_map, mask, share) -> (precision, recall)``: the time-series benchmark's
    saliency-weighted precision and recall at one threshold (:func:`sgt_course.metrics.precision_recall`).

    Per sample: s = min-max rescaled |map|; P = the fewest top cells holding ``share`` of Σ s;
    precision = Σ_{P∩G} s / Σ_P s, recall = Σ_{P∩G} s / Σ_G s; both averaged over the samples.
    """

    torch.manual_seed(0)
    maps = torch.randn(6, 10, 8) * torch.linspace(0.5, 3.0, 8)  # signed, unequal scales per feature
    mask = torch.zeros(6, 10, 8, dtype=torch.bool)
    mask[:, 2:6, 1:5] = True
    maps[mask] *= 2.5  # the box holds more saliency than its share of the cells
    share = 0.5
    reference = precision_recall(maps, mask, (share,))
    expected = (reference.precision[0], reference.recall[0])
    result = _run(student, maps.clone(), mask.clone(), share)
    try:
        precision, recall = (float(v) for v in result)
    except (TypeError, ValueError):
        return _verdict(False, f"Return a pair of numbers (precision, recall); got {type(result).__name__}.")
    if not all(0 <= v <= 1 for v in (precision, recall)):
        return _verdict(False, f"Precision and recall are fractions in [0, 1]; got {precision:.3f} and {recall:.3f}.")

    def variant(s: Tensor, positive: Tensor, weighted: bool = True) -> tuple[float, float]:
        truth = mask.flatten(1)
        w = s if weighted else torch.ones_like(s)
        hit = (w * (positive & truth)).sum(1)
        return (hit / (w * positive).sum(1)).mean().item(), (hit / (w * truth).sum(1)).mean().item()

    def min_max(s: Tensor) -> Tensor:
        low, high = s.amin(1, keepdim=True), s.amax(1, keepdim=True)
        return (s - low) / (high - low)

    magnitude = maps.abs().flatten(1)
    rescaled, signed = min_max(magnitude), min_max(maps.flatten(1))
    mistakes = {
        "precision and recall are swapped: precision divides by the saliency of the positive cells P, "
        "recall by that of the ground truth G.": expected[::-1],
        "P must hold a share of the saliency mass, not a share of the cells: take the fewest top cells "
        "whose rescaled saliency sums to at least share · Σ s.":
            variant(rescaled, top_k_mask(rescaled, round(share * rescaled.shape[1]))),
        "Rescale each sample's |map| to [0, 1] (min–max) before selecting and weighting.":
            variant(magnitude, saliency_mass_mask(magnitude, share)),
        "Weight each cell by its rescaled saliency s; you counted cells.":
            variant(rescaled, saliency_mass_mask(rescaled, share), weighted=False),
        "Take the magnitude |map| first: a negative value is as salient as a positive one.":
            variant(signed, saliency_mass_mask(signed, share)),
    }
    if abs(precision - expected[0]) < 1e-4 and abs(recall - expected[1]) < 1e-4:
        return _verdict(True, f"Correct: precision {precision:.3f}, recall {recall:.3f} at share {share}.")
    for message, (p, r) in mistakes.items():
        if abs(precision - p) < 1e-4 and abs(recall - r) < 1e-4:
            return _verdict(False, message)
    wrong = " and ".join(name for name, got, want in (("precision", precision, expected[0]), ("recall", recall, expected[1]))
                         if abs(got - want) >= 1e-4)
    return _verdict(False, f"Your {wrong} differ(s) from the reference (precision {expected[0]:.3f}, recall "
                           f"{expected[1]:.3f}; you: {precision:.3f}, {recall:.3f}). Check the selection of P and "
                           "the average over samples.")
