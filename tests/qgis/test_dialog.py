"""The plugin dialog in real QGIS: parameters, background runs, cancel, results, missing torch.

Runs wait on the task manager by processing Qt events until the dialog's run
has finished, so the tasks' signals reach the main thread as in QGIS.
"""

import json
import os
import subprocess
import sys
import textwrap
import time

import pytest
from paths import ROOT  # noqa: E402
from scenes import build_tiny_scene  # noqa: E402
from screenshot_dialog import save_screenshot  # noqa: E402

CLASSES = [(1, "meadow", "#2e7d32"), (2, "hedge", "#8bc34a"), (3, "gravel", "#9e9e9e")]


@pytest.fixture(scope="module")
def plugin(qgis_app):
    """The plugin as QGIS loads it (provider, menu entry, toolbar button)."""
    from qgis.gui import QgsMessageBar
    from qgis.testing.mocked import get_iface

    import ncglf2

    iface = get_iface()
    iface.messageBar.return_value = QgsMessageBar(iface.mainWindow())  # a real bar: its items are checked
    plugin = ncglf2.classFactory(iface)
    plugin.initProcessing()
    plugin.initGui()
    yield plugin
    plugin.unload()


@pytest.fixture
def scene_layers(qgis_app, tmp_path):
    """The tiny scene's rasters in the project, and a class table naming its classes."""
    from qgis.core import QgsProject, QgsRasterLayer

    scene = build_tiny_scene(tmp_path)
    project = QgsProject.instance()
    layers = {
        name: QgsRasterLayer(path, name)
        for name, path in (("hsi", scene.hsi), ("dsm", scene.dsm), ("labels", scene.labels))
    }
    assert all(layer.isValid() for layer in layers.values())
    project.addMapLayers(list(layers.values()))
    csv = tmp_path / "classes.csv"
    csv.write_text("id,name,color\n" + "".join(f"{i},{n},{c}\n" for i, n, c in CLASSES))
    yield layers, csv
    project.removeAllMapLayers()


@pytest.fixture
def dialog(plugin):
    """A fresh dialog; opened report URLs are recorded instead of opening a browser."""
    from ncglf2.ncglf2_qgis.dialog import NCGLF2Dialog

    opened = []
    dialog = NCGLF2Dialog(plugin.iface, open_url=opened.append)
    dialog.opened_urls = opened
    yield dialog
    if dialog.is_busy():
        dialog.cancel()
        wait_until_idle(dialog, 30)
    dialog.shutdown()
    dialog.deleteLater()


def wait_until_idle(dialog, timeout: float) -> float:
    """Process events until the dialog's run has ended and the task manager is empty; the seconds it took."""
    from qgis.core import QgsApplication

    started = time.monotonic()
    manager = QgsApplication.taskManager()
    while dialog.is_busy() or manager.countActiveTasks() > 0:
        if time.monotonic() - started > timeout:
            raise AssertionError(f"the run did not end within {timeout} s; log:\n{dialog.logEdit.toPlainText()}")
        QgsApplication.processEvents()
        time.sleep(0.005)
    QgsApplication.processEvents()
    return time.monotonic() - started


def fill(dialog, layers, csv, tmp_path, epochs: int) -> None:
    dialog.hsiLayerCombo.setLayer(layers["hsi"])
    dialog.set_lidar_layers([layers["dsm"]])
    dialog.labelsLayerCombo.setLayer(layers["labels"])
    dialog.classCsvWidget.setFilePath(str(csv))
    dialog.epochsSpin.setValue(epochs)
    dialog.samplesSpin.setValue(20)
    dialog.patchSizeSpin.setValue(5)
    dialog.pcaSpin.setValue(4)
    dialog.batchSizeSpin.setValue(16)
    dialog.learningRateSpin.setValue(0.003)
    dialog.deviceCombo.setCurrentIndex(1)
    dialog.modelOutputWidget.setFilePath(str(tmp_path / "tiny.ncglf2"))
    dialog.reportOutputWidget.setFilePath(str(tmp_path / "tiny_report.html"))
    dialog.classOutputWidget.setFilePath(str(tmp_path / "tiny_classes.tif"))
    dialog.confidenceCheck.setChecked(True)


