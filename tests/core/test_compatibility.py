"""A model applied to data of another scale, unit or band order says so before it classifies."""

from __future__ import annotations

import re

import numpy as np
import pytest
from osgeo import gdal
from rasters import write_raster
from scenes import build_tiny_scene

from ncglf2.core.jobs import classify
from ncglf2.core.requests import ClassifyRequest


def _cube(path: str) -> np.ndarray:
    return gdal.Open(path).ReadAsArray().astype(np.float32)


def _classify(model: str, hsi: str, dsm: str, out) -> list[str]:
    return classify(ClassifyRequest(model=model, hsi=hsi, lidar=[dsm], out=str(out), device="cpu")).warnings


def test_data_like_the_training_data_gives_no_warning(tiny_model, tmp_path):
    scene, model, _ = tiny_model
    other = build_tiny_scene(tmp_path, seed=5)  # another scene of the same "sensor"
    assert _classify(model, scene.hsi, scene.dsm, tmp_path / "a.tif") == []
    assert _classify(model, other.hsi, other.dsm, tmp_path / "b.tif") == []


@pytest.mark.parametrize(
    ("change", "role", "says"),
    [
        ("reflectance", "HSI", r"about 0\.0001 times those the model was trained on"),
        ("reversed bands", "HSI", r"mean spectrum does not follow .*correlation -1\.00.*another order"),
        ("heights in cm", "LiDAR", r"about 100 times those the model was trained on"),
    ],
)
def test_data_of_another_scale_or_band_order_is_warned_about(tiny_model, tmp_path, change, role, says):
    scene, model, _ = tiny_model
    hsi, dsm = scene.hsi, scene.dsm
    if change == "reflectance":  # the scene stored as 0-1 instead of 0-10000
        hsi = write_raster(tmp_path / "reflectance.tif", _cube(scene.hsi) / 10000, nodata=0)
    elif change == "reversed bands":
        hsi = write_raster(tmp_path / "reversed.tif", _cube(scene.hsi)[::-1].copy(), nodata=0)
    else:
        dsm = write_raster(tmp_path / "cm.tif", _cube(scene.dsm) * 100)
    warnings = _classify(model, hsi, dsm, tmp_path / "c.tif")
    assert len(warnings) == 1 and warnings[0].startswith(f"warning: the {role} ")
    assert (hsi if role == "HSI" else dsm) in warnings[0]
    assert re.search(says, warnings[0]), warnings[0]
