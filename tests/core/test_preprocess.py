"""Whitened PCA + standardization: exact against a direct computation."""

import numpy as np
import pytest
from rasters import write_raster

from ncglf2.core import InputError
from ncglf2.core.io.stack import open_inputs
from ncglf2.core.pipeline.preprocess import fit_preprocessing


@pytest.fixture()
def pair(tmp_path):
    rng = np.random.default_rng(1)
    mixing = rng.normal(size=(12, 12))
    cube = (np.einsum("bc,chw->bhw", mixing, rng.normal(size=(12, 30, 40))) * 50 + 1000).astype(np.float32)
    cube[:, 0, :5] = np.nan  # invalid pixels never enter the statistics
    dsm = (rng.normal(size=(30, 40)) * 3 + 20).astype(np.float32)
    dsm[29, 39] = -9999
    return write_raster(tmp_path / "hsi.tif", cube), write_raster(tmp_path / "dsm.tif", dsm, nodata=-9999), cube, dsm


def test_matches_direct_whitened_pca(pair):
    hsi, dsm, cube, height = pair
    with open_inputs(hsi, [dsm]) as stack:
        prep = fit_preprocessing(stack, n_components=5)
        out = prep.apply(*stack.read_window(0, 0, 40, 30))
    valid = np.isfinite(cube).all(0) & (height != -9999)
    x = cube[:, valid].T.astype(np.float64)
    mu = x.mean(0)
    _, s, vt = np.linalg.svd(x - mu, full_matrices=False)
    variance = s**2 / (x.shape[0] - 1)
    scores = (x - mu) @ vt[:5].T / np.sqrt(variance[:5])
    scores *= np.sign(vt[np.arange(5), np.abs(vt[:5]).argmax(1)])  # our sign convention
    expected = np.concatenate((scores, height[valid][:, None]), axis=1)
    expected = (expected - expected.mean(0)) / expected.std(0)
    assert prep.pixel_count == valid.sum() and not prep.sampled
    np.testing.assert_allclose(prep.explained_variance, variance[:5], rtol=1e-9)
    np.testing.assert_allclose(out[:, valid].T, expected, atol=2e-5)
    assert (out[:, ~valid] == 0).all()


def test_sampled_fit_is_close(pair):
    hsi, dsm, _, _ = pair
    with open_inputs(hsi, [dsm]) as stack:
        exact = fit_preprocessing(stack, n_components=3)
        sampled = fit_preprocessing(stack, n_components=3, max_pixels=600, seed=4)
    assert sampled.sampled and sampled.pixel_count < exact.pixel_count
    np.testing.assert_allclose(sampled.explained_variance, exact.explained_variance, rtol=0.35)


def test_too_many_components(pair):
    hsi, dsm, _, _ = pair
    with open_inputs(hsi, [dsm]) as stack, pytest.raises(InputError, match="has 12 bands, fewer than the 40"):
        fit_preprocessing(stack, n_components=40)


def test_rank_deficient_hsi(tmp_path):
    rng = np.random.default_rng(0)
    base = rng.normal(size=(2, 20, 20))
    cube = np.concatenate([base, base + base[:1], base * 2]).astype(np.float32)  # rank 2
    hsi = write_raster(tmp_path / "hsi.tif", cube)
    dsm = write_raster(tmp_path / "dsm.tif", rng.normal(size=(20, 20)).astype(np.float32))
    with open_inputs(hsi, [dsm]) as stack, pytest.raises(InputError, match="only 2 linearly independent bands"):
        fit_preprocessing(stack, n_components=4)
