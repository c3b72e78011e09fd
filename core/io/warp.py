"""Putting a raster on another grid: a lazy warped VRT, so reads stay window-sized."""

from __future__ import annotations

import math
import os
from collections.abc import Sequence

from osgeo import gdal, osr

from ..errors import InputError
from ..progress import Log, no_log
from .crs import describe_crs, format_bounds, gdal_errors, same_crs, srs_from_wkt
from .grid import Grid, grids_match

__all__ = ["align_to_grid"]


def _grid_differences(source: Grid, target: Grid) -> str:
    """Why ``source`` is not on ``target``, for the log line."""
    reasons = []
    if not same_crs(source.crs_wkt, target.crs_wkt):
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
    if not grid.crs_wkt or not target_wkt or same_crs(grid.crs_wkt, target_wkt):
        return grid.bounds
    transform = osr.CoordinateTransformation(srs_from_wkt(grid.crs_wkt), srs_from_wkt(target_wkt))
    with gdal_errors():
        bounds = transform.TransformBounds(*grid.bounds, 21)
    xmin, ymin, xmax, ymax = (float(v) for v in bounds)
    return xmin, ymin, xmax, ymax


def _check_overlap(source: Grid, source_name: str, target: Grid, target_name: str) -> None:
    """Refuse rasters that share no ground with the target grid, with both extents in the message."""
    geographic = []
    for wkt in (source.crs_wkt, target.crs_wkt):
        srs = srs_from_wkt(wkt)
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
            f"{source_name} cannot be placed on {target_name}: its extent {format_bounds(source.bounds)} "
            f"in {describe_crs(source.crs_wkt)} cannot be transformed to {describe_crs(target.crs_wkt)} ({error}){hint}"
        ) from None
    t = target.bounds
    overlaps = bounds[0] < t[2] and bounds[2] > t[0] and bounds[1] < t[3] and bounds[3] > t[1]
    if not all(math.isfinite(v) for v in bounds) or not overlaps:
        raise InputError(
            f"{source_name} does not overlap {target_name}: its extent is {format_bounds(bounds)} in "
            f"{describe_crs(target.crs_wkt)} (native {format_bounds(source.bounds)} in "
            f"{describe_crs(source.crs_wkt)}), the extent of {target_name} is {format_bounds(t)}{hint}"
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
    log = log or no_log
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
            log(f"{name} has the same pixels as the HSI but only one of them declares a CRS; they are read as one grid")
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
    log(
        f"{name} is on another grid ({reason}) and is warped {_RESAMPLE_WORDS.get(resample, resample)} "
        "onto the HSI grid"
    )
    return warped


_RESAMPLE_WORDS = {"bilinear": "bilinearly", "near": "with nearest neighbour", "nearest": "with nearest neighbour"}
