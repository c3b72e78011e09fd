"""Which reference pixels lie next to training pixels, on the class map's grid.

A reference pixel whose patch holds a training pixel shares part of what the
network learnt from, so its accuracy flatters the map. Its patch holds one
exactly when the Chebyshev distance to that training pixel is at most half
the patch side. The test hashes training pixels into square cells of side
``radius + 1``: a pixel's own cell is within reach whole, and any other
training pixel within reach lies in one of the 8 cells around it, so each
reference pixel is compared with a few training pixels only, however large
the raster and however many pixels there are (no image-sized mask).
"""

from __future__ import annotations

import numpy as np

from ..io.crs import same_crs
from ..io.grid import Grid

__all__ = ["near_pixels", "pixels_on_grid"]

_CHUNK = 65_536  # reference pixels looked up at once
_PAIRS = 4_000_000  # (reference, training) pixel pairs compared at once


def near_pixels(
    rows: np.ndarray, cols: np.ndarray, anchor_rows: np.ndarray, anchor_cols: np.ndarray, radius: int
) -> np.ndarray:
    """Whether each pixel (rows[i], cols[i]) lies within Chebyshev distance ``radius`` of an anchor pixel."""
    rows, cols = np.asarray(rows, np.int64), np.asarray(cols, np.int64)
    anchor_rows, anchor_cols = np.asarray(anchor_rows, np.int64), np.asarray(anchor_cols, np.int64)
    near = np.zeros(rows.size, dtype=bool)
    if rows.size == 0 or anchor_rows.size == 0:
        return near
    side = radius + 1
    cell_rows, cell_cols = rows // side, cols // side
    anchor_cell_rows, anchor_cell_cols = anchor_rows // side, anchor_cols // side
    # One integer key per cell, with a margin of one cell on every side for the neighbours.
    row0 = min(int(cell_rows.min()), int(anchor_cell_rows.min())) - 1
    col0 = min(int(cell_cols.min()), int(anchor_cell_cols.min())) - 1
    span = max(int(cell_cols.max()), int(anchor_cell_cols.max())) - col0 + 2
    keys = (anchor_cell_rows - row0) * span + (anchor_cell_cols - col0)
    order = np.argsort(keys, kind="stable")
    keys, anchor_rows, anchor_cols = keys[order], anchor_rows[order], anchor_cols[order]
    neighbours = np.array([dr * span + dc for dr in (-1, 0, 1) for dc in (-1, 0, 1) if dr or dc], dtype=np.int64)
    occupied = np.unique(keys)
    around = np.unique((occupied[:, None] + neighbours).ravel())  # cells next to an occupied one
    for start in range(0, rows.size, _CHUNK):  # chunks of pixels, each one vectorised
        part = slice(start, start + _CHUNK)
        own = (cell_rows[part] - row0) * span + (cell_cols[part] - col0)
        hit = _members(occupied, own)
        pending = np.flatnonzero(~hit & _members(around, own))
        if pending.size:
            cells = (own[pending, None] + neighbours).ravel()
            low, high = np.searchsorted(keys, cells, "left"), np.searchsorted(keys, cells, "right")
            owners = np.repeat(pending, neighbours.size)
            hit |= _any_close(
                rows[part], cols[part], owners, low, high - low, anchor_rows, anchor_cols, radius, hit.size
            )
        near[part] = hit
    return near


def _members(sorted_values: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Whether each value is one of ``sorted_values`` (sorted, distinct)."""
    at = np.searchsorted(sorted_values, values).clip(0, sorted_values.size - 1)
    return sorted_values[at] == values


def _any_close(
    rows: np.ndarray,
    cols: np.ndarray,
    owners: np.ndarray,
    starts: np.ndarray,
    counts: np.ndarray,
    anchor_rows: np.ndarray,
    anchor_cols: np.ndarray,
    radius: int,
    size: int,
) -> np.ndarray:
    """Per pixel: whether one of its candidate anchors (``counts[j]`` from ``starts[j]`` for ``owners[j]``)
    is within reach; the pairs are compared a bounded number at a time."""
    close = np.zeros(size, dtype=bool)
    group = np.cumsum(counts) // _PAIRS  # candidate cells in groups of about _PAIRS pairs
    splits = np.flatnonzero(np.diff(group)) + 1
    for lo, hi in zip([0, *splits.tolist()], [*splits.tolist(), counts.size]):
        n = counts[lo:hi]
        pairs = int(n.sum())
        if pairs == 0:
            continue
        first = np.repeat(starts[lo:hi] - (np.cumsum(n) - n), n)  # anchor index = first + running pair index
        anchors = first + np.arange(pairs)
        who = np.repeat(owners[lo:hi], n)
        reach = (np.abs(anchor_rows[anchors] - rows[who]) <= radius) & (
            np.abs(anchor_cols[anchors] - cols[who]) <= radius
        )
        close[who[reach]] = True
    return close


def _same_pixels(a: Grid, b: Grid) -> bool:
    """Same pixel size and orientation (within a millionth of a pixel): the grids differ by a shift only."""
    tolerance = 1e-6 * max(max(a.pixel_size), 1e-12)
    return all(abs(a.geotransform[i] - b.geotransform[i]) <= tolerance for i in (1, 2, 4, 5))


def pixels_on_grid(
    rows: np.ndarray, cols: np.ndarray, source: Grid, target: Grid
) -> tuple[np.ndarray, np.ndarray] | str:
    """The pixels (rows, cols) of ``source`` as rows and columns of ``target`` (the pixel holding each
    centre, possibly off ``target``); or why they cannot be: another CRS, pixel size or orientation, on
    which a patch of ``P`` pixels means something else."""
    if not same_crs(source.crs_wkt, target.crs_wkt):
        return "the class map is in another CRS than the HSI the model was trained on"
    if not _same_pixels(source, target):
        sx, sy = source.pixel_size
        tx, ty = target.pixel_size
        return (
            f"the class map's pixels ({tx:g} x {ty:g}, or their orientation) differ from those of the HSI the "
            f"model was trained on ({sx:g} x {sy:g})"
        )
    gt = source.geotransform
    rows, cols = np.asarray(rows, np.float64), np.asarray(cols, np.float64)
    x = gt[0] + (cols + 0.5) * gt[1] + (rows + 0.5) * gt[2]
    y = gt[3] + (cols + 0.5) * gt[4] + (rows + 0.5) * gt[5]
    target_cols, target_rows = target.pixel_coordinates(x, y)
    return np.floor(target_rows).astype(np.int64), np.floor(target_cols).astype(np.int64)
