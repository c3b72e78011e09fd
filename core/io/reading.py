"""Reading single rasters: windows, band wavelengths, a class map's classes."""

from __future__ import annotations

import re

import numpy as np
from osgeo import gdal, gdal_array

from ..errors import InputError
from .crs import gdal_errors
from .grid import open_raster

__all__ = [
    "read_raster_window",
    "raster_band_centres",
    "read_class_map_info",
    "class_map_holds_floats",
    "check_whole_class_ids",
]


def read_raster_window(path: str, x: int, y: int, w: int, h: int, band: int = 1) -> np.ndarray:
    """One band of a window of one raster, as stored (no nodata handling)."""
    dataset = open_raster(path, "input")
    try:
        with gdal_errors():
            return dataset.GetRasterBand(band).ReadAsArray(x, y, w, h)
    except RuntimeError as error:
        raise InputError(f"cannot read {path}: {error}") from None
    finally:
        dataset = None


_WAVELENGTH = re.compile(r"(\d+(?:\.\d+)?)\s*(nm|µm|um|micrometers?|nanometers?)?", re.IGNORECASE)


def raster_band_centres(path: str) -> np.ndarray | None:
    """Band centre wavelengths in nm from band descriptions or ENVI metadata, if every band has one."""
    dataset = open_raster(path, "HSI")
    try:
        values = []
        for index in range(1, dataset.RasterCount + 1):
            band = dataset.GetRasterBand(index)
            text = band.GetMetadataItem("wavelength") or band.GetDescription() or ""
            units = (band.GetMetadataItem("wavelength_units") or "").lower()
            match = _WAVELENGTH.search(text)
            if not match:
                return None
            value = float(match.group(1))
            unit = (match.group(2) or units).lower()
            if unit.startswith(("µ", "u", "micro")) or (not unit and value < 30):
                value *= 1000.0
            values.append(value)
        return np.asarray(values)
    finally:
        dataset = None


def read_class_map_info(path: str) -> tuple[list[int], list[str], list[tuple[int, ...]]]:
    """Class ids, names and colours a classification raster carries (category names + colour table)."""
    dataset = open_raster(path, "classification")
    try:
        dataset.GetMetadata()  # GDAL's GTiff reads the .aux.xml (category names) only on a metadata request
        band = dataset.GetRasterBand(1)
        names = band.GetRasterCategoryNames() or []
        table = band.GetRasterColorTable()
        ids, labels, colors = [], [], []
        for index, name in enumerate(names):
            if index == 0 or not name:
                continue
            ids.append(index)
            labels.append(name)
            entry = (
                table.GetColorEntry(index) if table is not None and index < table.GetCount() else (128, 128, 128, 255)
            )
            colors.append(tuple(int(c) for c in entry[:3]))
        return ids, labels, colors
    finally:
        dataset = None


def class_map_holds_floats(path: str) -> bool:
    """Refuse, before any work, a raster that cannot be a class map; True when its one band holds floats.

    A class map is one band of class ids. Integer bands are taken as they are.
    A float band is taken too (QGIS's raster calculator and gdal_rasterize write
    Float32 or Float64 unless told otherwise) as long as the values it holds at
    the reference pixels are whole numbers, which the reading checks: a
    confidence or probability raster is refused there.
    """
    dataset = open_raster(path, "classification")
    types = [dataset.GetRasterBand(index).DataType for index in range(1, dataset.RasterCount + 1)]
    dataset = None
    if len(types) == 1:
        numeric = gdal_array.GDALTypeCodeToNumericTypeCode(types[0])
        if numeric is not None and np.issubdtype(numeric, np.integer):
            return False
        if numeric is not None and np.issubdtype(numeric, np.floating):
            return True
    names = " and ".join(dict.fromkeys(gdal.GetDataTypeName(t) for t in types))
    bands = "no band" if not types else "one band" if len(types) == 1 else f"{len(types)} bands"
    raise InputError(
        f"the class map {path} has {bands}{' of ' + names if names else ''}; a class map has one band of "
        "whole class ids (Byte, UInt16 or another integer type), as ncglf2 classify writes"
    )


def check_whole_class_ids(values: np.ndarray, path: str, rows: np.ndarray, cols: np.ndarray) -> None:
    """A float class map's values at the reference pixels must be class ids (NaN counts as no class)."""
    fractional = np.isfinite(values) & (values != np.round(values))
    if fractional.any():
        first = int(np.argmax(fractional))
        raise InputError(
            f"the class map {path} holds {values[first]:g} at row {rows[first]}, column {cols[first]}, "
            "which is no class id (a confidence or probability raster is not a class map); a class map has "
            "one band of whole class ids, as ncglf2 classify writes"
        )
