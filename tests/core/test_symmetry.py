"""The 8 symmetries of a patch: exact, all distinct, drawn repeatably, averaged exactly."""

import pytest
import torch

from ncglf2.core.nn.symmetry import SYMMETRIES, apply_symmetry, random_symmetries, symmetry_average
from ncglf2.core.pipeline.tiling import cut_patches

P = 5


def _patch_of(raster: torch.Tensor, row: int, col: int) -> torch.Tensor:
    padded = torch.nn.functional.pad(raster, (P // 2,) * 4)
    return cut_patches(padded, torch.tensor([row]), torch.tensor([col]), P)[0]


@pytest.mark.parametrize("k", range(SYMMETRIES))
def test_the_turned_patch_is_the_patch_cut_from_the_turned_raster(k):
    generator = torch.Generator().manual_seed(k)
    raster = torch.randn(3, 9, 13, generator=generator)
    height, width = raster.shape[1:]
    where = torch.arange(height * width).reshape(height, width)
    turned_raster, turned_where = apply_symmetry(raster, k), apply_symmetry(where, k)
    for row, col in ((4, 6), (0, 0), (8, 12), (2, 11)):
        r, c = (int(v) for v in torch.nonzero(turned_where == row * width + col)[0])
        assert torch.equal(_patch_of(turned_raster, r, c), apply_symmetry(_patch_of(raster, row, col), k))


def test_the_symmetries_are_eight_different_ones_and_the_first_is_the_identity():
    patch = torch.arange(P * P, dtype=torch.float32).reshape(1, P, P)
    images = [apply_symmetry(patch, k) for k in range(SYMMETRIES)]
    assert torch.equal(images[0], patch)
    assert len({tuple(image.flatten().tolist()) for image in images}) == SYMMETRIES
    with pytest.raises(ValueError, match="symmetries 0 to 7"):
        apply_symmetry(patch, 8)


def test_random_symmetries_turn_each_patch_by_one_symmetry_repeatably():
    batch = torch.randn(256, 2, P, P, generator=torch.Generator().manual_seed(0))
    out = random_symmetries(batch, torch.Generator().manual_seed(7))
    again = random_symmetries(batch, torch.Generator().manual_seed(7))
    assert torch.equal(out, again)
    used = set()
    for i in range(batch.shape[0]):  # a test may loop; the code may not
        matches = [k for k in range(SYMMETRIES) if torch.equal(out[i], apply_symmetry(batch[i], k))]
        assert len(matches) == 1
        used.add(matches[0])
    assert used == set(range(SYMMETRIES))


def test_the_symmetry_average_is_the_mean_over_the_eight_turned_batches():
    weights = torch.randn(2 * P * P, 4, generator=torch.Generator().manual_seed(1))

    def probabilities_of(x: torch.Tensor) -> torch.Tensor:
        return torch.softmax(x.flatten(1) @ weights, dim=1)

    batch = torch.randn(6, 2, P, P, generator=torch.Generator().manual_seed(2))
    expected = torch.stack([probabilities_of(apply_symmetry(batch, k)) for k in range(SYMMETRIES)]).mean(0)
    assert torch.allclose(symmetry_average(probabilities_of, batch), expected, atol=1e-6)
    assert not torch.allclose(probabilities_of(batch), expected, atol=1e-3)
