import base64
import io
import json
import re

import matplotlib.pyplot as plt
import pytest
import torch
from PIL import Image

from sgt_course import widgets
from sgt_course.data.text import make_planted_reviews
from sgt_course.models import BiLSTMClassifier, SmallCNN
from sgt_course.static_explorers import CSS_CLASS, DPI, STATIC_ENV, Control, png_data_uri, static_explorer, static_mode


def _figure(title: str) -> plt.Figure:
    figure, ax = plt.subplots(figsize=(1, 1))
    ax.set_title(title)
    return figure


def _frames_of(html: str) -> dict:
    found = re.search(r'<script type="application/json" class="frames">(.*?)</script>', html, re.S)
    return json.loads(found.group(1).replace("<\\/", "</"))


def test_a_control_checks_its_values_default_and_kind():
    assert Control("eps", "ε", (0.0, 0.1)).shown == ("0.0", "0.1")
    with pytest.raises(ValueError, match="at least one value"):
        Control("eps", "ε", ())
    with pytest.raises(ValueError, match="default must index its 2 values; got 2"):
        Control("eps", "ε", (0.0, 0.1), default=2)
    with pytest.raises(ValueError, match="kind must be 'range' or 'select'"):
        Control("eps", "ε", (0.0,), kind="slider")
    with pytest.raises(ValueError, match="one text per value"):
        Control("eps", "ε", (0.0, 0.1), shown=("zero",))


def test_every_combination_is_drawn_once_and_the_default_frame_shows_first():
    open_before = set(plt.get_fignums())
    drawn = []

    def render(eps, attack):
        drawn.append((eps, attack))
        return _figure(f"{attack} {eps}")

    controls = [Control("eps", "ε", (0.0, 0.1, 0.2), default=1, shown=("0.000", "0.100", "0.200")),
                Control("attack", "attack", ("fgsm", "pgd"), default=1, shown=("FGSM", "PGD"), kind="select")]
    twin = static_explorer(render, controls, note="no kernel", progress=False)
    assert sorted(drawn) == sorted((e, a) for e in (0.0, 0.1, 0.2) for a in ("fgsm", "pgd"))
    assert set(twin.frames) == {f"{e},{a}" for e in range(3) for a in range(2)} and twin.default_key == "1,1"
    png = base64.b64decode(twin.frames["2,0"].removeprefix("data:image/png;base64,"))
    assert png.startswith(b"\x89PNG") and len(set(twin.frames.values())) == 6, "each frame its own picture"
    html = twin._repr_html_()
    assert f'class="{CSS_CLASS}" data-frames="6" data-seconds="' in html and "no kernel" in html
    assert Image.open(io.BytesIO(png)).info["dpi"] == pytest.approx((DPI, DPI), abs=0.1), "the browser tests read the frame's resolution"
    assert re.search(r'<input type="range" data-control="0" min="0" max="2" step="1" value="1"> '
                     r'<output data-for="0">0.100</output>', html)
    assert '<option value="1" selected>PGD</option>' in html and '<option value="0">FGSM</option>' in html
    assert f'<img class="frame" src="{twin.frames["1,1"]}"' in html, "without JavaScript the default frame shows"
    assert _frames_of(html) == {"frames": twin.frames, "shown": [["0.000", "0.100", "0.200"], ["FGSM", "PGD"]],
                                "html": False}
    assert twin.nbytes == len(html.encode())
    assert repr(twin) == f"<static explorer: 6 frames over ε (3), attack (2), {twin.nbytes / 1e6:.2f} MB>"
    assert set(plt.get_fignums()) <= open_before, "every frame's figure is closed"


