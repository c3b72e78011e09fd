"""Reading the HSI and LiDAR rasters on one grid, and writing class maps.

Every raster is read through GDAL, so any format it knows works (GeoTIFF,
ENVI, VRT...). LiDAR rasters that are not on the HSI grid are warped onto it
through a lazy VRT, so reads stay window-sized whatever the raster size.
GDAL exceptions are switched on only around our own calls (``gdal_errors``)
because QGIS and other plugins share the process and expect GDAL's default.
"""
from __future__ import annotations

import math
import os
import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from xml.etree import ElementTree as ET

import numpy as np
from osgeo import gdal, gdal_array, ogr, osr

from .errors import InputError
from .outputs import atomic_path

__all__ = [
    "Grid",
    "RasterStack",
    "open_inputs",
    "open_raster",
    "align_to_grid",
    "grids_match",
    "describe_crs",
    "gdal_errors",
    "create_geotiff",
    "set_class_table",
    "write_paletted_qml",
]

Log = Callable[[str], None]
_IDENTITY = (0.0, 1.0, 0.0, 0.0, 0.0, 1.0)
_OUTPUT_TYPES = {"uint8": gdal.GDT_Byte, "uint16": gdal.GDT_UInt16, "int16": gdal.GDT_Int16, "float32": gdal.GDT_Float32}


def _no_log(message: str) -> None:
    pass


@contextmanager
def gdal_errors() -> Iterator[None]:
    """Raise GDAL/OGR/OSR errors as exceptions inside the block only.

    The host application (QGIS) owns the process-wide setting; we restore
    whatever it was, so our error handling never changes anyone else's.
    """
    modules = (gdal, ogr, osr)
    previous = [m.GetUseExceptions() for m in modules]
    for module in modules:
        module.UseExceptions()
    try:
        yield
    finally:
        # GDAL keeps one error-handler stack for the three modules: unwind it in reverse
        for module, was_on in reversed(list(zip(modules, previous))):
            if not was_on:
                module.DontUseExceptions()


def _srs(wkt: str) -> osr.SpatialReference | None:
    """An SRS with x/y axis order (GDAL geotransforms are always easting/northing)."""
    if not wkt:
        return None
    srs = osr.SpatialReference()
    with gdal_errors():
        srs.SetFromUserInput(wkt)
    srs.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
    return srs


def describe_crs(wkt: str) -> str:
    """A short CRS name for messages: ``EPSG:32632`` when known, else its name."""
    if not wkt:
        return "no CRS"
    try:
        srs = _srs(wkt)
        authority, code = srs.GetAuthorityName(None), srs.GetAuthorityCode(None)
        if not code:
            with gdal_errors():
                srs.AutoIdentifyEPSG()
            authority, code = srs.GetAuthorityName(None), srs.GetAuthorityCode(None)
    except RuntimeError:
        authority = code = None
        srs = None
    if authority and code:
        return f"{authority}:{code}"
    name = srs.GetName() if srs is not None else None
    return f'"{name}"' if name else "an unnamed CRS"


def _same_crs(wkt_a: str, wkt_b: str) -> bool:
    """CRS equality by meaning: an EPSG code and the equivalent PROJ string are equal."""
    if not wkt_a or not wkt_b:
        return not wkt_a and not wkt_b
    if wkt_a == wkt_b:
        return True
    return bool(_srs(wkt_a).IsSame(_srs(wkt_b)))


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
            geotransform=tuple(float(v) for v in dataset.GetGeoTransform()),
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
                f"{_format_bounds(self.bounds)}"
            )
        return x0, y0, x1 - x0, y1 - y0


def _format_bounds(bounds: Sequence[float]) -> str:
    return "(" + ", ".join(f"{v:.10g}" for v in bounds) + ")"


