import re

import pytest
import torch

from sgt_course.data import load_images
from sgt_course.losses import standard_loss
from sgt_course.models import build_model
from sgt_course.training import History, checkpoint_path, evaluate, fit, load_or_train, predict


@pytest.fixture(scope="module")
def digits():  # real MNIST digits (MNIST-5k), as in the ci profile
    return load_images("mnist5k", "train", 600), load_images("mnist5k", "test", 200)


def test_fit_learns_digits(digits):
    train, test = digits
    torch.manual_seed(0)
    model = build_model("small_cnn", width=8)
    before = evaluate(model, test)
    history = fit(model, train, standard_loss, epochs=3, batch_size=32, lr=3e-3, val=test, progress=False)
    assert history.epochs == 3 and len(history.val_accuracy) == 3 and len(history.seconds) == 3
    assert history.loss[-1] < history.loss[0]
    assert history.val_accuracy[-1] > max(0.6, before + 0.3)
    assert not model.training, "fit leaves the model in eval mode"


def test_fit_is_repeatable(digits):
    train, _ = digits
    results = []
    for _ in range(2):
        torch.manual_seed(1)
        model = build_model("small_cnn", width=4)
        results.append(fit(model, train.head(128), epochs=1, batch_size=32, progress=False, seed=5).loss)
    assert results[0] == results[1]


def test_bf16_steps_compute_the_loss_in_bfloat16_and_keep_float32_weights(digits):
    train, _ = digits
    dtypes = []

    def recording_loss(model, x, y):
        logits = model(x)
        dtypes.append(logits.dtype)
        return torch.nn.functional.cross_entropy(logits, y)

    torch.manual_seed(0)
    model = build_model("small_cnn", width=4)
    before = [p.detach().clone() for p in model.parameters()]
    fit(model, train.head(64), recording_loss, batch_size=32, precision="bf16", progress=False)
    fit(model, train.head(32), recording_loss, batch_size=32, progress=False)
    assert dtypes == [torch.bfloat16, torch.bfloat16, torch.float32]
    assert all(p.dtype == torch.float32 for p in model.parameters())
    assert any(not torch.equal(a, b) for a, b in zip(before, model.parameters())), "the bf16 steps trained"


def test_fit_takes_any_loss_function(digits):
    calls = []

    def counting_loss(model, x, y):
        calls.append(x.shape[0])
        return standard_loss(model, x, y)

    fit(build_model("small_cnn", width=4), digits[0].head(100), counting_loss, batch_size=32, progress=False)
    assert calls == [32, 32, 32, 4]


def test_predict_and_evaluate_restore_mode(digits):
    model = build_model("small_cnn", width=4).train()
    logits = predict(model, digits[1].x, batch_size=64)
    assert logits.shape == (200, 10) and model.training
    assert 0.0 <= evaluate(model, (digits[1].x, digits[1].y)) <= 1.0


@pytest.mark.parametrize("kwargs, error, message", [
    (dict(epochs=0), ValueError, "epochs must be a positive int"),
    (dict(batch_size=-1), ValueError, "batch_size must be a positive int"),
    (dict(lr=0.0), ValueError, "lr must be > 0"),
    (dict(precision="fp16"), ValueError, "precision must be one of fp32, bf16; got 'fp16'"),
])
def test_fit_rejects_bad_arguments(digits, kwargs, error, message):
    with pytest.raises(error, match=message):
        fit(build_model("small_cnn", width=4), digits[0], progress=False, **kwargs)


def test_mismatched_data_is_rejected():
    with pytest.raises(ValueError, match="same batch size; got 4 and 3"):
        evaluate(build_model("small_cnn", width=4), (torch.rand(4, 1, 28, 28), torch.zeros(3, dtype=torch.long)))
    with pytest.raises(TypeError, match="a Dataset \\(ImageSet, TimeSeriesSet, TextSet\\) or an \\(x, y\\) pair"):
        evaluate(build_model("small_cnn", width=4), ([1, 2], [1, 2]))


def test_load_or_train_caches_by_configuration(digits, capsys):
    train, test = digits
    trained = []

    def train_fn(model):
        trained.append(1)
        return fit(model, train.head(64), epochs=1, progress=False)

    def build():
        torch.manual_seed(0)
        return build_model("small_cnn", width=4)

    config = {"data": "mnist5k", "n": 64, "width": 4}
    first, history = load_or_train("tiny", config, build, train_fn)
    second, cached_history = load_or_train("tiny", config, build, train_fn)
    assert trained == [1], "the second call loads from the cache"
    assert "loaded tiny from the cache" in capsys.readouterr().out
    assert cached_history == history
    for a, b in zip(first.state_dict().values(), second.state_dict().values()):
        assert torch.equal(a, b)
    load_or_train("tiny", {**config, "width": 5}, build, train_fn)
    assert trained == [1, 1], "another configuration trains again"
    load_or_train("tiny", config, build, train_fn, retrain=True)
    assert trained == [1, 1, 1]
    assert not list(checkpoint_path("tiny", config).parent.glob("*.tmp")), "no temporary files are left"


def _spoil_random_bytes(path):
    path.write_bytes(torch.randint(0, 256, (100,), generator=torch.Generator().manual_seed(0)).byte().numpy().tobytes())


def _spoil_truncate(path):
    path.write_bytes(b"")


