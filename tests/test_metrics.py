import pytest
import torch

from sgt_course.masking import top_k_mask
from sgt_course.metrics import mask_precision, spearman


def test_top_k_mask_picks_the_highest_scores_per_sample():
    scores = torch.tensor([[0.1, 0.9, 0.5, 0.3], [4.0, 3.0, 2.0, 1.0]])
    assert top_k_mask(scores, 2).tolist() == [[False, True, True, False], [True, True, False, False]]
    assert top_k_mask(scores, torch.tensor([1, 3])).tolist() == [[False, True, False, False], [True, True, True, False]]


def test_mask_precision_hand_computed():
    scores = torch.tensor([[[0.9, 0.8], [0.1, 0.7]], [[0.0, 0.1], [0.2, 0.3]]])
    mask = torch.tensor([[[True, False], [False, True]], [[True, True], [True, False]]])
    # sample 0: |G| = 2, top-2 = {0.9, 0.8}: one of them in G -> 0.5
    # sample 1: |G| = 3, top-3 = {0.3, 0.2, 0.1}: 0.2 and 0.1 in G -> 2/3
    assert torch.allclose(mask_precision(scores, mask), torch.tensor([0.5, 2 / 3]))


def test_mask_precision_of_random_maps_is_the_mask_share():
    torch.manual_seed(0)
    mask = torch.zeros(4000, 1, 10, 10, dtype=torch.bool)
    mask[:, :, 2:7, 2:7] = True
    share = mask_precision(torch.rand(4000, 1, 10, 10), mask).mean().item()
    assert abs(share - 0.25) < 0.01
    assert mask_precision(mask.float() + 0.01 * torch.rand(mask.shape), mask).min() == 1.0


def test_mask_precision_rejects_bad_input():
    with pytest.raises(ValueError, match="same batch size"):
        mask_precision(torch.rand(2, 4), torch.ones(3, 4, dtype=torch.bool))
    with pytest.raises(ValueError, match="at least one feature"):
        mask_precision(torch.rand(2, 4), torch.zeros(2, 4, dtype=torch.bool))


def test_spearman():
    a = torch.tensor([[1.0, 2.0, 3.0, 4.0], [1.0, 2.0, 3.0, 4.0]])
    b = torch.tensor([[10.0, 20.0, 30.0, 40.0], [4.0, 3.0, 2.0, 1.0]])
    assert torch.allclose(spearman(a, b), torch.tensor([1.0, -1.0]))
    assert torch.allclose(spearman(a, a ** 3), torch.ones(2)), "only ranks matter"
    with pytest.raises(ValueError, match="same batch size"):
        spearman(a, a[:1])


def test_spearman_gives_ties_their_average_rank():
    a = torch.tensor([[0.0, 0.0, 1.0, 2.0]])
    b = torch.tensor([[0.0, 0.0, 2.0, 1.0]])
    # ranks: a -> [0.5, 0.5, 2, 3], b -> [0.5, 0.5, 3, 2]; centred: [-1, -1, 0.5, 1.5] and [-1, -1, 1.5, 0.5]
    expected = (1 + 1 + 0.75 + 0.75) / (1 + 1 + 0.25 + 2.25)
    assert torch.allclose(spearman(a, b), torch.tensor([expected]))


def test_removal_curve_removes_the_decisive_feature_first():
    from torch import nn

    from sgt_course.metrics import removal_curve

    model = nn.Linear(4, 2)
    with torch.no_grad():
        model.weight.copy_(torch.tensor([[5.0, 0.1, 0.1, 0.1], [0.0, 0.0, 0.0, 0.0]]))
        model.bias.copy_(torch.tensor([0.0, 1.0]))
    x = torch.ones(64, 4)
    y = torch.zeros(64, dtype=torch.long)
    curve = removal_curve(model, x, y, "gradient", fractions=(0.0, 0.25, 0.5), imputation="zero")
    assert curve.accuracy == (1.0, 0.0, 0.0) and curve.at(0.25) == 0.0
    assert curve.area() == pytest.approx(1 / 3)
    random = removal_curve(model, x, y, "random", fractions=(0.0, 0.25), imputation="zero",
                           generator=torch.Generator().manual_seed(0))
    assert 0.5 < random.at(0.25) < 0.95, "a random ranking removes the decisive feature a quarter of the time"
    with pytest.raises(ValueError, match="fraction must be one of"):
        curve.at(0.3)
    with pytest.raises(ValueError, match=r"fractions must be a fraction of the features in \[0, 1\)"):
        removal_curve(model, x, y, "gradient", fractions=(0.0, 1.0))
    with pytest.raises(ValueError, match="same batch size"):
        removal_curve(model, x, y[:3], "gradient")


def test_robustness_curves_attack_every_model_with_the_same_seeded_start():
    from sgt_course.metrics import robust_accuracy, robustness_curves, robustness_table
    from sgt_course.models import SmallCNN

    torch.manual_seed(0)
    models = {"a": SmallCNN(width=4).eval(), "b": SmallCNN(width=4).eval()}
    x, y = torch.rand(16, 1, 16, 16), torch.randint(0, 10, (16,))
    curves = robustness_curves(models, x, y, (0.0, 0.1, 0.3))
    assert list(curves) == ["FGSM", "PGD", "MI-FGSM"] and all(list(c) == ["a", "b"] for c in curves.values())
    for name, model in models.items():
        expected = robust_accuracy(model, x, y, "pgd", (0.0, 0.1, 0.3), generator=torch.Generator().manual_seed(0))
        assert curves["PGD"][name].accuracy == expected.accuracy
    assert robustness_curves(models, x, y, (0.0, 0.1, 0.3)) == curves, "a seeded run repeats exactly"
    table = robustness_table(curves).splitlines()
    assert len(table) == 1 + 3 * 2 and table[0].split()[2:] == ["ε=0", "ε=0.1", "ε=0.3"]
    assert table[3].startswith("PGD      a ") and table[3].count("%") == 3
    with pytest.raises(ValueError, match="attack must be one of"):
        robustness_curves(models, x, y, (0.1,), attacks=("cw",))


