"""Ground-truth labels from a raster of class ids or a vector layer, on the HSI grid.

Labels end up as pixel coordinates plus a class id, whatever their source, so
sampling never needs to know where they came from. Rasters are read block by
block and vectors are rasterized onto just the window they cover, so memory
stays bounded on large scenes.
"""

from __future__ import annotations

import csv
import math
import os
import re
import shutil
import tempfile
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from osgeo import gdal, ogr, osr

from ..errors import InputError
from ..progress import Log, no_log
from .crs import describe_crs, format_bounds, gdal_errors, same_crs, srs_from_wkt
from .grid import Grid
from .palette import QUALITATIVE, class_colors
from .warp import align_to_grid

__all__ = [
    "ClassTable",
    "LabeledPixels",
    "read_labels",
    "read_class_csv",
    "class_name_problem",
    "DEFAULT_PALETTE",
    "MAX_CLASS_ID",
    "MAX_CLASS_NAME_LENGTH",
]

Color = tuple[int, ...]  # (r, g, b), 0-255

#: Class maps are written as 8-, 16- or 32-bit rasters (the narrowest that holds the ids); ids are signed 32-bit.
MAX_CLASS_ID = 2**31 - 1
#: Long enough for any legend entry, short enough for a colour table's category names and a style file.
MAX_CLASS_NAME_LENGTH = 200

# Distinct, print-friendly colours; classes beyond the list reuse it from the start.
DEFAULT_PALETTE: list[Color] = QUALITATIVE

# Above this many pixels the rasterized vector window goes to a compressed temporary GeoTIFF.
_MEM_RASTERIZE_PIXELS = 64 * 1024 * 1024
_READ_BLOCK = 2048