def grids_match(a: Grid, b: Grid) -> bool:
    """Same size, same geotransform within 1e-6 of a pixel, and the same CRS by meaning."""
    if (a.width, a.height) != (b.width, b.height):
        return False
    tolerance = 1e-6 * max(max(a.pixel_size), 1e-12)
    if any(abs(p - q) > tolerance for p, q in zip(a.geotransform, b.geotransform)):
        return False
    return _same_crs(a.crs_wkt, b.crs_wkt)


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


def _grid_differences(source: Grid, target: Grid) -> str:
    """Why ``source`` is not on ``target``, for the log line."""
    reasons = []
    if not _same_crs(source.crs_wkt, target.crs_wkt):
        reasons.append(f"CRS {describe_crs(source.crs_wkt)} vs {describe_crs(target.crs_wkt)}")
    else:
        sx, sy = source.pixel_size
        tx, ty = target.pixel_size
        if abs(sx - tx) > 1e-6 * tx or abs(sy - ty) > 1e-6 * ty:
            reasons.append(f"resolution {sx:g} x {sy:g} vs {tx:g} x {ty:g}")
        sgt, tgt = source.geotransform, target.geotransform
        if abs(sgt[0] - tgt[0]) > 1e-6 * tx or abs(sgt[3] - tgt[3]) > 1e-6 * ty:
            reasons.append(f"origin ({sgt[0]:.10g}, {sgt[3]:.10g}) vs ({tgt[0]:.10g}, {tgt[3]:.10g})")
        if (source.width, source.height) != (target.width, target.height):
            reasons.append(f"size {source.width}x{source.height} vs {target.width}x{target.height}")
        if not reasons:
            reasons.append("rotation terms differ")
    return ", ".join(reasons)


def _bounds_in(grid: Grid, target_wkt: str) -> tuple[float, float, float, float]:
    """The grid's bounds expressed in another CRS (densified edges, so curved ones are covered)."""
    if not grid.crs_wkt or not target_wkt or _same_crs(grid.crs_wkt, target_wkt):
        return grid.bounds
    transform = osr.CoordinateTransformation(_srs(grid.crs_wkt), _srs(target_wkt))
    with gdal_errors():
        bounds = transform.TransformBounds(*grid.bounds, 21)
    return tuple(float(v) for v in bounds)


def _check_overlap(source: Grid, source_name: str, target: Grid, target_name: str) -> None:
    """Refuse rasters that share no ground with the target grid, with both extents in the message."""
    geographic = []
    for wkt in (source.crs_wkt, target.crs_wkt):
        srs = _srs(wkt)
        geographic.append(srs is not None and bool(srs.IsGeographic()))
    hint = ""
    if geographic[0] != geographic[1]:
        kinds = ["geographic" if g else "projected" for g in geographic]
        hint = (
            f"; {source_name} is in a {kinds[0]} CRS ({describe_crs(source.crs_wkt)}) and {target_name} "
            f"in a {kinds[1]} CRS ({describe_crs(target.crs_wkt)}): check that each raster's CRS is declared correctly"
        )
    try:
        bounds = _bounds_in(source, target.crs_wkt)
    except RuntimeError as error:
        raise InputError(
            f"{source_name} cannot be placed on {target_name}: its extent {_format_bounds(source.bounds)} "
            f"in {describe_crs(source.crs_wkt)} cannot be transformed to {describe_crs(target.crs_wkt)} ({error}){hint}"
        ) from None
    t = target.bounds
    overlaps = bounds[0] < t[2] and bounds[2] > t[0] and bounds[1] < t[3] and bounds[3] > t[1]
    if not all(math.isfinite(v) for v in bounds) or not overlaps:
        raise InputError(
            f"{source_name} does not overlap {target_name}: its extent is {_format_bounds(bounds)} in "
            f"{describe_crs(target.crs_wkt)} (native {_format_bounds(source.bounds)} in "
            f"{describe_crs(source.crs_wkt)}), the extent of {target_name} is {_format_bounds(t)}{hint}"
        )