def test_a_robustness_curve_knows_whether_it_rises():
    from sgt_course.metrics import RobustnessCurve

    assert RobustnessCurve((0, 0.1, 0.2), (0.9, 0.91, 0.2), "pgd").non_increasing(tolerance=0.02)
    assert not RobustnessCurve((0, 0.1, 0.2), (0.9, 0.95, 0.2), "pgd").non_increasing(tolerance=0.02)


@pytest.fixture(scope="module")
def mnist_model():
    from sgt_course.data import load_images
    from sgt_course.models import build_model
    from sgt_course.training import fit

    torch.manual_seed(0)
    train = load_images("mnist5k", "train", 2000)
    model = build_model("small_cnn", width=16)
    fit(model, train, epochs=3, batch_size=64, lr=3e-3, progress=False)
    test = load_images("mnist5k", "test", 128)
    return model.eval(), test.x, test.y


@pytest.mark.parametrize("imputation", ["linear", "zero", "uniform"])
def test_lerf_lies_above_morf_for_a_trained_model_ranked_by_its_gradient(mnist_model, imputation):
    from sgt_course.metrics import removal_curve, removal_gap

    model, x, y = mnist_model
    fractions = (0.0, 0.2, 0.5)
    curves = {order: removal_curve(model, x, y, "gradient", fractions, imputation, order,
                                   generator=torch.Generator().manual_seed(0)) for order in ("morf", "lerf")}
    assert curves["morf"].accuracy[0] == curves["lerf"].accuracy[0] > 0.85, "nothing removed: the clean accuracy"
    assert curves["lerf"].at(0.2) > curves["morf"].at(0.2) and curves["lerf"].at(0.5) > curves["morf"].at(0.5)
    assert removal_gap(curves["morf"], curves["lerf"]) > 0
    assert (curves["lerf"].order, curves["lerf"].imputation) == ("lerf", imputation)


def test_removal_curve_and_gap_refuse_bad_arguments(mnist_model):
    from sgt_course.metrics import RemovalCurve, removal_curve, removal_gap

    model, x, y = mnist_model
    with pytest.raises(ValueError, match="order must be one of morf, lerf; got 'both'"):
        removal_curve(model, x, y, "gradient", order="both")
    with pytest.raises(ValueError, match="how must be one of uniform, zero, mean, linear, background; got 'blur'"):
        removal_curve(model, x, y, "gradient", (0.0, 0.5), "blur")
    with pytest.raises(ValueError, match="sigma must be a finite number >= 0"):
        removal_curve(model, x, y, "gradient", (0.0, 0.5), "linear", sigma=-1.0)
    morf = RemovalCurve((0.0, 0.5), (1.0, 0.2), "gradient", "morf")
    with pytest.raises(ValueError, match="a MoRF and a LeRF curve, in that order"):
        removal_gap(morf, morf)
    with pytest.raises(ValueError, match="share their fractions"):
        removal_gap(morf, RemovalCurve((0.0, 0.3), (1.0, 0.9), "gradient", "lerf"))


@pytest.mark.parametrize("imputation", ["linear", "uniform"])
def test_remove_features_gives_the_inputs_of_one_point_of_the_removal_curve(mnist_model, imputation):
    from sgt_course.metrics import removal_curve, remove_features

    model, x, y = mnist_model
    curve = removal_curve(model, x, y, "gradient", (0.3,), imputation, generator=torch.Generator().manual_seed(0))
    removed = remove_features(model, x, y, "gradient", 0.3, imputation, generator=torch.Generator().manual_seed(0))
    assert removed.shape == x.shape
    assert (removed != x).flatten(1).any(1).float().mean() > 0.9, "nearly every image changed"
    assert (model(removed).argmax(1) == y).float().mean().item() == pytest.approx(curve.at(0.3))


def test_remove_features_in_chunks_removes_the_same_pixels(mnist_model):
    from sgt_course.metrics import remove_features

    model, x, y = mnist_model
    whole = remove_features(model, x, y, "gradient", 0.5, "zero")
    chunked = remove_features(model, x, y, "gradient", 0.5, "zero", batch_size=50)
    assert torch.equal(whole, chunked)
    assert ((whole == 0) | (whole == x)).all(), "zero fill: a pixel is either kept or zero"


def test_remove_features_takes_no_model_only_for_a_random_ranking(mnist_model):
    from sgt_course.metrics import remove_features

    _, x, y = mnist_model
    removed = remove_features(None, x, y, "random", 0.25, "zero", generator=torch.Generator().manual_seed(0))
    assert ((removed == 0) & (x != 0)).flatten(1).sum(1).max() <= round(0.25 * 784)
    with pytest.raises(ValueError, match="a model is needed to rank features by 'gradient'"):
        remove_features(None, x, y, "gradient", 0.25)
    with pytest.raises(ValueError, match=r"fraction must be a fraction of the features in \[0, 1\)"):
        remove_features(None, x, y, "random", 1.0)
