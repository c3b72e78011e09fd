"""Reading HSI + LiDAR on one grid, warping, refusals, and the class-map writers."""

import os
from xml.etree import ElementTree as ET

import numpy as np
import pytest
from osgeo import gdal, osr
from rasters import (
    ORIGIN,
    geotransform,
    hsi_cube,
    ramp,
    ramp_at,
    srs_wkt,
    with_band_nodata,
    write_raster,
)

from ncglf2.core.errors import InputError
from ncglf2.core.io.crs import gdal_errors
from ncglf2.core.io.grid import Grid
from ncglf2.core.io.stack import open_inputs
from ncglf2.core.io.writers import create_geotiff, set_class_table, write_paletted_qml

H, W = 30, 40


@pytest.fixture
def hsi(tmp_path):
    data = hsi_cube(5, H, W)
    path = write_raster(tmp_path / "hsi.tif", data, descriptions=[f"{400 + 10 * i} nm" for i in range(5)])
    return path, data


@pytest.fixture
def dsm(tmp_path):
    data = ramp(H, W, geotransform())
    return write_raster(tmp_path / "dsm.tif", data, nodata=-9999), data


def test_same_grid_reads_values_names_and_sizes(hsi, dsm):
    (hsi_path, cube), (dsm_path, height) = hsi, dsm
    logs = []
    with open_inputs(hsi_path, [dsm_path], log=logs.append) as stack:
        assert (stack.hsi_bands, stack.lidar_bands) == (5, 1)
        assert stack.band_names == ["400 nm", "410 nm", "420 nm", "430 nm", "440 nm"]
        assert stack.grid.width == W and stack.grid.height == H
        assert stack.grid.geotransform == geotransform()
        assert stack.grid.block_size == tuple(gdal.Open(hsi_path).GetRasterBand(1).GetBlockSize())
        values, lidar, valid = stack.read_window(3, 4, 10, 7)
        assert values.dtype == lidar.dtype == np.float32 and valid.dtype == bool
        np.testing.assert_array_equal(values, cube[:, 4:11, 3:13])
        np.testing.assert_array_equal(lidar[0], height[4:11, 3:13])
        assert valid.all()
        with pytest.raises(ValueError, match="outside"):
            stack.read_window(35, 0, 10, 5)
    assert logs == []  # nothing warped


def test_envi_int16_hsi_with_esri_crs_is_read_on_the_lidar_grid(tmp_path, dsm):
    cube = (hsi_cube(4, H, W) - 500).astype(np.int16)
    cube[2, 6, 7] = -32768
    path = write_raster(
        tmp_path / "hsi.dat",
        cube,
        driver="ENVI",
        nodata=-32768,
        descriptions=["B1 (450 nm)", "B2 (550 nm)", "B3 (650 nm)", "B4 (750 nm)"],
    )
    assert "coordinate system string" in (tmp_path / "hsi.hdr").read_text()  # ESRI WKT, not EPSG's
    logs = []
    with open_inputs(path, [dsm[0]], log=logs.append) as stack:
        assert stack.band_names == ["B1 (450 nm)", "B2 (550 nm)", "B3 (650 nm)", "B4 (750 nm)"]
        values, lidar, valid = stack.read_window(0, 0, W, H)
    assert logs == []  # the same CRS in other words: no warp
    np.testing.assert_array_equal(values, cube.astype(np.float32))
    np.testing.assert_array_equal(lidar[0], dsm[1])
    assert np.argwhere(~valid).tolist() == [[6, 7]]


