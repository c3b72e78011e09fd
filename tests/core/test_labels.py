"""Labels from rasters and vector layers onto the HSI grid, class names and colours."""

import json

import numpy as np
import pytest
from osgeo import ogr, osr
from rasters import (
    ORIGIN,
    box_wkt,
    geotransform,
    pixel_centre,
    point_wkt,
    srs_wkt,
    write_raster,
    write_vector,
)

from ncglf2.core.errors import InputError
from ncglf2.core.io.grid import Grid
from ncglf2.core.io.labels import DEFAULT_PALETTE, ClassTable, LabeledPixels, read_class_csv, read_labels

H, W = 30, 40


@pytest.fixture
def grid():
    return Grid(W, H, geotransform(), srs_wkt())


def pixels(labels: LabeledPixels) -> dict[tuple[int, int], int]:
    return {(int(r), int(c)): int(k) for r, c, k in zip(labels.rows, labels.cols, labels.class_ids)}


# ---------------------------------------------------------------- rasters


def test_raster_labels_skip_zero_and_nodata(tmp_path, grid):
    data = np.zeros((H, W), np.int16)
    data[2, 3] = 4
    data[2, 1] = 1
    data[10, 20] = 4
    data[12, 20] = 99  # nodata
    data[29, 39] = 2
    path = write_raster(tmp_path / "gt.tif", data, nodata=99)
    labels = read_labels(path, grid)
    assert pixels(labels) == {(2, 1): 1, (2, 3): 4, (10, 20): 4, (29, 39): 2}
    assert labels.rows.tolist() == [2, 2, 10, 29]  # row-major order
    assert labels.rows.dtype == labels.cols.dtype == labels.class_ids.dtype == np.int32
    assert labels.classes.ids == [1, 2, 4]
    assert labels.classes.names == ["class 1", "class 2", "class 4"]
    assert labels.classes.colors == DEFAULT_PALETTE[:3]
    assert labels.counts() == {1: 1, 2: 1, 4: 2}


def test_float_label_raster_needs_integer_values(tmp_path, grid):
    data = np.zeros((H, W), np.float32)
    data[1, 1] = 3.0
    data[2, 2] = np.nan
    labels = read_labels(write_raster(tmp_path / "ok.tif", data), grid)
    assert pixels(labels) == {(1, 1): 3}
    data[4, 4] = 2.5
    with pytest.raises(InputError, match=r"bad\.tif holds the non-integer value 2\.5"):
        read_labels(write_raster(tmp_path / "bad.tif", data), grid)


@pytest.mark.parametrize("dtype", ["int16", "int32", "float32"])
def test_negative_label_ids_are_refused_with_their_pixel_counts(tmp_path, grid, dtype):
    data = np.zeros((H, W), dtype)
    data[1, 1] = 2
    data[5, 5:8] = -3
    data[7, 9] = -1
    path = write_raster(tmp_path / "negative.tif", data)
    with pytest.raises(InputError) as info:
        read_labels(path, grid)
    message = str(info.value)
    assert path in message and "negative class ids in 4 pixels (-3 in 3 pixels, -1 in 1 pixel)" in message
    assert "nodata" in message


def test_negative_ids_are_counted_over_every_block(tmp_path, grid, monkeypatch):
    import ncglf2.core.io.labels as labels_module

    monkeypatch.setattr(labels_module, "_READ_BLOCK", 7)
    data = np.ones((H, W), np.int16)
    data[::2, ::3] = -5  # in every block of 7 x 7
    path = write_raster(tmp_path / "many.tif", data)
    with pytest.raises(InputError, match=rf"in {(data == -5).sum()} pixels \(-5 in {(data == -5).sum()} pixels\)"):
        read_labels(path, grid)


def test_a_negative_nodata_value_stays_unlabelled(tmp_path, grid):
    data = np.full((H, W), -1, np.int16)
    data[3, 4] = 2
    data[6, 7] = 5
    labels = read_labels(write_raster(tmp_path / "nodata.tif", data, nodata=-1), grid)
    assert pixels(labels) == {(3, 4): 2, (6, 7): 5}
    data[8, 8] = -2  # another negative value is still refused
    with pytest.raises(InputError, match=r"nodata2\.tif holds negative class ids in 1 pixel \(-2 in 1 pixel\)"):
        read_labels(write_raster(tmp_path / "nodata2.tif", data, nodata=-1), grid)