def test_plugin_adds_and_removes_its_menu_entry_and_button(qgis_app):
    from qgis.core import QgsApplication
    from qgis.gui import QgsMessageBar
    from qgis.testing.mocked import get_iface

    import ncglf2

    iface = get_iface()
    iface.messageBar.return_value = QgsMessageBar(iface.mainWindow())  # a real bar: its items are checked
    plugin = ncglf2.classFactory(iface)
    plugin.initProcessing()
    plugin.initGui()
    action = plugin.action
    assert action.text() == "NCGLF2 HSI + LiDAR fusion…"
    assert not action.icon().isNull()
    iface.addPluginToRasterMenu.assert_called_once_with("&NCGLF2", action)
    iface.addToolBarIcon.assert_called_once_with(action)
    dialog = plugin.show_dialog()
    assert dialog.isVisible() and plugin.show_dialog() is dialog
    plugin.unload()
    iface.removePluginRasterMenu.assert_called_once_with("&NCGLF2", action)
    iface.removeToolBarIcon.assert_called_once_with(action)
    assert plugin.dialog is None and plugin.action is None
    assert QgsApplication.processingRegistry().providerById("ncglf2") is None
    # The module fixture's plugin registers it again for the other tests.


def test_widget_defaults_come_from_the_algorithm(dialog):
    from qgis.core import QgsApplication

    train = QgsApplication.processingRegistry().algorithmById("ncglf2:train")
    for name, spin in (
        ("EPOCHS", dialog.epochsSpin),
        ("PATCH_SIZE", dialog.patchSizeSpin),
        ("PCA_COMPONENTS", dialog.pcaSpin),
    ):
        assert spin.value() == train.parameterDefinition(name).defaultValue()
    assert dialog.advancedGroup.isCollapsed()
    assert dialog.trainRadio.isChecked() and dialog.modelStack.currentWidget() is dialog.trainPage


