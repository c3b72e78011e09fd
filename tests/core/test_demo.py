"""The demo end to end at a small size: every promised file, sensible scores."""

import json
import zipfile

import pytest

from ncglf2.core.apps.demo import run_demo


@pytest.mark.slow
def test_demo_writes_everything(tmp_path):
    summary = run_demo(str(tmp_path), size=96, epochs=3, seed=0, device="cpu")
    expected = [
        "hsi.tif",
        "dsm.tif",
        "train_labels.gpkg",
        "test_labels.tif",
        "classes.csv",
        "model.ncglf2",
        "classification.tif",
        "classification.qml",
        "confidence.tif",
        "training_report.html",
        "accuracy_report.html",
        "accuracy_report.json",
        "accuracy_report.csv",
        "quicklook.png",
        "demo.qgz",
    ]
    missing = [name for name in expected if not (tmp_path / name).is_file()]
    assert not missing
    report = json.loads((tmp_path / "accuracy_report.json").read_text())
    # Every pixel with data is classified, nodata pixels are not.
    from osgeo import gdal

    reference = gdal.Open(str(tmp_path / "test_labels.tif")).ReadAsArray()
    mapped = gdal.Open(str(tmp_path / "classification.tif")).ReadAsArray()
    held_out = reference > 0
    assert report["oa"] == summary["oa"] == pytest.approx((mapped[held_out] == reference[held_out]).mean())

    hsi = gdal.Open(str(tmp_path / "hsi.tif"))
    dsm = gdal.Open(str(tmp_path / "dsm.tif"))
    valid = (hsi.ReadAsArray() != 0).all(axis=0) & (dsm.ReadAsArray() != dsm.GetRasterBand(1).GetNoDataValue())
    classes = gdal.Open(str(tmp_path / "classification.tif")).ReadAsArray()
    assert ((classes > 0) == valid).all()
    assert summary["pixels"] == valid.sum()
    with zipfile.ZipFile(tmp_path / "demo.qgz") as archive:
        project = archive.read(next(n for n in archive.namelist() if n.endswith(".qgs"))).decode()
    assert "./classification.tif" in project and "paletted" in project