def test_per_band_nodata_nan_and_inf_make_pixels_invalid(tmp_path):
    cube = hsi_cube(3, H, W, dtype="int16")
    cube[0, 1, 2] = 0  # band 1 nodata
    cube[1, 3, 4] = -9999  # band 2 nodata
    cube[0, 5, 6] = -9999  # band 1 holds band 2's nodata: still valid
    hsi_path = with_band_nodata(write_raster(tmp_path / "hsi.tif", cube), tmp_path / "hsi.vrt", [0, -9999, None])
    first = ramp(H, W, geotransform())
    first[7, 8] = np.nan
    first[9, 10] = -1.0  # its nodata
    second = ramp(H, W, geotransform(), a=1, b=1, c=7)
    second[11, 12] = np.inf
    first_path = write_raster(tmp_path / "dsm.tif", first, nodata=-1)
    second_path = write_raster(tmp_path / "intensity.tif", second.astype(np.float64))
    with open_inputs(hsi_path, [first_path, second_path]) as stack:
        assert stack.lidar_bands == 2
        values, lidar, valid = stack.read_window(0, 0, W, H)
    invalid = {tuple(p) for p in np.argwhere(~valid)}
    assert invalid == {(1, 2), (3, 4), (7, 8), (9, 10), (11, 12)}
    assert values[0, 5, 6] == -9999
    np.testing.assert_allclose(lidar[1, 0, :5], second[0, :5])


def test_read_rows_matches_window_reads(hsi, dsm):
    with open_inputs(hsi[0], [dsm[0]]) as stack:
        rows = np.array([29, 0, 5, 5, 17, 1])
        values, lidar, valid = stack.read_rows(rows)
        full_values, full_lidar, full_valid = stack.read_window(0, 0, W, H)
    assert values.shape == (5, 6, W) and lidar.shape == (1, 6, W) and valid.shape == (6, W)
    np.testing.assert_array_equal(values, full_values[:, rows])
    np.testing.assert_array_equal(lidar, full_lidar[:, rows])
    np.testing.assert_array_equal(valid, full_valid[rows])


def test_coarser_shifted_lidar_is_warped_bilinearly(tmp_path, hsi):
    # 2 m pixels, origin 3 m west and 1 m north of the HSI's; covers only x < ORIGIN + 25 m
    gt = (ORIGIN[0] - 3, 2.0, 0, ORIGIN[1] + 1, 0, -2.0)
    path = write_raster(tmp_path / "dsm2m.tif", ramp(17, 14, gt), gt=gt, nodata=-9999)
    logs = []
    with open_inputs(hsi[0], [path], log=logs.append) as stack:
        _, lidar, valid = stack.read_window(0, 0, W, H)
    assert len(logs) == 1
    assert "dsm2m.tif is on another grid" in logs[0] and "resolution 2 x 2 vs 1 x 1" in logs[0]
    assert "warped bilinearly" in logs[0]
    expected = ramp(H, W, geotransform())
    # bilinear reproduces a linear ramp wherever the 2x2 source neighbourhood exists
    inner = (slice(1, H - 2), slice(1, 20))
    np.testing.assert_allclose(lidar[0][inner], expected[inner], atol=1e-3)
    assert lidar[0, 10, 5] == pytest.approx(2.0 * 5.5 - 3.0 * -10.5 + 500.0, abs=1e-3)
    assert not valid[:, 26:].any()  # beyond the LiDAR's east edge
    assert valid[:, :20].all()


