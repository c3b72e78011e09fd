"""The Processing algorithms on a tiny real scene: toolbox runs, a model, a batch, qgis_process, packaging."""

import contextlib
import json
import os
import subprocess
import zipfile

import numpy as np
import pytest
from osgeo import gdal
from paths import ROOT
from pythons import DLL_ERROR, bare_python, broken_torch_python, older_python
from scenes import build_tiny_scene  # noqa: E402

from ncglf2.core.requests import OUTPUT_FORMATS, PROTOCOLS, TrainingParameters

# Small values: still the real training loop, a few seconds on two cores.
FAST_TRAINING = {
    "EPOCHS": 3,
    "PATCH_SIZE": 5,
    "PCA_COMPONENTS": 4,
    "SAMPLES_PER_CLASS": 20,
    "BATCH_SIZE": 16,
    "LEARNING_RATE": 0.003,
    "SEED": 7,
    "DEVICE": 1,  # cpu
}
ALGORITHMS = {
    "ncglf2:installengine": ["ACTION", "CPU_ONLY"],
    "ncglf2:train": [
        "HSI",
        "LIDAR",
        "LABELS",
        "CLASS_FIELD",
        "LABELS_RASTER",
        "VALIDATION",
        "CLASS_CSV",
        "EPOCHS",
        "SAMPLES_PER_CLASS",
        "VALIDATION_FRACTION",
        "VALIDATION_SPLIT",
        "PROTOCOL",
        "BATCH_SIZE",
        "LEARNING_RATE",
        "PATCH_SIZE",
        "PCA_COMPONENTS",
        "SEED",
        "DEVICE",
        "OUTPUT_MODEL",
        "OUTPUT_REPORT",
    ],
    "ncglf2:classify": [
        "MODEL",
        "HSI",
        "LIDAR",
        "DEVICE",
        "EXTENT",
        "TILE_SIZE",
        "BATCH_SIZE",
        "TTA",
        "DASK",
        "OUTPUT",
        "OUTPUT_CONFIDENCE",
        "OUTPUT_PROBABILITIES",
        "OUTPUT_MARGIN",
        "OUTPUT_FORMAT",
    ],
    "ncglf2:assess": [
        "CLASSIFICATION",
        "REFERENCE",
        "CLASS_FIELD",
        "REFERENCE_RASTER",
        "MODEL",
        "OUTPUT_HTML",
        "OUTPUT_JSON",
    ],
    "ncglf2:importreference": ["CHECKPOINT", "HSI", "LIDAR", "CLASSES", "PATCH_SIZE", "CLASS_CSV", "OUTPUT_MODEL"],
}


@pytest.fixture(scope="module")
def provider(qgis_app):
    from qgis.core import QgsApplication

    from ncglf2.ncglf2_qgis.provider import NCGLF2Provider

    registry = QgsApplication.processingRegistry()
    added = None
    if registry.providerById("ncglf2") is None:
        added = NCGLF2Provider()
        assert registry.addProvider(added)
    yield registry.providerById("ncglf2")
    if added is not None:
        registry.removeProvider(added)


@pytest.fixture(scope="module")
def scene(tmp_path_factory):
    return build_tiny_scene(tmp_path_factory.mktemp("processing_scene"))


@pytest.fixture(scope="module")
def trained(provider, scene, tmp_path_factory):
    import processing

    folder = tmp_path_factory.mktemp("processing_model")
    results = processing.run(
        "ncglf2:train",
        {
            "HSI": scene.hsi,
            "LIDAR": [scene.dsm],
            "LABELS_RASTER": scene.labels,
            "OUTPUT_MODEL": str(folder / "model.ncglf2"),
            "OUTPUT_REPORT": str(folder / "training.html"),
            **FAST_TRAINING,
        },
    )
    return results, folder


@pytest.fixture(scope="module")
def core_map(trained, scene, tmp_path_factory):
    """The class map core's workflow makes with the same model: what every Processing run must equal."""
    from ncglf2.core.jobs import classify
    from ncglf2.core.requests import ClassifyRequest

    out = str(tmp_path_factory.mktemp("core_map") / "core.tif")
    classify(
        ClassifyRequest(model=str(trained[1] / "model.ncglf2"), hsi=scene.hsi, lidar=[scene.dsm], out=out, device="cpu")
    )
    return read(out)


def read(path, band=1):
    dataset = gdal.Open(str(path))
    return dataset.GetRasterBand(band).ReadAsArray()


def loaded_renderers(path):
    """Renderers of the project's layers read from ``path``; the layers are removed from the project again."""
    from qgis.core import QgsProject

    project = QgsProject.instance()
    layers = [layer for layer in project.mapLayers().values() if layer.source() == str(path)]
    renderers = [layer.renderer().clone() for layer in layers]
    project.removeMapLayers([layer.id() for layer in layers])
    return renderers


def class_labels(renderer):
    from qgis.core import QgsPalettedRasterRenderer

    assert isinstance(renderer, QgsPalettedRasterRenderer), type(renderer).__name__
    return [c.label for c in renderer.classes()]


def classify_parameters(trained, scene, out, **extra):
    return {
        "MODEL": str(trained[1] / "model.ncglf2"),
        "HSI": scene.hsi,
        "LIDAR": [scene.dsm],
        "DEVICE": 1,
        "OUTPUT": str(out),
        **extra,
    }


@contextlib.contextmanager
def messages_logged():
    """(message, tag, level) of every message QGIS's message log receives meanwhile."""
    from qgis.core import Qgis, QgsApplication

    received = []

    def keep(message, tag, level):
        received.append((message, tag, level))

    signal = QgsApplication.messageLog().messageReceived[str, str, Qgis.MessageLevel]
    signal.connect(keep)
    try:
        yield received
    finally:
        signal.disconnect(keep)


def qgis_process_profile(folder):
    """A throw-away QGIS profile under ``folder`` with the plugin deployed; the environment qgis_process needs."""
    config = folder / "config"
    plugins = config / "profiles" / "default" / "python" / "plugins"
    subprocess.run(
        ["make", "-s", "-C", str(ROOT), "deploy", f"QGIS_PLUGINS_DIR={plugins}"],
        check=True,
        capture_output=True,
        text=True,
    )
    # QGIS 3.22's qgis_process knows no --profiles-path; it reads the profiles under QGIS_CUSTOM_CONFIG_PATH.
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "NCGLF2_ENGINE_PYTHON")}
    env.update(QGIS_CUSTOM_CONFIG_PATH=str(config), QT_QPA_PLATFORM="offscreen")
    return env, config / "profiles" / "default"


