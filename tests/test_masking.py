import pytest
import torch

from sgt_course.masking import fill_values, mask_bottom_k


def test_exact_count_and_lowest_saliency_chosen():
    x = torch.arange(10.0).view(1, 10) / 10
    saliency = torch.tensor([[5.0, 1.0, 9.0, 0.0, 3.0, 8.0, 2.0, 7.0, 6.0, 4.0]])
    masked, mask = mask_bottom_k(x, saliency, 0.3, fill="zero")
    assert mask.sum() == 3
    assert mask[0].nonzero().flatten().tolist() == [1, 3, 6], "the three lowest scores: 1.0, 0.0, 2.0"
    assert torch.equal(masked[mask], torch.zeros(3)) and torch.equal(masked[~mask], x[~mask])


@pytest.mark.parametrize("k, expected", [(0.5, 392), (0.25, 196), (0.001, 1), (0.0006, 0), (0.9, 706)])
def test_count_is_round_k_times_features(k, expected):
    _, mask = mask_bottom_k(torch.rand(3, 1, 28, 28), torch.rand(3, 1, 28, 28), k)
    assert mask.flatten(1).sum(1).tolist() == [expected] * 3


def test_k_zero_is_identity():
    x = torch.rand(4, 3, 5, 5)
    masked, mask = mask_bottom_k(x, torch.rand(4, 1, 5, 5), 0.0)
    assert masked is x and not mask.any()


def test_uniform_fill_stays_in_each_samples_range_and_is_seeded():
    x = torch.rand(64, 1, 8, 8) * torch.linspace(0.1, 1.0, 64).view(64, 1, 1, 1) + torch.linspace(0, 2, 64).view(64, 1, 1, 1)
    masked, mask = mask_bottom_k(x, torch.rand_like(x), 0.5, generator=torch.Generator().manual_seed(0))
    low, high = x.flatten(1).amin(1), x.flatten(1).amax(1)
    assert (masked.flatten(1).amin(1) >= low).all() and (masked.flatten(1).amax(1) <= high).all()
    assert not torch.equal(masked[mask], x[mask]), "masked values are redrawn"
    again, _ = mask_bottom_k(x, torch.rand_like(x), 0.5, generator=torch.Generator().manual_seed(0))
    assert torch.equal(fill_values(x, generator=torch.Generator().manual_seed(3)),
                       fill_values(x, generator=torch.Generator().manual_seed(3)))


def test_mean_and_zero_fills():
    x = torch.tensor([[1.0, 2.0, 3.0, 6.0]])
    assert torch.equal(fill_values(x, "mean"), torch.full((1, 4), 3.0))
    masked, _ = mask_bottom_k(x, torch.tensor([[4.0, 3.0, 2.0, 1.0]]), 0.5, fill="mean")
    assert masked.tolist() == [[1.0, 2.0, 3.0, 3.0]]


def test_a_pixel_map_masks_all_channels_together():
    x = torch.rand(2, 3, 4, 4)
    masked, mask = mask_bottom_k(x, torch.rand(2, 1, 4, 4), 0.25, fill="zero")
    assert mask.shape == x.shape
    assert torch.equal(mask[:, 0], mask[:, 1]) and torch.equal(mask[:, 0], mask[:, 2])
    assert mask[:, 0].flatten(1).sum(1).tolist() == [4, 4]


def test_time_series_cells_are_masked_individually():
    x = torch.rand(5, 50, 50)
    _, mask = mask_bottom_k(x, torch.rand(5, 50, 50), 0.5)
    assert mask.flatten(1).sum(1).tolist() == [1250] * 5


def test_mask_is_vectorized_over_the_batch():
    x = torch.rand(1000, 1, 28, 28)
    s = torch.rand(1000, 1, 28, 28)
    masked, mask = mask_bottom_k(x, s, 0.5)
    single, single_mask = mask_bottom_k(x[7:8], s[7:8], 0.5)
    assert torch.equal(mask[7:8], single_mask)


@pytest.mark.parametrize("k", [1.0, -0.1, 1.5, True, "half"])
def test_bad_k(k):
    with pytest.raises(ValueError, match=r"k must be a fraction of the features in \[0, 1\)"):
        mask_bottom_k(torch.rand(2, 4), torch.rand(2, 4), k)


@pytest.mark.parametrize("x, saliency, error, message", [
    (torch.rand(2, 1, 4, 4), torch.rand(3, 1, 4, 4), ValueError, "batch size"),
    (torch.rand(2, 1, 4, 4), torch.rand(2, 1, 5, 4), ValueError, r"\(N, 1, H, W\)"),
    (torch.rand(2, 16), torch.rand(2, 1, 4, 4), ValueError, "feature shape"),
    (torch.ones(2, 4, dtype=torch.long), torch.rand(2, 4), TypeError, "floating-point"),
])
def test_bad_shapes_and_types(x, saliency, error, message):
    with pytest.raises(error, match=message):
        mask_bottom_k(x, saliency, 0.5)


def test_background_fill_takes_each_images_top_left_pixel_of_the_first_channel():
    x = torch.stack([torch.full((2, 3, 3), 0.2), torch.full((2, 3, 3), 0.7)])  # (2, 2, 3, 3)
    x[0, 0, 0, 0], x[1, 1, 0, 0] = 0.9, 0.1  # image 0's background differs from its other pixels
    fill = fill_values(x, "background")
    assert fill.shape == x.shape
    assert torch.equal(fill[0], torch.full((2, 3, 3), 0.9)) and torch.equal(fill[1], torch.full((2, 3, 3), 0.7))
    from sgt_course.imputation import impute

    removed = torch.zeros(2, 1, 3, 3, dtype=torch.bool)
    removed[:, :, 1, 1] = True
    filled = impute(x, removed, "background")
    assert filled[0, :, 1, 1].tolist() == pytest.approx([0.9, 0.9]) and filled[1, :, 1, 1].tolist() == pytest.approx([0.7, 0.7])
    assert torch.equal(filled[~removed.expand_as(x)], x[~removed.expand_as(x)])


def test_bad_fill():
    with pytest.raises(ValueError, match="fill must be one of uniform, zero, mean, background"):
        mask_bottom_k(torch.rand(2, 4), torch.rand(2, 4), 0.5, fill="blur")