def test_lidar_in_geographic_crs_is_warped_onto_utm(tmp_path, hsi):
    utm, wgs84 = osr.SpatialReference(), osr.SpatialReference()
    utm.ImportFromEPSG(32632)
    wgs84.ImportFromEPSG(4326)
    for srs in (utm, wgs84):
        srs.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
    to_utm = osr.CoordinateTransformation(wgs84, utm)
    lon0, lat0, _ = osr.CoordinateTransformation(utm, wgs84).TransformPoint(ORIGIN[0] - 5, ORIGIN[1] + 5)
    step = 2e-5  # about 1.5 m x 2.2 m: coarser than the HSI, so bilinear stays a plain 2x2 interpolation
    width, height = 40, 25
    gt = (lon0, step, 0, lat0, 0, -step)
    lon = lon0 + (np.arange(width) + 0.5) * step
    lat = lat0 - (np.arange(height) + 0.5) * step
    grid_lon, grid_lat = np.meshgrid(lon, lat)
    points = np.array(to_utm.TransformPoints(np.column_stack([grid_lon.ravel(), grid_lat.ravel()]).tolist()))
    values = ramp_at(points[:, 0], points[:, 1]).reshape(height, width)
    path = write_raster(tmp_path / "dsm_wgs84.tif", values, gt=gt, crs=srs_wkt(4326))
    logs = []
    with open_inputs(hsi[0], [path], log=logs.append) as stack:
        _, lidar, valid = stack.read_window(0, 0, W, H)
    assert "CRS EPSG:4326 vs EPSG:32632" in logs[0]
    assert valid[2:-2, 2:-2].all()
    expected = ramp(H, W, geotransform())
    np.testing.assert_allclose(lidar[0][valid], expected[valid], atol=0.05)


def test_same_crs_as_proj_string_is_not_warped(tmp_path, hsi):
    values = (ramp(H, W, geotransform()) * 10).astype(np.int16)
    path = write_raster(
        tmp_path / "dsm.tif", values, crs=srs_wkt(proj="+proj=utm +zone=32 +datum=WGS84 +units=m +no_defs")
    )
    logs = []
    with open_inputs(hsi[0], [path], log=logs.append) as stack:
        _, lidar, _ = stack.read_window(0, 0, W, H)
    assert logs == []
    np.testing.assert_array_equal(lidar[0], values.astype(np.float32))


def test_missing_files_and_no_lidar_are_named(tmp_path, hsi, dsm):
    missing = str(tmp_path / "nope.tif")
    with pytest.raises(InputError, match=r"HSI raster .*nope\.tif does not exist"):
        open_inputs(missing, [dsm[0]])
    with pytest.raises(InputError, match=r"LiDAR raster .*nope\.tif does not exist"):
        open_inputs(hsi[0], [dsm[0], missing])
    with pytest.raises(InputError, match=r"no LiDAR raster .*hsi\.tif"):
        open_inputs(hsi[0], [])
    text = tmp_path / "notes.tif"
    text.write_text("not a raster")
    with pytest.raises(InputError, match=r"notes\.tif cannot be read by GDAL"):
        open_inputs(hsi[0], [str(text)])


def test_hsi_without_bands_is_refused(tmp_path, hsi, dsm):
    container = str(tmp_path / "two.gpkg")
    for index, table in enumerate("ab"):
        options = [f"RASTER_TABLE={table}"] + (["APPEND_SUBDATASET=YES"] if index else [])
        gdal.Translate(
            container, hsi[0], format="GPKG", bandList=[1], outputType=gdal.GDT_Byte, creationOptions=options
        )
    with pytest.raises(InputError, match=r"HSI raster .*two\.gpkg has no band.*GPKG:.*two\.gpkg:a"):
        open_inputs(container, [dsm[0]])


def test_lidar_without_overlap_names_both_rasters(tmp_path, hsi):
    gt = (ORIGIN[0] + 5000, 1.0, 0, ORIGIN[1], 0, -1.0)
    path = write_raster(tmp_path / "far.tif", ramp(H, W, gt), gt=gt)
    with pytest.raises(InputError) as info:
        open_inputs(hsi[0], [path])
    message = str(info.value)
    assert "far.tif does not overlap" in message and "hsi.tif" in message
    assert "665000" in message and "660000" in message


def test_geographic_lidar_elsewhere_is_refused_with_a_hint(tmp_path, hsi):
    gt = (-60.0, 0.001, 0, -10.0, 0, -0.001)  # South America: no overlap with UTM 32N Trento
    path = write_raster(tmp_path / "dsm_geo.tif", np.ones((20, 20), np.float32), gt=gt, crs=srs_wkt(4326))
    with pytest.raises(InputError) as info:
        open_inputs(hsi[0], [path])
    message = str(info.value)
    assert "dsm_geo.tif" in message and "hsi.tif" in message
    assert "geographic CRS (EPSG:4326)" in message and "projected CRS (EPSG:32632)" in message


