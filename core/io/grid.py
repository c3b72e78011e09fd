"""The pixel grid of a raster (size, georeferencing, blocks) and opening a raster with a clear error."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

import numpy as np
from osgeo import gdal

from ..errors import InputError
from .crs import format_bounds, gdal_errors, same_crs

__all__ = ["Grid", "grids_match", "open_raster", "raster_grid"]


_IDENTITY = (0.0, 1.0, 0.0, 0.0, 0.0, 1.0)


def _six(values) -> tuple[float, float, float, float, float, float]:
    x0, dx, rx, y0, ry, dy = (float(v) for v in values)
    return x0, dx, rx, y0, ry, dy


@dataclass(frozen=True)
class Grid:
    """Pixel grid of a raster: size, GDAL geotransform and CRS.

    Attributes:
        width, height: size in pixels.
        geotransform: GDAL order (x0, dx, rx, y0, ry, dy).
        crs_wkt: CRS as WKT, ``""`` when the raster has none.
        block_size: (x, y) natural block of the HSI's band 1, to read along.
    """

    width: int
    height: int
    geotransform: tuple[float, float, float, float, float, float]
    crs_wkt: str
    block_size: tuple[int, int] = (256, 256)

    @classmethod
    def from_dataset(cls, dataset: gdal.Dataset) -> Grid:
        """The grid of an open GDAL dataset (block size from its band 1)."""
        block = (256, 256)
        if dataset.RasterCount:
            bx, by = dataset.GetRasterBand(1).GetBlockSize()
            block = (int(bx), int(by))
        return cls(
            width=int(dataset.RasterXSize),
            height=int(dataset.RasterYSize),
            geotransform=_six(dataset.GetGeoTransform()),
            crs_wkt=dataset.GetProjection() or "",
            block_size=block,
        )

    @property
    def is_georeferenced(self) -> bool:
        return tuple(self.geotransform) != _IDENTITY or bool(self.crs_wkt)

    @property
    def pixel_size(self) -> tuple[float, float]:
        """(x, y) size of one pixel in CRS units, both positive."""
        gt = self.geotransform
        return math.hypot(gt[1], gt[4]), math.hypot(gt[2], gt[5])

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """(xmin, ymin, xmax, ymax) of the grid in its CRS."""
        xs, ys = self._corner_coordinates()
        return float(xs.min()), float(ys.min()), float(xs.max()), float(ys.max())

    def _corner_coordinates(self) -> tuple[np.ndarray, np.ndarray]:
        gt = self.geotransform
        px = np.array([0, self.width, 0, self.width], dtype=np.float64)
        py = np.array([0, 0, self.height, self.height], dtype=np.float64)
        return gt[0] + px * gt[1] + py * gt[2], gt[3] + px * gt[4] + py * gt[5]

    def window(self, x: int, y: int, w: int, h: int) -> Grid:
        """The sub-grid of pixels [x, x+w) x [y, y+h), its geotransform shifted to match."""
        if w <= 0 or h <= 0:
            raise ValueError(f"window size must be positive, got {w}x{h}")
        gt = self.geotransform
        shifted = (gt[0] + x * gt[1] + y * gt[2], gt[1], gt[2], gt[3] + x * gt[4] + y * gt[5], gt[4], gt[5])
        return Grid(int(w), int(h), shifted, self.crs_wkt, self.block_size)

    def pixel_coordinates(self, xs: np.ndarray, ys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Fractional (col, row) of map coordinates; the pixel holding a point is their floor."""
        inverse = gdal.InvGeoTransform(tuple(self.geotransform))
        if inverse is None:
            raise InputError(f"the geotransform {self.geotransform} cannot be inverted")
        xs = np.asarray(xs, dtype=np.float64)
        ys = np.asarray(ys, dtype=np.float64)
        cols = inverse[0] + xs * inverse[1] + ys * inverse[2]
        rows = inverse[3] + xs * inverse[4] + ys * inverse[5]
        return cols, rows

    def window_from_extent(self, xmin: float, ymin: float, xmax: float, ymax: float) -> tuple[int, int, int, int]:
        """Pixel window (x, y, w, h) covering a map extent in the grid's CRS, clipped to the grid."""
        cols, rows = self.pixel_coordinates(np.array([xmin, xmax, xmin, xmax]), np.array([ymin, ymin, ymax, ymax]))
        eps = 1e-6  # an extent on pixel edges must not grow by one pixel from rounding
        x0 = max(0, int(math.floor(cols.min() + eps)))
        y0 = max(0, int(math.floor(rows.min() + eps)))
        x1 = min(self.width, int(math.ceil(cols.max() - eps)))
        y1 = min(self.height, int(math.ceil(rows.max() - eps)))
        if xmax < xmin or ymax < ymin or x1 <= x0 or y1 <= y0:
            raise InputError(
                f"the extent ({xmin:g}, {ymin:g}, {xmax:g}, {ymax:g}) does not overlap the raster extent "
                f"{format_bounds(self.bounds)}"
            )
        return x0, y0, x1 - x0, y1 - y0


def grids_match(a: Grid, b: Grid) -> bool:
    """Same size, same geotransform within 1e-6 of a pixel, and the same CRS by meaning."""
    if (a.width, a.height) != (b.width, b.height):
        return False
    tolerance = 1e-6 * max(max(a.pixel_size), 1e-12)
    if any(abs(p - q) > tolerance for p, q in zip(a.geotransform, b.geotransform)):
        return False
    return same_crs(a.crs_wkt, b.crs_wkt)


def open_raster(path: str, role: str) -> gdal.Dataset:
    """Open a raster read-only, turning any failure into an InputError naming ``path``."""
    path = os.fspath(path)
    try:
        with gdal_errors():
            dataset = gdal.OpenEx(path, gdal.OF_RASTER | gdal.OF_READONLY)
    except RuntimeError as error:
        if not path.startswith("/vsi") and not os.path.exists(path):
            raise InputError(f"{role} raster {path} does not exist") from None
        raise InputError(f"{role} raster {path} cannot be read by GDAL: {error}") from None
    if dataset is None:
        raise InputError(f"{role} raster {path} cannot be read by GDAL")
    return dataset


def raster_grid(path: str, role: str = "input") -> Grid:
    """The grid of one raster (size, georeferencing, block size)."""
    dataset = open_raster(path, role)
    try:
        return Grid.from_dataset(dataset)
    finally:
        dataset = None