def test_label_ids_beyond_31_bits_are_refused(tmp_path, grid):
    data = np.zeros((H, W), np.uint32)
    data[1, 1] = 3_000_000_000
    with pytest.raises(InputError, match=r"big\.tif holds the class id 3e\+09; class ids go up to 2,147,483,647"):
        read_labels(write_raster(tmp_path / "big.tif", data), grid)


def test_label_raster_on_another_grid_is_resampled_nearest(tmp_path, grid):
    # 2 m pixels whose origin is 4 m west and 2 m north of the HSI's
    gt = (ORIGIN[0] - 4, 2.0, 0, ORIGIN[1] + 2, 0, -2.0)
    data = np.zeros((20, 25), np.uint8)
    data[3, 5] = 7  # covers x in [ORIGIN+6, ORIGIN+8), y in [ORIGIN-6+2-2...): HSI cols 6-7, rows 4-5
    path = write_raster(tmp_path / "gt2m.tif", data, gt=gt)
    logs = []
    labels = read_labels(path, grid, log=logs.append)
    assert pixels(labels) == {(4, 6): 7, (4, 7): 7, (5, 6): 7, (5, 7): 7}
    assert any("gt2m.tif is on another grid" in line and "nearest neighbour" in line for line in logs)


def test_label_raster_elsewhere_does_not_overlap(tmp_path, grid):
    gt = (ORIGIN[0] + 1000, 1.0, 0, ORIGIN[1], 0, -1.0)
    path = write_raster(tmp_path / "far.tif", np.ones((5, 5), np.uint8), gt=gt)
    with pytest.raises(InputError, match=r"far\.tif does not overlap"):
        read_labels(path, grid, raster_name="HSI raster hsi.tif")


def test_label_raster_without_any_label(tmp_path, grid):
    path = write_raster(tmp_path / "empty.tif", np.zeros((H, W), np.uint8))
    with pytest.raises(InputError, match=r"empty\.tif has no labelled pixel"):
        read_labels(path, grid)


# ---------------------------------------------------------------- vectors


@pytest.mark.parametrize("driver,name", [("GPKG", "gt.gpkg"), ("ESRI Shapefile", "gt.shp"), ("GeoJSON", "gt.geojson")])
def test_points_take_the_pixel_that_holds_them(tmp_path, grid, driver, name):
    epsg = 4326 if driver == "GeoJSON" else 32632
    features = [
        (point_wkt(3.5, 2.5), {"class": 2}),  # centre of pixel (row 2, col 3)
        (point_wkt(10.01, 7.99), {"class": 5}),  # near a corner: row 7, col 10
        ("MULTIPOINT (({} {}), ({} {}))".format(*pixel_centre(0, 0), *pixel_centre(39, 29)), {"class": 2}),
        (point_wkt(-3, 4), {"class": 9}),  # west of the raster
    ]
    if epsg == 4326:
        features = [(_to_wgs84(wkt), attributes) for wkt, attributes in features]
    if driver == "ESRI Shapefile":  # one geometry type per file
        features = [
            (ogr.ForceToMultiPoint(ogr.CreateGeometryFromWkt(wkt)).ExportToWkt(), attributes)
            for wkt, attributes in features
        ]
    path = write_vector(tmp_path / name, features, epsg=epsg, driver=driver)
    labels = read_labels(path, grid, class_field="class")
    assert pixels(labels) == {(0, 0): 2, (2, 3): 2, (7, 10): 5, (29, 39): 2}
    assert labels.classes.ids == [2, 5, 9]  # every class of the layer, on the grid or not
    assert labels.counts() == {2: 3, 5: 1, 9: 0}