def test_georeferencing_on_one_raster_only_is_refused(tmp_path, hsi):
    path = write_raster(tmp_path / "plain.tif", np.ones((H, W), np.float32), gt=(), crs="")
    with pytest.raises(InputError, match=r"hsi\.tif is georeferenced but .*plain\.tif is not"):
        open_inputs(hsi[0], [path])


def test_rasters_without_georeferencing_must_match_in_size(tmp_path):
    cube = hsi_cube(2, H, W)
    hsi_path = write_raster(tmp_path / "hsi.tif", cube, gt=(), crs="")
    same = write_raster(tmp_path / "same.tif", np.full((H, W), 3, np.float32), gt=(), crs="")
    with open_inputs(hsi_path, [same]) as stack:
        assert not stack.grid.is_georeferenced
        np.testing.assert_array_equal(stack.read_window(0, 0, 2, 2)[1], np.full((1, 2, 2), 3, np.float32))
    other = write_raster(tmp_path / "other.tif", np.ones((H, W + 1), np.float32), gt=(), crs="")
    with pytest.raises(InputError, match=r"neither .*hsi\.tif \(40x30\) nor .*other\.tif \(41x30\)"):
        open_inputs(hsi_path, [other])


def test_gdal_exception_state_is_restored():
    before = (gdal.GetUseExceptions(), osr.GetUseExceptions())
    with pytest.raises(InputError):
        open_inputs("/nonexistent/hsi.tif", ["/nonexistent/dsm.tif"])
    assert (gdal.GetUseExceptions(), osr.GetUseExceptions()) == before
    with gdal_errors():
        assert gdal.GetUseExceptions() == 1
        with gdal_errors():
            pass
        assert gdal.GetUseExceptions() == 1
    assert gdal.GetUseExceptions() == before[0]


def test_grid_windows():
    grid = Grid(W, H, geotransform(), srs_wkt())
    sub = grid.window(10, 5, 4, 3)
    assert (sub.width, sub.height) == (4, 3)
    assert sub.geotransform == (ORIGIN[0] + 10, 1.0, 0.0, ORIGIN[1] - 5, 0.0, -1.0)
    assert grid.window_from_extent(ORIGIN[0] + 10, ORIGIN[1] - 8, ORIGIN[0] + 14, ORIGIN[1] - 5) == (10, 5, 4, 3)
    assert grid.window_from_extent(ORIGIN[0] + 10.5, ORIGIN[1] - 7.5, ORIGIN[0] + 13.2, ORIGIN[1] - 5.1) == (
        10,
        5,
        4,
        3,
    )
    assert grid.window_from_extent(ORIGIN[0] - 100, ORIGIN[1] - 100, ORIGIN[0] + 2, ORIGIN[1] + 100) == (0, 0, 2, H)
    with pytest.raises(InputError, match="does not overlap"):
        grid.window_from_extent(0, 0, 10, 10)
    assert grid.is_georeferenced
    assert not Grid(W, H, (0.0, 1.0, 0.0, 0.0, 0.0, 1.0), "").is_georeferenced
    assert Grid(W, H, (0.0, 1.0, 0.0, 0.0, 0.0, 1.0), srs_wkt()).is_georeferenced


