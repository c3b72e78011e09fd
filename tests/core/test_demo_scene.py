"""The demo scene: real files on one grid, labels a user could have made, height needed."""

import importlib.util
import re

import numpy as np
import pytest
from numpy.lib.stride_tricks import sliding_window_view
from osgeo import gdal, ogr, osr
from paths import ROOT, SHARED, require_shared

from ncglf2.core.apps.demo_scene import SPECTRA_CSV, build_demo_scene, read_spectra_table

ALIKE = [("grass", "tree"), ("building roof", "sidewalk"), ("asphalt road", "dark roof")]
ELEVATED = ["building roof", "dark roof", "tree"]
GROUND = ["asphalt road", "grass", "sidewalk", "sand", "bare soil"]


@pytest.fixture(scope="module")
def scene(tmp_path_factory):
    return build_demo_scene(str(tmp_path_factory.mktemp("demo")), size=96, seed=0)


@pytest.fixture(scope="module")
def arrays(scene):
    return {
        "hsi": gdal.Open(scene.hsi_path).ReadAsArray(),
        "dsm": gdal.Open(scene.lidar_path).ReadAsArray(),
        "test": gdal.Open(scene.test_labels_path).ReadAsArray(),
    }


def _polygon_raster(scene):
    """The training polygons burnt onto the scene grid (class ids), as a sampler would."""
    source = ogr.Open(scene.train_labels_path)
    layer = source.GetLayer()
    reference = gdal.Open(scene.test_labels_path)
    target = gdal.GetDriverByName("MEM").Create("", reference.RasterXSize, reference.RasterYSize, 1, gdal.GDT_Byte)
    target.SetGeoTransform(reference.GetGeoTransform())
    target.SetProjection(reference.GetProjection())
    ids = dict(zip(scene.class_names, scene.class_ids))
    memory = ogr.GetDriverByName("Memory").CreateDataSource("")
    burnable = memory.CreateLayer("burn", layer.GetSpatialRef(), ogr.wkbPolygon)
    burnable.CreateField(ogr.FieldDefn("id", ogr.OFTInteger))
    for feature in layer:
        copy = ogr.Feature(burnable.GetLayerDefn())
        copy.SetField("id", ids[feature.GetField("class")])
        copy.SetGeometry(feature.GetGeometryRef().Clone())
        burnable.CreateFeature(copy)
    gdal.RasterizeLayer(target, [1], burnable, options=["ATTRIBUTE=id", "ALL_TOUCHED=TRUE"])
    return target.ReadAsArray()


def test_rasters_share_one_georeferenced_grid(scene, arrays):
    hsi = gdal.Open(scene.hsi_path)
    assert (hsi.RasterCount, hsi.RasterYSize, hsi.RasterXSize) == (64, 96, 96)
    assert hsi.GetRasterBand(1).DataType == gdal.GDT_UInt16
    assert hsi.GetRasterBand(1).GetBlockSize() == [64, 64]  # tiled
    wavelengths = []
    for b in range(1, 65):
        band = hsi.GetRasterBand(b)
        match = re.fullmatch(r"(\d+\.\d) nm", band.GetDescription())
        assert match, band.GetDescription()
        wavelengths.append(float(band.GetMetadataItem("wavelength")))
        assert abs(wavelengths[-1] - float(match.group(1))) <= 0.05
        assert band.GetNoDataValue() == 0
    assert wavelengths[0] == 380.0 and wavelengths[-1] == 1050.0
    assert np.allclose(np.diff(wavelengths), 670 / 63, atol=0.01)

    for path in (scene.hsi_path, scene.lidar_path, scene.test_labels_path):
        ds = gdal.Open(path)
        assert ds.GetGeoTransform() == (294800.0, 1.0, 0.0, 3361000.0, 0.0, -1.0)
        srs = osr.SpatialReference(wkt=ds.GetProjection())
        assert srs.GetAuthorityCode(None) == "32616"
    dsm_dataset = gdal.Open(scene.lidar_path)
    dsm = dsm_dataset.GetRasterBand(1)
    assert dsm.DataType == gdal.GDT_Float32 and dsm.GetNoDataValue() == -9999.0

    # Reflectance x 10000 within physical bounds; some missing data in each input, unlabelled there.
    hsi_missing = (arrays["hsi"] == 0).all(axis=0)
    dsm_missing = arrays["dsm"] == -9999.0
    assert 0 < hsi_missing.sum() < 0.05 * 96 * 96 and 0 < dsm_missing.sum() < 0.05 * 96 * 96
    assert not (arrays["hsi"][:, ~hsi_missing] == 0).any()
    assert arrays["hsi"][:, ~hsi_missing].mean() < 5000
    assert not arrays["test"][hsi_missing | dsm_missing].any()
    ground = arrays["dsm"][~dsm_missing]
    assert 0.0 < ground.min() and ground.max() < 40.0


