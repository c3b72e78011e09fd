"""Writing class maps and float rasters: tiled GeoTIFFs, class tables, QGIS styles."""

from __future__ import annotations

import contextlib
import errno
import os
from collections.abc import Iterator, Sequence
from xml.etree import ElementTree as ET

from osgeo import gdal

from ..errors import InputError
from .crs import gdal_errors
from .grid import Grid
from .outputs import atomic_path

__all__ = ["create_geotiff", "set_class_table", "write_paletted_qml", "checked_gdal_writes", "close_datasets"]


_OUTPUT_TYPES = {
    "uint8": gdal.GDT_Byte,
    "uint16": gdal.GDT_UInt16,
    "int16": gdal.GDT_Int16,
    "uint32": gdal.GDT_UInt32,
    "float32": gdal.GDT_Float32,
}


def create_geotiff(
    path: str,
    grid: Grid,
    bands: int,
    dtype: str,
    nodata: float | None,
    band_names: Sequence[str] | None = None,
) -> gdal.Dataset:
    """Create a tiled, DEFLATE-compressed GeoTIFF on ``grid``, open for writing.

    Bands are stored one after the other (INTERLEAVE=BAND) so that writing
    them one at a time never recompresses the other bands' tiles. The caller
    closes the dataset (``dataset = None``) to flush it.
    """
    path = os.fspath(path)
    if dtype not in _OUTPUT_TYPES:
        raise ValueError(f"dtype must be one of {sorted(_OUTPUT_TYPES)}, got {dtype!r}")
    if bands < 1:
        raise ValueError(f"bands must be at least 1, got {bands}")
    if band_names is not None and len(band_names) != bands:
        raise ValueError(f"{len(band_names)} band names given for {bands} bands")
    options = [
        "TILED=YES",
        "BLOCKXSIZE=256",
        "BLOCKYSIZE=256",
        "COMPRESS=DEFLATE",
        "BIGTIFF=IF_SAFER",
        "INTERLEAVE=BAND",
    ]
    if dtype in ("uint16", "int16", "uint32"):
        options.append("PREDICTOR=2")
    elif dtype == "float32":
        options.append("PREDICTOR=3")
    try:
        with gdal_errors():
            driver = gdal.GetDriverByName("GTiff")
            dataset = driver.Create(path, grid.width, grid.height, bands, _OUTPUT_TYPES[dtype], options)
            if grid.is_georeferenced:
                dataset.SetGeoTransform(tuple(grid.geotransform))
            if grid.crs_wkt:
                dataset.SetProjection(grid.crs_wkt)
            for i in range(bands):
                band = dataset.GetRasterBand(i + 1)
                if nodata is not None:
                    band.SetNoDataValue(float(nodata))
                if band_names is not None:
                    band.SetDescription(str(band_names[i]))
    except RuntimeError as error:
        raise InputError(f"cannot create the GeoTIFF {path}: {error}") from None
    return dataset


_FULL_DISK_WORDS = ("no space left", "disk full", "free disk space", "not enough space", "file too large")


@contextlib.contextmanager
def checked_gdal_writes(path: str) -> Iterator[None]:
    """Turn every GDAL error (and a lost sidecar) reported in this thread inside the block into an OSError.

    GDAL's GeoTIFF writer reports a full disk through its error handler, often
    only when blocks are flushed or the file is closed, and returns nothing to
    the caller; a handler pushed for this thread sees every such message.
    A full disk becomes ``errno.ENOSPC`` so callers can say how much room is needed.
    """
    failures: list[str] = []

    def handler(level: int, number: int, message: str) -> None:
        if level >= gdal.CE_Failure or "auxiliary information" in message.lower():
            failures.append(message.strip())

    gdal.PushErrorHandler(handler)
    try:
        yield
    except RuntimeError as error:  # raised instead where exceptions are on
        failures.append(str(error))
    finally:
        gdal.PopErrorHandler()
        if failures:
            text = "; ".join(dict.fromkeys(failures))
            full = any(word in text.lower() for word in _FULL_DISK_WORDS)
            raise OSError(errno.ENOSPC if full else errno.EIO, text, path)


