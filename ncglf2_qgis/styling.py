"""Class maps shown with their class names and colours.

The engine writes category names and a colour table into every class map
(and a .qml beside it); here they become a paletted renderer, whether the
layer is added by Processing (toolbox, batch, models) or by the dialog.
"""
from __future__ import annotations

import os

from qgis.core import (
    QgsMapLayer,
    QgsPalettedRasterRenderer,
    QgsProcessingContext,
    QgsProcessingFeedback,
    QgsProcessingLayerPostProcessorInterface,
    QgsRasterLayer,
)
from qgis.PyQt import sip
from qgis.PyQt.QtGui import QColor

__all__ = ["class_map_renderer", "apply_class_style", "ClassMapStyler", "style_when_loaded"]


def class_map_renderer(layer: QgsRasterLayer) -> QgsPalettedRasterRenderer | None:
    """A paletted renderer from the class map's category names and colour table, if it has them."""
    from ..core.errors import NCGLF2Error
    from ..core.raster_io import read_class_map_info

    try:
        ids, names, colors = read_class_map_info(layer.source())
    except NCGLF2Error:
        return None
    if not ids:
        return None
    classes = [QgsPalettedRasterRenderer.Class(cid, QColor(*color), name) for cid, name, color in zip(ids, names, colors)]
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


class ClassMapStyler(QgsProcessingLayerPostProcessorInterface):
    """Styles a class map when Processing adds it to the project."""

    def postProcessLayer(self, layer: QgsMapLayer, context: QgsProcessingContext, feedback: QgsProcessingFeedback) -> None:  # noqa: N802
        if not apply_class_style(layer) and feedback is not None:
            feedback.pushInfo(f"{layer.name()}: no class names or colours found; default style kept")


# Processing owns each styler once it is attached and deletes it with its
# context; Python must keep the wrapper alive until then, or the styler is
# collected before the layer is loaded.
_live_stylers: list[ClassMapStyler] = []


def style_when_loaded(context: QgsProcessingContext, output: str) -> bool:
    """Attach a styler to ``output`` if Processing will load it when the run completes."""
    if not output or not context.willLoadLayerOnCompletion(output):
        return False
    _live_stylers[:] = [s for s in _live_stylers if not sip.isdeleted(s)]
    styler = ClassMapStyler()
    _live_stylers.append(styler)
    context.layerToLoadOnCompletionDetails(output).setPostProcessor(styler)
    return True