def _spoil_other_architecture(path):
    state = {k: v for k, v in build_model("small_cnn", width=8).state_dict().items()}
    torch.save({"state_dict": state, "history": History().to_dict()}, path)


def _spoil_pickled_object(path):
    torch.save({"state_dict": {}, "history": {}, "evil": History()}, path)  # weights_only refuses to run it


@pytest.mark.parametrize("spoil, reason", [
    (_spoil_random_bytes, "UnpicklingError|invalid load key|RuntimeError"),
    (_spoil_truncate, "EOFError|RuntimeError|Ran out of input"),
    (_spoil_other_architecture, "do not fit SmallCNN"),
    (_spoil_pickled_object, "Weights only load failed|Unsupported global"),
])
def test_a_broken_checkpoint_is_reported_in_one_line_and_retrained(digits, capsys, spoil, reason):
    train, _ = digits

    def build():
        torch.manual_seed(0)
        return build_model("small_cnn", width=4)

    def train_fn(model):
        return fit(model, train.head(64), epochs=1, progress=False)

    config = {"spoiled": spoil.__name__}
    good, _ = load_or_train("tiny", config, build, train_fn, verbose=False)
    path = checkpoint_path("tiny", config)
    spoil(path)
    capsys.readouterr()
    again, history = load_or_train("tiny", config, build, train_fn, verbose=False)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1 and lines[0].startswith("the cached tiny (") and str(path) in lines[0], lines
    assert lines[0].endswith("training it again") and re.search(reason, lines[0]), lines[0]
    assert history.epochs == 1
    for a, b in zip(good.state_dict().values(), again.state_dict().values()):
        assert torch.equal(a, b), "retrained from the same seed, not loaded half"
    third, _ = load_or_train("tiny", config, build, train_fn)
    assert "loaded tiny from the cache" in capsys.readouterr().out, "and re-cached"


def test_checkpoint_names_and_configs_are_checked():
    with pytest.raises(ValueError, match="name must be letters"):
        checkpoint_path("../escape", {})
    with pytest.raises(TypeError, match="JSON-serializable"):
        checkpoint_path("ok", {"tensor": torch.zeros(1)})


def test_early_stopping_stops_after_patience_epochs_without_a_new_best_and_keeps_the_best_weights(digits):
    from sgt_course.training import EarlyStopping

    train, _ = digits
    scripted = iter([0.5, 0.7, 0.6, 0.65, 0.9, 0.95])  # the best is epoch 1; epochs 2 and 3 do not beat it
    snapshots = []

    def scores(model):
        snapshots.append({k: v.clone() for k, v in model.state_dict().items()})
        return {"clean accuracy": 0.0, "score": next(scripted)}

    torch.manual_seed(0)
    model = build_model("small_cnn", width=4)
    history = fit(model, train.head(64), epochs=6, batch_size=32, progress=False,
                  early_stopping=EarlyStopping(scores, "score", patience=2))
    assert history.epochs == 4 and history.best_epoch == 1
    assert history.held_out == {"clean accuracy": [0.0] * 4, "score": [0.5, 0.7, 0.6, 0.65]}
    assert all(torch.equal(v, snapshots[1][k]) for k, v in model.state_dict().items()), "epoch 1's weights"
    assert History.from_dict(history.to_dict()) == history


def test_early_stopping_runs_to_the_cap_while_it_improves_and_checks_its_settings(digits):
    from sgt_course.training import EarlyStopping

    train, _ = digits
    rising = iter(range(10))
    model = build_model("small_cnn", width=4)
    history = fit(model, train.head(32), epochs=3, batch_size=32, progress=False,
                  early_stopping=EarlyStopping(lambda m: {"score": next(rising)}, "score"))
    assert history.epochs == 3 and history.best_epoch == 2
    with pytest.raises(KeyError, match="'PGD' is not among the scores"):
        fit(model, train.head(32), progress=False, early_stopping=EarlyStopping(lambda m: {"score": 1}, "PGD"))
    with pytest.raises(ValueError, match="patience must be a positive int"):
        EarlyStopping(lambda m: {}, "score", patience=0)


def test_a_history_saved_before_early_stopping_existed_still_loads():
    old = {"loss": [1.0], "train_accuracy": [0.5], "val_accuracy": [], "seconds": [2.0]}
    history = History.from_dict(old)
    assert history.held_out == {} and history.best_epoch is None and history.epochs == 1


def test_held_out_curves_draw_a_panel_per_score_and_ring_the_kept_epoch():
    import matplotlib.pyplot as plt

    from sgt_course.plots import held_out_curves

    history = History(loss=[1, 1, 1], held_out={"clean accuracy": [0.5, 0.8, 0.7], "PGD accuracy": [0.1, 0.3, 0.2]},
                      best_epoch=1)
    fig = held_out_curves({"PGD-AT": history, "fixed": History(loss=[1.0])})
    axes = fig.axes
    assert [ax.get_title() for ax in axes] == ["clean accuracy", "PGD accuracy"]
    line, ring = axes[1].lines
    assert list(line.get_ydata()) == pytest.approx([10, 30, 20]) and list(ring.get_xdata()) == [2]
    plt.close(fig)
    with pytest.raises(ValueError, match="no history holds held-out scores"):
        held_out_curves({"fixed": History(loss=[1.0])})