def close_datasets(datasets: dict[str, gdal.Dataset]) -> None:
    """Flush and close every dataset of ``{path: dataset}`` (which must hold the last references).

    Raises OSError naming the first file whose write failed; every dataset is closed either way.
    """
    failure: OSError | None = None
    while datasets:
        path, dataset = datasets.popitem()
        try:
            with checked_gdal_writes(path):
                dataset.FlushCache()
                del dataset  # the last reference: GDAL closes the file and writes its sidecar now
        except OSError as error:
            failure = failure or error
    if failure is not None:
        raise failure


def _check_classes(class_ids: Sequence[int], names: Sequence[str], colors: Sequence[tuple[int, ...]]) -> list[int]:
    ids = [int(i) for i in class_ids]
    if not len(ids) == len(names) == len(colors):
        raise ValueError(f"{len(ids)} class ids, {len(names)} names and {len(colors)} colours must match in number")
    if any(i <= 0 for i in ids) or len(set(ids)) != len(ids):
        raise ValueError(f"class ids must be distinct and positive (0 is unclassified), got {ids}")
    return ids


def set_class_table(
    dataset: gdal.Dataset,
    class_ids: Sequence[int],
    names: Sequence[str],
    colors: Sequence[tuple[int, ...]],
) -> None:
    """Give band 1 a colour table and category names indexed by class id.

    Index 0 is "unclassified" and transparent, ids without a class are
    transparent and unnamed; QGIS then shows the map with names and colours
    even without the .qml beside it.
    """
    ids = _check_classes(class_ids, names, colors)
    size = max(ids) + 1
    categories = [""] * size
    categories[0] = "unclassified"
    entries = [(0, 0, 0, 0)] * size
    for class_id, name, color in zip(ids, names, colors):
        categories[class_id] = str(name)
        entries[class_id] = (int(color[0]), int(color[1]), int(color[2]), 255)
    table = gdal.ColorTable()
    for index, entry in enumerate(entries):
        table.SetColorEntry(index, entry)
    band = dataset.GetRasterBand(1)
    with gdal_errors():
        band.SetRasterColorTable(table)
        band.SetRasterColorInterpretation(gdal.GCI_PaletteIndex)
        band.SetRasterCategoryNames(categories)


def hex_color(color: Sequence[int]) -> str:
    """#rrggbb of an (r, g, b) colour, as QGIS styles write it."""
    return "#{:02x}{:02x}{:02x}".format(*(int(c) for c in color[:3]))


def write_paletted_qml(
    path: str,
    class_ids: Sequence[int],
    names: Sequence[str],
    colors: Sequence[tuple[int, ...]],
) -> None:
    """Write a QGIS style with a paletted renderer (band 1, one entry per class).

    Written to a temporary file beside ``path`` and moved into place, so a
    failed write never leaves a half style that QGIS would load.
    """
    path = os.fspath(path)
    ids = _check_classes(class_ids, names, colors)
    root = ET.Element("qgis", {"version": "3.22.0", "styleCategories": "AllStyleCategories"})
    pipe = ET.SubElement(root, "pipe")
    renderer = ET.SubElement(
        pipe, "rasterrenderer", {"type": "paletted", "band": "1", "opacity": "1", "alphaBand": "-1", "nodataColor": ""}
    )
    ET.SubElement(renderer, "rasterTransparency")
    palette = ET.SubElement(renderer, "colorPalette")
    for class_id, name, color in zip(ids, names, colors):
        ET.SubElement(
            palette,
            "paletteEntry",
            {"value": str(class_id), "color": hex_color(color), "label": str(name), "alpha": "255"},
        )
    ET.SubElement(pipe, "brightnesscontrast", {"brightness": "0", "contrast": "0", "gamma": "1"})
    ET.SubElement(
        pipe,
        "huesaturation",
        {
            "saturation": "0",
            "grayscaleMode": "0",
            "colorizeOn": "0",
            "colorizeRed": "255",
            "colorizeGreen": "128",
            "colorizeBlue": "128",
            "colorizeStrength": "100",
            "invertColors": "0",
        },
    )
    ET.SubElement(pipe, "rasterresampler", {"maxOversampling": "2"})
    ET.SubElement(root, "blendMode").text = "0"
    ET.indent(root)
    text = "<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>\n" + ET.tostring(root, encoding="unicode") + "\n"
    try:
        with atomic_path(path) as temporary, open(temporary, "w", encoding="utf-8") as stream:
            stream.write(text)
    except OSError as error:
        raise InputError(f"cannot write the style {path}: {error}") from None