def _to_wgs84(wkt: str) -> str:
    utm, wgs84 = osr.SpatialReference(), osr.SpatialReference()
    utm.ImportFromEPSG(32632)
    wgs84.ImportFromEPSG(4326)
    for srs in (utm, wgs84):
        srs.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
    geometry = ogr.CreateGeometryFromWkt(wkt)
    geometry.Transform(osr.CoordinateTransformation(utm, wgs84))
    return geometry.ExportToWkt()


def test_polygons_burn_pixels_whose_centre_is_inside(tmp_path, grid):
    features = [
        (box_wkt(2.4, 1.6, 5.6, 3.6), {"class": 1}),  # centres of cols 2-5, rows 2-3
        (box_wkt(30.6, 20.6, 31.4, 21.4), {"class": 3}),  # holds no pixel centre
        (f"MULTIPOLYGON ((({box_wkt(10, 10, 11, 12)[10:-2]})), (({box_wkt(20, 0, 21, 1)[10:-2]})))", {"class": 3}),
    ]
    path = write_vector(tmp_path / "polygons.gpkg", features)
    labels = read_labels(path, grid, class_field="class")
    expected = {(r, c): 1 for r in (2, 3) for c in (2, 3, 4, 5)}
    expected.update({(10, 10): 3, (11, 10): 3, (0, 20): 3})
    assert pixels(labels) == expected


def test_later_feature_wins_shared_pixels(tmp_path, grid):
    features = [
        (box_wkt(0, 0, 4, 4), {"class": 1}),
        (point_wkt(1.5, 1.5), {"class": 2}),  # a point after the polygon takes its pixel
        (box_wkt(2, 2, 6, 6), {"class": 3}),  # a polygon after both takes the overlap
    ]
    labels = read_labels(write_vector(tmp_path / "overlap.gpkg", features), grid, class_field="class")
    result = pixels(labels)
    assert result[(1, 1)] == 2
    assert result[(0, 0)] == 1 and result[(3, 1)] == 1
    assert result[(2, 2)] == 3 and result[(3, 3)] == 3 and result[(5, 5)] == 3
    assert len(result) == 16 + 16 - 4


def test_text_field_classes_are_numbered_in_sorted_order(tmp_path, grid):
    features = [
        (point_wkt(1.5, 1.5), {"cover": "water"}),
        (point_wkt(2.5, 1.5), {"cover": "asphalt"}),
        (point_wkt(3.5, 1.5), {"cover": "trees"}),
        (point_wkt(4.5, 1.5), {"cover": "water"}),
    ]
    class_csv = tmp_path / "classes.csv"
    class_csv.write_text("id,name,color\n1,asphalt,#404040\n")
    labels = read_labels(
        write_vector(tmp_path / "text.gpkg", features), grid, class_field="cover", class_csv=str(class_csv)
    )
    assert labels.classes.ids == [1, 2, 3]
    assert labels.classes.names == ["asphalt", "trees", "water"]
    assert labels.classes.colors == [(64, 64, 64), (26, 120, 52), (31, 120, 180)]  # grey, green, blue by name
    assert pixels(labels) == {(1, 1): 3, (1, 2): 1, (1, 3): 2, (1, 4): 3}


def test_class_csv_names_and_colours_integer_classes(tmp_path, grid):
    class_csv = tmp_path / "classes.csv"
    class_csv.write_text("4,Grass,#00ff00\n7,Roads,\n")
    features = [
        (point_wkt(1.5, 1.5), {"class": 7}),
        (point_wkt(2.5, 1.5), {"class": 4}),
        (point_wkt(3.5, 1.5), {"class": 12}),
    ]
    labels = read_labels(
        write_vector(tmp_path / "int.gpkg", features), grid, class_field="class", class_csv=str(class_csv)
    )
    assert labels.classes.ids == [4, 7, 12]
    assert labels.classes.names == ["Grass", "Roads", "class 12"]
    assert labels.classes.colors == [
        (0, 255, 0),
        (64, 64, 64),
        DEFAULT_PALETTE[2],
    ]  # the CSV's, a road grey, the palette's