def run_qgis_process(env, folder, algorithm, **parameters):
    """(exit status, the --json report or None, stdout + stderr) of one qgis_process run."""
    arguments = [f"{name}={value}" for name, value in parameters.items()]
    done = subprocess.run(
        ["/usr/bin/qgis_process.bin", "--json", "run", algorithm, "--", *arguments],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        cwd=str(folder),
    )
    report = json.loads(done.stdout[done.stdout.index("{") :]) if done.returncode == 0 else None
    return done.returncode, report, done.stdout + done.stderr


def test_provider_offers_the_algorithms_with_help(provider):
    from qgis.core import QgsProcessingParameterDefinition

    assert provider.name() == "NCGLF2 HSI + LiDAR fusion"
    assert sorted(a.id() for a in provider.algorithms()) == sorted(ALGORITHMS)
    for algorithm in provider.algorithms():
        names = [p.name() for p in algorithm.parameterDefinitions()]
        assert set(ALGORITHMS[algorithm.id()]) <= set(names), algorithm.id()
        assert type(algorithm.createInstance()) is type(algorithm) and algorithm.create().id() == algorithm.id()
        assert len(algorithm.shortHelpString()) > 300
        for definition in algorithm.parameterDefinitions():
            assert len(definition.help()) > 20, f"{algorithm.id()} {definition.name()} has no help"
    train = provider.algorithm("train")
    assert train.parameterDefinition("EPOCHS").defaultValue() == 0  # 0: the protocol's epochs
    assert train.parameterDefinition("EPOCHS").minimum() == 0
    assert train.parameterDefinition("EPOCHS").maximum() == 10000
    assert train.parameterDefinition("DEVICE").options() == ["auto", "cpu", "cuda"]
    split = train.parameterDefinition("VALIDATION_SPLIT")
    assert [option.split(" ")[0] for option in split.options()] == ["spatial", "random"]
    assert split.defaultValue() == 0 and split.flags() & QgsProcessingParameterDefinition.FlagAdvanced
    protocol = train.parameterDefinition("PROTOCOL")
    assert [option.split(" ")[0] for option in protocol.options()] == list(PROTOCOLS)
    assert protocol.defaultValue() == PROTOCOLS.index(TrainingParameters().protocol)
    assert train.parameterDefinition("LEARNING_RATE").flags() & QgsProcessingParameterDefinition.FlagAdvanced
    assert not train.parameterDefinition("EPOCHS").flags() & QgsProcessingParameterDefinition.FlagAdvanced
    assert "*.ncglf2" in train.parameterDefinition("OUTPUT_MODEL").fileFilter()
    assert provider.algorithm("classify").parameterDefinition("MODEL").extension() == "ncglf2"


def test_train_writes_the_model_and_report_with_the_given_parameters(trained):
    from ncglf2.core.io.model_file import load_model

    results, folder = trained
    assert results["OUTPUT_MODEL"] == str(folder / "model.ncglf2")
    bundle = load_model(results["OUTPUT_MODEL"])
    assert bundle.class_ids == [1, 2, 3]
    assert bundle.class_names == ["class 1", "class 2", "class 3"]
    assert bundle.config.patch_size == 5 and bundle.config.hsi_channels == 4 and bundle.config.lidar_channels == 1
    training = bundle.provenance["training"]
    assert (training["epochs"], training["samples_per_class"], training["seed"], training["batch_size"]) == (
        3,
        20,
        7,
        16,
    )
    assert training["learning_rate"] == pytest.approx(0.003)
    assert bundle.provenance["samples"]["train"] == 60
    assert training["validation_split"] == "spatial" and bundle.provenance["split"]["method"] == "spatial"
    report = json.loads((folder / "training.json").read_text())
    assert len(report["history"]["epochs"]) == 3
    assert (folder / "training.html").is_file() and (folder / "training_curves.png").is_file()
    assert results["VALIDATION_OA"] == pytest.approx(report["validation"]["oa"])
    matrix = np.asarray(report["validation"]["confusion_matrix"], dtype=float)
    agreement, chance = np.trace(matrix) / matrix.sum(), (matrix.sum(0) * matrix.sum(1)).sum() / matrix.sum() ** 2
    assert results["VALIDATION_OA"] == pytest.approx(agreement)
    assert results["VALIDATION_KAPPA"] == pytest.approx((agreement - chance) / (1 - chance))


def test_classify_matches_core_and_loads_styled_then_assess(provider, trained, scene, core_map, tmp_path):
    import processing

    from ncglf2.core.io.reading import read_class_map_info

    out = tmp_path / "classes.tif"
    results = processing.runAndLoadResults(
        "ncglf2:classify", classify_parameters(trained, scene, out, OUTPUT_CONFIDENCE=str(tmp_path / "confidence.tif"))
    )
    assert results["OUTPUT"] == str(out)
    classes = read(out)
    np.testing.assert_array_equal(classes, core_map)
    assert (classes[:3, :4] == 0).all() and set(np.unique(classes[3:])) == {1, 2, 3}
    confidence = read(tmp_path / "confidence.tif")
    assert ((confidence[classes > 0] > 0.3) & (confidence[classes > 0] <= 1.0 + 1e-6)).all()

    renderers = loaded_renderers(out)
    assert len(renderers) == 1
    renderer = renderers[0]
    ids, names, colors = read_class_map_info(str(out))
    assert [c.value for c in renderer.classes()] == ids == [1, 2, 3]
    assert class_labels(renderer) == names == ["class 1", "class 2", "class 3"]
    assert [c.color.getRgb()[:3] for c in renderer.classes()] == colors

    assessed = processing.run(
        "ncglf2:assess",
        {
            "CLASSIFICATION": str(out),
            "REFERENCE_RASTER": scene.labels,
            "OUTPUT_HTML": str(tmp_path / "accuracy.html"),
            "OUTPUT_JSON": str(tmp_path / "accuracy.json"),
        },
    )
    labels = read(scene.labels)
    labelled = labels > 0
    expected_oa = float((classes[labelled] == labels[labelled]).mean())
    assert assessed["OA"] == pytest.approx(expected_oa)
    per_class = [float((classes[labels == c] == c).mean()) for c in (1, 2, 3)]
    assert assessed["AA"] == pytest.approx(np.mean(per_class))
    figures = json.loads((tmp_path / "accuracy.json").read_text())
    assert figures["kappa"] == pytest.approx(assessed["KAPPA"])
    assert f"{100 * expected_oa:.2f}" in (tmp_path / "accuracy.html").read_text()


