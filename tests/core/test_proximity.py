"""Reference pixels near training pixels: the cell-hashed test equals the brute-force distance, grids convert."""

import numpy as np
import pytest
from osgeo import osr

from ncglf2.core.io.grid import Grid
from ncglf2.core.pipeline import proximity
from ncglf2.core.pipeline.proximity import near_pixels, pixels_on_grid


def brute_force(rows, cols, anchor_rows, anchor_cols, radius):
    if len(anchor_rows) == 0:
        return np.zeros(len(rows), dtype=bool)
    distance = np.maximum(
        np.abs(np.asarray(rows)[:, None] - np.asarray(anchor_rows)[None]),
        np.abs(np.asarray(cols)[:, None] - np.asarray(anchor_cols)[None]),
    )
    return distance.min(axis=1) <= radius


def test_a_hand_case_drops_exactly_the_pixels_within_half_a_patch():
    """Training pixel (10, 10), patch 5 (radius 2): the 5 x 5 square around it is near, nothing else."""
    near = near_pixels(
        np.array([10, 12, 8, 13, 10, 7, 12, 20, 9]),
        np.array([10, 12, 8, 10, 13, 9, 7, 20, 11]),
        np.array([10]),
        np.array([10]),
        2,
    )
    #        itself, corner (2, 2), corner (-2, -2), row +3, col +3, row -3, col -3, far, inside
    assert near.tolist() == [True, True, True, False, False, False, False, False, True]


@pytest.mark.parametrize("radius", [1, 2, 5, 7])
def test_equals_brute_force_on_random_pixels(radius):
    rng = np.random.default_rng(radius)
    rows, cols = rng.integers(-15, 80, 3000), rng.integers(-15, 80, 3000)
    anchor_rows, anchor_cols = rng.integers(-5, 70, 40), rng.integers(-5, 70, 40)
    expected = brute_force(rows, cols, anchor_rows, anchor_cols, radius)
    assert 0 < expected.sum() < expected.size
    np.testing.assert_array_equal(near_pixels(rows, cols, anchor_rows, anchor_cols, radius), expected)


def test_small_chunks_and_pair_groups_give_the_same_answer(monkeypatch):
    """Dense training pixels, many candidates per cell: the bounded batches must not lose or add any."""
    rng = np.random.default_rng(4)
    rows, cols = rng.integers(0, 50, 2000), rng.integers(0, 50, 2000)
    anchor_rows, anchor_cols = rng.integers(0, 50, 900), rng.integers(0, 50, 900)
    expected = brute_force(rows, cols, anchor_rows, anchor_cols, 3)
    monkeypatch.setattr(proximity, "_CHUNK", 37)
    monkeypatch.setattr(proximity, "_PAIRS", 11)
    np.testing.assert_array_equal(near_pixels(rows, cols, anchor_rows, anchor_cols, 3), expected)


def test_no_training_pixels_or_no_reference_pixels():
    assert near_pixels(np.array([1, 2]), np.array([1, 2]), np.array([], int), np.array([], int), 5).tolist() == [
        False,
        False,
    ]
    assert near_pixels(np.array([], int), np.array([], int), np.array([3]), np.array([3]), 5).size == 0


def utm(zone):
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(32600 + zone)
    return srs.ExportToWkt()


def test_pixels_of_a_window_shift_by_its_offset():
    trained = Grid(100, 80, (500000.0, 2.0, 0.0, 4000000.0, 0.0, -2.0), utm(33))
    window = trained.window(30, 20, 40, 40)
    rows, cols = pixels_on_grid(np.array([20, 25, 0]), np.array([30, 31, 99]), trained, window)
    assert rows.tolist() == [0, 5, -20] and cols.tolist() == [0, 1, 69]


def test_another_crs_or_pixel_size_cannot_be_compared():
    trained = Grid(100, 80, (500000.0, 2.0, 0.0, 4000000.0, 0.0, -2.0), utm(33))
    other_crs = Grid(100, 80, trained.geotransform, utm(32))
    finer = Grid(200, 160, (500000.0, 1.0, 0.0, 4000000.0, 0.0, -1.0), utm(33))
    assert "another CRS" in pixels_on_grid(np.array([1]), np.array([1]), trained, other_crs)
    assert "pixels (1 x 1" in pixels_on_grid(np.array([1]), np.array([1]), trained, finer)
