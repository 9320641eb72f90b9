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


def test_foreground_share_is_one_on_the_strokes_and_the_foreground_fraction_for_noise():
    from sgt_course.metrics import foreground_share

    x = torch.zeros(2, 1, 10, 10)
    x[:, :, 2:6, 3:5] = 0.8  # 8 foreground pixels of 100
    on_strokes = x.clone()
    assert foreground_share(on_strokes, x).tolist() == [1.0, 1.0]
    torch.manual_seed(0)
    noise = torch.rand(2000, 1, 10, 10)
    assert foreground_share(noise, x[:1].expand(2000, -1, -1, -1)).mean().item() == pytest.approx(0.08, abs=0.01)
    with pytest.raises(ValueError, match="at least one feature"):
        foreground_share(noise[:2], torch.zeros(2, 1, 10, 10))


def test_spearman_where_ranks_each_sample_among_its_marked_features_only():
    """Restricted to a mask, ρ equals the plain ρ of the marked features taken alone, sample by sample; a
    shared tie outside the mask (a black background at 0 in both maps) no longer counts."""
    torch.manual_seed(0)
    a, b = torch.rand(4, 1, 6, 6), torch.rand(4, 1, 6, 6)
    where = torch.rand(4, 1, 6, 6) > 0.5
    expected = [spearman(a[i][where[i]][None], b[i][where[i]][None]).item() for i in range(4)]
    assert spearman(a, b, where).tolist() == pytest.approx(expected, abs=1e-6)
    background = where.clone()
    a[~background], b[~background] = 0.0, 0.0  # the same tie in both maps, whatever the model
    assert (spearman(a, b) > spearman(a, b, background)).all(), "the tie alone pulls ρ up"
    lonely = torch.zeros_like(where)
    lonely[0, 0, 0, 0] = True
    assert torch.isnan(spearman(a, b, lonely)).all(), "fewer than 2 marked features: no correlation"