def test_html_frames_are_embedded_as_they_are_and_cannot_close_the_script():
    twin = static_explorer(lambda text: f"<b>{text}</b></script>", [Control("text", "sentence", ("a", "b"),
                                                                             kind="select")], progress=False)
    html = twin._repr_html_()
    assert twin.is_html and '<div class="frame"><b>a</b></script></div>' in html
    assert _frames_of(html)["frames"] == {"0": "<b>a</b></script>", "1": "<b>b</b></script>"}
    assert html.count("</script>") == 3, "one closing the frame, two closing the element's scripts"


def test_a_static_explorer_refuses_what_it_cannot_draw():
    with pytest.raises(ValueError, match="at least one control"):
        static_explorer(lambda: "x", [])
    with pytest.raises(ValueError, match="names must differ"):
        static_explorer(lambda a: "x", [Control("a", "a", (1,)), Control("a", "b", (2,))])
    with pytest.raises(ValueError, match="figures for some frames and HTML for others"):
        static_explorer(lambda a: "x" if a else _figure("f"), [Control("a", "a", (0, 1))], progress=False)


def test_static_mode_reads_the_environment(monkeypatch):
    monkeypatch.delenv(STATIC_ENV, raising=False)
    assert not static_mode()
    monkeypatch.setenv(STATIC_ENV, "1")
    assert static_mode()


def _cnn():
    torch.manual_seed(0)
    return SmallCNN(width=4).eval()


def test_the_saliency_and_attack_twins_open_where_their_explorers_do():
    model, x, y = _cnn(), torch.rand(4, 1, 28, 28), torch.tensor([0, 1, 2, 3])
    twin = widgets.saliency_twin(model, x, y, methods=["gradient", "random"], progress=False)
    assert len(twin.frames) == 3 * 2 * 2 and twin.default_key == "0,0,0"
    assert [c.shown for c in twin.controls] == [("0", "1", "2"), ("Gradient", "Random"), ("absolute", "signed")]
    first = widgets.render_saliency(model, x[0], 0, "gradient", False, caption="class 0")
    assert twin.frames[twin.default_key] == png_data_uri(first), "the frame the explorer draws first"
    attacked = widgets.attack_twin({"standard": model}, x, y, eps_max=0.3, steps=2, samples=1, progress=False)
    eps, attack, sample = attacked.controls
    assert eps.values == (0.0, 0.15, 0.3) and eps.shown[eps.default] == "0.150"
    assert attack.values[attack.default] == "pgd" and sample.values == (0,)
    assert len(attacked.frames) == 3 * len(attack.values)
    first = widgets.render_attack({"standard": model}, x[0], 0, "pgd", 0.15)
    assert attacked.frames[attacked.default_key] == png_data_uri(first)
    for_slides = widgets.attack_twin({"standard": model}, x, y, eps_max=0.3, steps=1, samples=1, figsize=(7.5, 1.8),
                                     dpi=160, progress=False)
    frame = Image.open(io.BytesIO(base64.b64decode(for_slides.frames[for_slides.default_key].split(",", 1)[1])))
    assert frame.info["dpi"] == pytest.approx((160, 160), abs=0.1) and frame.width == pytest.approx(7.5 * 160, abs=40)


def test_the_sgt_twin_trains_once_per_setting_and_opens_on_the_papers_with_roads_fill():
    model, x, y = _cnn(), torch.rand(6, 1, 28, 28), torch.arange(6) % 10
    asked, asked_models = [], {}

    def train(k, lam):
        asked.append((k, lam))
        return asked_models.setdefault((k, lam), _cnn())

    twin = widgets.sgt_twin(train, model, x, y, ks=(0.3, 0.5), lams=(1.0,), fills=("uniform", "linear"),
                            progress=False)
    assert asked == [(0.3, 1.0), (0.5, 1.0)]
    k, lam, fill = twin.controls
    assert (k.values[k.default], lam.values[lam.default], fill.values[fill.default]) == (0.5, 1.0, "uniform")
    assert fill.shown == ("uniform (SGT's training noise)", "ROAD's linear") and len(twin.frames) == 2 * 1 * 2
    first = widgets.render_sgt_comparison(model, asked_models[(0.5, 1.0)], x, y, fill="uniform")
    assert twin.frames[twin.default_key] == png_data_uri(first), "the standard half computed once gives the same frame"
    assert widgets.sgt_twin(train, model, x, y, ks=(0.5,), lams=(1.0,), progress=False).controls[2].values == (
        "linear", "uniform"), "ROAD's fill first by default"
    with pytest.raises(ValueError, match="fills must be values of EXPLORER_FILLS"):
        widgets.sgt_twin(train, model, x, y, fills=("background",))