def test_margin_and_tta_equal_core_s_and_the_margin_is_the_top_two_gap(provider, trained, scene, tmp_path):
    import processing

    from ncglf2.core.jobs import classify
    from ncglf2.core.requests import ClassifyRequest

    assert not provider.algorithm("classify").parameterDefinition("TTA").defaultValue()
    paths = {name: str(tmp_path / f"{name}.tif") for name in ("classes", "margin", "probs")}
    results = processing.run(
        "ncglf2:classify",
        classify_parameters(
            trained,
            scene,
            paths["classes"],
            TTA=True,
            OUTPUT_MARGIN=paths["margin"],
            OUTPUT_PROBABILITIES=paths["probs"],
        ),
    )
    assert results["OUTPUT_MARGIN"] == paths["margin"]
    core = classify(
        ClassifyRequest(
            model=str(trained[1] / "model.ncglf2"),
            hsi=scene.hsi,
            lidar=[scene.dsm],
            out=str(tmp_path / "core.tif"),
            probabilities=str(tmp_path / "core_probs.tif"),
            tta=True,
            device="cpu",
        )
    )
    np.testing.assert_array_equal(read(paths["classes"]), read(core.classes))
    probs = gdal.Open(paths["probs"]).ReadAsArray()
    np.testing.assert_allclose(probs, gdal.Open(core.probabilities).ReadAsArray(), rtol=0, atol=1e-6)
    classes, margin = read(paths["classes"]), read(paths["margin"])
    valid = classes > 0
    top = np.sort(probs[:, valid], axis=0)
    np.testing.assert_allclose(margin[valid], top[-1] - top[-2], rtol=0, atol=1e-6)
    assert (margin[~valid] == -1).all()


def test_assess_with_the_model_reports_the_accuracy_away_from_its_training_pixels(provider, trained, scene, tmp_path):
    import processing

    from ncglf2.core.io.model_file import load_model

    model = str(trained[1] / "model.ncglf2")
    out = str(tmp_path / "classes.tif")
    processing.run("ncglf2:classify", classify_parameters(trained, scene, out))
    assessed = processing.run(
        "ncglf2:assess",
        {
            "CLASSIFICATION": out,
            "REFERENCE_RASTER": scene.labels,
            "MODEL": model,
            "OUTPUT_HTML": str(tmp_path / "accuracy.html"),
            "OUTPUT_JSON": str(tmp_path / "accuracy.json"),
        },
    )
    record = load_model(model).training_pixels
    classes, labels = read(out), read(scene.labels)
    rows, cols = np.nonzero((labels > 0) & (classes > 0))
    distance = np.maximum(
        np.abs(rows[:, None] - record.rows[None].astype(int)), np.abs(cols[:, None] - record.cols[None].astype(int))
    ).min(axis=1)
    kept = distance > 2  # patch 5
    assert 0 < kept.sum() < kept.size
    expected = float((classes[rows[kept], cols[kept]] == labels[rows[kept], cols[kept]]).mean())
    assert assessed["OA_AWAY"] == pytest.approx(expected)
    assert assessed["OA"] == pytest.approx(float((classes[rows, cols] == labels[rows, cols]).mean()))
    figures = json.loads((tmp_path / "accuracy.json").read_text())
    assert figures["away_from_training"]["assessment"]["n"] == int(kept.sum())
    assert assessed["KAPPA_AWAY"] == pytest.approx(figures["away_from_training"]["assessment"]["kappa"])
    without = processing.run(
        "ncglf2:assess",
        {"CLASSIFICATION": out, "REFERENCE_RASTER": scene.labels, "OUTPUT_HTML": str(tmp_path / "plain.html")},
    )
    assert without["OA_AWAY"] is None and without["OA"] == pytest.approx(assessed["OA"])


def test_vector_labels_from_a_named_layer_with_a_class_field(provider, trained, scene, tmp_path):
    """Points in one layer of a two-layer GeoPackage, given as QGIS names it: file|layername=..."""
    import processing
    from osgeo import ogr, osr
    from qgis.core import QgsVectorLayer

    dataset = gdal.Open(scene.hsi)
    x0, dx, _, y0, _, dy = dataset.GetGeoTransform()
    srs = osr.SpatialReference(wkt=dataset.GetProjection())
    path = str(tmp_path / "reference.gpkg")
    source = ogr.GetDriverByName("GPKG").CreateDataSource(path)
    source.CreateLayer("other", srs, ogr.wkbPoint)
    layer = source.CreateLayer("samples", srs, ogr.wkbPoint)
    layer.CreateField(ogr.FieldDefn("kind", ogr.OFTInteger))
    points = [(r, c) for r in range(5, 36, 6) for c in range(7, 42, 6)]
    for row, col in points:
        feature = ogr.Feature(layer.GetLayerDefn())
        feature.SetField("kind", int(scene.truth[row, col]))
        feature.SetGeometry(ogr.CreateGeometryFromWkt(f"POINT ({x0 + (col + 0.5) * dx} {y0 + (row + 0.5) * dy})"))
        layer.CreateFeature(feature)
    source = None
    vector = QgsVectorLayer(f"{path}|layername=samples", "samples", "ogr")
    assert vector.isValid() and vector.featureCount() == len(points)

    classified = tmp_path / "classes.tif"
    processing.run("ncglf2:classify", {**classify_parameters(trained, scene, classified)})
    results = processing.run(
        "ncglf2:assess",
        {
            "CLASSIFICATION": str(classified),
            "REFERENCE": vector,
            "CLASS_FIELD": "kind",
            "OUTPUT_HTML": str(tmp_path / "accuracy.html"),
        },
    )
    classes = read(classified)
    expected = np.mean([classes[r, c] == scene.truth[r, c] for r, c in points])
    assert results["OA"] == pytest.approx(expected)

    # A filtered layer is copied to a file, so the filter holds.
    vector.setSubsetString('"kind" = 3')
    kept = [(r, c) for r, c in points if scene.truth[r, c] == 3]
    results = processing.run(
        "ncglf2:assess",
        {
            "CLASSIFICATION": str(classified),
            "REFERENCE": vector,
            "CLASS_FIELD": "kind",
            "OUTPUT_HTML": str(tmp_path / "filtered.html"),
            "OUTPUT_JSON": str(tmp_path / "filtered.json"),
        },
    )
    assert json.loads((tmp_path / "filtered.json").read_text())["n"] == len(kept)
    assert results["OA"] == pytest.approx(np.mean([classes[r, c] == 3 for r, c in kept]))


