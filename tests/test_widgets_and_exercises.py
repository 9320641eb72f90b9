import re

import matplotlib.pyplot as plt
import pytest
import torch
from matplotlib.figure import Figure

from sgt_course import saliency
from sgt_course.exercises import ExerciseFailed, check_gradient
from sgt_course.models import SmallCNN
from sgt_course.widgets import render_saliency, saliency_explorer


def test_render_saliency_draws_the_image_and_its_map():
    torch.manual_seed(0)
    model = SmallCNN(width=4).eval()
    figure = render_saliency(model, torch.rand(1, 28, 28), 3, "gradient", signed=False, caption="class 3")
    assert isinstance(figure, Figure) and len(figure.axes) == 2


def test_explorer_redraws_once_per_change_with_the_chosen_settings(monkeypatch):
    torch.manual_seed(0)
    model = SmallCNN(width=4).eval()
    drawn = []

    def record(output, render):
        figure = render()
        drawn.append((output, figure.axes[1].get_title(), figure.axes[0].get_ylabel()))

    monkeypatch.setattr("sgt_course.widgets.redraw_in", record)
    box = saliency_explorer(model, torch.rand(3, 1, 28, 28), torch.tensor([0, 1, 2]), methods=["gradient", "random"],
                            class_names=["zero", "one", "two"])
    sample, method = box.children[0].children
    sample.value = 2
    method.value = "random"
    assert [(title, caption) for _, title, caption in drawn] == [
        ("Gradient", "class zero"), ("Gradient", "class two"), ("Random", "class two")]
    assert len({id(output) for output, _, _ in drawn}) == 1, "every redraw goes to the same output area"


def test_gradient_checker_accepts_the_reference_and_explains_mistakes(capsys):
    assert check_gradient(saliency.gradient)
    assert "Correct" in capsys.readouterr().out

    def stub(model, x, target):
        raise NotImplementedError

    def signed(model, x, target):
        return saliency.gradient(model, x, target, abs=False)

    def all_classes(model, x, target):
        x = x.clone().requires_grad_(True)
        model(x).sum().backward()
        return x.grad.abs()

    def training_mode(model, x, target):
        model.train()
        return saliency.gradient(model, x, target)

    for student, expected in [(stub, "Not implemented yet"), (signed, "signed gradient"),
                              (all_classes, "sum of all class outputs"), (training_mode, "train mode"),
                              (lambda m, x, t: x, "differs from the reference"),
                              (lambda m, x, t: x[:, 0], "shape of x")]:
        with pytest.raises(ExerciseFailed, match=re.escape(expected)):
            check_gradient(student)


def test_gradient_checker_accepts_the_authors_log_probability_and_says_how_it_differs(capsys):
    import torch.nn.functional as F

    def log_probability(model, x, target):
        inputs = x.detach().clone().requires_grad_(True)
        (grad,) = torch.autograd.grad(F.log_softmax(model(inputs), 1).gather(1, target[:, None]).sum(), inputs)
        return grad.abs()

    assert check_gradient(log_probability)
    out = capsys.readouterr().out
    assert "log-probability" in out and "SGT authors' code" in out and "logit" in out


def test_mask_checker_accepts_the_library_and_explains_mistakes(capsys):
    from sgt_course.exercises import check_mask_bottom_k
    from sgt_course.masking import mask_bottom_k

    assert check_mask_bottom_k(lambda x, s, k: mask_bottom_k(x, s, k))
    assert "Correct on the checker's own test case (6 random 8×8 images, k = 0.3)" in capsys.readouterr().out

    def top_instead(x, s, k):
        return mask_bottom_k(x, -s, k)

    def batch_range(x, s, k):
        masked, mask = mask_bottom_k(x, s, k, fill="zero")
        return torch.where(mask, torch.rand_like(x) * 2.0, x), mask

    def per_channel(x, s, k):
        return mask_bottom_k(x, torch.rand_like(x), k)

    def too_many(x, s, k):
        return mask_bottom_k(x, s, min(0.9, k + 0.2))

    for student, expected in [(top_instead, "most"), (batch_range, "min and max"), (per_channel, "channels"),
                              (too_many, "round(k"), (lambda x, s, k: x, "pair")]:
        with pytest.raises(ExerciseFailed, match=re.escape(expected)):
            check_mask_bottom_k(student)