def test_the_text_twin_offers_prepared_sentences_and_says_why():
    reviews = make_planted_reviews(40, seed=0)
    torch.manual_seed(0)
    model = BiLSTMClassifier(len(reviews.vocab), 2, embed_dim=8, hidden=8).eval()
    twin = widgets.text_twin({"standard": model}, reviews.vocab, ["a great film", "a dull film"], progress=False)
    assert twin.is_html and len(twin.frames) == 2 * len(widgets.TEXT_METHODS)
    assert "typing your own needs a running kernel" in twin.note
    assert twin.frames["0,0"] == widgets.render_token_saliency(
        {"standard": model}, torch.tensor(reviews.vocab.encode(["a", "great", "film"])), reviews.vocab)
    with pytest.raises(ValueError, match="at least one prepared sentence"):
        widgets.text_twin({"standard": model}, reviews.vocab, [])


def test_an_explorer_displays_its_twin_only_in_static_mode(monkeypatch):
    shown = []
    monkeypatch.setattr(widgets, "display", lambda obj: shown.append(obj))
    model, x, y = _cnn(), torch.rand(2, 1, 28, 28), torch.tensor([0, 1])
    monkeypatch.delenv(STATIC_ENV, raising=False)
    widgets.saliency_explorer(model, x, y, methods=["gradient"])
    assert not any(isinstance(s, widgets.StaticExplorer) for s in shown), "a live kernel draws no frames"
    monkeypatch.setenv(STATIC_ENV, "1")
    widgets.saliency_explorer(model, x, y, methods=["gradient"])
    twins = [s for s in shown if isinstance(s, widgets.StaticExplorer)]
    assert len(twins) == 1 and len(twins[0].frames) == 2 * 2
    widgets.saliency_explorer(model, x, y, methods=["gradient"], static=False)
    assert len([s for s in shown if isinstance(s, widgets.StaticExplorer)]) == 1, "static=False wins"


def test_the_time_series_twin_draws_every_layout_and_model_at_one_k_and_lambda(monkeypatch):
    from sgt_course.data.timeseries import make_benchmark
    from sgt_course.models import build_timeseries_model

    torch.manual_seed(0)
    data = make_benchmark("middle", n=4, steps=20, features=20)
    model = build_timeseries_model("tcn", features=20, hidden=4).eval()
    asked = []
    twin = widgets.timeseries_twin(lambda *args: asked.append(args) or (model, model, data), ["middle", "rare_time"],
                                   k=0.3, lam=2.0, progress=False)
    assert asked == [("middle", "lstm", 0.3, 2.0), ("middle", "tcn", 0.3, 2.0), ("rare_time", "lstm", 0.3, 2.0),
                     ("rare_time", "tcn", 0.3, 2.0)]
    assert len(twin.frames) == 4 and twin.note.startswith("k = 0.3 and λ = 2 here")
    shown = []
    monkeypatch.setattr(widgets, "display", lambda obj: shown.append(obj))
    monkeypatch.setattr(widgets, "redraw_in", lambda output, render: None)
    asked.clear()
    widgets.timeseries_explorer(lambda *args: asked.append(args) or (model, model, data),
                                ["middle", "rare_time", "rare_feature"], static=True)
    assert [s.controls[0].values for s in shown if isinstance(s, widgets.StaticExplorer)] == [("middle", "rare_time")]