def test_model_train_then_classify(provider, scene, tmp_path):
    import processing
    from qgis.core import (
        QgsProcessing,
        QgsProcessingModelAlgorithm,
        QgsProcessingModelChildAlgorithm,
        QgsProcessingModelChildParameterSource,
        QgsProcessingModelOutput,
        QgsProcessingModelParameter,
        QgsProcessingParameterMultipleLayers,
        QgsProcessingParameterRasterLayer,
    )

    from ncglf2.core.jobs import classify
    from ncglf2.core.requests import ClassifyRequest

    model = QgsProcessingModelAlgorithm("Train and classify", "NCGLF2 tests")
    for definition in (
        QgsProcessingParameterRasterLayer("hsi", "HSI"),
        QgsProcessingParameterMultipleLayers("lidar", "LiDAR", QgsProcessing.TypeRaster),
        QgsProcessingParameterRasterLayer("labels", "Labels"),
    ):
        model.addModelParameter(definition, QgsProcessingModelParameter(definition.name()))

    def from_inputs(child):
        child.addParameterSources("HSI", [QgsProcessingModelChildParameterSource.fromModelParameter("hsi")])
        child.addParameterSources("LIDAR", [QgsProcessingModelChildParameterSource.fromModelParameter("lidar")])

    train = QgsProcessingModelChildAlgorithm("ncglf2:train")
    train.setChildId("train")
    from_inputs(train)
    train.addParameterSources("LABELS_RASTER", [QgsProcessingModelChildParameterSource.fromModelParameter("labels")])
    for name, value in FAST_TRAINING.items():
        train.addParameterSources(name, [QgsProcessingModelChildParameterSource.fromStaticValue(value)])
    model.addChildAlgorithm(train)

    classify_child = QgsProcessingModelChildAlgorithm("ncglf2:classify")
    classify_child.setChildId("classify")
    from_inputs(classify_child)
    classify_child.addParameterSources(
        "MODEL", [QgsProcessingModelChildParameterSource.fromChildOutput("train", "OUTPUT_MODEL")]
    )
    classify_child.addParameterSources("DEVICE", [QgsProcessingModelChildParameterSource.fromStaticValue(1)])
    output = QgsProcessingModelOutput("classmap", "Class map")
    output.setChildId("classify")
    output.setChildOutputName("OUTPUT")
    classify_child.setModelOutputs({"classmap": output})
    model.addChildAlgorithm(classify_child)
    model.updateDestinationParameters()
    assert "classify:classmap" in [p.name() for p in model.destinationParameterDefinitions()]
    assert model.dependsOnChildAlgorithms("classify") == {"train"}

    out = tmp_path / "model_map.tif"
    results = processing.runAndLoadResults(
        model, {"hsi": scene.hsi, "lidar": [scene.dsm], "labels": scene.labels, "classify:classmap": str(out)}
    )
    assert results["classify:classmap"] == str(out)
    renderers = loaded_renderers(out)
    assert len(renderers) == 1 and class_labels(renderers[0]) == ["class 1", "class 2", "class 3"]
    trained_model = results["CHILD_RESULTS"]["train"]["OUTPUT_MODEL"]
    assert trained_model.endswith(".ncglf2") and os.path.isfile(trained_model)
    core = str(tmp_path / "core.tif")
    classify(ClassifyRequest(model=trained_model, hsi=scene.hsi, lidar=[scene.dsm], out=core, device="cpu"))
    np.testing.assert_array_equal(read(out), read(core))
    assert set(np.unique(read(out))) == {0, 1, 2, 3}


def test_batch_of_two_classify_runs_one_on_an_extent(provider, trained, scene, core_map, tmp_path):
    import processing
    from qgis.core import (
        QgsProcessingContext,
        QgsProcessingFeedback,
        QgsProcessingOutputLayerDefinition,
        QgsProject,
        QgsRasterLayer,
    )

    dataset = gdal.Open(scene.hsi)
    x0, dx, _, y0, _, dy = dataset.GetGeoTransform()
    # Rows 10..27 and columns 6..29, given in the HSI's CRS (EPSG:32632).
    extent = f"{x0 + 6 * dx},{x0 + 30 * dx},{y0 + 28 * dy},{y0 + 10 * dy} [EPSG:32632]"
    runs = [(tmp_path / "whole.tif", {}), (tmp_path / "part.tif", {"EXTENT": extent})]
    for out, extra in runs:
        context = QgsProcessingContext()
        context.setProject(QgsProject.instance())
        parameters = classify_parameters(trained, scene, out, **extra)
        parameters["OUTPUT"] = QgsProcessingOutputLayerDefinition(str(out), QgsProject.instance())
        results = processing.run("ncglf2:classify", parameters, context=context)
        assert results["OUTPUT"] == str(out)
        # Processing will load the map and style it with the names and colours the map carries.
        styler = context.layerToLoadOnCompletionDetails(str(out)).postProcessor()
        layer = QgsRasterLayer(str(out), "map", "gdal", QgsRasterLayer.LayerOptions(loadDefaultStyle=False))
        assert len(class_labels(layer.renderer())) == 256  # QGIS alone shows every colour table entry
        styler.postProcessLayer(layer, context, QgsProcessingFeedback())
        assert class_labels(layer.renderer()) == ["class 1", "class 2", "class 3"]
    np.testing.assert_array_equal(read(runs[0][0]), core_map)
    part = gdal.Open(str(runs[1][0]))
    assert (part.RasterXSize, part.RasterYSize) == (24, 18)
    assert part.GetGeoTransform() == pytest.approx((x0 + 6 * dx, dx, 0, y0 + 10 * dy, 0, dy))
    np.testing.assert_array_equal(part.GetRasterBand(1).ReadAsArray(), core_map[10:28, 6:30])


def test_bfloat16_precision_agrees_with_float32(provider, trained, scene, core_map, tmp_path):
    import processing

    out = tmp_path / "bf16.tif"
    processing.run("ncglf2:classify", classify_parameters(trained, scene, out, PRECISION=1))
    fast = read(out)
    valid = core_map > 0
    assert ((fast > 0) == valid).all()
    assert (fast[valid] == core_map[valid]).mean() > 0.95  # a tiny network on a tiny scene; the demo gives 99.86 %


