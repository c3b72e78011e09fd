"""The plugin dialog: pick layers and parameters, run the Processing algorithms in the background.

The dialog builds exactly the parameter dicts a Processing user gives
``ncglf2:train``, ``ncglf2:classify`` and ``ncglf2:importreference`` (one
method each) and hands them to :mod:`.tasks`; it never calls the engine itself,
so the toolbox, models, ``qgis_process`` and this dialog share one code path.
"""

from __future__ import annotations

import html
import os
from collections.abc import Callable

from qgis.core import (
    Qgis,
    QgsApplication,
    QgsMapLayer,
    QgsMapLayerProxyModel,
    QgsProcessing,
    QgsProject,
    QgsRasterLayer,
)
from qgis.gui import QgsFileWidget
from qgis.PyQt import sip, uic
from qgis.PyQt.QtCore import QTimer, QUrl, pyqtSignal
from qgis.PyQt.QtGui import QDesktopServices, QFontDatabase, QIcon
from qgis.PyQt.QtWidgets import QDialog, QHBoxLayout, QPushButton, QWidget

from .resources import resource_path
from .tasks import CANCELLED, SUCCEEDED, ProcessingRun, RunOutcome, Step

FORM_CLASS, _ = uic.loadUiType(resource_path("ncglf2_dialog.ui"))

TRAIN = "ncglf2:train"
INSTALL_ENGINE = "ncglf2:installengine"
CLASSIFY = "ncglf2:classify"
IMPORT_REFERENCE = "ncglf2:importreference"
MESSAGE_TITLE = "NCGLF2"

# Share of the progress bar per step when training and classifying in one go:
# training dominates the run time.
TRAIN_WEIGHT, CLASSIFY_WEIGHT = 4.0, 1.0

# Spin boxes whose range and default come from the algorithm's own parameter
# definitions, so the dialog and the Processing toolbox always agree.
_TRAIN_SPINS = {
    "EPOCHS": "epochsSpin",
    "SAMPLES_PER_CLASS": "samplesSpin",
    "SEED": "seedSpin",
    "BATCH_SIZE": "batchSizeSpin",
    "LEARNING_RATE": "learningRateSpin",
    "PATCH_SIZE": "patchSizeSpin",
    "PCA_COMPONENTS": "pcaSpin",
    "VALIDATION_FRACTION": "validationFractionSpin",
}
_IMPORT_SPINS = {"CLASSES": "classCountSpin", "PATCH_SIZE": "importPatchSizeSpin"}
# Combo boxes whose items are the algorithm's enum in order: they start on its default.
_TRAIN_COMBOS = {"VALIDATION_SPLIT": "validationSplitCombo", "PROTOCOL": "protocolCombo"}


class InputProblem(ValueError):
    """Something the user has to choose or fix before a run can start."""


def beside_path(classification: str, what: str) -> str:
    """Where the confidence or margin raster goes beside a class map."""
    stem, extension = os.path.splitext(classification)
    return f"{stem}_{what}{extension or '.tif'}"