def test_class_ids_follow_sorted_names_everywhere(scene):
    assert scene.class_names == sorted(scene.class_names)
    assert scene.class_ids == list(range(1, len(scene.class_names) + 1))
    assert len(scene.class_names) == 8
    lines = open(scene.classes_csv).read().splitlines()
    assert lines[0] == "id,name,color"
    rows = [line.split(",") for line in lines[1:]]
    assert [int(r[0]) for r in rows] == scene.class_ids
    assert [r[1] for r in rows] == scene.class_names
    assert [tuple(int(r[2][i : i + 2], 16) for i in (1, 3, 5)) for r in rows] == scene.class_colors
    colors = dict(zip(scene.class_names, scene.class_colors))
    assert colors["grass"][1] > colors["grass"][0] and colors["tree"][1] > colors["tree"][0]  # greens
    assert sum(colors["tree"]) < sum(colors["grass"])  # trees darker green
    labels = gdal.Open(scene.test_labels_path)  # the band lives only as long as its dataset
    labels.GetMetadata()  # GDAL 3.6 GeoTIFF loads the .aux.xml (category names) lazily
    band = labels.GetRasterBand(1)
    assert band.GetCategoryNames()[1:] == scene.class_names
    assert band.GetColorTable().GetColorEntry(5)[:3] == colors["grass"]


def test_roofs_and_crowns_stand_above_the_ground(scene, arrays):
    ids = dict(zip(scene.class_names, scene.class_ids))
    median = {name: float(np.median(arrays["dsm"][arrays["test"] == ids[name]])) for name in scene.class_names}
    highest_ground = max(median[name] for name in GROUND)
    for name in ELEVATED:
        assert median[name] > highest_ground + 3.0, (name, median)
    assert median["sand"] < median["grass"]  # the beach lies lowest


def test_training_polygons_and_reference_are_disjoint_and_complete(scene, arrays):
    layer_source = ogr.Open(scene.train_labels_path)
    layer = layer_source.GetLayer()
    definition = layer.GetLayerDefn()
    field = definition.GetFieldDefn(definition.GetFieldIndex("class"))
    assert field.GetType() == ogr.OFTString
    assert ogr.GT_Flatten(layer.GetGeomType()) == ogr.wkbPolygon
    assert layer.GetSpatialRef().GetAuthorityCode(None) == "32616"
    names = [feature.GetField("class") for feature in layer]
    assert set(names) == set(scene.class_names)

    burnt = _polygon_raster(scene)
    test = arrays["test"]
    assert not (burnt > 0)[test > 0].any()
    for class_id in scene.class_ids:
        assert (burnt == class_id).sum() >= 5
        assert (test == class_id).sum() >= 10
    # Polygons lie on their class: high where elevated, low where on the ground.
    ids = dict(zip(scene.class_names, scene.class_ids))
    dsm = arrays["dsm"]
    assert np.median(dsm[burnt == ids["tree"]]) > np.median(dsm[burnt == ids["grass"]]) + 3.0
    assert np.median(dsm[burnt == ids["building roof"]]) > np.median(dsm[burnt == ids["sidewalk"]]) + 3.0