def test_cloud_optimized_output_is_the_same_map_loaded_with_its_classes(provider, trained, scene, core_map, tmp_path):
    import processing
    from qgis.core import QgsProcessingParameterDefinition

    from ncglf2.core.io.reading import read_class_map_info

    definition = provider.algorithm("classify").parameterDefinition("OUTPUT_FORMAT")
    assert len(definition.options()) == len(OUTPUT_FORMATS) and definition.defaultValue() == 0
    assert definition.flags() & QgsProcessingParameterDefinition.FlagAdvanced
    out, confidence = tmp_path / "classes.tif", tmp_path / "confidence.tif"
    processing.runAndLoadResults(
        "ncglf2:classify", classify_parameters(trained, scene, out, OUTPUT_CONFIDENCE=str(confidence), OUTPUT_FORMAT=1)
    )
    for path in (out, confidence):
        assert gdal.Open(str(path)).GetMetadata("IMAGE_STRUCTURE")["LAYOUT"] == "COG"
    np.testing.assert_array_equal(read(out), core_map)
    ids, names, _ = read_class_map_info(str(out))
    (renderer,) = loaded_renderers(out)
    assert [c.value for c in renderer.classes()] == ids == [1, 2, 3] and class_labels(renderer) == names


def test_extent_in_another_crs_is_transformed_to_the_hsi_crs(provider, trained, scene, tmp_path):
    import processing
    from qgis.core import QgsCoordinateReferenceSystem, QgsCoordinateTransform, QgsProject, QgsRectangle

    dataset = gdal.Open(scene.hsi)
    x0, dx, _, y0, _, dy = dataset.GetGeoTransform()
    inner = QgsRectangle(x0 + 10.2 * dx, y0 + 20.8 * dy, x0 + 20.8 * dx, y0 + 10.2 * dy)
    to_wgs84 = QgsCoordinateTransform(
        QgsCoordinateReferenceSystem("EPSG:32632"), QgsCoordinateReferenceSystem("EPSG:4326"), QgsProject.instance()
    )
    geographic = to_wgs84.transformBoundingBox(inner)
    extent = f"{geographic.xMinimum()!r},{geographic.xMaximum()!r},{geographic.yMinimum()!r},{geographic.yMaximum()!r} [EPSG:4326]"
    out = tmp_path / "part.tif"
    processing.run("ncglf2:classify", classify_parameters(trained, scene, out, EXTENT=extent))
    part = gdal.Open(str(out))
    px, _, _, py, _, _ = part.GetGeoTransform()
    col, row = round((px - x0) / dx), round((py - y0) / dy)
    # The window covers the requested area (grown by at most a pixel by the round trip through degrees).
    assert 9 <= col <= 10 and 9 <= row <= 10
    assert 11 <= part.RasterXSize <= 13 and 11 <= part.RasterYSize <= 13


def test_progress_reaches_the_feedback_and_cancel_stops_without_output(provider, trained, scene, tmp_path):
    import processing
    from qgis.core import QgsProcessingException, QgsProcessingFeedback

    class Recorder(QgsProcessingFeedback):
        def __init__(self, cancel_at=None):
            super().__init__()
            self.values, self.messages, self.cancel_at = [], [], cancel_at
            self.progressChanged.connect(self.on_progress)

        def on_progress(self, value):
            self.values.append(value)
            if self.cancel_at is not None and value >= self.cancel_at:
                self.cancel()

        def pushInfo(self, message):  # noqa: N802
            self.messages.append(message)

    recorder = Recorder()
    processing.run(
        "ncglf2:classify", classify_parameters(trained, scene, tmp_path / "a.tif", TILE_SIZE=16), feedback=recorder
    )
    assert recorder.values[-1] == 100 and len(recorder.values) >= 5
    assert recorder.values == sorted(recorder.values)
    assert any(m.startswith("classified 1500 pixels") for m in recorder.messages)

    cancelling = Recorder(cancel_at=1)
    with pytest.raises(QgsProcessingException, match="cancelled"):
        processing.run(
            "ncglf2:classify",
            classify_parameters(trained, scene, tmp_path / "b.tif", TILE_SIZE=16),
            feedback=cancelling,
        )
    assert not (tmp_path / "b.tif").exists()
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".b.tif")]


def test_import_reference_names_the_classes_and_keeps_the_weights(provider, reference_files, tmp_path):
    import processing
    import torch

    from ncglf2.core import load_reference_checkpoint
    from ncglf2.core.io.model_file import load_model

    checkpoint, _ = reference_files
    scene = build_tiny_scene(tmp_path, bands=48)
    names = ["Apple trees", "Buildings", "Ground", "Woods", "Vineyard", "Roads"]
    table = tmp_path / "trento.csv"
    table.write_text("id,name,color\n" + "".join(f"{i},{n},#{i:02x}80ff\n" for i, n in enumerate(names, start=1)))
    out = tmp_path / "trento.ncglf2"
    results = processing.run(
        "ncglf2:importreference",
        {
            "CHECKPOINT": str(checkpoint),
            "HSI": scene.hsi,
            "LIDAR": [scene.dsm],
            "CLASSES": 6,
            "PATCH_SIZE": 11,
            "CLASS_CSV": str(table),
            "OUTPUT_MODEL": str(out),
        },
    )
    assert results["OUTPUT_MODEL"] == str(out)
    bundle = load_model(out)
    assert bundle.class_ids == [1, 2, 3, 4, 5, 6] and bundle.class_names == names
    assert bundle.class_colors[1] == (2, 128, 255)
    assert bundle.preprocessing.n_components == 40 and bundle.config.patch_size == 11
    x = torch.randn(3, 41, 11, 11)
    with torch.no_grad():
        torch.testing.assert_close(bundle.network(x)[0], load_reference_checkpoint(checkpoint, 6)(x)[0], rtol=0, atol=0)


def test_engine_errors_become_processing_exceptions(provider, trained, tmp_path):
    import processing
    from qgis.core import QgsProcessingException

    from ncglf2.core import InputError
    from ncglf2.core.jobs import classify
    from ncglf2.core.requests import ClassifyRequest

    (tmp_path / "six_bands").mkdir()
    other = build_tiny_scene(tmp_path / "six_bands", bands=6)
    model = str(trained[1] / "model.ncglf2")
    with pytest.raises(InputError) as engine:
        classify(ClassifyRequest(model=model, hsi=other.hsi, lidar=[other.dsm], out=str(tmp_path / "core.tif")))
    assert "expects an HSI with 8 bands" in str(engine.value)
    with pytest.raises(QgsProcessingException) as raised:
        processing.run("ncglf2:classify", classify_parameters(trained, other, tmp_path / "map.tif"))
    assert str(raised.value) == str(engine.value)
    assert not (tmp_path / "map.tif").exists()


