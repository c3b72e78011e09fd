"""The HSI and its LiDAR rasters read together, window by window, on the HSI grid."""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from typing import Protocol

import numpy as np
from osgeo import gdal, gdal_array

from ..errors import InputError
from ..progress import Log, no_log
from .crs import gdal_errors
from .grid import Grid, open_raster
from .warp import align_to_grid

__all__ = ["WindowSource", "RasterStack", "open_inputs"]


class _BandReader:
    """One dataset's bands read with a single ReadAsArray, plus their validity rules."""

    def __init__(self, dataset: gdal.Dataset, path: str, role: str) -> None:
        self.dataset = dataset
        self.path = path
        self.role = role
        self.count = dataset.RasterCount
        gdal_type = dataset.GetRasterBand(1).DataType
        numeric = gdal_array.GDALTypeCodeToNumericTypeCode(gdal_type)
        if numeric is None or np.issubdtype(numeric, np.complexfloating):
            raise InputError(f"{role} raster {path} has the unsupported data type {gdal.GetDataTypeName(gdal_type)}")
        self.dtype = np.dtype(numeric)
        self.is_float = np.issubdtype(self.dtype, np.floating)
        index, values = [], []
        for i in range(self.count):
            nodata = dataset.GetRasterBand(i + 1).GetNoDataValue()
            if nodata is None or math.isnan(nodata):
                continue  # NaN is caught by the finiteness test
            if not self.is_float:
                info = np.iinfo(self.dtype)
                if nodata != int(nodata) or not info.min <= nodata <= info.max:
                    continue  # no pixel can hold it
            index.append(i)
            values.append(nodata)
        self.nodata_index = np.array(index, dtype=np.intp)
        self.nodata_values = np.array(values, dtype=self.dtype)
        uniform = len(index) == self.count and len(set(values)) == 1
        self.nodata_scalar = self.nodata_values[0] if uniform else None

    def read(self, x: int, y: int, w: int, h: int) -> tuple[np.ndarray, np.ndarray]:
        """(float32 (C, h, w), invalid bool (h, w))."""
        try:
            with gdal_errors():
                data = self.dataset.ReadAsArray(x, y, w, h)
        except RuntimeError as error:
            raise InputError(f"reading {self.role} raster {self.path} failed: {error}") from None
        if data is None:
            raise InputError(f"reading {self.role} raster {self.path} failed at window ({x}, {y}, {w}, {h})")
        data = data.reshape(self.count, h, w)
        invalid = np.zeros((h, w), dtype=bool)
        if self.nodata_scalar is not None:
            np.any(data == self.nodata_scalar, axis=0, out=invalid)
        elif self.nodata_index.size:
            np.any(data[self.nodata_index] == self.nodata_values[:, None, None], axis=0, out=invalid)
        values = data.astype(np.float32, copy=False)
        if self.is_float:
            # after the cast, so float64 values beyond float32's range count as invalid too
            invalid |= ~np.isfinite(values).all(axis=0)
        return values, invalid