def test_same_seed_same_scene(scene, arrays, tmp_path):
    again = build_demo_scene(str(tmp_path / "again"), size=96, seed=0)
    assert np.array_equal(gdal.Open(again.hsi_path).ReadAsArray(), arrays["hsi"])
    assert np.array_equal(gdal.Open(again.lidar_path).ReadAsArray(), arrays["dsm"])
    assert np.array_equal(gdal.Open(again.test_labels_path).ReadAsArray(), arrays["test"])
    assert open(again.hsi_path, "rb").read() == open(scene.hsi_path, "rb").read()
    assert np.array_equal(_polygon_raster(again), _polygon_raster(scene))
    other = build_demo_scene(str(tmp_path / "other"), size=96, seed=1)
    assert not np.array_equal(gdal.Open(other.test_labels_path).ReadAsArray(), arrays["test"])


@pytest.fixture(scope="module")
def samples(tmp_path_factory):
    """Reference pixels of a larger scene: spectra, height above local ground, class index."""
    scene = build_demo_scene(str(tmp_path_factory.mktemp("demo128")), size=128, seed=1)
    hsi = gdal.Open(scene.hsi_path).ReadAsArray().astype(np.float64).reshape(64, -1).T / 10000.0
    dsm = gdal.Open(scene.lidar_path).ReadAsArray().astype(np.float64)
    padded = np.pad(np.where(dsm == -9999.0, np.inf, dsm), 15, mode="edge")
    above_ground = (dsm - sliding_window_view(padded, (31, 31)).min(axis=(2, 3))).ravel()
    test = gdal.Open(scene.test_labels_path).ReadAsArray().ravel()
    keep = test > 0
    return scene.class_names, hsi[keep], above_ground[keep], test[keep] - 1


def test_alike_pairs_are_the_closest_in_spectra(samples):
    names, spectra, _, labels = samples
    means = np.stack([spectra[labels == k].mean(axis=0) for k in range(len(names))])
    within = sum(np.cov(spectra[labels == k].T) * ((labels == k).sum() - 1) for k in range(len(names)))
    inverse = np.linalg.pinv(within / (labels.size - len(names)), rcond=1e-4)
    distance = {}
    for i in range(len(names)):
        for j in range(i + 1, len(names)):
            d = means[i] - means[j]
            distance[frozenset((names[i], names[j]))] = float(np.sqrt(d @ inverse @ d))
    alike = [distance[frozenset(pair)] for pair in ALIKE]
    others = [v for k, v in distance.items() if k not in {frozenset(p) for p in ALIKE}]
    assert max(alike) < min(others), (alike, sorted(others)[:3])


def _gaussian_classifier_confusion(features, labels, classes):
    """Confusion matrix of a per-class Gaussian classifier fitted on every other pixel."""
    train = np.arange(labels.size) % 2 == 0
    scores = []
    for k in range(classes):
        own = features[train & (labels == k)]
        covariance = np.cov(own.T) + 1e-6 * np.eye(features.shape[1])
        centred = features - own.mean(axis=0)
        mahalanobis = np.einsum("ij,jk,ik->i", centred, np.linalg.inv(covariance), centred)
        scores.append(-0.5 * mahalanobis - 0.5 * np.linalg.slogdet(covariance)[1])
    predicted = np.argmax(scores, axis=0)
    confusion = np.zeros((classes, classes))
    np.add.at(confusion, (labels[~train], predicted[~train]), 1)
    return confusion