def test_the_dask_parameter_is_checked_as_the_request_checks_it(provider, trained, scene, tmp_path):
    import processing
    from qgis.core import QgsProcessingException

    assert provider.algorithm("classify").parameterDefinition("DASK").defaultValue() in (None, "")
    with pytest.raises(QgsProcessingException, match=r"dask must be local:N .*\(got 'local:0'\)"):
        processing.run("ncglf2:classify", classify_parameters(trained, scene, tmp_path / "map.tif", DASK="local:0"))
    assert not (tmp_path / "map.tif").exists()


def test_an_engine_python_without_torch_gives_the_repair_hint(provider, trained, scene, tmp_path, monkeypatch):
    import processing
    from qgis.core import QgsProcessingException

    monkeypatch.setenv("NCGLF2_ENGINE_PYTHON", bare_python(tmp_path / "bare"))
    with pytest.raises(QgsProcessingException) as raised:
        processing.run("ncglf2:classify", classify_parameters(trained, scene, tmp_path / "map.tif"))
    message = str(raised.value)
    assert "cannot load torch" in message and "Install NCGLF2 engine" in message and "Traceback" not in message
    assert "ncglf2:installengine" in message
    assert not (tmp_path / "map.tif").exists()

    monkeypatch.setenv("NCGLF2_ENGINE_PYTHON", str(tmp_path / "no" / "python"))
    with pytest.raises(QgsProcessingException, match="does not exist"):
        processing.run("ncglf2:classify", classify_parameters(trained, scene, tmp_path / "map.tif"))


def test_a_torch_that_raises_oserror_gives_the_install_hint_in_one_line(
    provider, trained, scene, tmp_path, monkeypatch
):
    import processing
    from qgis.core import Qgis, QgsProcessingException

    python = broken_torch_python(tmp_path / "broken")
    monkeypatch.setenv("NCGLF2_ENGINE_PYTHON", python)
    with messages_logged() as messages, pytest.raises(QgsProcessingException) as raised:
        processing.run("ncglf2:classify", classify_parameters(trained, scene, tmp_path / "map.tif"))
    message = str(raised.value)
    assert message.startswith(f"the engine's Python ({python}) cannot load torch: OSError: {DLL_ERROR}. ")
    assert "ncglf2:installengine" in message and "\n" not in message and "Traceback" not in message
    assert message.endswith("; the details are in the QGIS message log (NCGLF2)")
    ours = [(text, level) for text, tag, level in messages if tag == "NCGLF2"]
    assert len(ours) == 1 and ours[0][1] == Qgis.Warning
    assert ours[0][0].startswith(message + "\nTraceback (most recent call last):") and DLL_ERROR in ours[0][0]
    assert not (tmp_path / "map.tif").exists()


def test_an_engine_that_dies_on_start_is_one_line_and_its_traceback_is_logged_once(
    provider, trained, scene, tmp_path, monkeypatch
):
    """The engine setting names a Python too old for the code: it stops at its first import."""
    import processing
    from qgis.core import Qgis, QgsProcessingException

    python = older_python()
    monkeypatch.setenv("NCGLF2_ENGINE_PYTHON", python)
    with messages_logged() as messages, pytest.raises(QgsProcessingException) as raised:
        processing.run("ncglf2:classify", classify_parameters(trained, scene, tmp_path / "map.tif"))
    message = str(raised.value)
    assert message.startswith(f"the engine process ({python}) exited with status 1; QGIS is unaffected (its last ")
    assert message.endswith("; the details are in the QGIS message log (NCGLF2)") and "\n" not in message
    ours = [(text, level) for text, tag, level in messages if tag == "NCGLF2"]
    assert len(ours) == 1 and ours[0][1] == Qgis.Warning
    assert ours[0][0].startswith(message + "\nTraceback (most recent call last):")
    assert not any("Traceback" in text for text, _, level in messages if level == Qgis.Critical)


def test_an_unexpected_exception_in_an_algorithm_is_one_line_and_its_traceback_is_logged(qgis_app):
    """Any algorithm over the shared base: a Python exception is not shown as a traceback."""
    from qgis.core import Qgis, QgsProcessingContext, QgsProcessingFeedback, QgsProcessingParameterString

    from ncglf2.ncglf2_qgis.algorithms.base import NCGLF2Algorithm

    class CountTiles(NCGLF2Algorithm):
        def name(self):
            return "counttiles"

        def displayName(self):
            return "Count tiles"

        def initAlgorithm(self, config=None):
            self.addParameter(QgsProcessingParameterString("TILES", "Tiles"))

        def processAlgorithm(self, parameters, context, feedback):
            return {"TILES": int(self.parameterAsString(parameters, "TILES", context))}

    class Errors(QgsProcessingFeedback):
        def __init__(self):
            super().__init__(False)
            self.errors = []

        def reportError(self, error, fatalError=False):
            self.errors.append(error)

    assert CountTiles().run({"TILES": "12"}, QgsProcessingContext(), Errors())[0] == {"TILES": 12}
    feedback = Errors()
    with messages_logged() as messages:
        results, ok = CountTiles().run({"TILES": "twelve"}, QgsProcessingContext(), feedback)
    expected = (
        "NCGLF2 failed unexpectedly (ValueError: invalid literal for int() with base 10: 'twelve'); "
        "the details are in the QGIS message log (NCGLF2)"
    )
    assert not ok and feedback.errors == [expected]
    ours = [(text, level) for text, tag, level in messages if tag == "NCGLF2"]
    assert len(ours) == 1 and ours[0][1] == Qgis.Warning
    assert ours[0][0].startswith(expected + "\nTraceback (most recent call last):")
    assert "int(self.parameterAsString" in ours[0][0]
    assert not any("Traceback" in text for text, _, level in messages if level == Qgis.Critical)