def test_parameters_match_the_algorithms(dialog, scene_layers, tmp_path):
    from qgis.core import QgsApplication, QgsProcessing, QgsVectorLayer

    layers, csv = scene_layers
    fill(dialog, layers, csv, tmp_path, epochs=7)
    dialog.samplesSpin.setValue(0)
    dialog.validationFractionSpin.setValue(0.25)
    params = dialog.train_parameters()
    assert params["HSI"] == layers["hsi"].source()
    assert params["LIDAR"] == [layers["dsm"].source()]
    assert params["LABELS_RASTER"] == layers["labels"].source() and params["LABELS"] is None
    assert params["CLASS_FIELD"] is None and not dialog.classFieldCombo.isEnabled()
    assert (params["EPOCHS"], params["SAMPLES_PER_CLASS"], params["PATCH_SIZE"], params["PCA_COMPONENTS"]) == (
        7,
        0,
        5,
        4,
    )
    assert params["VALIDATION_FRACTION"] == pytest.approx(0.25)
    train = QgsApplication.processingRegistry().algorithmById("ncglf2:train")
    options = train.parameterDefinition("VALIDATION_SPLIT").options()
    assert params["VALIDATION_SPLIT"] == 0 and dialog.validationSplitCombo.count() == len(options)
    for index in range(len(options)):  # the combo's order is the algorithm's enum
        assert dialog.validationSplitCombo.itemText(index).split(" ")[0] == options[index].split(" ")[0]
    dialog.validationSplitCombo.setCurrentIndex(1)
    assert dialog.train_parameters()["VALIDATION_SPLIT"] == 1
    protocols = train.parameterDefinition("PROTOCOL")
    assert params["PROTOCOL"] == protocols.defaultValue() and dialog.protocolCombo.count() == len(protocols.options())
    for index, option in enumerate(protocols.options()):
        assert option.startswith(dialog.protocolCombo.itemText(index))
    assert params["LEARNING_RATE"] == pytest.approx(0.003)
    assert params["DEVICE"] == 1 and params["OUTPUT_MODEL"] == str(tmp_path / "tiny.ncglf2")
    registry = QgsApplication.processingRegistry()
    for algorithm_id, values in (("ncglf2:train", params), ("ncglf2:classify", dialog.classify_parameters("m.ncglf2"))):
        names = {d.name() for d in registry.algorithmById(algorithm_id).parameterDefinitions()}
        assert set(values) <= names, f"{algorithm_id} has no parameter {set(values) - names}"

    # Vector labels: the class field follows the layer and is required.
    points = QgsVectorLayer("Point?crs=EPSG:32632&field=landcover:string&field=id:integer", "points", "memory")
    dialog.project.addMapLayer(points)
    dialog.labelsLayerCombo.setLayer(points)
    assert dialog.classFieldCombo.isEnabled()
    dialog.classFieldCombo.setField("landcover")
    assert dialog.train_parameters()["CLASS_FIELD"] == "landcover"

    # Classification: confidence beside the class map, the canvas extent with its CRS.
    dialog.canvasExtentRadio.setChecked(True)
    from qgis.core import QgsCoordinateReferenceSystem, QgsRectangle

    canvas = dialog.iface.mapCanvas()
    canvas.setDestinationCrs(QgsCoordinateReferenceSystem("EPSG:32632"))
    canvas.setExtent(QgsRectangle(10, 20, 30, 40))
    classify = dialog.classify_parameters("model.ncglf2")
    assert classify["OUTPUT_CONFIDENCE"] == str(tmp_path / "tiny_classes_confidence.tif")
    assert classify["OUTPUT_MARGIN"] is None and classify["TTA"] is False  # both off by default
    assert classify["OUTPUT_FORMAT"] == 0  # GeoTIFF
    dialog.marginCheck.setChecked(True)
    dialog.ttaCheck.setChecked(True)
    dialog.cogCheck.setChecked(True)
    chosen = dialog.classify_parameters("model.ncglf2")
    assert chosen["OUTPUT_MARGIN"] == str(tmp_path / "tiny_classes_margin.tif") and chosen["TTA"] is True
    formats = registry.algorithmById("ncglf2:classify").parameterDefinition("OUTPUT_FORMAT").options()
    assert formats[chosen["OUTPUT_FORMAT"]].startswith("Cloud Optimized GeoTIFF")
    dialog.marginCheck.setChecked(False)
    dialog.ttaCheck.setChecked(False)
    dialog.cogCheck.setChecked(False)
    xmin, xmax, ymin, ymax = (float(v) for v in classify["EXTENT"].split(" ")[0].split(","))
    extent = canvas.extent()
    assert (xmin, xmax, ymin, ymax) == (extent.xMinimum(), extent.xMaximum(), extent.yMinimum(), extent.yMaximum())
    assert classify["EXTENT"].endswith("[EPSG:32632]")
    dialog.classOutputWidget.setFilePath("")
    dialog.confidenceCheck.setChecked(False)
    classify = dialog.classify_parameters("model.ncglf2")
    assert classify["OUTPUT"] == QgsProcessing.TEMPORARY_OUTPUT and classify["OUTPUT_CONFIDENCE"] is None

    # Precision: the combo's order is the algorithm's enum.
    assert classify["PRECISION"] == 0
    dialog.precisionCombo.setCurrentIndex(1)
    classify = dialog.classify_parameters("model.ncglf2")
    options = (
        QgsApplication.processingRegistry().algorithmById("ncglf2:classify").parameterDefinition("PRECISION").options()
    )
    assert options[classify["PRECISION"]].startswith("bfloat16") and dialog.precisionCombo.currentText() == options[1]


def test_missing_choices_are_explained_in_the_dialog(dialog, scene_layers):
    layers, _ = scene_layers
    dialog.hsiLayerCombo.setLayer(layers["hsi"])
    dialog.set_lidar_layers([])
    dialog.trainClassifyButton.click()
    assert not dialog.is_busy()
    assert not dialog.messageLabel.isHidden() and "LiDAR" in dialog.messageLabel.text()
    dialog.set_lidar_layers([layers["dsm"]])
    dialog.loadRadio.setChecked(True)
    assert not dialog.trainClassifyButton.isEnabled() and dialog.classifyButton.isEnabled()
    dialog.classifyButton.click()
    assert "model file" in dialog.messageLabel.text()


