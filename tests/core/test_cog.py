"""Cloud Optimized GeoTIFF output, checked through GDAL's own view of the files."""

import dataclasses
import os

import numpy as np
import pytest
from osgeo import gdal
from rasters import geotransform, srs_wkt
from scenes import build_tiny_scene

from ncglf2.core.errors import Cancelled
from ncglf2.core.io.cog import COG_BLOCK_SIZE, write_cog
from ncglf2.core.io.grid import Grid
from ncglf2.core.io.model_file import load_model
from ncglf2.core.io.reading import read_class_map_info
from ncglf2.core.io.writers import create_geotiff, set_class_table
from ncglf2.core.jobs import classify
from ncglf2.core.pipeline.inference import output_sizes
from ncglf2.core.progress import SilentProgress
from ncglf2.core.requests import ClassifyRequest


def blocks(image: np.ndarray) -> np.ndarray:
    """(..., H / 2, W / 2, 4): the pixels of every 2 x 2 block."""
    *lead, height, width = image.shape
    split = image.reshape(*lead, height // 2, 2, width // 2, 2)
    return np.moveaxis(split, -3, -2).reshape(*lead, height // 2, width // 2, 4)


def test_overviews_hold_each_blocks_most_frequent_class_and_mean_value(tmp_path):
    rng = np.random.default_rng(3)
    height, width = 8, 2 * COG_BLOCK_SIZE + 16  # two overview levels: 272 and 136 pixels wide
    grid = Grid(width, height, geotransform(), srs_wkt())
    # Every 2 x 2 block: three pixels of one class and one of another, somewhere in the block.
    majority = rng.integers(1, 4, (height // 2, width // 2))
    block = np.repeat(majority[..., None], 4, axis=-1)
    odd = rng.integers(0, 4, majority.shape)
    np.put_along_axis(block, odd[..., None], (majority % 3 + 1)[..., None], axis=-1)
    block[0, :8, :3] = 0  # three nodata pixels: the one class left is the block's
    block[1, :8] = 0  # all nodata: nodata
    expected = majority.copy()
    expected[0, :8] = block[0, :8, 3]
    expected[1, :8] = 0
    classes = block.reshape(height // 2, width // 2, 2, 2).transpose(0, 2, 1, 3).reshape(height, width)
    np.testing.assert_array_equal(blocks(classes), block)
    values = rng.random((2, height, width), dtype=np.float32)
    values[:, 0, :6] = -1.0  # nodata: left out of the mean

    source = str(tmp_path / "classes.tif")
    dataset = create_geotiff(source, grid, 1, "uint8", 0, ["land-cover class"])
    set_class_table(dataset, [1, 2, 3], ["water", "trees", "roads"], [(0, 0, 255), (0, 128, 0), (90, 90, 90)])
    dataset.GetRasterBand(1).WriteArray(classes)
    dataset = None
    float_source = str(tmp_path / "probabilities.tif")
    dataset = create_geotiff(float_source, grid, 2, "float32", -1.0, ["water", "trees"])
    dataset.WriteArray(values)
    dataset = None

    write_cog(source, str(tmp_path / "classes_cog.tif"), "MODE")
    write_cog(float_source, str(tmp_path / "probabilities_cog.tif"), "AVERAGE")

    cog = gdal.Open(str(tmp_path / "classes_cog.tif"))
    structure = cog.GetMetadata("IMAGE_STRUCTURE")
    assert (structure["LAYOUT"], structure["COMPRESSION"]) == ("COG", "DEFLATE")
    band = cog.GetRasterBand(1)
    assert band.GetBlockSize() == [COG_BLOCK_SIZE, COG_BLOCK_SIZE] and band.GetOverviewCount() == 2
    overview = band.GetOverview(0).ReadAsArray()
    np.testing.assert_array_equal(overview, expected)
    assert set(np.unique(band.GetOverview(1).ReadAsArray())) <= {0, 1, 2, 3}
    np.testing.assert_array_equal(band.ReadAsArray(), classes)
    assert band.GetNoDataValue() == 0 and band.GetDescription() == "land-cover class"
    assert band.GetRasterCategoryNames() == ["unclassified", "water", "trees", "roads"]
    assert band.GetRasterColorTable().GetColorEntry(2) == (0, 128, 0, 255)
    assert cog.GetGeoTransform() == geotransform() and "32632" in cog.GetProjection()

    cog = gdal.Open(str(tmp_path / "probabilities_cog.tif"))
    assert cog.GetMetadata("IMAGE_STRUCTURE")["PREDICTOR"] == "3"
    with np.errstate(invalid="ignore"):
        mean = np.nanmean(np.where(blocks(values) == -1.0, np.nan, blocks(values)), axis=-1)
    for index in range(2):
        band = cog.GetRasterBand(index + 1)
        assert band.GetNoDataValue() == -1.0 and band.GetDescription() == ["water", "trees"][index]
        np.testing.assert_allclose(band.GetOverview(0).ReadAsArray(), np.nan_to_num(mean[index], nan=-1.0), atol=1e-6)
        np.testing.assert_array_equal(band.ReadAsArray(), values[index])


def test_a_source_gdal_cannot_read_is_an_oserror_naming_the_cog(tmp_path):
    source = tmp_path / "not_a_raster.tif"
    source.write_text("text")
    destination = str(tmp_path / "out.tif")
    with pytest.raises(OSError) as failure:
        write_cog(str(source), destination, "MODE")
    assert failure.value.filename == destination


def test_the_free_space_check_counts_the_geotiff_a_cog_is_copied_from():
    geotiff = output_sizes(10_000, "uint8", 4, "c.tif", "k.tif", "p.tif", None)
    cog = output_sizes(10_000, "uint8", 4, "c.tif", "k.tif", "p.tif", None, "COG")
    assert set(cog) == set(geotiff) == {"c.tif", "k.tif", "p.tif"}
    for path, (low, high) in geotiff.items():
        assert cog[path][0] == 2 * low and cog[path][1] > 2 * high


@pytest.fixture(scope="module")
def strip(tmp_path_factory):
    """A scene wider than a COG tile, so that its outputs get an overview."""
    return build_tiny_scene(tmp_path_factory.mktemp("cog_strip"), height=6, width=COG_BLOCK_SIZE + 24)


def request(model, scene, folder, name, **options) -> ClassifyRequest:
    paths = {key: str(folder / f"{name}_{key}.tif") for key in ("confidence", "probabilities", "margin")}
    base = ClassifyRequest(
        model=model, hsi=scene.hsi, lidar=[scene.dsm], out=str(folder / f"{name}.tif"), device="cpu", **paths
    )
    return dataclasses.replace(base, **options)


def test_cog_outputs_equal_the_geotiffs_with_overviews_classes_and_style(tiny_model, strip, tmp_path):
    plain = classify(request(tiny_model[1], strip, tmp_path, "plain"))
    cog = classify(request(tiny_model[1], strip, tmp_path, "cog", format="COG"))
    for key in ("classes", "confidence", "probabilities", "margin"):
        ours, theirs = gdal.Open(getattr(cog, key)), gdal.Open(getattr(plain, key))
        assert ours.GetMetadata("IMAGE_STRUCTURE")["LAYOUT"] == "COG", key
        assert "LAYOUT" not in theirs.GetMetadata("IMAGE_STRUCTURE")
        np.testing.assert_array_equal(ours.ReadAsArray(), theirs.ReadAsArray())
        assert ours.GetGeoTransform() == theirs.GetGeoTransform() and ours.GetProjection() == theirs.GetProjection()
        for index in range(1, ours.RasterCount + 1):
            band, reference = ours.GetRasterBand(index), theirs.GetRasterBand(index)
            assert band.GetOverviewCount() == 1, key
            assert band.GetNoDataValue() == reference.GetNoDataValue()
            assert band.GetDescription() == reference.GetDescription() != ""
    ours, theirs = gdal.Open(cog.classes), gdal.Open(plain.classes)  # held: a band dies with its dataset
    band, reference = ours.GetRasterBand(1), theirs.GetRasterBand(1)
    assert set(np.unique(band.GetOverview(0).ReadAsArray())) <= {0, *load_model(tiny_model[1]).class_ids}
    bundle = load_model(tiny_model[1])
    classes = (bundle.class_ids, bundle.class_names, [tuple(c[:3]) for c in bundle.class_colors])
    assert read_class_map_info(cog.classes) == read_class_map_info(plain.classes) == classes
    assert band.GetRasterColorTable().GetColorEntry(0) == reference.GetRasterColorTable().GetColorEntry(0)
    with open(cog.style, encoding="utf-8") as style, open(plain.style, encoding="utf-8") as other:
        assert cog.style == str(tmp_path / "cog.qml") and style.read() == other.read()
    assert not [name for name in os.listdir(tmp_path) if name.startswith(".")]  # no working file left


class CancelDuringConversion(SilentProgress):
    """Asks to stop once the COG copy has begun (after every tile was classified)."""

    def __init__(self) -> None:
        self.converting = False

    def info(self, message: str) -> None:
        self.converting = self.converting or "Cloud Optimized GeoTIFF" in message

    def is_canceled(self) -> bool:
        return self.converting


def test_a_stopped_conversion_leaves_the_earlier_outputs_as_they_were(tiny_model, tmp_path):
    scene, model, _ = tiny_model
    first = classify(request(model, scene, tmp_path, "map"))
    before = {name: (tmp_path / name).read_bytes() for name in os.listdir(tmp_path)}
    with pytest.raises(Cancelled):
        classify(request(model, scene, tmp_path, "map", format="COG", overwrite=True), CancelDuringConversion())
    assert {name: (tmp_path / name).read_bytes() for name in os.listdir(tmp_path)} == before
    assert "LAYOUT" not in gdal.Open(first.classes).GetMetadata("IMAGE_STRUCTURE")