def test_vector_in_another_crs_is_reprojected(tmp_path, grid):
    features = [(_to_wgs84(box_wkt(5, 5, 7, 6)), {"class": 1}), (_to_wgs84(point_wkt(20.5, 12.5)), {"class": 2})]
    logs = []
    labels = read_labels(
        write_vector(tmp_path / "wgs84.gpkg", features, epsg=4326), grid, class_field="class", log=logs.append
    )
    assert pixels(labels) == {(5, 5): 1, (5, 6): 1, (12, 20): 2}
    assert any("reprojected from EPSG:4326 to EPSG:32632" in line for line in logs)


def test_class_field_errors_list_the_fields(tmp_path, grid):
    path = write_vector(tmp_path / "gt.gpkg", [(point_wkt(1.5, 1.5), {"class": 1, "note": "x"})])
    with pytest.raises(InputError, match=r"gt\.gpkg .*a class field is needed; available fields: class, note"):
        read_labels(path, grid)
    with pytest.raises(InputError, match=r"no field 'klass'; available fields: class, note"):
        read_labels(path, grid, class_field="klass")
    with pytest.raises(InputError, match=r"no layer 'roads'; its layers are: labels"):
        read_labels(path, grid, class_field="class", layer="roads")


def test_non_positive_class_ids_are_refused(tmp_path, grid):
    path = write_vector(
        tmp_path / "gt.gpkg", [(point_wkt(1.5, 1.5), {"class": 0}), (point_wkt(2.5, 1.5), {"class": 3})]
    )
    with pytest.raises(InputError, match=r"gt\.gpkg: field class holds the class id\(s\) \[0\]"):
        read_labels(path, grid, class_field="class")


def test_labels_outside_the_raster_give_both_extents(tmp_path, grid):
    far = (ORIGIN[0] + 500, ORIGIN[1])
    path = write_vector(tmp_path / "far.gpkg", [(f"POINT ({far[0]} {far[1]})", {"class": 1})])
    with pytest.raises(InputError) as info:
        read_labels(path, grid, class_field="class", raster_name="HSI raster hsi.tif")
    message = str(info.value)
    assert "labels" in message and "far.gpkg do not overlap the HSI raster hsi.tif" in message
    assert "660500" in message and "(660000, 5100000, 660040, 5100030)" in message


def test_missing_and_unreadable_sources(tmp_path, grid):
    with pytest.raises(InputError, match=r"nope\.gpkg do not exist"):
        read_labels(str(tmp_path / "nope.gpkg"), grid, class_field="class")
    junk = tmp_path / "junk.csv.gz"
    junk.write_bytes(b"\x00\x01not a layer")
    with pytest.raises(InputError, match=r"junk\.csv\.gz cannot be read"):
        read_labels(str(junk), grid, class_field="class")


# ---------------------------------------------------------------- class tables


def test_read_class_csv_with_and_without_header(tmp_path):
    with_header = tmp_path / "a.csv"
    with_header.write_text("id,name,color\n1,Water,#0000FF\n2,Trees,\n\n5,,#102030\n")
    assert read_class_csv(str(with_header)) == {
        1: ("Water", (0, 0, 255)),
        2: ("Trees", None),
        5: ("class 5", (16, 32, 48)),
    }
    bare = tmp_path / "b.csv"
    bare.write_text("3,Roads,#ff0000\n")
    assert read_class_csv(str(bare)) == {3: ("Roads", (255, 0, 0))}
    bad = tmp_path / "c.csv"
    bad.write_text("1,Water,blue\n")
    with pytest.raises(InputError, match=r"c\.csv, line 1: colour 'blue'"):
        read_class_csv(str(bad))
    with pytest.raises(InputError, match=r"missing\.csv cannot be read"):
        read_class_csv(str(tmp_path / "missing.csv"))