def test_train_and_classify_adds_the_styled_class_map(dialog, scene_layers, tmp_path):
    from qgis.core import QgsPalettedRasterRenderer, QgsProject, QgsRasterLayer, QgsRectangle

    layers, csv = scene_layers
    fill(dialog, layers, csv, tmp_path, epochs=3)
    progress = []
    dialog.progressBar.valueChanged.connect(progress.append)
    outcomes = []
    dialog.runFinished.connect(outcomes.append)

    dialog.trainClassifyButton.click()
    assert dialog.is_busy() and dialog.cancelButton.isEnabled() and not dialog.trainButton.isEnabled()
    wait_until_idle(dialog, 240)

    log = dialog.logEdit.toPlainText()
    assert [o.status for o in outcomes] == ["succeeded"], log
    assert len(progress) >= 5 and progress == sorted(progress) and progress[-1] == 100
    for epoch in (1, 2, 3):
        assert f"epoch {epoch}/3" in log
    assert "ncglf2:classify" in log

    classification = str(tmp_path / "tiny_classes.tif")
    added = [layer for layer in QgsProject.instance().mapLayers().values() if layer.source() == classification]
    assert len(added) == 1 and isinstance(added[0], QgsRasterLayer)
    renderer = added[0].renderer()
    assert isinstance(renderer, QgsPalettedRasterRenderer)
    styled = [(c.value, c.label, c.color.name()) for c in renderer.classes()]
    assert styled == [(i, n, c) for i, n, c in CLASSES]
    confidence = [
        layer
        for layer in QgsProject.instance().mapLayers().values()
        if layer.source() == str(tmp_path / "tiny_classes_confidence.tif")
    ]
    assert len(confidence) == 1 and confidence[0].isValid()
    # Named after their files, the confidence just below the class map with a 0-1 stretch, a legend of class names.
    assert (added[0].name(), confidence[0].name()) == ("tiny_classes", "tiny_classes_confidence")
    order = [node.layer().id() for node in QgsProject.instance().layerTreeRoot().findLayers()]
    assert order.index(confidence[0].id()) == order.index(added[0].id()) + 1
    enhancement = confidence[0].renderer().contrastEnhancement()
    assert (enhancement.minimumValue(), enhancement.maximumValue()) == (0.0, 1.0)
    assert [label for label, _ in added[0].legendSymbologyItems()] == [n for _, n, _ in CLASSES]
    assert [url.toLocalFile() for url in dialog.opened_urls] == [str(tmp_path / "tiny_report.html")]
    assert dialog.last_model == str(tmp_path / "tiny.ncglf2") and os.path.isfile(dialog.last_model)
    assert dialog.trainClassifyButton.isEnabled() and not dialog.cancelButton.isEnabled()

    # The picture kept by the test run: the dialog right after train and classify.
    shot = tmp_path / "dialog.png"
    save_screenshot(dialog, str(shot))
    from qgis.PyQt.QtGui import QImage

    image = QImage(str(shot))
    assert image.width() >= 800 and image.height() >= 500

    # Classify alone reuses the model just trained, here on the map canvas extent only.
    hsi = layers["hsi"]
    canvas = dialog.iface.mapCanvas()
    canvas.setDestinationCrs(hsi.crs())
    full = hsi.extent()
    pixel = hsi.rasterUnitsPerPixelX()
    canvas.setExtent(
        QgsRectangle(
            full.xMinimum() + 6 * pixel,
            full.yMaximum() - 18 * pixel,
            full.xMinimum() + 18 * pixel,
            full.yMaximum() - 6 * pixel,
        )
    )
    dialog.canvasExtentRadio.setChecked(True)
    dialog.classOutputWidget.setFilePath(str(tmp_path / "canvas.tif"))
    dialog.confidenceCheck.setChecked(False)
    dialog.marginCheck.setChecked(True)
    dialog.classifyButton.click()
    wait_until_idle(dialog, 120)
    assert outcomes[-1].status == "succeeded", dialog.logEdit.toPlainText()
    assert outcomes[-1].results["ncglf2:classify"]["OUTPUT"] == str(tmp_path / "canvas.tif")
    by_source = {layer.source(): layer for layer in QgsProject.instance().mapLayers().values()}
    part, margin = by_source[str(tmp_path / "canvas.tif")], by_source[str(tmp_path / "canvas_margin.tif")]
    assert isinstance(part.renderer(), QgsPalettedRasterRenderer) and margin.name() == "canvas_margin"
    enhancement = margin.renderer().contrastEnhancement()
    assert (enhancement.minimumValue(), enhancement.maximumValue()) == (0.0, 1.0)
    order = [node.layer().id() for node in QgsProject.instance().layerTreeRoot().findLayers()]
    assert order.index(margin.id()) == order.index(part.id()) + 1
    assert 10 <= part.width() < hsi.width() and 10 <= part.height() < hsi.height()
    assert len(dialog.opened_urls) == 1  # no training, no new report


