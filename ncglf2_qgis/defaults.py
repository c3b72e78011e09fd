"""First choices in the dialog that are likely right: the cube as HSI, a vector as labels, a class-like field.

Pure functions over layers, so the dialog only has to apply them and tests can
check them on real layers.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable

from qgis.core import QgsMapLayer, QgsRasterLayer, QgsVectorLayer, QgsWkbTypes
from qgis.PyQt.QtCore import QVariant

LABEL_WORDS = re.compile(r"train|label|truth|sample|class|roi|reference|ground|polygon|point", re.IGNORECASE)
LIDAR_WORDS = re.compile(r"dsm|dtm|dem|chm|lidar|height|elev|intensity|surface", re.IGNORECASE)
CLASS_FIELD_WORDS = re.compile(r"class|label|cover|type|categor|kind|land|lulc|code|name", re.IGNORECASE)
# Keys and row numbers: never classes.
ID_FIELDS = {"fid", "id", "ogc_fid", "objectid", "gid", "pk", "rowid", "uid", "oid"}
_INTEGER_TYPES = {QVariant.Int, QVariant.LongLong, QVariant.UInt, QVariant.ULongLong}


def pick_hsi(layers: Iterable[QgsMapLayer]) -> QgsRasterLayer | None:
    """The raster with the most bands (a hyperspectral cube has tens to hundreds)."""
    rasters = [layer for layer in layers if isinstance(layer, QgsRasterLayer) and layer.isValid()]
    return max(rasters, key=lambda layer: layer.bandCount(), default=None)


def pick_lidar(layers: Iterable[QgsMapLayer], hsi: QgsMapLayer | None) -> list[QgsRasterLayer]:
    """Single-band rasters whose names say LiDAR (DSM, nDSM, CHM, height, intensity...)."""
    return [
        layer
        for layer in layers
        if isinstance(layer, QgsRasterLayer)
        and layer is not hsi
        and layer.bandCount() == 1
        and LIDAR_WORDS.search(layer.name())
    ]


def pick_labels(layers: Iterable[QgsMapLayer], hsi: QgsMapLayer | None = None) -> QgsMapLayer | None:
    """Point or polygon layers first (those named like labels before others), then rasters named like labels."""
    layers = [layer for layer in layers if layer is not hsi and layer.isValid()]
    vectors = [
        layer
        for layer in layers
        if isinstance(layer, QgsVectorLayer)
        and layer.geometryType() in (QgsWkbTypes.PointGeometry, QgsWkbTypes.PolygonGeometry)
    ]
    rasters = [layer for layer in layers if isinstance(layer, QgsRasterLayer) and layer.bandCount() == 1]
    for candidates in (
        [v for v in vectors if LABEL_WORDS.search(v.name())],
        vectors,
        [r for r in rasters if LABEL_WORDS.search(r.name())],
    ):
        if candidates:
            return candidates[0]
    return None


def pick_class_field(layer: QgsMapLayer | None) -> str | None:
    """A field named like a class, else the first text field, else the first integer field; never a key like fid."""
    if not isinstance(layer, QgsVectorLayer):
        return None
    fields = [
        f
        for f in layer.fields()
        if f.name().lower() not in ID_FIELDS and (f.type() == QVariant.String or f.type() in _INTEGER_TYPES)
    ]
    for candidates in (
        [f for f in fields if CLASS_FIELD_WORDS.search(f.name())],
        [f for f in fields if f.type() == QVariant.String],
        fields,
    ):
        if candidates:
            return candidates[0].name()
    return None


def unused_path(folder: str, stem: str, extension: str) -> str:
    """``folder/stem.ext``, or ``stem_2.ext``, ``stem_3.ext``... the first that does not exist yet."""
    candidate = os.path.join(folder, stem + extension)
    number = 2
    while os.path.exists(candidate):
        candidate = os.path.join(folder, f"{stem}_{number}{extension}")
        number += 1
    return candidate


def output_folder(project_file: str, hsi: QgsMapLayer | None) -> str | None:
    """Where outputs go by default: beside the project, else beside the HSI; None when neither is writable."""
    candidates = [os.path.dirname(project_file) if project_file else ""]
    if hsi is not None:
        candidates.append(os.path.dirname(hsi.source().split("|")[0]))
    for folder in candidates:
        if folder and os.path.isdir(folder) and os.access(folder, os.W_OK):
            return folder
    return None