def align_to_grid(
    dataset: gdal.Dataset,
    path: str,
    grid: Grid,
    grid_name: str,
    role: str,
    resample: str,
    log: Log | None = None,
    output_type: int | None = None,
    dst_nodata: Sequence[float] | None = None,
) -> gdal.Dataset:
    """``dataset`` itself when it is on ``grid``, else a lazy VRT warp of it onto ``grid``.

    Args:
        dataset: the open source raster.
        path: its file name, for messages.
        grid: the target grid (the HSI's).
        grid_name: how to name the target in messages ("HSI raster /data/hsi.tif").
        role: what the source is ("LiDAR", "label"), for messages.
        resample: GDAL resampling name ("bilinear", "near").
        output_type: GDAL data type of the warped bands; the source's when None.
        dst_nodata: per-band nodata of the warped bands; the source's (else 0) when None.
    """
    log = log or _no_log
    source = Grid.from_dataset(dataset)
    name = f"{role} {os.path.basename(path)}"
    source_name = f"{role} raster {path}"
    if grids_match(source, grid):
        return dataset
    if source.is_georeferenced != grid.is_georeferenced:
        has, lacks = (source_name, grid_name) if source.is_georeferenced else (grid_name, source_name)
        raise InputError(
            f"{has} is georeferenced but {lacks} is not, so their pixels cannot be matched; "
            "give both rasters a geotransform and CRS, or neither"
        )
    if not grid.is_georeferenced:
        if (source.width, source.height) == (grid.width, grid.height):
            return dataset
        raise InputError(
            f"neither {grid_name} ({grid.width}x{grid.height}) nor {source_name} ({source.width}x{source.height}) "
            "is georeferenced and their sizes differ, so their pixels cannot be matched"
        )
    if bool(source.crs_wkt) != bool(grid.crs_wkt):
        has, lacks = (source_name, grid_name) if source.crs_wkt else (grid_name, source_name)
        same_pixels = (source.width, source.height) == (grid.width, grid.height) and all(
            abs(p - q) <= 1e-6 * max(grid.pixel_size) for p, q in zip(source.geotransform, grid.geotransform)
        )
        if same_pixels:
            log(f"{name} has the same pixels as the HSI but only one of them declares a CRS; "
                "they are read as one grid")
            return dataset
        raise InputError(
            f"{has} has a CRS ({describe_crs(source.crs_wkt or grid.crs_wkt)}) but {lacks} has none and their grids "
            f"differ, so {source_name} cannot be placed on {grid_name}; assign the CRS to the other raster"
        )
    _check_overlap(source, source_name, grid, grid_name)
    gt = grid.geotransform
    if gt[2] != 0 or gt[4] != 0 or gt[1] < 0 or gt[5] > 0:
        raise InputError(
            f"{source_name} is on another grid than {grid_name}, whose geotransform {gt} is rotated or flipped; "
            "warp it onto the same grid first"
        )
    reason = _grid_differences(source, grid)
    if dst_nodata is None:
        dst_nodata = [dataset.GetRasterBand(i + 1).GetNoDataValue() for i in range(dataset.RasterCount)]
        dst_nodata = [v if v is not None else 0 for v in dst_nodata]
    x0, y0 = gt[0], gt[3]
    x1, y1 = gt[0] + grid.width * gt[1], gt[3] + grid.height * gt[5]
    options = dict(
        format="VRT",
        outputBounds=(min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1)),
        width=grid.width,
        height=grid.height,
        resampleAlg=resample,
        dstNodata=" ".join("nan" if math.isnan(v) else repr(float(v)) for v in dst_nodata),
        warpOptions=["INIT_DEST=NO_DATA"],
        multithread=False,
    )
    if grid.crs_wkt:
        options["dstSRS"] = grid.crs_wkt
    if output_type is not None:
        options["outputType"] = output_type
    try:
        with gdal_errors():
            warped = gdal.Warp("", dataset, **options)
    except RuntimeError as error:
        raise InputError(f"{source_name} cannot be warped onto {grid_name}: {error}") from None
    if warped is None:
        raise InputError(f"{source_name} cannot be warped onto {grid_name}")
    warped_grid = Grid.from_dataset(warped)
    if not grids_match(warped_grid, grid):  # a guard: the VRT must land exactly on the grid
        raise InputError(
            f"{source_name} could not be warped exactly onto {grid_name} ({_grid_differences(warped_grid, grid)})"
        )
    log(f"{name} is on another grid ({reason}) and is warped {_RESAMPLE_WORDS.get(resample, resample)} "
        "onto the HSI grid")
    return warped