def test_created_geotiff_has_class_table_tiling_and_georeferencing(tmp_path):
    grid = Grid(300, 260, geotransform(), srs_wkt())
    path = str(tmp_path / "classes.tif")
    dataset = create_geotiff(path, grid, 1, "uint8", 0, band_names=["class"])
    set_class_table(dataset, [1, 3], ["water", "trees"], [(0, 0, 255), (0, 128, 0)])
    data = np.zeros((260, 300), np.uint8)
    data[:10, :10] = 3
    dataset.GetRasterBand(1).WriteArray(data)
    dataset = None

    dataset = gdal.Open(path)
    band = dataset.GetRasterBand(1)
    assert band.GetBlockSize() == [256, 256]
    assert dataset.GetMetadataItem("COMPRESSION", "IMAGE_STRUCTURE") == "DEFLATE"
    assert dataset.GetGeoTransform() == geotransform()
    srs = osr.SpatialReference(dataset.GetProjection())
    assert srs.GetAuthorityCode(None) == "32632"
    assert band.GetNoDataValue() == 0
    assert band.GetDescription() == "class"
    assert band.GetRasterCategoryNames() == ["unclassified", "water", "", "trees"]
    table = band.GetRasterColorTable()
    assert table.GetColorEntry(0)[3] == 0
    assert table.GetColorEntry(1) == (0, 0, 255, 255)
    assert table.GetColorEntry(3) == (0, 128, 0, 255)
    assert band.GetRasterColorInterpretation() == gdal.GCI_PaletteIndex
    assert band.ReadAsArray()[5, 5] == 3


def test_created_float_geotiff_uses_floating_point_predictor(tmp_path):
    grid = Grid(20, 10, geotransform(), srs_wkt())
    path = str(tmp_path / "probabilities.tif")
    dataset = create_geotiff(path, grid, 3, "float32", None, band_names=["a", "b", "c"])
    dataset.GetRasterBand(2).WriteArray(np.full((10, 20), 0.25, np.float32))
    dataset = None
    dataset = gdal.Open(path)
    assert dataset.RasterCount == 3 and dataset.GetRasterBand(2).DataType == gdal.GDT_Float32
    assert dataset.GetMetadataItem("PREDICTOR", "IMAGE_STRUCTURE") == "3"
    assert dataset.GetRasterBand(2).ReadAsArray()[3, 3] == 0.25
    with pytest.raises(ValueError, match="dtype"):
        create_geotiff(str(tmp_path / "x.tif"), grid, 1, "int64", None)


def test_paletted_qml_lists_every_class(tmp_path):
    path = tmp_path / "classes.qml"
    write_paletted_qml(
        str(path), [1, 2, 7], ["water", "trees", "road & rail"], [(0, 0, 255), (0, 128, 0), (255, 200, 10)]
    )
    root = ET.parse(path).getroot()
    renderer = root.find("pipe/rasterrenderer")
    assert renderer.get("type") == "paletted" and renderer.get("band") == "1"
    entries = [
        (e.get("value"), e.get("color"), e.get("label"), e.get("alpha"))
        for e in renderer.findall("colorPalette/paletteEntry")
    ]
    assert entries == [
        ("1", "#0000ff", "water", "255"),
        ("2", "#008000", "trees", "255"),
        ("7", "#ffc80a", "road & rail", "255"),
    ]
    assert sorted(os.listdir(tmp_path)) == ["classes.qml"]  # no temporary file left


def test_ground_beyond_a_lidar_without_nodata_is_invalid(tmp_path, hsi):
    gt = (ORIGIN[0] + 20, 2.0, 0, ORIGIN[1], 0, -2.0)  # covers the HSI's east half only
    path = write_raster(tmp_path / "dsm_int.tif", ramp(15, 10, gt).astype(np.int16), gt=gt)
    with open_inputs(hsi[0], [path]) as stack:
        _, lidar, valid = stack.read_window(0, 0, W, H)
    assert not valid[:, :20].any() and valid[:, 20:].all()
    assert np.isnan(lidar[0, :, :20]).all()
    # int16 samples at whole metres; the float output keeps the interpolated half metre
    assert lidar[0, 10, 22] == pytest.approx(2 * 22.5 - 3 * -10.5 + 500, abs=1e-3)
