"""The Houston-size scene of tools/gpu_check.sh, built small: its files, shapes, bands and labels."""

import numpy as np
from houston_scene import BANDS, CLASSES, HEIGHT, WIDTH, build_houston_scene
from osgeo import gdal


def test_the_defaults_are_houston_2013():
    assert (HEIGHT, WIDTH, BANDS, CLASSES) == (349, 1905, 144, 15)


def test_a_small_scene_has_the_asked_shapes_and_labels_inside_parcels_of_every_class(tmp_path):
    scene = build_houston_scene(str(tmp_path), height=45, width=130, bands=12, parcel=8, labelled_per_class=2)
    hsi, lidar, labels = (gdal.Open(path) for path in (scene.hsi, scene.lidar, scene.labels))
    assert (hsi.RasterYSize, hsi.RasterXSize, hsi.RasterCount) == (45, 130, 12)
    assert hsi.GetRasterBand(1).DataType == gdal.GDT_UInt16 and hsi.GetRasterBand(12).GetNoDataValue() == 0
    assert (lidar.RasterYSize, lidar.RasterXSize, lidar.RasterCount) == (45, 130, 1)
    assert lidar.GetRasterBand(1).DataType == gdal.GDT_Float32
    for other in (lidar, labels):
        assert other.GetGeoTransform() == hsi.GetGeoTransform() and other.GetProjection() == hsi.GetProjection()
    assert "32615" in hsi.GetProjection() and hsi.GetGeoTransform()[1] == 2.5

    cube, ids = hsi.ReadAsArray(), labels.ReadAsArray()
    assert scene.truth.shape == (45, 130) and set(np.unique(scene.truth)) == set(range(1, CLASSES + 1))
    labelled = ids > 0
    np.testing.assert_array_equal(ids[labelled], scene.truth[labelled])
    # Two parcels of every class, each with its 6 x 6 inner square labelled (parcels cut by the edge: fewer).
    counts = np.bincount(ids[labelled], minlength=CLASSES + 1)[1:]
    assert (counts > 0).all() and counts.max() == 2 * 36
    assert (cube > 0).all()  # no pixel reads as nodata
    # Pixels of one class share a spectrum up to the noise; different classes differ.
    means = np.stack([cube[:, scene.truth == c].mean(axis=1) for c in range(1, CLASSES + 1)])
    spread = np.stack([cube[:, scene.truth == c].std(axis=1) for c in range(1, CLASSES + 1)])
    assert spread.max() < 150
    gaps = np.abs(means[:, None] - means[None]).max(axis=2)
    assert gaps[~np.eye(CLASSES, dtype=bool)].min() > 300
