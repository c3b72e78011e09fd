"""Reading single rasters: windows, band wavelengths, a class map's classes."""

from __future__ import annotations

import re

import numpy as np

from ..errors import InputError
from .crs import gdal_errors
from .grid import open_raster

__all__ = ["read_raster_window", "raster_band_centres", "read_class_map_info"]


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