@dataclass
class ClassTable:
    """Class ids with their display names and colours, in matching order."""

    ids: list[int]
    names: list[str]
    colors: list[Color]

    def __post_init__(self) -> None:
        if not len(self.ids) == len(self.names) == len(self.colors):
            raise ValueError(
                f"{len(self.ids)} ids, {len(self.names)} names and {len(self.colors)} colours differ in number"
            )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-friendly form (lists only), e.g. for model files and reports."""
        return {
            "ids": [int(i) for i in self.ids],
            "names": [str(n) for n in self.names],
            "colors": [[int(c) for c in color] for color in self.colors],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ClassTable:
        return cls(
            ids=[int(i) for i in data["ids"]],
            names=[str(n) for n in data["names"]],
            colors=[tuple(int(c) for c in color) for color in data["colors"]],
        )


@dataclass
class LabeledPixels:
    """Labelled pixels of the HSI grid, in row-major order.

    Attributes:
        rows, cols: pixel coordinates (int32).
        class_ids: the class of each pixel (int32, > 0).
        classes: every class the source defines, including any with no pixel on the grid.
        groups: which pixels a spatial validation split keeps together (int64): the feature (its 1-based
            position in the layer) a polygon's pixels come from, 0 for a point's pixel (the split makes
            blocks of them); None for a class raster, whose connected regions the split finds itself.
    """

    rows: np.ndarray
    cols: np.ndarray
    class_ids: np.ndarray
    classes: ClassTable = field(default_factory=lambda: ClassTable([], [], []))
    groups: np.ndarray | None = None

    def __len__(self) -> int:
        return int(self.class_ids.size)

    def counts(self) -> dict[int, int]:
        """Pixels per class id, 0 for classes of the table without any pixel."""
        ids, counts = np.unique(self.class_ids, return_counts=True)
        result = {int(i): 0 for i in self.classes.ids}
        result.update({int(i): int(c) for i, c in zip(ids, counts)})
        return result


# ---------------------------------------------------------------- class CSV


def class_name_problem(name: str) -> str | None:
    """What makes ``name`` (already stripped) unfit for a legend, a colour table and a QGIS style; None if nothing.

    Control characters break a style file's XML and a legend's lines, so none is allowed, not even a tab.
    """
    if not name:
        return "is empty"
    if len(name) > MAX_CLASS_NAME_LENGTH:
        return f"is {len(name)} characters long, more than {MAX_CLASS_NAME_LENGTH}"
    for character in name:
        if unicodedata.category(character) in ("Cc", "Cs") or character in "\ufffe\uffff":
            return f"holds the control character U+{ord(character):04X}"
    return None


def _parse_color(text: str, path: str, line: int) -> Color | None:
    text = text.strip()
    if not text:
        return None
    match = re.fullmatch(r"#?([0-9a-fA-F]{6})", text)
    if not match:
        raise InputError(f"class CSV {path}, line {line}: colour {text!r} is not of the form #rrggbb")
    value = match.group(1)
    return int(value[0:2], 16), int(value[2:4], 16), int(value[4:6], 16)


def read_class_csv(path: str) -> dict[int, tuple[str, Color | None]]:
    """Class names and colours from a CSV of ``id,name,color`` (header optional, colour ``#rrggbb`` or empty)."""
    path = os.fspath(path)
    try:
        with open(path, newline="", encoding="utf-8-sig") as stream:
            rows = list(csv.reader(stream))
    except OSError as error:
        raise InputError(f"class CSV {path} cannot be read: {error.strerror or error}") from None
    except UnicodeDecodeError:
        raise InputError(f"class CSV {path} is not UTF-8 text") from None
    classes: dict[int, tuple[str, Color | None]] = {}
    header_seen = False
    for number, row in enumerate(rows, start=1):
        if not row or all(not cell.strip() for cell in row) or row[0].lstrip().startswith("#"):
            continue
        try:
            class_id = int(row[0].strip())
        except ValueError:
            if not classes and not header_seen:
                header_seen = True
                continue
            raise InputError(f"class CSV {path}, line {number}: id {row[0]!r} is not an integer") from None
        if not 0 < class_id <= MAX_CLASS_ID:
            raise InputError(
                f"class CSV {path}, line {number}: class id {class_id} must be from 1 to {MAX_CLASS_ID} "
                "(0 is unlabelled)"
            )
        if class_id in classes:
            raise InputError(f"class CSV {path}, line {number}: class id {class_id} appears twice")
        name = row[1].strip() if len(row) > 1 else ""
        problem = class_name_problem(name) if name else None
        if problem:
            raise InputError(f"class CSV {path}, line {number}: the name {name[:60]!r} of class {class_id} {problem}")
        name = name or f"class {class_id}"
        color = _parse_color(row[2], path, number) if len(row) > 2 else None
        classes[class_id] = (name, color)
    if not classes:
        raise InputError(f"class CSV {path} lists no class (expected lines of id,name,color)")
    return classes


def _class_table(
    ids: Sequence[int], csv_classes: dict[int, tuple[str, Color | None]] | None, names: Sequence[str] | None = None
) -> ClassTable:
    """Names from the source's text, else the CSV, else "class <id>"; colours from the CSV, else the palette."""
    csv_classes = csv_classes or {}
    by_name = {name: color for name, color in csv_classes.values()}
    table_names, colors = [], []
    for position, class_id in enumerate(ids):
        if names is not None:
            name = names[position]
            color = by_name.get(name)
        else:
            name, color = csv_classes.get(class_id, (f"class {class_id}", None))
        table_names.append(name)
        colors.append(color)
    filled = [color or fallback for color, fallback in zip(colors, class_colors(table_names))]
    return ClassTable([int(i) for i in ids], table_names, filled)


# ---------------------------------------------------------------- entry point


def read_labels(
    source: str,
    grid: Grid,
    class_field: str | None = None,
    class_csv: str | None = None,
    layer: str | None = None,
    log: Log | None = None,
    raster_name: str | None = None,
) -> LabeledPixels:
    """Labelled pixels of ``grid`` from a class-id raster or a vector layer.

    Args:
        source: raster of class ids (band 1; 0 or nodata = unlabelled, negative ids are refused)
            or any OGR vector source of points or polygons.
        grid: the HSI grid the pixels refer to.
        class_field: the vector attribute holding the class (integer ids > 0,
            or text: classes 1..K in sorted order of the texts).
        class_csv: optional ``id,name,color`` CSV naming and colouring classes.
        layer: the vector layer, when the source has several.
        raster_name: how to name the HSI in messages, e.g. "HSI raster /data/hsi.tif".

    Where features overlap, the later feature in the layer wins the pixel.
    """
    log = log or no_log
    source = os.fspath(source)
    raster_name = raster_name or "HSI raster"
    csv_classes = read_class_csv(class_csv) if class_csv else None
    dataset = _open_any(source, prefer_vector=class_field is not None or layer is not None)
    if dataset.RasterCount > 0 and class_field is None and layer is None:
        labels = _raster_labels(dataset, source, grid, csv_classes, log, raster_name)
    else:
        labels = _vector_labels(dataset, source, grid, class_field, csv_classes, layer, log, raster_name)
    log(f"labels {os.path.basename(source)}: {len(labels)} labelled pixels in {len(labels.classes.ids)} classes")
    return labels


def _open_any(source: str, prefer_vector: bool) -> gdal.Dataset:
    """Open ``source`` as a raster or a vector, whichever it is (vector first when a field is named)."""
    flags = [gdal.OF_VECTOR, gdal.OF_RASTER] if prefer_vector else [gdal.OF_RASTER, gdal.OF_VECTOR]
    last_error = None
    for flag in flags:
        try:
            with gdal_errors():
                dataset = gdal.OpenEx(source, flag | gdal.OF_READONLY)
            if dataset is not None:
                return dataset
        except RuntimeError as error:
            last_error = error
    if not source.startswith("/vsi") and not os.path.exists(source):
        raise InputError(f"labels {source} do not exist")
    raise InputError(f"labels {source} cannot be read as a raster or a vector layer by GDAL: {last_error}")


def _no_overlap(source: str, raster_name: str, grid: Grid, extent: Sequence[float] | None) -> InputError:
    where = f"extent {format_bounds(extent)}" if extent is not None else "extent unknown"
    return InputError(
        f"labels {source} do not overlap the {raster_name}: no labelled pixel falls on it (labels {where}, "
        f"raster extent {format_bounds(grid.bounds)}, both in {describe_crs(grid.crs_wkt)})"
    )


def _blocks(width: int, height: int, size: int = _READ_BLOCK):
    for y in range(0, height, size):
        for x in range(0, width, size):
            yield x, y, min(size, width - x), min(size, height - y)


# ---------------------------------------------------------------- raster labels


def _raster_labels(
    dataset: gdal.Dataset, source: str, grid: Grid, csv_classes, log: Log, raster_name: str
) -> LabeledPixels:
    band = dataset.GetRasterBand(1)
    nodata = band.GetNoDataValue()
    data_type = band.DataType
    is_float = data_type in (gdal.GDT_Float32, gdal.GDT_Float64)
    source_extent = Grid.from_dataset(dataset).bounds
    aligned = align_to_grid(dataset, source, grid, raster_name, "label", "near", log)
    band = aligned.GetRasterBand(1)
    has_nodata = nodata is not None and not math.isnan(nodata)
    rows, cols, ids = [], [], []
    negative: dict[float, int] = {}  # a few negative values (nodata excepted) -> pixels holding them
    negative_pixels = 0
    for x, y, w, h in _blocks(grid.width, grid.height):
        try:
            with gdal_errors():
                values = band.ReadAsArray(x, y, w, h)
        except RuntimeError as error:
            raise InputError(f"reading label raster {source} failed: {error}") from None
        labelled = values > 0
        if has_nodata:
            labelled &= values != nodata
        if values.dtype.kind in "if":
            negative_pixels += _count_negative(values, nodata if has_nodata else None, negative)
        if is_float:
            labelled &= np.isfinite(values)
            bad = labelled & (values != np.floor(values))
            if bad.any():
                example = float(values[bad][0])
                raise InputError(
                    f"label raster {source} holds the non-integer value {example:g}; "
                    "a label raster must hold integer class ids"
                )
        if values.dtype.itemsize >= 4 and labelled.any() and values[labelled].max() > MAX_CLASS_ID:
            raise InputError(
                f"label raster {source} holds the class id {values[labelled].max():g}; class ids go up to "
                f"{MAX_CLASS_ID:,}"
            )
        r, c = np.nonzero(labelled)
        rows.append((r + y).astype(np.int32))
        cols.append((c + x).astype(np.int32))
        ids.append(values[r, c].astype(np.int32))
    if negative_pixels:
        found = ", ".join(f"{value:g} in {_pixels(count)}" for value, count in sorted(negative.items()))
        raise InputError(
            f"label raster {source} holds negative class ids in {_pixels(negative_pixels)} ({found}"
            f"{', ...' if sum(negative.values()) < negative_pixels else ''}); class ids must be positive and 0 means "
            "unlabelled (if a negative value marks unlabelled pixels, make it the raster's nodata value)"
        )
    rows, cols, ids = (np.concatenate(parts) for parts in (rows, cols, ids))
    if ids.size == 0:
        if aligned is dataset:
            raise InputError(f"label raster {source} has no labelled pixel (all are 0 or nodata)")
        raise _no_overlap(source, raster_name, grid, _extent_in_grid_crs(source_extent, dataset.GetProjection(), grid))
    order = np.lexsort((cols, rows))
    classes = _class_table(np.unique(ids).tolist(), csv_classes)
    return LabeledPixels(rows[order], cols[order], ids[order], classes)


def _count_negative(values: np.ndarray, nodata: float | None, counts: dict[float, int], shown: int = 5) -> int:
    """Pixels of the block with a negative value other than ``nodata``; ``counts`` keeps the first few values."""
    below = values < 0
    if nodata is not None:
        below &= values != nodata
    if not below.any():
        return 0
    found, pixels = np.unique(values[below], return_counts=True)
    for value, count in zip(found.tolist(), pixels.tolist()):
        if value in counts or len(counts) < shown:
            counts[value] = counts.get(value, 0) + count
    return int(pixels.sum())


def _pixels(count: int) -> str:
    return f"{count} pixel{'s' * (count != 1)}"


def _extent_in_grid_crs(extent: Sequence[float], wkt: str, grid: Grid) -> tuple[float, ...]:
    if not wkt or not grid.crs_wkt or same_crs(wkt, grid.crs_wkt):
        return tuple(extent)
    try:
        transform = osr.CoordinateTransformation(srs_from_wkt(wkt), srs_from_wkt(grid.crs_wkt))
        with gdal_errors():
            return tuple(transform.TransformBounds(*extent, 21))
    except RuntimeError:
        return tuple(extent)


# ---------------------------------------------------------------- vector labels


def _pick_layer(dataset: gdal.Dataset, source: str, layer: str | None) -> ogr.Layer:
    names = [dataset.GetLayerByIndex(i).GetName() for i in range(dataset.GetLayerCount())]
    if layer is not None:
        if layer not in names:
            raise InputError(f"labels {source} have no layer {layer!r}; its layers are: {', '.join(names) or 'none'}")
        return dataset.GetLayerByName(layer)
    spatial = [n for n in names if dataset.GetLayerByName(n).GetGeomType() != ogr.wkbNone]
    if not spatial:
        raise InputError(f"labels {source} have no layer with geometries")
    if len(spatial) > 1:
        raise InputError(f"labels {source} have several layers ({', '.join(spatial)}); choose one")
    return dataset.GetLayerByName(spatial[0])


def _vector_labels(
    dataset: gdal.Dataset,
    source: str,
    grid: Grid,
    class_field: str | None,
    csv_classes,
    layer_name: str | None,
    log: Log,
    raster_name: str,
) -> LabeledPixels:
    if dataset.GetLayerCount() == 0:
        raise InputError(f"labels {source} hold neither a raster band nor a vector layer")
    layer = _pick_layer(dataset, source, layer_name)
    definition = layer.GetLayerDefn()
    fields = [definition.GetFieldDefn(i).GetName() for i in range(definition.GetFieldCount())]
    if class_field is None or class_field not in fields:
        what = "a class field is needed" if class_field is None else f"there is no field {class_field!r}"
        raise InputError(
            f"labels {source} (layer {layer.GetName()}): {what}; available fields: {', '.join(fields) or 'none'}"
        )
    field_index = fields.index(class_field)
    field_type = definition.GetFieldDefn(field_index).GetType()
    is_text = field_type not in (ogr.OFTInteger, ogr.OFTInteger64, ogr.OFTReal)

    transform = None
    layer_srs = layer.GetSpatialRef()
    layer_wkt = layer_srs.ExportToWkt() if layer_srs is not None else ""
    if layer_wkt and grid.crs_wkt and not same_crs(layer_wkt, grid.crs_wkt):
        transform = osr.CoordinateTransformation(srs_from_wkt(layer_wkt), srs_from_wkt(grid.crs_wkt))
        log(
            f"labels {os.path.basename(source)} are reprojected from {describe_crs(layer_wkt)} "
            f"to {describe_crs(grid.crs_wkt)}"
        )
    elif bool(layer_wkt) != bool(grid.crs_wkt):
        log(
            f"labels {os.path.basename(source)} and the {raster_name} do not both declare a CRS; "
            "their coordinates are taken as the same"
        )

    # Feature order decides overlaps, so each feature is burnt as its position
    # (1-based) and mapped to its class afterwards.
    feature_values: list[Any] = []
    point_x: list[float] = []
    point_y: list[float] = []
    point_order: list[int] = []
    memory = gdal.GetDriverByName("Memory").Create("labels", 0, 0, 0, gdal.GDT_Unknown)
    shapes = memory.CreateLayer("shapes", srs=srs_from_wkt(grid.crs_wkt), geom_type=ogr.wkbUnknown)
    shapes.CreateField(ogr.FieldDefn("position", ogr.OFTInteger))
    skipped = 0
    try:
        with gdal_errors():
            layer.ResetReading()
            for feature in layer:
                geometry = feature.GetGeometryRef()
                if geometry is None or geometry.IsEmpty() or not feature.IsFieldSetAndNotNull(field_index):
                    skipped += 1
                    continue
                value = feature.GetField(field_index)
                if is_text:
                    value = str(value).strip()
                    if not value:
                        skipped += 1
                        continue
                feature_values.append(value)
                position = len(feature_values)
                flat = ogr.GT_Flatten(geometry.GetGeometryType())
                if flat in (ogr.wkbPoint, ogr.wkbMultiPoint):
                    parts = (
                        [geometry]
                        if flat == ogr.wkbPoint
                        else [geometry.GetGeometryRef(i) for i in range(geometry.GetGeometryCount())]
                    )
                    for part in parts:
                        point_x.append(part.GetX())
                        point_y.append(part.GetY())
                        point_order.append(position)
                else:
                    shape = ogr.Feature(shapes.GetLayerDefn())
                    shape.SetField(0, position)
                    copy = geometry.Clone()
                    if transform is not None:
                        copy.Transform(transform)
                    shape.SetGeometry(copy)
                    shapes.CreateFeature(shape)
    except RuntimeError as error:
        raise InputError(f"labels {source} (layer {layer.GetName()}) cannot be read: {error}") from None
    if skipped:
        log(f"labels {os.path.basename(source)}: {skipped} features without geometry or {class_field} were skipped")
    if not feature_values:
        raise InputError(
            f"labels {source} (layer {layer.GetName()}) have no feature with a geometry and a {class_field}"
        )

    ids_of_position, classes = _classes_of_features(feature_values, is_text, source, class_field, csv_classes)

    rows_parts, cols_parts, order_parts = [], [], []
    extents = []
    if point_x:
        xs, ys = np.array(point_x), np.array(point_y)
        if transform is not None:
            with gdal_errors():
                moved = np.array(transform.TransformPoints(np.column_stack([xs, ys]).tolist()), dtype=np.float64)
            xs, ys = moved[:, 0], moved[:, 1]
        extents.append((xs.min(), ys.min(), xs.max(), ys.max()))
        col_f, row_f = grid.pixel_coordinates(xs, ys)
        cols, rows = np.floor(col_f), np.floor(row_f)
        inside = (cols >= 0) & (cols < grid.width) & (rows >= 0) & (rows < grid.height) & np.isfinite(cols + rows)
        rows_parts.append(rows[inside].astype(np.int64))
        cols_parts.append(cols[inside].astype(np.int64))
        order_parts.append(np.asarray(point_order, dtype=np.int64)[inside])
    if shapes.GetFeatureCount() > 0:
        xmin, xmax, ymin, ymax = shapes.GetExtent()
        extents.append((xmin, ymin, xmax, ymax))
        r, c, o = _rasterize_positions(memory, grid, (xmin, ymin, xmax, ymax), source)
        rows_parts.append(r)
        cols_parts.append(c)
        order_parts.append(o)

    rows = np.concatenate(rows_parts) if rows_parts else np.empty(0, np.int64)
    cols = np.concatenate(cols_parts) if cols_parts else np.empty(0, np.int64)
    order = np.concatenate(order_parts) if order_parts else np.empty(0, np.int64)
    if rows.size == 0:
        extent = None
        if extents:
            e = np.array(extents)
            extent = (e[:, 0].min(), e[:, 1].min(), e[:, 2].max(), e[:, 3].max())
        raise _no_overlap(source, raster_name, grid, extent)

    # Keep the last feature per pixel: sort by pixel, then position; take each group's last entry.
    point_position = np.zeros(len(feature_values) + 1, dtype=bool)
    point_position[np.asarray(point_order, dtype=np.int64)] = True
    linear = rows * grid.width + cols
    sort = np.lexsort((order, linear))
    linear, order = linear[sort], order[sort]
    last = np.ones(linear.size, dtype=bool)
    last[:-1] = linear[1:] != linear[:-1]
    linear, order = linear[last], order[last]
    return LabeledPixels(
        rows=(linear // grid.width).astype(np.int32),
        cols=(linear % grid.width).astype(np.int32),
        class_ids=ids_of_position[order].astype(np.int32),
        classes=classes,
        groups=np.where(point_position[order], 0, order).astype(np.int64),
    )


def _classes_of_features(
    values: list[Any], is_text: bool, source: str, class_field: str, csv_classes
) -> tuple[np.ndarray, ClassTable]:
    """Class id per feature position (index 0 unused) and the class table."""
    if is_text:
        texts = sorted(set(values))
        for text in texts:
            problem = class_name_problem(text.strip())
            if problem:
                raise InputError(f"labels {source}: the class name {text!r} in field {class_field} {problem}")
        id_of_text = {text: i + 1 for i, text in enumerate(texts)}
        ids = np.array([0] + [id_of_text[v] for v in values], dtype=np.int64)
        return ids, _class_table(list(range(1, len(texts) + 1)), csv_classes, names=texts)
    numbers = np.asarray(values, dtype=np.float64)
    fractional = numbers != np.floor(numbers)
    if fractional.any():
        raise InputError(
            f"labels {source}: field {class_field} holds the non-integer value "
            f"{numbers[fractional][0]:g}; class ids must be integers > 0"
        )
    if (numbers <= 0).any():
        bad = sorted(set(numbers[numbers <= 0].astype(np.int64).tolist()))
        raise InputError(
            f"labels {source}: field {class_field} holds the class id(s) {bad}; class ids must be > 0 "
            "(0 means unlabelled)"
        )
    if numbers.max() > MAX_CLASS_ID:
        raise InputError(f"labels {source}: field {class_field} holds class ids beyond {MAX_CLASS_ID:,}")
    ids = np.concatenate([[0], numbers.astype(np.int64)])
    return ids, _class_table(np.unique(ids[1:]).tolist(), csv_classes)


def _rasterize_positions(
    memory: gdal.Dataset, grid: Grid, extent: Sequence[float], source: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rasterize the shapes' positions onto the window of ``grid`` they cover (pixel centres inside)."""
    try:
        x, y, w, h = grid.window_from_extent(*extent)
    except InputError:
        return np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0, np.int64)
    window = grid.window(x, y, w, h)
    directory = target = None
    try:
        if w * h <= _MEM_RASTERIZE_PIXELS:
            target = gdal.GetDriverByName("MEM").Create("", w, h, 1, gdal.GDT_Int32)
        else:
            directory = tempfile.mkdtemp(prefix="ncglf2-labels-")
            target = gdal.GetDriverByName("GTiff").Create(
                os.path.join(directory, "labels.tif"),
                w,
                h,
                1,
                gdal.GDT_Int32,
                ["TILED=YES", "COMPRESS=DEFLATE", "SPARSE_OK=TRUE", "BIGTIFF=IF_SAFER"],
            )
        target.SetGeoTransform(tuple(window.geotransform))
        if grid.crs_wkt:
            target.SetProjection(grid.crs_wkt)
        try:
            with gdal_errors():
                result = gdal.Rasterize(target, memory, layers=["shapes"], attribute="position")
        except RuntimeError as error:
            raise InputError(f"labels {source} cannot be rasterized onto the HSI grid: {error}") from None
        if result is None:
            raise InputError(f"labels {source} cannot be rasterized onto the HSI grid")
        band = target.GetRasterBand(1)
        rows, cols, order = [], [], []
        for bx, by, bw, bh in _blocks(w, h):
            values = band.ReadAsArray(bx, by, bw, bh)
            r, c = np.nonzero(values)
            rows.append(r.astype(np.int64) + by + y)
            cols.append(c.astype(np.int64) + bx + x)
            order.append(values[r, c].astype(np.int64))
        band = target = result = None
        return np.concatenate(rows), np.concatenate(cols), np.concatenate(order)
    finally:
        target = None
        if directory is not None:
            shutil.rmtree(directory, ignore_errors=True)