def test_qgis_process_prints_a_failure_in_one_line_without_a_traceback(scene, tmp_path):
    """What a user of qgis_process sees when the engine cannot load torch or cannot start."""
    env, _ = qgis_process_profile(tmp_path)
    engines = [(broken_torch_python(tmp_path / "broken"), f"cannot load torch: OSError: {DLL_ERROR}")]
    engines.append((older_python(), "exited with status 1"))
    for python, says in engines:
        env["NCGLF2_ENGINE_PYTHON"] = python
        code, _, output = run_qgis_process(
            env,
            tmp_path,
            "ncglf2:classify",
            MODEL=tmp_path / "m.ncglf2",
            HSI=scene.hsi,
            LIDAR=scene.dsm,
            OUTPUT=tmp_path / "map.tif",
        )
        assert code == 1, output
        assert "Traceback" not in output and 'File "' not in output, output
        failure = {line.removeprefix("ERROR:\t") for line in output.splitlines() if says in line}
        # One line; Processing itself repeats it (the message log, the error, the log again).
        assert len(failure) == 1, output
        assert failure.pop().endswith("; the details are in the QGIS message log (NCGLF2)")
        assert not (tmp_path / "map.tif").exists()


def test_an_existing_output_is_replaced_because_processing_asked(provider, trained, scene, core_map, tmp_path):
    import processing

    from ncglf2.core import InputError
    from ncglf2.core.jobs import classify
    from ncglf2.core.requests import ClassifyRequest

    out = tmp_path / "classes.tif"
    out.write_bytes(b"an older file")
    with pytest.raises(InputError, match="already exists"):
        classify(
            ClassifyRequest(model=str(trained[1] / "model.ncglf2"), hsi=scene.hsi, lidar=[scene.dsm], out=str(out))
        )
    assert out.read_bytes() == b"an older file"
    processing.run("ncglf2:classify", classify_parameters(trained, scene, out))
    np.testing.assert_array_equal(read(out), core_map)


def test_a_layer_without_a_file_is_refused_with_a_clear_message(provider, trained, scene, tmp_path):
    from qgis.core import QgsProcessingContext, QgsProcessingException, QgsProcessingFeedback, QgsRasterLayer

    algorithm = provider.algorithm("classify").create()
    wms = QgsRasterLayer("url=http://localhost/wms&layers=x&crs=EPSG:4326&format=image/png", "remote", "wms")
    with pytest.raises(QgsProcessingException, match="remote.*not a raster file.*wms"):
        algorithm.raster_path(wms, "HSI")
    with pytest.raises(QgsProcessingException, match="HSI layer is missing"):
        algorithm.raster_path(None, "HSI")
    assert algorithm.labels_source(
        QgsRasterLayer(scene.labels, "labels"), "labels", QgsProcessingContext(), QgsProcessingFeedback()
    ) == (scene.labels, None)


def test_the_styler_falls_back_to_the_qml_beside_the_map(qgis_app, tmp_path):
    from qgis.core import QgsPalettedRasterRenderer, QgsRasterLayer

    from ncglf2.core.io.writers import write_paletted_qml
    from ncglf2.ncglf2_qgis.styling import apply_class_style

    path = tmp_path / "plain.tif"
    dataset = gdal.GetDriverByName("GTiff").Create(str(path), 4, 3, 1, gdal.GDT_Byte)
    dataset.GetRasterBand(1).WriteArray(np.array([[1, 2, 2, 1], [1, 1, 2, 2], [2, 2, 2, 1]], dtype=np.uint8))
    dataset = None
    layer = QgsRasterLayer(str(path), "plain")
    assert not apply_class_style(layer)
    write_paletted_qml(str(tmp_path / "plain.qml"), [1, 2], ["Water", "Trees"], [(0, 0, 255), (0, 128, 0)])
    assert apply_class_style(layer)
    assert isinstance(layer.renderer(), QgsPalettedRasterRenderer)
    assert [c.label for c in layer.renderer().classes()] == ["Water", "Trees"]


@pytest.mark.slow
def test_qgis_process_installs_the_engine_then_trains_classifies_and_assesses(scene, tmp_path):
    """A throw-away profile whose QGIS Python has no torch: install the engine, then every job, all by qgis_process."""
    if subprocess.run(["/usr/bin/python3", "-c", "import torch"], capture_output=True).returncode == 0:
        pytest.skip("the system Python has torch: not a QGIS user's situation")
    env, profile = qgis_process_profile(tmp_path)
    plugins = profile / "python" / "plugins"
    assert (plugins / "ncglf2" / "core" / "engine" / "child.py").is_file()
    assert "ncglf2=true" in (profile / "QGIS" / "QGIS3.ini").read_text()
    # The engine's torch comes through pip's own configuration (here: the wheels on this machine's disk).
    env["NCGLF2_TORCH_INDEX"] = "pip"

    def qgis_process(algorithm, **parameters):
        return run_qgis_process(env, tmp_path, algorithm, **parameters)

    # Without an engine, running says how to install one, and writes nothing.
    code, _, output = qgis_process(
        "ncglf2:classify", MODEL=tmp_path / "m.ncglf2", HSI=scene.hsi, LIDAR=scene.dsm, OUTPUT=tmp_path / "none.tif"
    )
    assert code != 0 and "Install NCGLF2 engine" in output and "Traceback" not in output
    assert not (tmp_path / "none.tif").exists()

    code, report, output = qgis_process("ncglf2:installengine", ACTION=0)
    assert code == 0, output
    engine_dir = profile / "ncglf2" / "engine"
    assert report["results"]["PYTHON"].startswith(str(engine_dir))
    assert report["results"]["DEVICE"].startswith("cpu") and report["results"]["TORCH"].startswith("2.")
    record = json.loads((engine_dir / "ncglf2-engine.json").read_text())
    assert record["build"] == "cpu" and record["torch"] == report["results"]["TORCH"]
    numpy_pin = [
        line for line in (engine_dir / "ncglf2-constraints.txt").read_text().split() if line.startswith("numpy==")
    ]
    system_numpy = subprocess.run(
        ["/usr/bin/python3", "-c", "import numpy; print(numpy.__version__)"], capture_output=True, text=True
    ).stdout.strip()
    assert numpy_pin == [f"numpy=={system_numpy}"]  # QGIS's numpy, never upgraded

    model = tmp_path / "m.ncglf2"
    code, report, output = qgis_process(
        "ncglf2:train",
        HSI=scene.hsi,
        LIDAR=scene.dsm,
        LABELS_RASTER=scene.labels,
        EPOCHS=3,
        PATCH_SIZE=5,
        PCA_COMPONENTS=4,
        DEVICE=1,
        OUTPUT_MODEL=model,
    )
    assert code == 0, output
    assert "engine: Python" in output and f"the managed environment {engine_dir}" in output
    assert model.is_file()
    out = tmp_path / "map.tif"
    code, report, output = qgis_process(
        "ncglf2:classify", MODEL=model, HSI=scene.hsi, LIDAR=scene.dsm, DEVICE=1, OUTPUT=out
    )
    assert code == 0, output
    classes = read(out)
    assert set(np.unique(classes)) <= {0, 1, 2, 3} and (classes > 0).mean() > 0.9
    code, report, output = qgis_process(
        "ncglf2:assess", CLASSIFICATION=out, REFERENCE_RASTER=scene.labels, OUTPUT_HTML=tmp_path / "accuracy.html"
    )
    assert code == 0, output
    labels = read(scene.labels)
    assert report["results"]["OA"] == pytest.approx(float((classes[labels > 0] == labels[labels > 0]).mean()))

    code, report, output = qgis_process("ncglf2:installengine", ACTION=1)
    assert code == 0, output
    assert not engine_dir.exists()


