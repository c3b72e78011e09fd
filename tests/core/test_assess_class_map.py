"""``ncglf2 assess`` takes only a class map: one band of whole class ids that share ids with the reference."""

import json

import numpy as np
from osgeo import gdal
from scenes import build_tiny_scene
from test_cli import run


def write_like(path, template, bands, dtype=gdal.GDT_Float32):
    """A GeoTIFF on the grid of ``template`` holding ``bands`` (a list of 2-D arrays)."""
    grid = gdal.Open(str(template))
    dataset = gdal.GetDriverByName("GTiff").Create(str(path), grid.RasterXSize, grid.RasterYSize, len(bands), dtype)
    dataset.SetGeoTransform(grid.GetGeoTransform())
    dataset.SetProjection(grid.GetProjection())
    for index, band in enumerate(bands, start=1):
        dataset.GetRasterBand(index).WriteArray(band)
    dataset = None
    return path


def labels_of(scene):
    return gdal.Open(scene.labels).ReadAsArray()


def assess(classification, reference, out, *extra):
    return run(
        "assess", "--classification", classification, "--reference", reference, "--out", out, *extra, check=False
    )


def test_a_16_band_float_raster_is_refused_before_any_work(tmp_path):
    scene = build_tiny_scene(tmp_path)
    shape = labels_of(scene).shape
    rng = np.random.default_rng(3)
    stack = write_like(tmp_path / "stack.tif", scene.labels, [rng.random(shape, dtype=np.float32) for _ in range(16)])
    report = tmp_path / "accuracy.html"
    report.write_text("an earlier report")
    done = assess(stack, scene.labels, report, "--overwrite")
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1] == (
        f"ncglf2 assess: error: the class map {stack} has 16 bands of Float32; a class map has one band of "
        "whole class ids (Byte, UInt16 or another integer type), as ncglf2 classify writes"
    )
    assert "labelled pixels" not in done.stderr  # refused before the reference was read
    assert report.read_text() == "an earlier report" and not (tmp_path / "accuracy.json").exists()
    done = assess(scene.hsi, scene.labels, tmp_path / "hsi.html")
    assert done.returncode == 2 and f"the class map {scene.hsi} has 8 bands of " in done.stderr


def test_a_float_band_of_whole_ids_is_assessed_as_the_integer_map_and_a_confidence_raster_is_refused(tmp_path):
    scene = build_tiny_scene(tmp_path)
    labels = labels_of(scene)
    truth = labels[labels > 0]
    # A map that is right on two thirds of the labelled pixels: class ids shifted by one on the rest.
    rows, cols = np.nonzero(labels)
    wrong = np.arange(rows.size) % 3 == 0
    mapped = labels.copy()
    mapped[rows[wrong], cols[wrong]] = labels[rows[wrong], cols[wrong]] % 3 + 1
    as_bytes = write_like(tmp_path / "bytes.tif", scene.labels, [mapped], gdal.GDT_Byte)
    as_floats = write_like(tmp_path / "floats.tif", scene.labels, [mapped.astype(np.float32)])
    figures = []
    for name, path in (("bytes", as_bytes), ("floats", as_floats)):
        done = assess(path, scene.labels, tmp_path / f"{name}.html", "--json", tmp_path / f"{name}.json")
        assert done.returncode == 0, done.stderr
        report = json.loads((tmp_path / f"{name}.json").read_text())
        figures.append({k: v for k, v in report.items() if k not in ("created", "context")})
    assert figures[0] == figures[1] and figures[0]["confusion_matrix"]
    assert figures[0]["oa"] == (mapped[labels > 0] == truth).mean() and figures[0]["n"] == truth.size

    confidence = np.where(labels > 0, 0.25 + 0.5 * (labels % 2), 0).astype(np.float32)
    path = write_like(tmp_path / "confidence.tif", scene.labels, [confidence])
    done = assess(path, scene.labels, tmp_path / "confidence.html")
    first = (rows[0], cols[0])
    assert done.returncode == 2 and not (tmp_path / "confidence.html").exists()
    assert (
        f"the class map {path} holds {confidence[first]:g} at row {first[0]}, column {first[1]}, which is no class id"
        in done.stderr
    )


def test_a_map_that_shares_no_class_id_with_the_reference_is_refused(tmp_path):
    scene = build_tiny_scene(tmp_path)
    labels = labels_of(scene)
    recoded = write_like(tmp_path / "recoded.tif", scene.labels, [np.where(labels > 0, labels + 10, 0)], gdal.GDT_Byte)
    done = assess(recoded, scene.labels, tmp_path / "recoded.html")
    assert done.returncode == 2 and not (tmp_path / "recoded.html").exists()
    assert done.stderr.strip().splitlines()[-1] == (
        f"ncglf2 assess: error: the class map {recoded} and the reference {scene.labels} have no class id in "
        "common: the map holds 11, 12, 13 at the reference pixels, the reference has 1, 2, 3; give a reference "
        "with the map's class ids, or with class names that match the map's in a text field"
    )
    # One id in common is a real, if poor, map: it is assessed.
    partly = write_like(tmp_path / "partly.tif", scene.labels, [np.where(labels == 1, 1, labels + 10)], gdal.GDT_Byte)
    done = assess(partly, scene.labels, tmp_path / "partly.html", "--json", tmp_path / "partly.json")
    assert done.returncode == 0, done.stderr
    assert json.loads((tmp_path / "partly.json").read_text())["oa"] == (labels[labels > 0] == 1).mean()
