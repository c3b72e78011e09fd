"""Classification's margin raster and test-time augmentation, checked against an independent computation."""

import dataclasses

import numpy as np
import torch
from osgeo import gdal

from ncglf2.core.io.model_file import load_model
from ncglf2.core.io.stack import open_inputs
from ncglf2.core.jobs import classify
from ncglf2.core.pipeline.inference import FLOAT_NODATA
from ncglf2.core.pipeline.tiling import Tile, read_tile_features
from ncglf2.core.requests import ClassifyRequest


def read_all(path):
    return gdal.Open(str(path)).ReadAsArray()


OUTPUTS = ("confidence", "probabilities", "margin")


def run(tiny_model, tmp_path, name, **options):
    """Classify the tiny scene; output options name a file stem beside the class map."""
    scene, model, _ = tiny_model
    for key in OUTPUTS:
        if key in options:
            options[key] = str(tmp_path / f"{name}_{options[key]}.tif")
    request = ClassifyRequest(
        model=model, hsi=scene.hsi, lidar=[scene.dsm], out=str(tmp_path / f"{name}.tif"), device="cpu", tile_size=16
    )
    return classify(dataclasses.replace(request, **options))


def test_margin_is_the_gap_between_the_two_highest_probabilities(tiny_model, tmp_path):
    result = run(tiny_model, tmp_path, "plain", probabilities="probs", margin="margin", confidence="conf")
    assert result.margin == str(tmp_path / "plain_margin.tif")
    classes = read_all(result.classes)
    probs, margin, confidence = read_all(result.probabilities), read_all(result.margin), read_all(result.confidence)
    valid = classes > 0
    assert margin.dtype == np.float32 and margin.shape == classes.shape
    top = np.sort(probs[:, valid], axis=0)
    np.testing.assert_allclose(margin[valid], top[-1] - top[-2], rtol=0, atol=1e-6)
    assert (margin[valid] >= 0).all() and (margin[valid] <= 1).all() and margin[valid].std() > 0.01
    assert (margin[valid] <= confidence[valid] + 1e-6).all()
    assert (margin[~valid] == FLOAT_NODATA).all() and (~valid).any()
    assert gdal.Open(result.margin).GetRasterBand(1).GetNoDataValue() == FLOAT_NODATA


def symmetries(patches):
    """The 8 turned and mirrored copies of (N, C, P, P) numpy patches, made with numpy."""
    copies = []
    for mirrored in (patches, np.flip(patches, axis=3)):
        copies += [np.rot90(mirrored, k, axes=(2, 3)) for k in range(4)]
    return [np.ascontiguousarray(c) for c in copies]


def test_tta_equals_the_mean_over_8_explicit_symmetries(tiny_model, tmp_path):
    scene, model, _ = tiny_model
    plain = read_all(run(tiny_model, tmp_path, "plain", probabilities="probs").probabilities)
    tta = run(tiny_model, tmp_path, "tta", probabilities="probs", tta=True)
    averaged = read_all(tta.probabilities)

    bundle = load_model(model)
    size = bundle.config.patch_size
    with open_inputs(scene.hsi, [scene.dsm]) as stack:
        tile = Tile(0, 0, stack.grid.width, stack.grid.height)
        features, valid = read_tile_features(stack, bundle.preprocessing, tile, size // 2)
    rows, cols = np.nonzero(valid)
    pick = np.random.default_rng(0).choice(rows.size, 12, replace=False)
    rows, cols = rows[pick], cols[pick]
    patches = np.stack([features[:, r : r + size, c : c + size] for r, c in zip(rows, cols)])
    with torch.no_grad():
        probabilities = [torch.softmax(bundle.network(torch.from_numpy(p))[0], 1).numpy() for p in symmetries(patches)]
    expected = np.mean(probabilities, axis=0)  # (12, K)

    np.testing.assert_allclose(averaged[:, rows, cols].T, expected, rtol=0, atol=2e-5)
    np.testing.assert_allclose(plain[:, rows, cols].T, probabilities[0], rtol=0, atol=2e-5)
    assert np.abs(averaged[:, rows, cols] - plain[:, rows, cols]).max() > 1e-3  # the symmetries do change things
    assert np.allclose(averaged[:, valid].sum(axis=0), 1.0, atol=1e-5)


def test_tta_labels_are_the_argmax_of_its_probabilities(tiny_model, tmp_path):
    result = run(tiny_model, tmp_path, "tta", probabilities="probs", tta=True)
    classes, probs = read_all(result.classes), read_all(result.probabilities)
    valid = classes > 0
    ids = np.array(load_model(tiny_model[1]).class_ids)
    np.testing.assert_array_equal(classes[valid], ids[np.argmax(probs[:, valid], axis=0)])


def test_tta_in_bfloat16_agrees_with_float32(tiny_model, tmp_path):
    reference = read_all(run(tiny_model, tmp_path, "exact", tta=True).classes)
    fast = read_all(run(tiny_model, tmp_path, "fast", tta=True, precision="bfloat16").classes)
    assert (fast == reference).mean() > 0.95