def test_sgt_comparison_figure_and_explorer(monkeypatch):
    from sgt_course.widgets import render_sgt_comparison, sgt_explorer

    torch.manual_seed(0)
    standard, other = SmallCNN(width=4).eval(), SmallCNN(width=4).eval()
    x, y = torch.rand(8, 1, 28, 28), torch.randint(0, 10, (8,))
    figure = render_sgt_comparison(standard, other, x, y, fractions=(0.0, 0.5))
    assert isinstance(figure, Figure) and figure._suptitle.get_text() == "removal curves with the linear fill"
    plt.close(figure)
    asked, fills = [], []

    def redraw(output, render):
        figure = render()
        fills.append(figure._suptitle.get_text())
        plt.close(figure)

    monkeypatch.setattr("sgt_course.widgets.redraw_in", redraw)
    box = sgt_explorer(lambda k, lam: asked.append((k, lam)) or other, standard, x, y)
    k_slider, lam_slider, fill = box.children[0].children
    assert fill.value == "linear" and fills == ["removal curves with the linear fill"], "ROAD's fill by default"
    lam_slider.value = 2.0
    assert asked == [(0.5, 1.0), (0.5, 2.0)] and "ready" in box.children[1].value
    k_slider.value = 0.1 + 0.2  # 0.30000000000000004 reaches train as 0.3: one cache entry per setting
    assert asked[-1] == (0.3, 2.0)
    fill.value = "uniform"
    assert len(asked) == 3 and fills[-1] == "removal curves with the uniform fill", "a new fill redraws, no training"


def test_fgsm_checker_accepts_the_library_and_explains_mistakes(capsys):
    from sgt_course.attacks import fgsm, loss_gradient
    from sgt_course.exercises import check_fgsm

    assert check_fgsm(fgsm)
    assert "Correct" in capsys.readouterr().out
    mistakes = [
        (lambda m, x, y, e: x + e * loss_gradient(m.eval(), x, y).sign(), "Clip"),
        (lambda m, x, y, e: (x - e * loss_gradient(m.eval(), x, y).sign()).clamp(0, 1), "down"),
        (lambda m, x, y, e: (x + e * loss_gradient(m.eval(), x, y)).clamp(0, 1), "sign of the gradient"),
        (lambda m, x, y, e: fgsm(m.train(), x, y, e), "train mode"),
    ]
    for student, expected in mistakes:
        with pytest.raises(ExerciseFailed, match=re.escape(expected)):
            check_fgsm(student)


def test_attack_figure_and_explorer(monkeypatch):
    from sgt_course.widgets import attack_explorer, render_attack

    torch.manual_seed(0)
    models = {"a": SmallCNN(width=4).eval(), "b": SmallCNN(width=4).eval()}
    x, y = torch.rand(3, 1, 28, 28), torch.tensor([1, 2, 3])
    figure = render_attack(models, x[0], 1, "fgsm", 0.1)
    assert len(figure.axes) == 8 + 2, "two rows of four panels, a colour bar per perturbation"
    drawn = []
    monkeypatch.setattr("sgt_course.widgets.redraw_in", lambda output, render: drawn.append(render()))
    box = attack_explorer(models, x, y, eps_max=0.3)
    eps, attack, sample = box.children[0].children
    eps.value = 0.2
    attack.value = "mifgsm"
    assert len(drawn) == 3 and "ε=0.200" in drawn[-1].axes[1].get_title()
    assert drawn[-1].axes[2].get_title().startswith("MI-FGSM")
    # the same ε draws the same picture: PGD's random start is seeded
    again = [render_attack(models, x[0], 1, "pgd", 0.2).axes[1].get_images()[0].get_array() for _ in range(2)]
    assert (again[0] == again[1]).all()


def test_asgt_checker_accepts_the_library_and_explains_mistakes(capsys):
    import torch.nn.functional as F

    from sgt_course.exercises import check_asgt_loss
    from sgt_course.losses import asgt_loss, kl_divergence
    from sgt_course.masking import mask_bottom_k
    from sgt_course.saliency import gradient, per_pixel

    assert check_asgt_loss(lambda m, x, y, k, lam, attack: asgt_loss(m, x, y, k=k, lam=lam, attack=attack))
    assert "Correct" in capsys.readouterr().out

    def build(kl_swapped=False, mask_clean=False, drop_clean=False):
        def student(model, x, y, k, lam, attack):
            adversarial = attack(model, x, y)
            source = x if mask_clean else adversarial
            model.eval()
            scores = per_pixel(gradient(model, source, y))
            model.train()
            masked = mask_bottom_k(source, scores, k)[0]
            clean, adv, msk = model(x), model(adversarial), model(masked)
            kl = kl_divergence(clean, msk) if kl_swapped else kl_divergence(msk, clean)
            return (0 if drop_clean else F.cross_entropy(clean, y)) + F.cross_entropy(adv, y) + lam * kl
        return student

    for student, expected in [(build(kl_swapped=True), "swapped"), (build(mask_clean=True), "the clean input"),
                              (build(drop_clean=True), "clean term")]:
        with pytest.raises(ExerciseFailed, match=re.escape(expected)):
            check_asgt_loss(student)