class NCGLF2Dialog(QDialog, FORM_CLASS):
    """Train / classify / train-and-classify, with progress, cancel and a log.

    Args:
        iface: the QGIS interface (map canvas and message bar).
        parent: parent widget, normally the QGIS main window.
        open_url: opens the training report; tests pass a recorder instead of
            the desktop browser.
        project: the project that receives the result layers.
    """

    runFinished = pyqtSignal(object)  # RunOutcome, after the dialog has handled it

    def __init__(
        self,
        iface,
        parent: QWidget | None = None,
        open_url: Callable[[QUrl], object] | None = None,
        project: QgsProject | None = None,
    ) -> None:
        super().__init__(parent)
        self.setupUi(self)
        self.iface = iface
        self.project = project or QgsProject.instance()
        self.open_url = open_url or QDesktopServices.openUrl
        self.run: ProcessingRun | None = None
        self.last_model: str | None = None
        self.added_layers: list[QgsMapLayer] = []
        self.missing: list[str] = []
        self._fitted = False
        self._touched: set = set()  # layer combos the user has chosen in: defaults leave them alone
        self._auto_paths: dict = {}  # output widgets -> the path this dialog filled in
        self._refreshing = False
        self._failure_message = None  # the message bar item of the last failure, removed by the next run
        self.setWindowIcon(QIcon(resource_path("icon.png")))
        self._set_up_widgets()
        self._connect()
        self.check_engine()

    # -- set-up --------------------------------------------------------------
    def _set_up_widgets(self) -> None:
        self.installEngineButton = QPushButton(self.tr("Install engine"), self)
        self.installEngineButton.setToolTip(
            self.tr(
                "Install (or repair) PyTorch in a separate environment in the QGIS profile; QGIS's Python stays as it is"
            )
        )
        for layout in self.findChildren(QHBoxLayout):
            if layout.indexOf(self.cancelButton) >= 0:
                layout.insertWidget(0, self.installEngineButton)
                break
        raster = QgsMapLayerProxyModel.RasterLayer
        labels = raster | QgsMapLayerProxyModel.PointLayer | QgsMapLayerProxyModel.PolygonLayer
        self.hsiLayerCombo.setFilters(raster)
        self.labelsLayerCombo.setFilters(labels)
        self.validationLayerCombo.setFilters(labels)
        self.validationLayerCombo.setAllowEmptyLayer(True)
        self.validationLayerCombo.setLayer(None)
        self.lidarLayersCombo.setDefaultText(self.tr("choose one or more rasters"))
        for widget in (self.modelFileWidget, self.checkpointFileWidget, self.classCsvWidget):
            widget.setStorageMode(QgsFileWidget.GetFile)
        for widget in (self.modelOutputWidget, self.reportOutputWidget, self.classOutputWidget):
            widget.setStorageMode(QgsFileWidget.SaveFile)
        for widget in (self.modelOutputWidget, self.reportOutputWidget, self.classOutputWidget):
            widget.lineEdit().setPlaceholderText(self.tr("[temporary file, deleted when QGIS closes]"))
        self.logEdit.setFont(QFontDatabase.systemFont(QFontDatabase.FixedFont))
        self.logEdit.setMaximumBlockCount(5000)
        self.messageLabel.setVisible(False)
        self._align_labels()
        self._apply_parameter_definitions(TRAIN, _TRAIN_SPINS)
        self._apply_enum_defaults(TRAIN, _TRAIN_COMBOS)
        self._apply_parameter_definitions(IMPORT_REFERENCE, _IMPORT_SPINS)
        self.labelsLayerCombo.setAllowEmptyLayer(True)
        self.refresh_lidar_layers()
        self.apply_layer_defaults()
        self._labels_layer_changed(self.labelsLayerCombo.currentLayer())
        self._model_source_changed()

    def showEvent(self, event) -> None:  # noqa: N802 - Qt API
        super().showEvent(event)
        if not self._fitted:
            # The advanced group folds itself on its first show; take back the height it had.
            self._fitted = True
            QTimer.singleShot(0, self._fit_height)

    def _fit_height(self) -> None:
        self.resize(self.width(), max(self.sizeHint().height(), self.minimumSizeHint().height()))

    def _align_labels(self) -> None:
        # The left column stacks three forms; one label width lines their fields up.
        labels = [
            self.hsiLabel,
            self.lidarLabel,
            self.deviceLabel,
            self.labelsLabel,
            self.classFieldLabel,
            self.epochsLabel,
            self.samplesLabel,
            self.seedLabel,
            self.modelFileLabel,
            self.checkpointLabel,
            self.classCountLabel,
            self.importPatchSizeLabel,
            self.modelOutputLabel,
            self.reportOutputLabel,
        ]
        width = max(label.sizeHint().width() for label in labels)
        for label in labels:
            label.setMinimumWidth(width)

    def _apply_parameter_definitions(self, algorithm_id: str, spins: dict[str, str]) -> None:
        algorithm = QgsApplication.processingRegistry().algorithmById(algorithm_id)
        if algorithm is None:  # the provider is not loaded: keep the .ui defaults
            return
        for name, widget_name in spins.items():
            definition = algorithm.parameterDefinition(name)
            if definition is None or not hasattr(definition, "minimum"):
                continue
            spin = getattr(self, widget_name)
            convert = float if hasattr(spin, "decimals") else int
            low, high = definition.minimum(), definition.maximum()
            if low > -1e300:
                spin.setMinimum(convert(max(low, -(2**31) + 1)))
            if high < 1e300:
                spin.setMaximum(convert(min(high, 2**31 - 1)))
            if definition.defaultValue() is not None:
                spin.setValue(convert(definition.defaultValue()))

    def _apply_enum_defaults(self, algorithm_id: str, combos: dict[str, str]) -> None:
        algorithm = QgsApplication.processingRegistry().algorithmById(algorithm_id)
        if algorithm is None:
            return
        for name, widget_name in combos.items():
            definition = algorithm.parameterDefinition(name)
            if definition is not None and definition.defaultValue() is not None:
                getattr(self, widget_name).setCurrentIndex(int(definition.defaultValue()))

    def apply_layer_defaults(self, *_args) -> None:
        """Likely choices for the layer combos the user has not touched, and output files beside the data."""
        from .defaults import pick_hsi, pick_labels, pick_lidar

        layers = list(self.project.mapLayers().values())
        if self.hsiLayerCombo not in self._touched:
            self.hsiLayerCombo.setLayer(pick_hsi(layers))
        hsi = self.hsiLayerCombo.currentLayer()
        if self.labelsLayerCombo not in self._touched:
            self.labelsLayerCombo.setLayer(pick_labels(layers, hsi))
        if self.lidarLayersCombo not in self._touched and not self.lidar_layers():
            self.set_lidar_layers(pick_lidar(layers, hsi))
        self.fill_output_defaults()

    def fill_output_defaults(self, *_args) -> None:
        """Model, report and class map beside the project (or the HSI), under names not used yet.

        A path the user typed stays; one this dialog filled in moves on to the
        next free name, so a second run never replaces the first one's files.
        """
        from .defaults import output_folder, unused_path

        hsi = self.hsiLayerCombo.currentLayer()
        folder = output_folder(self.project.fileName(), hsi)
        if folder is None or hsi is None:
            return
        stem = os.path.splitext(os.path.basename(hsi.source().split("|")[0]))[0]
        model = unused_path(folder, f"{stem}_model", ".ncglf2")
        wanted = {
            self.modelOutputWidget: model,
            self.reportOutputWidget: unused_path(
                folder, os.path.splitext(os.path.basename(model))[0] + "_training", ".html"
            ),
            self.classOutputWidget: unused_path(folder, f"{stem}_classes", ".tif"),
        }
        for widget, path in wanted.items():
            current = widget.filePath().strip()
            if not current or current == self._auto_paths.get(widget):
                widget.setFilePath(path)
                self._auto_paths[widget] = path

    def _connect(self) -> None:
        for combo in (self.hsiLayerCombo, self.labelsLayerCombo):
            combo.activated.connect(lambda _index, combo=combo: self._touched.add(combo))
        self.lidarLayersCombo.checkedItemsChanged.connect(
            lambda _items: self._touched.add(self.lidarLayersCombo) if not self._refreshing else None
        )
        self.hsiLayerCombo.layerChanged.connect(self.fill_output_defaults)
        self.labelsLayerCombo.layerChanged.connect(self._labels_layer_changed)
        for radio in (self.trainRadio, self.loadRadio, self.importRadio):
            radio.toggled.connect(self._model_source_changed)
        self.trainButton.clicked.connect(self.start_train)
        self.classifyButton.clicked.connect(self.start_classify)
        self.trainClassifyButton.clicked.connect(self.start_train_and_classify)
        self.cancelButton.clicked.connect(self.cancel)
        self.installEngineButton.clicked.connect(self.start_install_engine)
        self.closeButton.clicked.connect(self.close)
        self.project.layersAdded.connect(self.refresh_lidar_layers)
        self.project.layersRemoved.connect(self.refresh_lidar_layers)
        self.project.layersAdded.connect(self.apply_layer_defaults)

    def shutdown(self) -> None:
        """Stop a running job and let go of the project; called when the plugin unloads."""
        if self.run is not None and self.run.is_running():
            self.run.cancel()
        for signal, slot in (
            (self.project.layersAdded, self.refresh_lidar_layers),
            (self.project.layersRemoved, self.refresh_lidar_layers),
            (self.project.layersAdded, self.apply_layer_defaults),
        ):
            try:
                signal.disconnect(slot)
            except TypeError:
                pass

    # -- the engine ----------------------------------------------------------
    def check_engine(self) -> list[str]:
        """Say how to install the engine when there is none, and block the run buttons until there is."""
        from qgis.core import QgsProcessingException

        from .engine import engine_choice

        try:
            engine_choice()
            self.missing = []
        except QgsProcessingException as error:
            self.missing = [str(error)]
            self.show_message(str(error), level="warning")
        self.installEngineButton.setText(self.tr("Install engine") if self.missing else self.tr("Repair engine"))
        self._update_buttons()
        return self.missing

    def start_install_engine(self) -> None:
        self._start(lambda: [Step(INSTALL_ENGINE, {"ACTION": 0}, 1.0)])

    # -- widgets -------------------------------------------------------------
    def refresh_lidar_layers(self, *_args) -> None:
        """List the project's raster layers, keeping the ticks of those still there."""
        checked = set(self.lidarLayersCombo.checkedItemsData())
        self._refreshing = True
        try:
            self.lidarLayersCombo.clear()
            for layer in self.project.mapLayers().values():
                if isinstance(layer, QgsRasterLayer):
                    state = 2 if layer.id() in checked else 0  # Qt.Checked / Qt.Unchecked
                    self.lidarLayersCombo.addItemWithCheckState(layer.name(), state, layer.id())
        finally:
            self._refreshing = False

    def lidar_layers(self) -> list[QgsRasterLayer]:
        layers = [self.project.mapLayer(layer_id) for layer_id in self.lidarLayersCombo.checkedItemsData()]
        return [layer for layer in layers if layer is not None]

    def set_lidar_layers(self, layers: list[QgsRasterLayer]) -> None:
        wanted = {layer.id() for layer in layers}
        self._refreshing = True
        try:
            for index in range(self.lidarLayersCombo.count()):
                state = 2 if self.lidarLayersCombo.itemData(index) in wanted else 0
                self.lidarLayersCombo.setItemCheckState(index, state)
        finally:
            self._refreshing = False

    def _labels_layer_changed(self, layer) -> None:
        from .defaults import pick_class_field

        vector = layer is not None and layer.type() == QgsMapLayer.VectorLayer
        self.classFieldCombo.setLayer(layer if vector else None)
        if vector:
            self.classFieldCombo.setField(pick_class_field(layer) or "")
        self.classFieldCombo.setEnabled(vector)
        self.classFieldLabel.setEnabled(vector)

    def _model_source_changed(self, *_args) -> None:
        pages = (self.trainRadio, self.loadRadio, self.importRadio)
        self.modelStack.setCurrentIndex(next(i for i, radio in enumerate(pages) if radio.isChecked()))
        makes_model = not self.loadRadio.isChecked()
        for widget in (self.modelOutputLabel, self.modelOutputWidget):
            widget.setVisible(makes_model)
        for widget in (self.reportOutputLabel, self.reportOutputWidget):
            widget.setVisible(self.trainRadio.isChecked())
        self.trainButton.setText(self.tr("Import") if self.importRadio.isChecked() else self.tr("Train"))
        self.trainClassifyButton.setText(
            self.tr("Import and classify") if self.importRadio.isChecked() else self.tr("Train and classify")
        )
        self._update_buttons()

    def _update_buttons(self) -> None:
        busy = self.is_busy()
        ready = not self.missing and not busy
        self.trainButton.setEnabled(ready and not self.loadRadio.isChecked())
        self.trainClassifyButton.setEnabled(ready and not self.loadRadio.isChecked())
        self.classifyButton.setEnabled(ready)
        self.cancelButton.setEnabled(busy)
        self.installEngineButton.setEnabled(not busy)

    def is_busy(self) -> bool:
        return self.run is not None and self.run.is_running()

    # -- parameters (one function per algorithm) -----------------------------
    def _inputs(self) -> tuple[str, list[str]]:
        hsi = self.hsiLayerCombo.currentLayer()
        if hsi is None:
            raise InputProblem(self.tr("Choose the hyperspectral (HSI) raster."))
        lidar = self.lidar_layers()
        if not lidar:
            raise InputProblem(self.tr("Tick at least one LiDAR raster."))
        if any(layer.id() == hsi.id() for layer in lidar):
            raise InputProblem(self.tr("The HSI raster is also ticked as LiDAR; untick it."))
        return hsi.source(), [layer.source() for layer in lidar]

    def _device(self) -> int:
        return self.deviceCombo.currentIndex()  # 0 auto, 1 cpu, 2 cuda, as the algorithms' enum

    @staticmethod
    def _path_or_temporary(widget: QgsFileWidget) -> str:
        return widget.filePath().strip() or QgsProcessing.TEMPORARY_OUTPUT

    def train_parameters(self) -> dict:
        """Parameters of ``ncglf2:train`` from the widgets."""
        hsi, lidar = self._inputs()
        labels = self.labelsLayerCombo.currentLayer()
        if labels is None:
            raise InputProblem(self.tr("Choose the labels layer (a class raster, or points/polygons)."))
        class_field = None
        vector = labels.type() == QgsMapLayer.VectorLayer
        if vector:
            class_field = self.classFieldCombo.currentField() or None
            if class_field is None:
                raise InputProblem(self.tr("Choose the field of {} that holds the classes.").format(labels.name()))
        validation = self.validationLayerCombo.currentLayer()
        samples = self.samplesSpin.value()
        return {
            "HSI": hsi,
            "LIDAR": lidar,
            "LABELS": labels.source() if vector else None,
            "LABELS_RASTER": None if vector else labels.source(),
            "CLASS_FIELD": class_field,
            "VALIDATION": validation.source() if validation is not None else None,
            "CLASS_CSV": self.classCsvWidget.filePath().strip() or None,
            "EPOCHS": self.epochsSpin.value(),
            "SAMPLES_PER_CLASS": samples,
            "VALIDATION_FRACTION": self.validationFractionSpin.value(),
            "VALIDATION_SPLIT": self.validationSplitCombo.currentIndex(),  # 0 spatial, 1 random, as the enum
            "PROTOCOL": self.protocolCombo.currentIndex(),  # robust, paper, ensemble: the enum
            "BATCH_SIZE": self.batchSizeSpin.value(),
            "LEARNING_RATE": self.learningRateSpin.value(),
            "PATCH_SIZE": self.patchSizeSpin.value(),
            "PCA_COMPONENTS": self.pcaSpin.value(),
            "SEED": self.seedSpin.value(),
            "DEVICE": self._device(),
            "OUTPUT_MODEL": self._path_or_temporary(self.modelOutputWidget),
            "OUTPUT_REPORT": self._path_or_temporary(self.reportOutputWidget),
        }

    def import_parameters(self) -> dict:
        """Parameters of ``ncglf2:importreference`` from the widgets."""
        hsi, lidar = self._inputs()
        checkpoint = self.checkpointFileWidget.filePath().strip()
        if not checkpoint:
            raise InputProblem(self.tr("Choose the reference checkpoint file."))
        return {
            "CHECKPOINT": checkpoint,
            "HSI": hsi,
            "LIDAR": lidar,
            "CLASSES": self.classCountSpin.value(),
            "PATCH_SIZE": self.importPatchSizeSpin.value(),
            "OUTPUT_MODEL": self._path_or_temporary(self.modelOutputWidget),
        }

    def canvas_extent(self) -> str:
        """The map canvas extent as a Processing extent string with its CRS."""
        canvas = self.iface.mapCanvas()
        rectangle = canvas.extent()
        crs = canvas.mapSettings().destinationCrs()
        text = f"{rectangle.xMinimum()!r},{rectangle.xMaximum()!r},{rectangle.yMinimum()!r},{rectangle.yMaximum()!r}"
        return f"{text} [{crs.authid()}]" if crs.isValid() and crs.authid() else text

    def classify_parameters(self, model: str | None = None) -> dict:
        """Parameters of ``ncglf2:classify``; ``model`` defaults to the chosen or last trained one."""
        hsi, lidar = self._inputs()
        model = model or self.current_model()
        output = self._path_or_temporary(self.classOutputWidget)

        def beside(check, what: str) -> str | None:
            if not check.isChecked():
                return None
            temporary = output == QgsProcessing.TEMPORARY_OUTPUT
            return QgsProcessing.TEMPORARY_OUTPUT if temporary else beside_path(output, what)

        return {
            "MODEL": model,
            "HSI": hsi,
            "LIDAR": lidar,
            "DEVICE": self._device(),
            "PRECISION": self.precisionCombo.currentIndex(),  # 0 float32, 1 bfloat16, as the algorithm's enum
            "EXTENT": self.canvas_extent() if self.canvasExtentRadio.isChecked() else None,
            "TTA": self.ttaCheck.isChecked(),
            "OUTPUT_FORMAT": 1 if self.cogCheck.isChecked() else 0,  # GeoTIFF or COG, as the algorithm's enum
            "OUTPUT": output,
            "OUTPUT_CONFIDENCE": beside(self.confidenceCheck, "confidence"),
            "OUTPUT_MARGIN": beside(self.marginCheck, "margin"),
        }

    def current_model(self) -> str:
        """The model file Classify uses on its own."""
        if self.loadRadio.isChecked():
            path = self.modelFileWidget.filePath().strip()
            if not path:
                raise InputProblem(self.tr("Choose the model file to classify with."))
            return path
        if self.last_model and os.path.isfile(self.last_model):
            return self.last_model
        path = self.modelOutputWidget.filePath().strip()
        if path and os.path.isfile(path):
            return path
        action = self.tr("Import") if self.importRadio.isChecked() else self.tr("Train")
        raise InputProblem(
            self.tr('There is no model yet: press {} first, or choose "Load a model file".').format(action)
        )

    # -- runs ----------------------------------------------------------------
    def _model_step(self, weight: float) -> Step:
        if self.importRadio.isChecked():
            return Step(IMPORT_REFERENCE, self.import_parameters(), weight)
        return Step(TRAIN, self.train_parameters(), weight)

    def start_train(self) -> None:
        self._start(lambda: [self._model_step(1.0)])

    def start_classify(self) -> None:
        self._start(lambda: [Step(CLASSIFY, self.classify_parameters(), 1.0)])

    def start_train_and_classify(self) -> None:
        def steps() -> list[Step]:
            first = self._model_step(TRAIN_WEIGHT)
            classify = self.classify_parameters(model=QgsProcessing.TEMPORARY_OUTPUT)

            def with_new_model(results: dict) -> dict:
                return {**classify, "MODEL": results[first.algorithm_id]["OUTPUT_MODEL"]}

            return [first, Step(CLASSIFY, with_new_model, CLASSIFY_WEIGHT)]

        self._start(steps)

    def _start(self, build_steps: Callable[[], list[Step]]) -> None:
        if self.is_busy():
            return
        try:
            steps = build_steps()
        except InputProblem as problem:
            self.show_message(str(problem), level="warning")
            return
        self.show_message("")
        self._clear_failure_message()
        self.progressBar.setValue(0)
        self.logEdit.clear()
        self.run = ProcessingRun(steps, self.project)
        self.run.progressChanged.connect(self._on_progress)
        self.run.logged.connect(self.append_log)
        self.run.stepFinished.connect(self._on_step_finished)
        self.run.finished.connect(self._on_run_finished)
        self.run.start()
        self._update_buttons()

    def cancel(self) -> None:
        if self.is_busy():
            self.append_log(self.tr("cancelling..."), "warning")
            self.cancelButton.setEnabled(False)
            self.run.cancel()

    def _on_progress(self, percent: float) -> None:
        self.progressBar.setValue(int(round(percent)))

    def _on_step_finished(self, algorithm_id: str, results: dict) -> None:
        if algorithm_id in (TRAIN, IMPORT_REFERENCE):
            self.last_model = results.get("OUTPUT_MODEL") or self.last_model
            report = results.get("OUTPUT_REPORT")
            if report and os.path.isfile(report):
                self.open_url(QUrl.fromLocalFile(report))
        elif algorithm_id == CLASSIFY:
            self._add_result_layers(results)

    def _add_result_layers(self, results: dict) -> None:
        """The class map on top, its confidence and margin (0-1 grey) just below; named after the files or the model."""
        from .styling import apply_class_style, apply_confidence_style, place_below, result_layer_name

        model = self.modelFileWidget.filePath().strip() if self.loadRadio.isChecked() else (self.last_model or "")
        classification = results.get("OUTPUT")
        grey_layers = []
        for key, what in (("OUTPUT_MARGIN", self.tr("margin")), ("OUTPUT_CONFIDENCE", self.tr("confidence"))):
            path = results.get(key)
            if not path or not os.path.isfile(path):
                continue
            layer = QgsRasterLayer(path, result_layer_name(path, model, what))
            if layer.isValid():
                apply_confidence_style(layer)
                self.project.addMapLayer(layer)
                self.added_layers.append(layer)
                grey_layers.append(layer)
        if classification:
            layer = QgsRasterLayer(classification, result_layer_name(classification, model, self.tr("classes")))
            if layer.isValid():
                if not apply_class_style(layer):
                    self.append_log(self.tr("the class map carries no class names; shown without a palette"), "warning")
                self.project.addMapLayer(layer)
                self.added_layers.append(layer)
                for grey in grey_layers:  # where QGIS inserts new layers depends on the selection
                    place_below(grey, classification, self.project)
            else:
                self.append_log(self.tr("could not open {}").format(classification), "error")

    def _on_run_finished(self, outcome: RunOutcome) -> None:
        if self.missing or outcome.steps_run and INSTALL_ENGINE in outcome.steps_run:
            self.check_engine()  # installed, repaired or removed: what the buttons offer changes
        if outcome.status == SUCCEEDED:
            self.fill_output_defaults()  # the next run writes new files instead of replacing these
            self.progressBar.setValue(100)
            text = self.tr("Done in {:.1f} s.").format(outcome.seconds)
            self.show_message(text, level="success")
            self._push_message(text, Qgis.Success)
        elif outcome.status == CANCELLED:
            self.progressBar.setValue(0)
            self.show_message(self.tr("Cancelled; no output was written."), level="warning")
            self._push_message(self.tr("Cancelled."), Qgis.Warning)
        else:
            self.show_message(outcome.error, level="error")
            self._push_message(outcome.error, Qgis.Critical)
        self.append_log(self.tr("{} after {:.1f} s").format(outcome.status, outcome.seconds), "step")
        self._update_buttons()
        self.runFinished.emit(outcome)

    # -- messages ------------------------------------------------------------
    def append_log(self, text: str, kind: str = "info") -> None:
        colours = {"warning": "#9a6700", "error": "#c62828"}
        if kind in colours:
            self.logEdit.appendHtml(f'<span style="color:{colours[kind]}">{html.escape(text)}</span>')
        elif kind == "step":
            self.logEdit.appendHtml(f"<b>{html.escape(text)}</b>")
        else:
            self.logEdit.appendPlainText(text)

    def show_message(self, text: str, level: str = "info") -> None:
        """The line above the form: errors, the install hint, the outcome of a run."""
        styles = {
            "error": "color:#c62828; background:#fdecea; border:1px solid #f5c6cb;",
            "warning": "color:#6d4c00; background:#fff8e1; border:1px solid #ffe08a;",
            "success": "color:#1b5e20; background:#e8f5e9; border:1px solid #b7dfb9;",
            "info": "",
        }
        self.messageLabel.setText(text)
        self.messageLabel.setStyleSheet(f"QLabel {{ {styles.get(level, '')} padding:6px; border-radius:3px; }}")
        self.messageLabel.setVisible(bool(text))

    def _push_message(self, text: str, level) -> None:
        if self.iface is None:
            return
        bar = self.iface.messageBar()
        item = bar.createMessage(MESSAGE_TITLE, text)
        item.setLevel(level)
        item.setDuration(0 if level == Qgis.Critical else 5)
        bar.pushItem(item)
        if level == Qgis.Critical:
            self._failure_message = item

    def _clear_failure_message(self) -> None:
        """A failure stays in the message bar until the next run starts."""
        item, self._failure_message = self._failure_message, None
        if item is not None and self.iface is not None and not sip.isdeleted(item):
            self.iface.messageBar().popWidget(item)