_RESAMPLE_WORDS = {"bilinear": "bilinearly", "near": "with nearest neighbour", "nearest": "with nearest neighbour"}


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
        self.band_names = [
            hsi.GetRasterBand(i + 1).GetDescription() or f"band {i + 1}" for i in range(self.hsi_bands)
        ]

    @property
    def shape(self) -> tuple[int, int]:
        """(height, width) of the HSI grid."""
        return self.grid.height, self.grid.width

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
            return (np.empty((self.hsi_bands, 0, width), np.float32),
                    np.empty((self.lidar_bands, 0, width), np.float32),
                    np.empty((0, width), bool))
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
        self._hsi = None
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
    log = log or _no_log
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
        aligned.append(align_to_grid(source, path, grid, f"HSI raster {hsi_path}", "LiDAR", "bilinear", log,
                                     output_type=gdal.GDT_Float32, dst_nodata=nodata))
        sources.append(source)
    return RasterStack(hsi_path, lidar_paths, hsi, aligned, sources)


# ---------------------------------------------------------------- writers


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
    options = ["TILED=YES", "BLOCKXSIZE=256", "BLOCKYSIZE=256", "COMPRESS=DEFLATE", "BIGTIFF=IF_SAFER",
               "INTERLEAVE=BAND"]
    if dtype in ("uint16", "int16"):
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


def _check_classes(class_ids: Sequence[int], names: Sequence[str], colors: Sequence[tuple[int, int, int]]) -> list[int]:
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
    colors: Sequence[tuple[int, int, int]],
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


def _hex(color: Sequence[int]) -> str:
    return "#{:02x}{:02x}{:02x}".format(*(int(c) for c in color[:3]))


def write_paletted_qml(
    path: str,
    class_ids: Sequence[int],
    names: Sequence[str],
    colors: Sequence[tuple[int, int, int]],
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
        ET.SubElement(palette, "paletteEntry",
                      {"value": str(class_id), "color": _hex(color), "label": str(name), "alpha": "255"})
    ET.SubElement(pipe, "brightnesscontrast", {"brightness": "0", "contrast": "0", "gamma": "1"})
    ET.SubElement(pipe, "huesaturation", {"saturation": "0", "grayscaleMode": "0", "colorizeOn": "0",
                                          "colorizeRed": "255", "colorizeGreen": "128", "colorizeBlue": "128",
                                          "colorizeStrength": "100", "invertColors": "0"})
    ET.SubElement(pipe, "rasterresampler", {"maxOversampling": "2"})
    ET.SubElement(root, "blendMode").text = "0"
    ET.indent(root)
    text = "<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>\n" + ET.tostring(root, encoding="unicode") + "\n"
    try:
        with atomic_path(path) as temporary, open(temporary, "w", encoding="utf-8") as stream:
            stream.write(text)
    except OSError as error:
        raise InputError(f"cannot write the style {path}: {error}") from None


# ---------------------------------------------------------------- single rasters


def raster_grid(path: str, role: str = "input") -> Grid:
    """The grid of one raster (size, georeferencing, block size)."""
    dataset = open_raster(path, role)
    try:
        return Grid.from_dataset(dataset)
    finally:
        dataset = None


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


def read_class_map_info(path: str) -> tuple[list[int], list[str], list[tuple[int, int, int]]]:
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
            entry = table.GetColorEntry(index) if table is not None and index < table.GetCount() else (128, 128, 128, 255)
            colors.append(tuple(int(c) for c in entry[:3]))
        return ids, labels, colors
    finally:
        dataset = None