def test_cancel_stops_training_and_qgis_keeps_working(dialog, scene_layers, tmp_path):
    from qgis.core import QgsApplication

    layers, csv = scene_layers
    fill(dialog, layers, csv, tmp_path, epochs=500)
    model = tmp_path / "tiny.ncglf2"
    outcomes = []
    dialog.runFinished.connect(outcomes.append)
    progress = []
    dialog.progressBar.valueChanged.connect(progress.append)

    dialog.trainButton.click()
    started = time.monotonic()
    while "epoch 1/500" not in dialog.logEdit.toPlainText():  # the training loop is running
        assert time.monotonic() - started < 120, dialog.logEdit.toPlainText()
        QgsApplication.processEvents()
        time.sleep(0.005)
    assert progress and progress[-1] >= 15  # preprocessing done, training under way
    dialog.cancelButton.click()
    seconds = wait_until_idle(dialog, 10)

    assert seconds < 5
    assert [o.status for o in outcomes] == ["cancelled"]
    assert "epoch 500/500" not in dialog.logEdit.toPlainText()
    assert not model.exists() and not (tmp_path / "tiny_report.html").exists()
    assert "Cancelled" in dialog.messageLabel.text()
    assert any("Cancelled" in item.text() for item in dialog.iface.messageBar().items())

    # QGIS keeps working: the next run of the same dialog succeeds.
    dialog.epochsSpin.setValue(1)
    dialog.trainButton.click()
    wait_until_idle(dialog, 120)
    assert [o.status for o in outcomes] == ["cancelled", "succeeded"]
    assert model.is_file()


def test_engine_errors_are_shown_in_the_dialog_and_message_bar(dialog, scene_layers, tmp_path):
    from qgis.core import Qgis

    layers, csv = scene_layers
    fill(dialog, layers, csv, tmp_path, epochs=2)
    dialog.patchSizeSpin.setMaximum(200)
    dialog.patchSizeSpin.setValue(4)  # even: the engine refuses it
    outcomes = []
    dialog.runFinished.connect(outcomes.append)
    dialog.trainButton.click()
    wait_until_idle(dialog, 30)
    assert [o.status for o in outcomes] == ["failed"]
    assert "patch size" in dialog.messageLabel.text().lower()
    bar = dialog.iface.messageBar()
    failures = [item for item in bar.items() if item.level() == Qgis.Critical]
    assert len(failures) == 1 and "patch size" in failures[0].text().lower()
    assert not (tmp_path / "tiny.ncglf2").exists()

    # The red message goes away with the next run.
    dialog.patchSizeSpin.setValue(5)
    dialog.epochsSpin.setValue(1)
    dialog.trainButton.click()
    assert not [item for item in bar.items() if item.level() == Qgis.Critical]
    wait_until_idle(dialog, 120)
    assert outcomes[-1].status == "succeeded", dialog.logEdit.toPlainText()


PROBE = textwrap.dedent(
    """
    import json, os, sys
    from qgis.core import QgsApplication
    QgsApplication.setPrefixPath("/usr", True)
    app = QgsApplication([], True)
    app.initQgis()
    sys.path.append("/usr/share/qgis/python/plugins")
    from processing.core.Processing import Processing
    Processing.initialize()
    from qgis.testing.mocked import get_iface
    import ncglf2
    plugin = ncglf2.classFactory(get_iface())
    plugin.initProcessing()
    plugin.initGui()
    dialog = plugin.show_dialog()
    result = {
        "provider": QgsApplication.processingRegistry().providerById("ncglf2") is not None,
        "message": dialog.messageLabel.text() if dialog.messageLabel.isVisible() else "",
        "buttons": [b.isEnabled() for b in (dialog.trainButton, dialog.classifyButton, dialog.trainClassifyButton)],
        "install": [dialog.installEngineButton.text(), dialog.installEngineButton.isEnabled()],
    }
    jobs = json.loads(os.environ.get("PROBE_JOBS", "[]"))
    import processing
    result["jobs"] = [sorted(processing.run(algorithm, parameters)) for algorithm, parameters in jobs]
    plugin.unload()
    result["torch_loaded"] = "torch" in sys.modules
    print("RESULT " + json.dumps(result))
    """
)