def test_height_resolves_what_spectra_confuse(samples):
    names, spectra, above_ground, labels = samples
    k = len(names)
    centred = spectra - spectra.mean(axis=0)
    components = centred @ np.linalg.svd(centred, full_matrices=False)[2][:8].T
    index = {n: i for i, n in enumerate(names)}

    def pair_and_other_errors(confusion):
        pair = [
            (confusion[index[a], index[b]] + confusion[index[b], index[a]])
            / (confusion[index[a]].sum() + confusion[index[b]].sum())
            for a, b in ALIKE
        ]
        off = confusion.copy()
        np.fill_diagonal(off, 0)
        for a, b in ALIKE:
            off[index[a], index[b]] = off[index[b], index[a]] = 0
        return np.array(pair), off.sum() / confusion.sum()

    spectral_pairs, spectral_other = pair_and_other_errors(_gaussian_classifier_confusion(components, labels, k))
    fused_pairs, _ = pair_and_other_errors(_gaussian_classifier_confusion(np.c_[components, above_ground], labels, k))
    assert spectral_pairs.mean() > 0.03 and spectral_pairs.mean() > 10 * spectral_other
    assert (fused_pairs < 0.01).all(), fused_pairs


def test_spectra_table_is_packaged_with_its_licence():
    wavelengths, table = read_spectra_table()
    assert wavelengths.size == 64
    for material in ("Asphalt", "Building", "Sidewalk", "GrassByBuilding", "LiveOakLeaves", "BeachSand", "Dirt"):
        stats = table[material]
        assert set(stats) >= {"mean", "std", "mode1", "mode2", "mode3"}
        assert ((0.0 < stats["mean"]) & (stats["mean"] < 1.0)).all()
    grass = table["GrassByBuilding"]["mean"]
    red, nir = grass[np.argmin(abs(wavelengths - 670))], grass[np.argmin(abs(wavelengths - 860))]
    assert nir > 3 * red  # the red edge of real vegetation
    header = SPECTRA_CSV.read_text()
    assert "Copyright (c) 2016 TigerSense" in header and "MIT" in header
    licence = (SPECTRA_CSV.parent / "SPECTRA_LICENSE").read_text()
    assert "Copyright (c) 2016 TigerSense" in licence and "Permission is hereby granted" in licence


def test_spectra_table_regenerates_from_the_field_data(tmp_path):
    source = SHARED / "data" / "muufl_asd_spectra"
    require_shared(source)
    spec = importlib.util.spec_from_file_location("make_spectra_table", ROOT / "tools" / "make_spectra_table.py")
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    out = tmp_path / "spectra.csv"
    assert tool.main(["make_spectra_table.py", str(source), str(out)]) == 0
    assert out.read_text() == SPECTRA_CSV.read_text()


def test_the_harder_scene_adds_classes_told_apart_by_height_only(tmp_path):
    scene = build_demo_scene(str(tmp_path / "hard"), size=160, seed=1, hard=True)
    assert scene.class_names == sorted(scene.class_names) and {"shrub", "tall building"} <= set(scene.class_names)
    hsi = gdal.Open(scene.hsi_path).ReadAsArray().astype(np.float64).reshape(64, -1).T / 10000.0
    dsm = gdal.Open(scene.lidar_path).ReadAsArray().astype(np.float64)
    padded = np.pad(np.where(dsm == -9999.0, np.inf, dsm), 15, mode="edge")
    above_ground = (dsm - sliding_window_view(padded, (31, 31)).min(axis=(2, 3))).ravel()
    test = gdal.Open(scene.test_labels_path).ReadAsArray().ravel()
    index = {name: i + 1 for i, name in enumerate(scene.class_names)}
    height = {name: np.median(above_ground[test == index[name]]) for name in index}
    spectrum = {name: hsi[test == index[name]].mean(axis=0) for name in index}
    assert height["shrub"] < 3.0 < 5.0 < height["tree"]
    assert height["building roof"] < 10.0 < 14.0 < height["tall building"]
    # Alike in spectra: each new class is nearer its lookalike than any other class.
    for new, lookalike in (("shrub", "tree"), ("tall building", "building roof")):
        distances = {n: np.linalg.norm(spectrum[new] - s) for n, s in spectrum.items() if n != new}
        assert min(distances, key=distances.get) == lookalike, distances
    polygons = ogr.Open(scene.train_labels_path)  # the layer lives only as long as its data source
    assert {"shrub", "tall building"} <= {f.GetField("class") for f in polygons.GetLayer()}
