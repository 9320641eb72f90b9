import torch

from sgt_course.models import SmallCNN
from sgt_course.sanity import cascading_randomization, parametrized_layers, randomize_top_down, randomized_correlation


def model():
    torch.manual_seed(0)
    return SmallCNN(in_channels=1, n_classes=3, width=4).eval()


def test_layers_are_randomized_from_the_output_down_and_the_original_is_untouched():
    net = model()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    names = parametrized_layers(net)
    assert names == ["features.0", "features.3", "classifier"]
    steps = list(randomize_top_down(net))
    assert [name for name, _ in steps] == ["classifier", "features.3", "features.0"]
    first = steps[0][1].state_dict()
    assert not torch.equal(first["classifier.weight"], before["classifier.weight"])
    assert torch.equal(first["features.0.weight"], before["features.0.weight"]), "lower layers still trained"
    last = steps[-1][1].state_dict()
    assert not torch.equal(last["features.0.weight"], before["features.0.weight"])
    assert all(torch.equal(v, before[k]) for k, v in net.state_dict().items())


def test_gradient_fails_to_stay_the_same_but_a_random_map_does_not_change():
    net, x = model(), torch.rand(8, 1, 12, 12)
    gradient_curve = cascading_randomization(net, x, 0, "gradient")
    random_curve = cascading_randomization(net, x, 0, "random")
    assert gradient_curve[0] == ("original", 1.0) and len(gradient_curve) == 4
    assert gradient_curve[-1][1] < 0.5, "a map of a random network no longer resembles the trained one's"
    assert all(abs(rho - 1.0) < 1e-6 for _, rho in random_curve), "a random map ignores the model"


def test_randomized_correlation_is_the_cascades_last_step_per_sample():
    net, x = model(), torch.rand(8, 1, 12, 12)
    for method in ("gradient", "smoothgrad"):
        per_sample = randomized_correlation(net, x, 0, method, seed=3)
        assert per_sample.shape == (8,)
        assert per_sample.mean().item() == cascading_randomization(net, x, 0, method, seed=3)[-1][1]
    where = x > 0.5
    per_sample = randomized_correlation(net, x, 0, "gradient", where=where)
    assert per_sample.nanmean().item() == cascading_randomization(net, x, 0, "gradient", where=where)[-1][1]