def _probe(tmp_path, engine: str | None, jobs=()) -> dict:
    """The plugin in Debian's QGIS Python (no torch: a QGIS user's situation), in a throw-away profile."""
    if subprocess.run(["/usr/bin/python3", "-c", "import torch"], capture_output=True).returncode == 0:
        pytest.skip("the system Python has torch")
    packages = tmp_path / "packages"
    packages.mkdir()
    (packages / "ncglf2").symlink_to(ROOT, target_is_directory=True)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONHOME", "NCGLF2_ENGINE_PYTHON")}
    env.update(
        QT_QPA_PLATFORM="offscreen",
        PYTHONPATH=str(packages),
        QGIS_CUSTOM_CONFIG_PATH=str(tmp_path / "config"),
        PROBE_JOBS=json.dumps(list(jobs)),
    )
    if engine:
        env["NCGLF2_ENGINE_PYTHON"] = engine
    completed = subprocess.run(["/usr/bin/python3", "-c", PROBE], env=env, capture_output=True, text=True, timeout=600)
    assert completed.returncode == 0, completed.stderr[-3000:]
    line = [text for text in completed.stdout.splitlines() if text.startswith("RESULT ")]
    assert line, completed.stdout[-2000:] + completed.stderr[-2000:]
    return json.loads(line[-1][len("RESULT ") :])


def test_without_an_engine_the_dialog_offers_to_install_one(tmp_path):
    result = _probe(tmp_path, engine=None)
    assert result["torch_loaded"] is False and result["provider"] is True
    assert "not installed" in result["message"] and "Install NCGLF2 engine" in result["message"]
    assert result["buttons"] == [False, False, False]
    assert result["install"] == ["Install engine", True]


@pytest.mark.slow
def test_qgis_runs_every_job_without_ever_importing_torch(tmp_path, reference_files):
    """Train, classify, assess and import through Processing in a QGIS Python without torch; the engine has it."""
    scene = build_tiny_scene(tmp_path, bands=48)
    model, classes = tmp_path / "m.ncglf2", tmp_path / "map.tif"
    common = {"HSI": scene.hsi, "LIDAR": [scene.dsm], "DEVICE": 1}
    jobs = [
        (
            "ncglf2:train",
            {
                **common,
                "LABELS_RASTER": scene.labels,
                "EPOCHS": 2,
                "PATCH_SIZE": 5,
                "PCA_COMPONENTS": 4,
                "OUTPUT_MODEL": str(model),
            },
        ),
        ("ncglf2:classify", {**common, "MODEL": str(model), "OUTPUT": str(classes)}),
        (
            "ncglf2:assess",
            {"CLASSIFICATION": str(classes), "REFERENCE_RASTER": scene.labels, "OUTPUT_HTML": str(tmp_path / "a.html")},
        ),
        (
            "ncglf2:importreference",
            {
                "CHECKPOINT": str(reference_files[0]),
                "HSI": scene.hsi,
                "LIDAR": [scene.dsm],
                "CLASSES": 6,
                "PATCH_SIZE": 11,
                "OUTPUT_MODEL": str(tmp_path / "r.ncglf2"),
            },
        ),
    ]
    result = _probe(tmp_path, engine=sys.executable, jobs=jobs)
    assert result["message"] == "" and result["buttons"] == [True, True, True]
    assert result["install"] == ["Repair engine", True]
    assert "OUTPUT_MODEL" in result["jobs"][0] and "OA" in result["jobs"][2]
    assert model.is_file() and classes.is_file() and (tmp_path / "r.ncglf2").is_file()
    assert result["torch_loaded"] is False


