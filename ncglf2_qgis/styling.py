"""Class maps shown with their class names and colours.

The engine writes category names and a colour table into every class map
(and a .qml beside it); here they become a paletted renderer, whether the
layer is added by Processing (toolbox, batch, models) or by the dialog.
"""

from __future__ import annotations

import os

from qgis.core import (
    QgsContrastEnhancement,
    QgsMapLayer,
    QgsPalettedRasterRenderer,
    QgsProcessingContext,
    QgsProcessingFeedback,
    QgsProcessingLayerPostProcessorInterface,
    QgsProcessingUtils,
    QgsProject,
    QgsRasterLayer,
    QgsSingleBandGrayRenderer,
)
from qgis.PyQt import sip
from qgis.PyQt.QtGui import QColor

__all__ = [
    "class_map_renderer",
    "apply_class_style",
    "apply_confidence_style",
    "place_below",
    "result_layer_name",
    "ClassMapStyler",
    "ConfidenceStyler",
    "style_when_loaded",
    "confidence_when_loaded",
    "when_loaded",
    "skip_empty_outputs",
]


def class_map_renderer(layer: QgsRasterLayer) -> QgsPalettedRasterRenderer | None:
    """A paletted renderer from the class map's category names and colour table, if it has them."""
    from ..core.errors import NCGLF2Error
    from ..core.io.reading import read_class_map_info

    try:
        ids, names, colors = read_class_map_info(layer.source())
    except NCGLF2Error:
        return None
    if not ids:
        return None
    classes = [
        QgsPalettedRasterRenderer.Class(cid, QColor(*color), name) for cid, name, color in zip(ids, names, colors)
    ]
    return QgsPalettedRasterRenderer(layer.dataProvider(), 1, classes)


def apply_class_style(layer: QgsMapLayer) -> bool:
    """Show ``layer`` with its class names and colours; False when it carries none."""
    if not isinstance(layer, QgsRasterLayer) or not layer.isValid():
        return False
    renderer = class_map_renderer(layer) if layer.providerType() == "gdal" else None
    if renderer is not None:
        layer.setRenderer(renderer)
    else:
        style = os.path.splitext(layer.source())[0] + ".qml"
        if not os.path.isfile(style):
            return False
        _, loaded = layer.loadNamedStyle(style)
        if not loaded or not isinstance(layer.renderer(), QgsPalettedRasterRenderer):
            return False
    layer.triggerRepaint()
    return True


def apply_confidence_style(layer: QgsMapLayer) -> bool:
    """Grey from 0 (black, uncertain) to 1 (white, certain): the range of the confidence and of the margin,
    not a 2-98 % cut."""
    if not isinstance(layer, QgsRasterLayer) or not layer.isValid():
        return False
    renderer = QgsSingleBandGrayRenderer(layer.dataProvider(), 1)
    enhancement = QgsContrastEnhancement(layer.dataProvider().dataType(1))
    enhancement.setContrastEnhancementAlgorithm(QgsContrastEnhancement.StretchToMinimumMaximum)
    enhancement.setMinimumValue(0.0)
    enhancement.setMaximumValue(1.0)
    renderer.setContrastEnhancement(enhancement)
    layer.setRenderer(renderer)
    layer.triggerRepaint()
    return True


def place_below(layer: QgsMapLayer, above: str, project: QgsProject) -> bool:
    """Move ``layer`` just below the layer whose source is ``above`` in the layer tree, if both are there."""
    root = project.layerTreeRoot()
    node = root.findLayer(layer.id())
    anchors = [n for n in root.findLayers() if n.layer() is not None and n.layer().source() == above]
    if node is None or not anchors:
        return False
    anchor = anchors[0]
    parent = anchor.parent()
    position = parent.children().index(anchor) + 1
    clone = node.clone()
    parent.insertChildNode(position, clone)
    node.parent().removeChildNode(node)
    return True


def result_layer_name(output: str, model: str, what: str) -> str:
    """The output file's name; for a temporary output, the model's name and what the layer holds."""
    folder = os.path.realpath(os.path.dirname(output))
    temporary = folder.startswith(os.path.realpath(QgsProcessingUtils.tempFolder()))
    if not temporary:
        return os.path.splitext(os.path.basename(output))[0]
    return f"{os.path.splitext(os.path.basename(model))[0]} {what}"


class ClassMapStyler(QgsProcessingLayerPostProcessorInterface):
    """Styles a class map when Processing adds it to the project."""

    def postProcessLayer(
        self, layer: QgsMapLayer, context: QgsProcessingContext, feedback: QgsProcessingFeedback
    ) -> None:  # noqa: N802
        if not apply_class_style(layer) and feedback is not None:
            feedback.pushInfo(f"{layer.name()}: no class names or colours found; default style kept")


class ConfidenceStyler(QgsProcessingLayerPostProcessorInterface):
    """Styles a confidence or margin raster 0-1 and keeps it below its class map when Processing adds it."""

    def __init__(self, class_map: str) -> None:
        super().__init__()
        self.class_map = class_map

    def postProcessLayer(
        self, layer: QgsMapLayer, context: QgsProcessingContext, feedback: QgsProcessingFeedback
    ) -> None:  # noqa: N802
        apply_confidence_style(layer)
        place_below(layer, self.class_map, context.project() or QgsProject.instance())


# Processing owns each styler once it is attached and deletes it with its
# context; Python must keep the wrapper alive until then, or the styler is
# collected before the layer is loaded.
_live_stylers: list[QgsProcessingLayerPostProcessorInterface] = []


def when_loaded(
    context: QgsProcessingContext,
    output: str,
    name: str = "",
    styler: QgsProcessingLayerPostProcessorInterface | None = None,
) -> bool:
    """Name (and style) ``output`` for when Processing loads it; False when it will not be loaded."""
    if not output or not context.willLoadLayerOnCompletion(output):
        return False
    details = context.layerToLoadOnCompletionDetails(output)
    if styler is not None:
        _live_stylers[:] = [s for s in _live_stylers if not sip.isdeleted(s)]
        _live_stylers.append(styler)
        details.setPostProcessor(styler)
    if name:
        details.name = name
    return True


def style_when_loaded(context: QgsProcessingContext, output: str, name: str = "") -> bool:
    """Attach a styler to ``output`` if Processing will load it when the run completes."""
    return when_loaded(context, output, name, ClassMapStyler())


def confidence_when_loaded(context: QgsProcessingContext, output: str, class_map: str, name: str = "") -> bool:
    """Style a confidence or margin output 0-1 and keep it below ``class_map`` when Processing loads it."""
    return when_loaded(context, output, name, ConfidenceStyler(class_map))


def skip_empty_outputs(context: QgsProcessingContext) -> None:
    """Forget optional outputs left empty, which Processing would otherwise report as "not correctly generated"."""
    layers = context.layersToLoadOnCompletion()
    if "" in layers:
        del layers[""]
        context.setLayersToLoadOnCompletion(layers)