class WindowSource(Protocol):
    """What the pipeline reads rasters through: the HSI grid, band counts, windows and pixel rows.

    ``RasterStack`` is the one implementation; tests and a distributed reader can offer others.
    """

    grid: Grid
    hsi_path: str
    lidar_paths: list[str]
    hsi_bands: int
    lidar_bands: int

    def read_window(self, x: int, y: int, w: int, h: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(hsi (B, h, w), lidar (L, h, w), valid (h, w)) of one window of the HSI grid."""
        ...

    def read_rows(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The same for the pixels at ``rows`` (flat indices into the grid)."""
        ...


class RasterStack:
    """An HSI raster and one or more LiDAR rasters read together on the HSI grid."""

    def __init__(
        self,
        hsi_path: str,
        lidar_paths: Sequence[str],
        hsi: gdal.Dataset,
        lidar: Sequence[gdal.Dataset],
        sources: Sequence[gdal.Dataset],
    ) -> None:
        self.hsi_path = hsi_path
        self.lidar_paths = list(lidar_paths)
        self.grid = Grid.from_dataset(hsi)
        self._sources = list(sources)  # the original LiDAR datasets stay open while their VRT warps are used
        self._hsi = _BandReader(hsi, hsi_path, "HSI")
        self._lidar = [_BandReader(ds, path, "LiDAR") for ds, path in zip(lidar, self.lidar_paths)]
        self.hsi_bands = hsi.RasterCount
        self.lidar_bands = sum(reader.count for reader in self._lidar)
        self.band_names = [hsi.GetRasterBand(i + 1).GetDescription() or f"band {i + 1}" for i in range(self.hsi_bands)]

    def _check_window(self, x: int, y: int, w: int, h: int) -> None:
        if w <= 0 or h <= 0 or x < 0 or y < 0 or x + w > self.grid.width or y + h > self.grid.height:
            raise ValueError(
                f"window ({x}, {y}, {w}, {h}) is outside the {self.grid.width}x{self.grid.height} raster {self.hsi_path}"
            )

    def read_window(self, x: int, y: int, w: int, h: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(hsi float32 (C1, h, w), lidar float32 (C2, h, w), valid bool (h, w)) for an in-bounds window.

        A pixel is invalid where any HSI or LiDAR band holds its nodata value,
        NaN or infinity; the values of invalid pixels are unspecified.
        """
        x, y, w, h = int(x), int(y), int(w), int(h)
        self._check_window(x, y, w, h)
        if self._hsi is None:
            raise ValueError("the raster stack is closed")
        hsi, invalid = self._hsi.read(x, y, w, h)
        lidar_parts = []
        for reader in self._lidar:
            values, bad = reader.read(x, y, w, h)
            lidar_parts.append(values)
            invalid |= bad
        lidar = lidar_parts[0] if len(lidar_parts) == 1 else np.concatenate(lidar_parts, axis=0)
        return hsi, lidar, ~invalid

    def read_rows(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The triple of :meth:`read_window` for whole lines, shapes (C, len(rows), width).

        Nearby rows are read together in runs, so sampling many lines costs a
        few large reads rather than one per line.
        """
        rows = np.asarray(rows, dtype=np.int64).ravel()
        width = self.grid.width
        if rows.size == 0:
            return (
                np.empty((self.hsi_bands, 0, width), np.float32),
                np.empty((self.lidar_bands, 0, width), np.float32),
                np.empty((0, width), bool),
            )
        if rows.min() < 0 or rows.max() >= self.grid.height:
            raise ValueError(f"rows must lie in [0, {self.grid.height}) for raster {self.hsi_path}")
        unique = np.unique(rows)
        hsi = np.empty((self.hsi_bands, unique.size, width), np.float32)
        lidar = np.empty((self.lidar_bands, unique.size, width), np.float32)
        valid = np.empty((unique.size, width), bool)
        max_gap = 8  # reading a few unwanted lines is cheaper than another GDAL call
        breaks = np.flatnonzero(np.diff(unique) > max_gap) + 1
        starts = np.concatenate([[0], breaks])
        ends = np.concatenate([breaks, [unique.size]])
        for start, end in zip(starts, ends):
            first, last = int(unique[start]), int(unique[end - 1])
            block_hsi, block_lidar, block_valid = self.read_window(0, first, width, last - first + 1)
            take = unique[start:end] - first
            hsi[:, start:end] = block_hsi[:, take]
            lidar[:, start:end] = block_lidar[:, take]
            valid[start:end] = block_valid[take]
        position = np.searchsorted(unique, rows)
        if unique.size == rows.size and np.array_equal(unique, rows):
            return hsi, lidar, valid
        return hsi[:, position], lidar[:, position], valid[position]

    def close(self) -> None:
        """Release the GDAL datasets (and the files they hold open)."""
        self._hsi = None  # type: ignore[assignment]  # closed: reads fail from here on
        self._lidar = []
        self._sources = []

    def __enter__(self) -> RasterStack:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


def _subdataset_hint(dataset: gdal.Dataset) -> str:
    names = [name for name, _ in dataset.GetSubDatasets()]
    if not names:
        return ""
    shown = ", ".join(names[:5]) + (", ..." if len(names) > 5 else "")
    return f"; it is a container of rasters, give one of them: {shown}"


def open_inputs(hsi_path: str, lidar_paths: Sequence[str] | str, log: Log | None = None) -> RasterStack:
    """Open the HSI and LiDAR rasters, warping any LiDAR raster not on the HSI grid.

    Raises:
        InputError: a file is missing or unreadable, no LiDAR raster is given,
            a raster has no band, or a LiDAR raster cannot be placed on the HSI
            grid (no overlap, georeferencing on only one of them...).
    """
    log = log or no_log
    hsi_path = os.fspath(hsi_path)
    if isinstance(lidar_paths, (str, os.PathLike)):
        lidar_paths = [lidar_paths]
    lidar_paths = [os.fspath(p) for p in lidar_paths]
    if not lidar_paths:
        raise InputError(f"no LiDAR raster was given for the HSI raster {hsi_path}; at least one is needed")
    hsi = open_raster(hsi_path, "HSI")
    if hsi.RasterCount == 0:
        raise InputError(f"HSI raster {hsi_path} has no band{_subdataset_hint(hsi)}")
    grid = Grid.from_dataset(hsi)
    sources, aligned = [], []
    for path in lidar_paths:
        source = open_raster(path, "LiDAR")
        if source.RasterCount == 0:
            raise InputError(f"LiDAR raster {path} has no band{_subdataset_hint(source)}")
        nodata = []
        for i in range(source.RasterCount):
            value = source.GetRasterBand(i + 1).GetNoDataValue()
            nodata.append(float("nan") if value is None else value)
        # Float32 keeps the bilinear interpolation of integer DSMs; NaN marks ground the LiDAR does not cover
        aligned.append(
            align_to_grid(
                source,
                path,
                grid,
                f"HSI raster {hsi_path}",
                "LiDAR",
                "bilinear",
                log,
                output_type=gdal.GDT_Float32,
                dst_nodata=nodata,
            )
        )
        sources.append(source)
    return RasterStack(hsi_path, lidar_paths, hsi, aligned, sources)