def test_series_figure_and_explorer(monkeypatch):
    from sgt_course.data.timeseries import make_benchmark
    from sgt_course.models import build_timeseries_model
    from sgt_course.widgets import render_series_saliency, timeseries_explorer

    torch.manual_seed(0)
    data = make_benchmark("middle", n=4, steps=20, features=20)
    models = {"a": build_timeseries_model("tcn", features=20, hidden=4).eval()}
    figure = render_series_saliency(models, data.x[0], int(data.y[0]), data.mask[0])
    assert [ax.get_title() for ax in figure.axes if ax.get_title()] == ["input", "ground truth", "a: Gradient"]
    asked, drawn = [], []
    monkeypatch.setattr("sgt_course.widgets.redraw_in", lambda output, render: drawn.append(render()))
    box = timeseries_explorer(lambda *args: asked.append(args) or (models["a"], models["a"], data), ["middle", "rare_time"])
    layout, architecture = box.children[0].children
    layout.value = "rare_time"
    assert asked == [("middle", "lstm", 0.5, 1.0), ("rare_time", "lstm", 0.5, 1.0)] and len(drawn) == 2


def _student_precision_recall(maps, mask, share, *, rescale=True, absolute=True, by_mass=True, weighted=True,
                              swap=False):
    """A student's saliency-weighted precision and recall, with switches for the usual mistakes."""
    s = (maps.abs() if absolute else maps).flatten(1)
    if rescale:
        low, high = s.amin(1, keepdim=True), s.amax(1, keepdim=True)
        s = (s - low) / (high - low)
    ordered, order = s.sort(1, descending=True)
    if by_mass:
        count = ((ordered.cumsum(1) < share * s.sum(1, keepdim=True)).sum(1) + 1).clamp(1, s.shape[1] - 1)
    else:
        count = torch.full((s.shape[0],), round(share * s.shape[1]))
    positive = torch.zeros_like(s, dtype=torch.bool)
    for i in range(s.shape[0]):
        positive[i, order[i, :count[i]]] = True
    truth = mask.flatten(1)
    w = s if weighted else torch.ones_like(s)
    hit = (w * (positive & truth)).sum(1)
    precision, recall = (hit / (w * positive).sum(1)).mean().item(), (hit / (w * truth).sum(1)).mean().item()
    return (recall, precision) if swap else (precision, recall)


def test_precision_recall_checker_accepts_a_solution_and_explains_mistakes(capsys):
    from sgt_course.exercises import check_precision_recall

    assert check_precision_recall(_student_precision_recall)
    assert "Correct" in capsys.readouterr().out
    for mistake, expected in [({"swap": True}, "swapped"), ({"by_mass": False}, "saliency mass"),
                              ({"rescale": False}, "Rescale"), ({"weighted": False}, "you counted cells"),
                              ({"absolute": False}, "magnitude")]:
        with pytest.raises(ExerciseFailed, match=re.escape(expected)):
            check_precision_recall(lambda m, g, s: _student_precision_recall(m, g, s, **mistake))
    with pytest.raises(ExerciseFailed, match=re.escape("differ(s) from the reference")):
        check_precision_recall(lambda m, g, s: (0.5, 0.5))
    with pytest.raises(ExerciseFailed, match="Return a pair"):
        check_precision_recall(lambda m, g, s: 0.5)


def test_attack_grid_shows_colour_images_in_colour_and_a_fooled_prediction_in_red():
    from matplotlib.colors import to_rgba

    from sgt_course.plots import AttackedImage, attack_grid

    clean = torch.rand(3, 8, 8)
    rows = {"fooled": AttackedImage(clean, (clean + 0.1).clamp(0, 1), torch.randn(3, 8, 8), "cat", "dog", fooled=True),
            "robust": AttackedImage(clean, clean, torch.randn(3, 8, 8), "cat", "cat", fooled=False)}
    figure = attack_grid(rows, attack="PGD", eps=0.1)
    axes = figure.axes
    assert len(axes) == 8 + 2 and axes[0].get_images()[0].get_array().shape == (8, 8, 3), "two colour bars"
    assert [t.get_text() for t in axes[8].get_yticklabels()] == ["-0.1", "+0", "+0.1"], "the perturbation's ±ε"
    assert axes[2].get_title() == "PGD → dog" and to_rgba(axes[2].title.get_color()) == to_rgba("red")
    assert to_rgba(axes[6].title.get_color()) == to_rgba("black")
    assert axes[3].get_images()[0].get_array().min() >= 0, "the saliency panel shows max |s| over channels"
    plt.close(figure)


def test_no_checker_message_carries_markdown_asterisks():
    """The messages print as plain text in a notebook: Markdown emphasis would show as literal asterisks."""
    import ast
    import inspect

    from sgt_course import exercises

    strings = [node.value for node in ast.walk(ast.parse(inspect.getsource(exercises)))
               if isinstance(node, ast.Constant) and isinstance(node.value, str)]
    assert not [s for s in strings if re.search(r"\*\w[^*]*\*", s)]
