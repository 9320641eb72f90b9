"""ROAD's noisy linear imputation against cases solved by hand, its defining equation, its range, and
bad arguments; the simple fills through the same function."""

from __future__ import annotations

import pytest
import torch

from sgt_course.imputation import NEIGHBOURS, impute


def _one(image: list[list[float]]) -> torch.Tensor:
    return torch.tensor(image, dtype=torch.float64)[None, None]


def test_a_lone_removed_pixel_is_the_weighted_mean_of_its_eight_neighbours():
    x = _one([[1, 2, 3], [4, 99, 6], [7, 8, 9]])
    removed = torch.zeros_like(x, dtype=torch.bool)
    removed[0, 0, 1, 1] = True
    expected = (2 + 4 + 6 + 8) / 6 + (1 + 3 + 7 + 9) / 12  # = 5
    assert impute(x, removed)[0, 0, 1, 1].item() == pytest.approx(expected)
    assert torch.equal(impute(x, removed)[~removed], x[~removed])


def test_two_removed_neighbours_are_solved_together():
    """Pixels a = (1, 1) and b = (1, 2) of a 3x4 image of ones but a 4 at (0, 3), each the other's
    neighbour: the 2x2 system written out by hand below."""
    x = _one([[1, 1, 1, 4], [1, 0, 0, 1], [1, 1, 1, 1]])
    removed = torch.zeros_like(x, dtype=torch.bool)
    removed[0, 0, 1, 1] = removed[0, 0, 1, 2] = True
    # a's known neighbours: 3 direct (1/6 each) and 4 diagonal (1/12 each), all 1 -> 3/6 + 4/12 = 5/6.
    # b's known neighbours: 3 direct ones (1/6 each, value 1); diagonals (0,1)=1, (0,3)=4, (2,1)=1, (2,3)=1.
    # a = b/6 + 5/6;  b = a/6 + 3/6 + (1 + 4 + 1 + 1)/12  ->  solve the 2x2 system.
    system = torch.tensor([[1.0, -1 / 6], [-1 / 6, 1.0]], dtype=torch.float64)
    right = torch.tensor([5 / 6, 3 / 6 + 7 / 12], dtype=torch.float64)
    a, b = torch.linalg.solve(system, right).tolist()
    out = impute(x, removed)
    assert out[0, 0, 1, 1].item() == pytest.approx(a) and out[0, 0, 1, 2].item() == pytest.approx(b)


def test_with_no_noise_every_imputed_pixel_is_the_mean_of_its_neighbours_in_the_image():
    generator = torch.Generator().manual_seed(0)
    x = torch.rand(3, 2, 9, 11, generator=generator, dtype=torch.float64)
    removed = torch.rand(3, 1, 9, 11, generator=generator) < 0.6
    out = impute(x, removed)
    padded = torch.nn.functional.pad(out, (1, 1, 1, 1))
    inside = torch.nn.functional.pad(torch.ones_like(out[:, :1]), (1, 1, 1, 1))
    total = torch.zeros_like(out)
    weight = torch.zeros_like(out[:, :1])
    for (dy, dx), w in NEIGHBOURS.items():
        total += w * padded[:, :, 1 + dy:10 + dy, 1 + dx:12 + dx]
        weight += w * inside[:, :, 1 + dy:10 + dy, 1 + dx:12 + dx]
    mean = total / weight
    assert torch.allclose(out[removed.expand_as(out)], mean[removed.expand_as(out)], atol=1e-10)
    assert torch.equal(out[~removed.expand_as(out)], x[~removed.expand_as(out)])


def test_imputed_values_stay_in_each_images_range_even_with_noise():
    generator = torch.Generator().manual_seed(1)
    x = 0.2 + 0.5 * torch.rand(4, 1, 12, 12, generator=generator)
    removed = torch.rand(4, 1, 12, 12, generator=generator) < 0.5
    out = impute(x, removed, sigma=0.5, generator=torch.Generator().manual_seed(2))
    low, high = x.flatten(1).amin(1), x.flatten(1).amax(1)
    assert (out.flatten(1).amin(1) >= low).all() and (out.flatten(1).amax(1) <= high).all()
    again = impute(x, removed, sigma=0.5, generator=torch.Generator().manual_seed(2))
    assert torch.equal(out, again), "seeded noise repeats"
    assert not torch.equal(out, impute(x, removed)), "σ > 0 adds noise"


def test_the_simple_fills_replace_only_the_removed_pixels():
    x = torch.rand(2, 3, 5, 5)
    removed = torch.zeros(2, 1, 5, 5, dtype=torch.bool)
    removed[:, :, 1:3, 1:3] = True
    assert (impute(x, removed, "zero")[removed.expand_as(x)] == 0).all()
    means = x.flatten(1).mean(1)
    assert torch.allclose(impute(x, removed, "mean")[0, :, 1, 1], means[0].expand(3))
    uniform = impute(x, removed, "uniform", generator=torch.Generator().manual_seed(0))
    assert torch.equal(uniform[~removed.expand_as(x)], x[~removed.expand_as(x)])


@pytest.mark.parametrize("call, error, message", [
    (lambda x, r: impute(x, r, "blur"), ValueError, "fill must be one of uniform, zero, mean, background, linear; got 'blur'"),
    (lambda x, r: impute(x, r, sigma=-0.1), ValueError, "sigma must be a finite number >= 0"),
    (lambda x, r: impute(x, r.float()), TypeError, "removed must be a bool tensor"),
    (lambda x, r: impute(x, r[:, :, :3]), ValueError, r"removed must have shape \(N, 1, H, W\)"),
    (lambda x, r: impute(x[0], r[0]), ValueError, r"linear imputation needs images \(N, C, H, W\)"),
    (lambda x, r: impute(x, r[:, :, :3], "zero"), ValueError, "removed must be shaped like x"),
    (lambda x, r: impute(x.long(), r), TypeError, "x must be a floating-point tensor"),
    (lambda x, r: impute(x, torch.ones_like(r)), ValueError, "at least one pixel of every image"),
])
def test_bad_arguments(call, error, message):
    x, removed = torch.rand(2, 1, 6, 6), torch.rand(2, 1, 6, 6) < 0.3
    with pytest.raises(error, match=message):
        call(x, removed)
