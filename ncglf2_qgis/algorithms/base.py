"""What every NCGLF2 Processing algorithm shares.

An algorithm turns its parameters into file paths and plain values, builds
the job's request and runs it in the engine process (``..engine``), whose
progress and log arrive as feedback. QGIS's process never imports torch.
"""

from __future__ import annotations

import functools
import html
import os
from collections.abc import Callable
from typing import Any

from qgis.core import (
    QgsMapLayer,
    QgsProcessingAlgorithm,
    QgsProcessingContext,
    QgsProcessingException,
    QgsProcessingFeedback,
    QgsProcessingParameterDefinition,
    QgsProcessingUtils,
    QgsProviderRegistry,
    QgsRasterLayer,
    QgsVectorFileWriter,
    QgsVectorLayer,
)
from qgis.PyQt.QtCore import QCoreApplication
from qgis.PyQt.QtGui import QIcon

from ...core.requests import DEVICES
from ..engine import run_in_engine, unexpected_failure
from ..resources import plugin_metadata, resource_path

# The algorithms' help pages, rendered by the repository host.
HELP_PAGE = "docs/algorithms.md"


class NCGLF2Algorithm(QgsProcessingAlgorithm):
    """Base class: identity, help, engine calls and layer-to-file conversion."""

    #: One paragraph that says what the algorithm does, in a GIS user's words.
    SUMMARY = ""

    #: Search words for the toolbox and the locator, beyond the name (comma-separated, translated as one).
    TAGS = ""

    #: (vector parameter, raster parameter, what they hold): labels come from exactly one of each pair.
    LABEL_CHOICES: tuple[tuple[str, str, str], ...] = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """Every algorithm's ``processAlgorithm`` fails with one line for the user, whatever goes wrong."""
        super().__init_subclass__(**kwargs)
        if "processAlgorithm" in cls.__dict__:
            cls.processAlgorithm = _one_line_errors(cls.__dict__["processAlgorithm"])  # type: ignore[method-assign]

    def createInstance(self) -> NCGLF2Algorithm:  # noqa: N802 - QGIS API
        return type(self)()

    def tr(self, text: str) -> str:
        return QCoreApplication.translate("NCGLF2", text)

    def group(self) -> str:
        return self.tr("Hyperspectral + LiDAR classification")

    def groupId(self) -> str:  # noqa: N802
        return "classification"

    def tags(self) -> list[str]:
        words = f"{self.tr(self.TAGS)},{self.tr('hyperspectral,lidar,land cover,deep learning,fusion')},ncglf2"
        return [word.strip() for word in words.split(",") if word.strip()]

    def icon(self) -> QIcon:
        return QIcon(self.svgIconPath())

    def svgIconPath(self) -> str:  # noqa: N802
        return resource_path(f"algorithms/{self.name()}.svg")

    def helpUrl(self) -> str:  # noqa: N802
        """The algorithm's section of the help page in the repository (the Help button opens it)."""
        return f"{plugin_metadata('repository')}/blob/main/{HELP_PAGE}#{self.name()}"

    def shortDescription(self) -> str:  # noqa: N802
        return self.tr(self.SUMMARY).split(". ")[0].rstrip(".") + "."

    def shortHelpString(self) -> str:  # noqa: N802
        """The summary, then every parameter with its help, as the toolbox shows it."""
        parts = [f"<p>{html.escape(self.tr(self.SUMMARY))}</p>", "<h3>Parameters</h3><dl>"]
        for definition in self.parameterDefinitions():
            advanced = definition.flags() & QgsProcessingParameterDefinition.FlagAdvanced
            optional = definition.flags() & QgsProcessingParameterDefinition.FlagOptional
            notes = ", ".join(n for n, on in ((self.tr("optional"), optional), (self.tr("advanced"), advanced)) if on)
            title = html.escape(definition.description()) + (f" <i>({notes})</i>" if notes else "")
            parts.append(f"<dt><b>{title}</b></dt><dd>{html.escape(definition.help())}</dd>")
        parts.append("</dl>")
        return "".join(parts)

    # ------------------------------------------------------------ parameters

    def add(self, definition: QgsProcessingParameterDefinition, help_text: str, advanced: bool = False) -> None:
        """Add a parameter with its help (the tooltip and the help panel)."""
        definition.setHelp(self.tr(help_text))
        if advanced:
            definition.setFlags(definition.flags() | QgsProcessingParameterDefinition.FlagAdvanced)
        self.addParameter(definition)

    def device(self, parameters: dict[str, Any], name: str, context: QgsProcessingContext) -> str:
        return DEVICES[self.parameterAsEnum(parameters, name, context)]

    def optional_int(self, parameters: dict[str, Any], name: str, context: QgsProcessingContext) -> int | None:
        """An integer where 0 means "automatic" or "all"."""
        value = self.parameterAsInt(parameters, name, context)
        return value if value > 0 else None

    def optional_output(self, parameters: dict[str, Any], name: str, context: QgsProcessingContext) -> str | None:
        """The path of an optional file destination, or None when the user skipped it."""
        return self.parameterAsFileOutput(parameters, name, context) or None

    def checkParameterValues(self, parameters: dict[str, Any], context: QgsProcessingContext) -> tuple[bool, str]:  # noqa: N802
        """Refuse before the run when both or neither of a vector/raster labels pair is given."""
        ok, message = super().checkParameterValues(parameters, context)
        if not ok:
            return ok, message
        for vector, raster, role in self.LABEL_CHOICES:
            given = [name for name in (vector, raster) if parameters.get(name) not in (None, "")]
            if len(given) != 1:
                vector_title = self.parameterDefinition(vector).description()
                raster_title = self.parameterDefinition(raster).description()
                problem = self.tr("both are given") if given else self.tr("neither is given")
                return False, self.tr("Give the {} either as '{}' ({}) or as '{}' ({}): {}.").format(
                    role, vector_title, vector, raster_title, raster, problem
                )
        return True, ""

    def chosen_labels(
        self, parameters: dict[str, Any], vector: str, raster: str, context: QgsProcessingContext
    ) -> QgsMapLayer | None:
        """The labels layer of a vector/raster pair; a raster given as the vector is named as such."""
        if parameters.get(raster) not in (None, ""):
            return self.parameterAsRasterLayer(parameters, raster, context)
        layer = self.parameterAsVectorLayer(parameters, vector, context)
        value = parameters.get(vector)
        if layer is None and isinstance(value, str) and _is_raster_file(value):
            raise QgsProcessingException(
                self.tr("{} is a raster; give class rasters as {}, not {}").format(value, raster, vector)
            )
        return layer

    # ------------------------------------------------------------ layers as files

    def raster_path(self, layer: QgsMapLayer | None, role: str) -> str:
        """The file of a raster layer; layers that are not GDAL files are refused."""
        if layer is None:
            raise QgsProcessingException(self.tr("the {} layer is missing or cannot be opened").format(role))
        if not isinstance(layer, QgsRasterLayer) or layer.providerType() != "gdal":
            raise QgsProcessingException(
                self.tr(
                    "the {} layer '{}' is not a raster file (its data comes from '{}'); "
                    "save it as a GeoTIFF and use that file"
                ).format(role, layer.name(), layer.providerType())
            )
        return layer.source()

    def raster_paths(self, layers: list[QgsMapLayer], role: str) -> list[str]:
        return [self.raster_path(layer, role) for layer in layers]

    def labels_source(
        self, layer: QgsMapLayer | None, role: str, context: QgsProcessingContext, feedback: QgsProcessingFeedback
    ) -> tuple[str, str | None]:
        """(file, vector layer name or None) the engine reads labels from.

        Vector layers that are not plain files (temporary layers, databases,
        filtered layers) are written to a temporary GeoPackage first.
        """
        if layer is None:
            raise QgsProcessingException(self.tr("the {} layer is missing or cannot be opened").format(role))
        if isinstance(layer, QgsRasterLayer):
            return self.raster_path(layer, role), None
        if not isinstance(layer, QgsVectorLayer):
            raise QgsProcessingException(
                self.tr("the {} layer '{}' is neither a raster nor a vector layer").format(role, layer.name())
            )
        if layer.providerType() == "ogr":
            parts = QgsProviderRegistry.instance().decodeUri("ogr", layer.source())
            path = parts.get("path") or ""
            if path and os.path.exists(path) and not parts.get("subset") and not layer.subsetString():
                name = parts.get("layerName") or None
                if name is None and parts.get("layerId") not in (None, ""):
                    name = _ogr_layer_name(path, int(parts["layerId"]))
                return path, name
        return self._export_vector(layer, role, context, feedback), None

    def _export_vector(
        self, layer: QgsVectorLayer, role: str, context: QgsProcessingContext, feedback: QgsProcessingFeedback
    ) -> str:
        path = QgsProcessingUtils.generateTempFilename(f"ncglf2_{role.replace(' ', '_')}.gpkg")
        options = QgsVectorFileWriter.SaveVectorOptions()
        options.driverName = "GPKG"
        options.layerName = "labels"
        result = QgsVectorFileWriter.writeAsVectorFormatV3(layer, path, context.transformContext(), options)
        if result[0] != QgsVectorFileWriter.NoError:
            raise QgsProcessingException(
                self.tr("the {} layer '{}' cannot be copied to a file for reading: {}").format(
                    role, layer.name(), result[1]
                )
            )
        feedback.pushInfo(self.tr("the {} layer '{}' was copied to {} for reading").format(role, layer.name(), path))
        return path

    # ------------------------------------------------------------ the engine

    def checked(self, build: Callable[[], Any]) -> Any:
        """``build()`` (a request: its checks run here, before the engine starts); its errors as the user's."""
        from ...core.errors import NCGLF2Error

        try:
            return build()
        except NCGLF2Error as error:
            raise QgsProcessingException(str(error)) from None

    def run_job(self, request: Any, feedback: QgsProcessingFeedback | None) -> dict[str, Any]:
        """The job's result (plain JSON) from the engine process."""
        return run_in_engine(request, feedback)


def _one_line_errors(process: Callable[..., dict[str, Any]]) -> Callable[..., dict[str, Any]]:
    """``process`` with its unexpected exceptions as one QgsProcessingException line, the traceback logged.

    Left alone, Processing makes a Python exception's whole traceback the
    failure's message, which qgis_process prints three times and more.
    """

    @functools.wraps(process)
    def guarded(self: NCGLF2Algorithm, parameters: dict[str, Any], context: Any, feedback: Any) -> dict[str, Any]:
        try:
            return process(self, parameters, context, feedback)
        except QgsProcessingException:
            raise
        except Exception as error:
            raise unexpected_failure(error) from None

    return guarded


def _is_raster_file(path: str) -> bool:
    from osgeo import gdal

    return os.path.isfile(path) and gdal.OpenEx(path, gdal.OF_RASTER) is not None


def _ogr_layer_name(path: str, index: int) -> str | None:
    from osgeo import ogr

    dataset = ogr.Open(path)
    if dataset is None or not 0 <= index < dataset.GetLayerCount():
        return None
    return dataset.GetLayerByIndex(index).GetName()
