"""Tiles cover windows exactly; patches equal a direct zero-padded cut."""

import numpy as np
import pytest
import torch

from ncglf2.core.pipeline.tiling import cut_patches, tile_windows


@pytest.mark.parametrize(
    "window,tile,block", [((0, 0, 100, 70), 32, (16, 16)), ((5, 7, 50, 41), 20, (256, 1)), ((3, 0, 9, 9), 64, (1, 1))]
)
def test_tiles_cover_window_once(window, tile, block):
    x0, y0, w, h = window
    cover = np.zeros((y0 + h + 1, x0 + w + 1), dtype=int)
    for t in tile_windows(window, tile, block):
        cover[t.y : t.y + t.height, t.x : t.x + t.width] += 1
        assert t.width <= tile and t.height <= tile
    assert (cover[y0 : y0 + h, x0 : x0 + w] == 1).all()
    assert cover.sum() == w * h


def test_tiles_align_to_blocks():
    tiles = tile_windows((10, 10, 200, 200), 100, (32, 32))
    interior = [t for t in tiles if t.x > 10 and t.y > 10]
    assert interior and all(t.x % 96 == 0 and t.y % 96 == 0 for t in interior)


def test_cut_patches_equals_direct_cut():
    rng = np.random.default_rng(0)
    image = rng.normal(size=(3, 9, 12)).astype(np.float32)
    p, r = 5, 2
    padded = np.pad(image, ((0, 0), (r, r), (r, r)))
    rows = np.array([0, 4, 8, 3])
    cols = np.array([0, 11, 5, 6])
    patches = cut_patches(torch.from_numpy(padded), torch.from_numpy(rows), torch.from_numpy(cols), p).numpy()
    assert patches.shape == (4, 3, 5, 5)
    for i, (y, x) in enumerate(zip(rows, cols)):
        expected = padded[:, y : y + p, x : x + p]
        np.testing.assert_array_equal(patches[i], expected)
    # The centre of each patch is the pixel itself; corners outside the image are zero.
    np.testing.assert_array_equal(patches[:, :, r, r], image[:, rows, cols].T)
    assert (patches[0, :, :r, :r] == 0).all()