def test_unloading_mid_run_cancels_it_safely(plugin, scene_layers, tmp_path):
    from qgis.core import QgsApplication
    from qgis.testing.mocked import get_iface

    import ncglf2
    from ncglf2.ncglf2_qgis import tasks

    layers, csv = scene_layers
    second = ncglf2.classFactory(get_iface())
    second.initGui()
    dialog = second.show_dialog()
    fill(dialog, layers, csv, tmp_path, epochs=500)
    dialog.trainButton.click()
    run = dialog.run
    outcomes = []
    run.finished.connect(outcomes.append)
    started = time.monotonic()
    while "epoch 1/500" not in dialog.logEdit.toPlainText():
        assert time.monotonic() - started < 120, dialog.logEdit.toPlainText()
        QgsApplication.processEvents()
        time.sleep(0.005)
    second.unload()  # the dialog goes; its run must end cleanly
    started = time.monotonic()
    while run in tasks._active_runs or QgsApplication.taskManager().countActiveTasks():
        assert time.monotonic() - started < 10
        QgsApplication.processEvents()
        time.sleep(0.005)
    assert [o.status for o in outcomes] == ["cancelled"]
    assert not (tmp_path / "tiny.ncglf2").exists()
    plugin.initProcessing()  # the module's plugin registers the provider again for later tests


def test_first_choices_are_the_likely_ones_and_outputs_are_kept(dialog, scene_layers, tmp_path):
    """The cube as HSI (not the first raster by name), a vector as labels with its class field (never fid),
    the DSM ticked, and outputs beside the data under names no run has used."""
    from qgis.core import QgsProject, QgsRasterLayer, QgsVectorLayer

    layers, _ = scene_layers
    project = QgsProject.instance()
    confidence = QgsRasterLayer(layers["dsm"].source(), "Confidence")
    points = QgsVectorLayer(
        "Point?crs=EPSG:32632&field=fid:integer&field=id:integer&field=landcover:string", "field samples", "memory"
    )
    project.addMapLayers([confidence, points])
    assert dialog.hsiLayerCombo.currentLayer() is layers["hsi"]
    assert dialog.labelsLayerCombo.currentLayer() is points
    assert dialog.classFieldCombo.currentField() == "landcover"
    assert [layer.name() for layer in dialog.lidar_layers()] == ["dsm"]
    folder = os.path.dirname(layers["hsi"].source())
    assert dialog.modelOutputWidget.filePath() == os.path.join(folder, "hsi_model.ncglf2")
    assert dialog.reportOutputWidget.filePath() == os.path.join(folder, "hsi_model_training.html")
    assert dialog.classOutputWidget.filePath() == os.path.join(folder, "hsi_classes.tif")

    # A choice the user made stays when layers are added.
    dialog.labelsLayerCombo.setLayer(layers["labels"])
    dialog.labelsLayerCombo.activated.emit(0)
    project.addMapLayer(QgsVectorLayer("Polygon?crs=EPSG:32632&field=class:integer", "more", "memory"))
    assert dialog.labelsLayerCombo.currentLayer() is layers["labels"]

    # Once a file exists, the default moves on to the next free name; a typed path stays.
    open(os.path.join(folder, "hsi_model.ncglf2"), "wb").close()
    dialog.classOutputWidget.setFilePath(str(tmp_path / "mine.tif"))
    dialog.fill_output_defaults()
    assert dialog.modelOutputWidget.filePath() == os.path.join(folder, "hsi_model_2.ncglf2")
    assert dialog.reportOutputWidget.filePath() == os.path.join(folder, "hsi_model_2_training.html")
    assert dialog.classOutputWidget.filePath() == str(tmp_path / "mine.tif")


def test_dialog_fits_a_1366_x_768_screen(dialog):
    dialog.show()
    from qgis.core import QgsApplication

    QgsApplication.processEvents()
    hint = dialog.sizeHint()
    assert hint.width() <= 1366 and hint.height() <= 728, (hint.width(), hint.height())  # 40 px for a task bar
    assert dialog.height() <= 728
    dialog.advancedGroup.setCollapsed(False)  # with the advanced parameters open too
    QgsApplication.processEvents()
    assert dialog.sizeHint().height() <= 728, dialog.sizeHint().height()
    dialog.hide()