@pytest.mark.parametrize(
    "row,line,found",
    [
        ('1,Water,#0000ff\n2,"Tr\nees",\n', 2, r"the name 'Tr\\nees' of class 2 holds the control character U\+000A"),
        ("1,Wa\tter,\n", 1, r"the name 'Wa\\tter' of class 1 holds the control character U\+0009"),
        ("id,name\n7,Ro\x07ads\n", 2, r"class 7 holds the control character U\+0007"),
        ("3," + "x" * 250 + ",#000000\n", 1, r"of class 3 is 250 characters long, more than 200"),
        ("3000000000,Far,\n", 1, r"class id 3000000000 must be from 1 to 2147483647"),
    ],
    ids=["newline", "tab", "bell", "too-long", "id-beyond-31-bits"],
)
def test_class_csv_refuses_unusable_names_and_ids(tmp_path, row, line, found):
    path = tmp_path / "classes.csv"
    path.write_text(row, encoding="utf-8")
    with pytest.raises(InputError, match=rf"classes\.csv, line {line}: .*{found}"):
        read_class_csv(str(path))


def test_class_csv_names_lose_their_surrounding_spaces(tmp_path):
    path = tmp_path / "classes.csv"
    path.write_text("1,  Water  ,#0000ff\n2,Trees\t,\n3,   ,\n", encoding="utf-8")
    assert read_class_csv(str(path)) == {1: ("Water", (0, 0, 255)), 2: ("Trees", None), 3: ("class 3", None)}


def test_class_table_round_trips_through_json():
    table = ClassTable([1, 4], ["water", "trees"], [(0, 0, 255), (0, 128, 0)])
    again = ClassTable.from_dict(json.loads(json.dumps(table.to_dict())))
    assert again == table
    assert again.colors[1] == (0, 128, 0)
    assert len(DEFAULT_PALETTE) >= 20 and len(set(DEFAULT_PALETTE)) == len(DEFAULT_PALETTE)


# ---------------------------------------------------------------- bounded memory paths


def test_raster_labels_read_in_small_blocks_keep_their_offsets(tmp_path, grid, monkeypatch):
    import ncglf2.core.io.labels as labels_module

    monkeypatch.setattr(labels_module, "_READ_BLOCK", 7)
    data = np.zeros((H, W), np.uint16)
    rng = np.random.default_rng(3)
    chosen = rng.choice(H * W, size=50, replace=False)
    data.flat[chosen] = rng.integers(1, 6, size=50)
    labels = read_labels(write_raster(tmp_path / "gt.tif", data), grid)
    rows, cols = np.nonzero(data)
    np.testing.assert_array_equal(labels.rows, rows)
    np.testing.assert_array_equal(labels.cols, cols)
    np.testing.assert_array_equal(labels.class_ids, data[rows, cols])


def test_big_polygon_windows_are_rasterized_through_a_temporary_geotiff(tmp_path, grid, monkeypatch):
    import ncglf2.core.io.labels as labels_module

    monkeypatch.setattr(labels_module, "_MEM_RASTERIZE_PIXELS", 10)
    monkeypatch.setattr(labels_module, "_READ_BLOCK", 4)
    created = []
    real_mkdtemp = labels_module.tempfile.mkdtemp
    monkeypatch.setattr(
        labels_module.tempfile, "mkdtemp", lambda **kw: created.append(real_mkdtemp(**kw)) or created[-1]
    )
    features = [(box_wkt(-5, 3, 12, 9), {"class": 2}), (box_wkt(8, 5, 10, 6), {"class": 1})]
    labels = read_labels(write_vector(tmp_path / "big.gpkg", features), grid, class_field="class")
    expected = {(r, c): 2 for r in range(3, 9) for c in range(0, 12)}
    expected.update({(5, 8): 1, (5, 9): 1})
    assert pixels(labels) == expected
    assert len(created) == 1 and not __import__("os").path.exists(created[0])  # used, then removed


def test_text_field_class_names_with_control_characters_are_refused(tmp_path, grid):
    """They would break the style's XML and the legend, and fail only when the model is saved after training."""
    features = [(point_wkt(1.5, 1.5), {"cover": "water"}), (point_wkt(2.5, 1.5), {"cover": "tr\x1bees"})]
    with pytest.raises(InputError, match=r"text\.gpkg: the class name 'tr\\x1bees' in field cover holds the control"):
        read_labels(write_vector(tmp_path / "text.gpkg", features), grid, class_field="cover")
