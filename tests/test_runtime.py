import pytest
import torch

from sgt_course import recipes, runtime


def test_device_choice(monkeypatch):
    assert runtime.get_device("cpu") == torch.device("cpu")
    monkeypatch.setenv("SGT_COURSE_DEVICE", "cpu")
    assert runtime.get_device() == torch.device("cpu")


@pytest.mark.parametrize("name, message", [
    ("tpu", "device must be one of cpu, cuda, mps"),
    ("gpu", "device must be one of"),
])
def test_bad_device_names(name, message):
    with pytest.raises(ValueError, match=message):
        runtime.get_device(name)


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_missing_cuda_is_explained():
    with pytest.raises(ValueError, match="no CUDA GPU"):
        runtime.get_device("cuda")


def test_seed_everything_repeats():
    g1 = runtime.seed_everything(3)
    a = torch.rand(4), torch.rand(4, generator=g1)
    g2 = runtime.seed_everything(3)
    b = torch.rand(4), torch.rand(4, generator=g2)
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    with pytest.raises(ValueError, match="seed must be a non-negative int"):
        runtime.seed_everything(-1)


def test_cache_and_data_folders(monkeypatch, tmp_path):
    monkeypatch.setenv("SGT_COURSE_CACHE", str(tmp_path / "c"))
    assert runtime.cache_dir() == tmp_path / "c"
    assert runtime.data_dir() == tmp_path / "c" / "data"
    monkeypatch.setenv("SGT_COURSE_DATA", str(tmp_path / "d"))
    assert runtime.data_dir() == tmp_path / "d"


def test_describe_mentions_profile_and_device():
    line = runtime.describe(recipes.get_profile("ci"), torch.device("cpu"))
    assert "profile=ci" in line and "device=cpu" in line


def test_start_seeds_and_says_where_it_runs(monkeypatch, capsys):
    monkeypatch.setenv("SGT_COURSE_PROFILE", "ci")
    monkeypatch.setenv("SGT_COURSE_DEVICE", "cpu")
    profile, device = runtime.start(seed=5)
    first = torch.rand(3)
    runtime.start(seed=5)
    assert profile.name == "ci" and device == torch.device("cpu") and torch.equal(first, torch.rand(3))
    assert capsys.readouterr().out.count("profile=ci device=cpu") == 2


def test_mixed_precision_autocasts_to_bfloat16_only_when_asked():
    a, b = torch.rand(4, 4), torch.rand(4, 4)
    with runtime.mixed_precision("cpu", "bf16"):
        assert (a @ b).dtype == torch.bfloat16
    with runtime.mixed_precision(torch.device("cpu")):
        assert (a @ b).dtype == torch.float32
    assert (a @ b).dtype == torch.float32
    with pytest.raises(ValueError, match="precision must be one of fp32, bf16; got 'half'"):
        with runtime.mixed_precision("cpu", "half"):
            pass


def test_the_default_precision_is_float32_unless_the_variable_opts_in(monkeypatch, tmp_path):
    from sgt_course import training
    from sgt_course.models import SmallCNN

    monkeypatch.delenv(runtime.PRECISION_ENV, raising=False)
    monkeypatch.setenv(runtime.CACHE_ENV, str(tmp_path))
    assert runtime.default_precision() == "fp32" and "precision=" not in runtime.describe()
    fp32_key = training.checkpoint_path("m", {"k": 1})
    used = []
    monkeypatch.setattr(training, "step", lambda *args, precision: used.append(precision) or torch.tensor(0.0))
    data = (torch.rand(4, 1, 28, 28), torch.arange(4))
    training.fit(SmallCNN(width=4), data, progress=False)
    monkeypatch.setenv(runtime.PRECISION_ENV, "bf16")
    assert runtime.default_precision() == "bf16" and "precision=bf16 ($SGT_COURSE_PRECISION)" in runtime.describe()
    assert training.checkpoint_path("m", {"k": 1}) != fp32_key, "a bf16 model is cached under its own key"
    training.fit(SmallCNN(width=4), data, progress=False)
    training.fit(SmallCNN(width=4), data, progress=False, precision="fp32")
    assert used == ["fp32", "bf16", "fp32"]
    monkeypatch.setenv(runtime.PRECISION_ENV, "fp16")
    with pytest.raises(ValueError, match=r"\$SGT_COURSE_PRECISION must be one of fp32, bf16; got 'fp16'"):
        runtime.default_precision()