def test_make_zip_holds_the_plugin_only(tmp_path):
    done = subprocess.run(
        ["make", "-s", "-C", str(ROOT), "zip", f"ZIP={tmp_path / 'ncglf2.zip'}"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    with zipfile.ZipFile(tmp_path / "ncglf2.zip") as archive:
        names = archive.namelist()
        metadata = archive.read("ncglf2/metadata.txt").decode()
    assert all(n.startswith("ncglf2/") for n in names)
    for required in [
        "__init__.py",
        "metadata.txt",
        "LICENSE",
        "resources/icon.png",
        "core/jobs.py",
        "ncglf2_qgis/provider.py",
        "ncglf2_qgis/algorithms/classify.py",
        "ncglf2_qgis/styling.py",
    ]:
        assert f"ncglf2/{required}" in names
    unwanted = (
        "tests/",
        "__pycache__",
        ".pyc",
        ".venv",
        "demo_output",
        "dist/",
        ".pytest_cache",
        "test-artifacts",
        ".git",
        ".egg-info",
        ".ncglf2",
        "Makefile",
        "tools/",
    )
    assert not [n for n in names if any(u in n for u in unwanted)]
    assert "hasProcessingProvider=yes" in metadata


def test_classify_progress_moves_within_a_tile(provider, trained, scene, tmp_path):
    """The Processing feedback sees the bar move per batch, not per tile (one tile here)."""
    import processing
    from qgis.core import QgsProcessingFeedback

    feedback = QgsProcessingFeedback()
    percents = []
    feedback.progressChanged.connect(percents.append)
    processing.run(
        "ncglf2:classify",
        classify_parameters(trained, scene, tmp_path / "c.tif", TILE_SIZE=4096, BATCH_SIZE=32),
        feedback=feedback,
    )
    inside = sorted({round(p, 1) for p in percents if 0 < p < 100})
    assert len(inside) >= 20, percents
    assert percents[-1] == pytest.approx(100.0)


def test_loaded_outputs_are_named_styled_and_none_is_reported_missing(provider, trained, scene, tmp_path):
    """As the batch dialog runs a row: outputs as layer definitions (optional ones empty), then Processing loads them."""
    from processing.gui.Postprocessing import handleAlgorithmResults
    from qgis.core import (
        QgsApplication,
        QgsPalettedRasterRenderer,
        QgsProcessingContext,
        QgsProcessingFeedback,
        QgsProcessingOutputLayerDefinition,
        QgsProject,
    )

    project = QgsProject.instance()
    context = QgsProcessingContext()
    context.setProject(project)
    errors = []

    class Feedback(QgsProcessingFeedback):
        def reportError(self, error, fatalError=False):  # noqa: N802, N803
            errors.append(error)

    feedback = Feedback()
    out, confidence = tmp_path / "landcover.tif", tmp_path / "landcover_confidence.tif"
    margin = tmp_path / "landcover_margin.tif"
    parameters = {
        **classify_parameters(trained, scene, out),
        "OUTPUT": QgsProcessingOutputLayerDefinition(str(out), project),
        "OUTPUT_CONFIDENCE": QgsProcessingOutputLayerDefinition(str(confidence), project),
        "OUTPUT_PROBABILITIES": QgsProcessingOutputLayerDefinition("", project),
        "OUTPUT_MARGIN": QgsProcessingOutputLayerDefinition(str(margin), project),
    }
    algorithm = QgsApplication.processingRegistry().createAlgorithmById("ncglf2:classify")
    try:
        results, ok = algorithm.run(parameters, context, feedback)
        assert ok, errors
        assert handleAlgorithmResults(algorithm, context, feedback, parameters=parameters), errors
        assert not errors
        by_source = {layer.source(): layer for layer in project.mapLayers().values()}
        classes, conf, gap = by_source[str(out)], by_source[str(confidence)], by_source[str(margin)]
        assert (classes.name(), conf.name(), gap.name()) == ("landcover", "landcover_confidence", "landcover_margin")
        assert isinstance(classes.renderer(), QgsPalettedRasterRenderer)
        assert [label for label, _ in classes.legendSymbologyItems()] == ["class 1", "class 2", "class 3"]
        for grey in (conf, gap):
            enhancement = grey.renderer().contrastEnhancement()
            assert (enhancement.minimumValue(), enhancement.maximumValue()) == (0.0, 1.0)
        order = [node.layer().id() for node in project.layerTreeRoot().findLayers()]
        assert order.index(classes.id()) < min(order.index(conf.id()), order.index(gap.id()))
    finally:
        project.removeAllMapLayers()


def test_inputs_unlike_the_training_data_are_a_processing_warning(provider, trained, scene, tmp_path):
    """The engine's warning (here: the HSI stored as reflectance 0-1 instead of 0-10000) stands out in the log."""
    import processing
    from qgis.core import QgsProcessingFeedback
    from rasters import write_raster

    class Warnings(QgsProcessingFeedback):
        def __init__(self):
            super().__init__()
            self.warnings = []

        def pushWarning(self, warning):
            self.warnings.append(warning)
            super().pushWarning(warning)

    cube = gdal.Open(scene.hsi).ReadAsArray().astype(np.float32) / 10000
    reflectance = write_raster(tmp_path / "reflectance.tif", cube, nodata=0)
    feedback = Warnings()
    parameters = classify_parameters(trained, scene, tmp_path / "c.tif")
    parameters["HSI"] = reflectance
    processing.run("ncglf2:classify", parameters, feedback=feedback)
    assert len(feedback.warnings) == 1 and "reflectance.tif does not look like the data" in feedback.warnings[0]
    assert "about 0.0001 times" in feedback.warnings[0]
