"""Geometry of the spatial validation split, on labelled pixels alone: regions, blocks and the gap.

Everything works on the arrays of N pixel coordinates the label reader
already holds, never on an image: class rasters may cover a scene of any
size, and an image-sized array per class would not be bounded by the labels.
"""

from __future__ import annotations

import numpy as np

__all__ = ["connected_regions", "block_keys", "dense_ids", "near_pixels"]

_SHIFT = np.int64(2**32)  # rows and columns are below 2^31: (row, col) packs into one int64 key


def dense_ids(*keys: np.ndarray) -> np.ndarray:
    """0..G-1 (int64) per element: equal tuples of ``keys`` get equal ids, numbered in sorted order of the tuples."""
    count = keys[0].size
    if count == 0:
        return np.zeros(0, dtype=np.int64)
    order = np.lexsort(keys[::-1])
    changed = np.zeros(count, dtype=bool)
    for key in keys:
        ordered = key[order]
        changed[1:] |= ordered[1:] != ordered[:-1]
    ids = np.empty(count, dtype=np.int64)
    ids[order] = np.cumsum(changed)
    return ids


def block_keys(rows: np.ndarray, cols: np.ndarray, side: int | np.ndarray) -> np.ndarray:
    """The square block of side ``side`` (aligned on pixel 0, 0; one side per pixel or one for all) as an int64 key."""
    return (rows.astype(np.int64) // side) * _SHIFT + cols.astype(np.int64) // side


def _ranges(lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(which range, value) for every value of the ranges [lo, hi): the ranges laid end to end."""
    counts = np.maximum(hi - lo, 0)
    which = np.repeat(np.arange(lo.size, dtype=np.int64), counts)
    starts = np.cumsum(counts) - counts
    values = np.arange(which.size, dtype=np.int64) - np.repeat(starts - lo, counts)
    return which, values


def _join(count: int, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The root (smallest member) of every node's component, for the undirected edges ``a``-``b``.

    Every round hooks each root onto the smallest root it touches and then
    shortens every path to its root, so each round at least halves the trees
    that still have a neighbour: a few rounds, each one vectorised.
    """
    parent = np.arange(count, dtype=np.int64)
    while a.size:
        root_a, root_b = parent[a], parent[b]
        differ = root_a != root_b
        a, b, root_a, root_b = a[differ], b[differ], root_a[differ], root_b[differ]
        if not a.size:
            break
        np.minimum.at(parent, np.maximum(root_a, root_b), np.minimum(root_a, root_b))
        while True:
            up = parent[parent]
            if np.array_equal(up, parent):
                break
            parent = up
    return parent


def _row_major(rows: np.ndarray, cols: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """Pixel keys in row-major order, and the order that sorts them (None when they already are, as read)."""
    key = rows.astype(np.int64) * _SHIFT + cols.astype(np.int64)
    if key.size < 2 or bool(np.all(key[1:] > key[:-1])):
        return key, None
    order = np.argsort(key, kind="stable")
    return key[order], order


def connected_regions(rows: np.ndarray, cols: np.ndarray, class_ids: np.ndarray) -> np.ndarray:
    """Region id (0..R-1, int64) per pixel: pixels of one class joined by 8-connectivity.

    Works on horizontal runs of a class (what a class raster is mostly made
    of): runs of one class in neighbouring rows that touch, diagonally
    included, are joined. The same regions as ``scipy.ndimage.label`` with a
    3 x 3 structure on each class's mask, without the image.
    """
    count = rows.size
    if count == 0:
        return np.zeros(0, dtype=np.int64)
    key, order = _row_major(rows, cols)
    klass = class_ids if order is None else class_ids[order]
    new_run = np.ones(count, dtype=bool)
    new_run[1:] = (key[1:] != key[:-1] + 1) | (klass[1:] != klass[:-1])
    starts = np.flatnonzero(new_run)
    first_key = key[starts]
    last_key = key[np.append(starts[1:], count) - 1]
    run_class = klass[starts]
    # Within a row, runs are disjoint and sorted, so both their first and their last keys are sorted.
    # The runs of the row above that touch [first - 1, last + 1]: last >= first - 1 and first <= last + 1.
    lo = np.searchsorted(last_key, first_key - _SHIFT - 1, side="left")
    hi = np.searchsorted(first_key, last_key - _SHIFT + 1, side="right")
    runs, touching = _ranges(lo, hi)
    same = run_class[runs] == run_class[touching]
    roots = _join(starts.size, runs[same], touching[same])
    run_region = np.unique(roots, return_inverse=True)[1].reshape(-1).astype(np.int64)
    regions = run_region[np.cumsum(new_run) - 1]
    if order is None:
        return regions
    result = np.empty(count, dtype=np.int64)
    result[order] = regions
    return result


def near_pixels(
    rows: np.ndarray, cols: np.ndarray, near_rows: np.ndarray, near_cols: np.ndarray, distance: int
) -> np.ndarray:
    """True for each pixel within Chebyshev distance ``distance`` of one of the ``near_*`` pixels (itself included).

    Cells of side ``s = distance + 1`` hash the ``near`` pixels, so a pixel
    only needs the 9 cells around its own. Per cell and row offset the table
    keeps the smallest and largest column offset of its pixels, accumulated
    over the rows from the top and from the bottom: whether a neighbouring
    cell holds a pixel within reach (a corner cell: rows past the pixel's
    offset and columns past its offset) is then one look-up. Memory: 4 s
    small integers per occupied cell; time: at most 9 look-ups per pixel,
    however dense the ``near`` pixels are (a pixel in an occupied cell needs
    just one).
    """
    result = np.zeros(rows.size, dtype=bool)
    if rows.size == 0 or near_rows.size == 0:
        return result
    side = distance + 1
    near_row, near_col = near_rows.astype(np.int64), near_cols.astype(np.int64)
    # + 1 cell: the cells around row or column 0 get no negative index.
    cells, cell_of = np.unique(block_keys(near_row + side, near_col + side, side), return_inverse=True)
    flat = cell_of.reshape(-1) * side + near_row % side  # (cell, row offset)
    offset = (near_col % side).astype(np.int16)
    largest = np.full(cells.size * side, -1, dtype=np.int16)  # -1: no pixel in that row of the cell
    smallest = np.full(cells.size * side, side, dtype=np.int16)  # side: no pixel
    np.maximum.at(largest, flat, offset)
    np.minimum.at(smallest, flat, offset)
    largest, smallest = largest.reshape(-1, side), smallest.reshape(-1, side)
    # [cell, t]: over the rows from t down to the bottom of the cell, and from the top down to t.
    largest_below = np.maximum.accumulate(largest[:, ::-1], axis=1)[:, ::-1]
    smallest_below = np.minimum.accumulate(smallest[:, ::-1], axis=1)[:, ::-1]
    largest_above = np.maximum.accumulate(largest, axis=1)
    smallest_above = np.minimum.accumulate(smallest, axis=1)

    key, order = _row_major(rows // side, cols // side)  # in cell order, so a cell's pixels are contiguous
    row = rows.astype(np.int64) if order is None else rows[order].astype(np.int64)
    col = cols.astype(np.int64) if order is None else cols[order].astype(np.int64)
    new_cell = np.ones(key.size, dtype=bool)
    new_cell[1:] = key[1:] != key[:-1]
    cell_of_pixel = np.cumsum(new_cell) - 1
    pixel_cells = key[new_cell] + _SHIFT + 1

    def look_up(wanted: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        found = np.minimum(np.searchsorted(cells, wanted), cells.size - 1)
        return found, cells[found] == wanted

    # Every pixel of a cell that holds a near pixel is within reach of it.
    occupied = look_up(pixel_cells)[1]
    hit = occupied[cell_of_pixel]
    free = ~occupied
    for dr in (-1, 0, 1):
        for dc in (-1, 0, 1):
            if dr == dc == 0:
                continue
            found, present = look_up(pixel_cells + dr * _SHIFT + dc)
            pixels = np.flatnonzero((present & free)[cell_of_pixel])
            if pixels.size == 0:
                continue
            cell = found[cell_of_pixel[pixels]]
            row_offset, col_offset = row[pixels] % side, col[pixels] % side
            if dr == -1:  # the cell above: its rows below the pixel's offset are within reach
                t, reach = np.minimum(row_offset + 1, side - 1), row_offset + 1 < side
                high, low = largest_below, smallest_below
            elif dr == 1:  # the cell below: its rows above the pixel's offset
                t, reach = np.maximum(row_offset - 1, 0), row_offset > 0
                high, low = largest_above, smallest_above
            else:  # the same row of cells: all of its rows
                t, reach = np.zeros_like(row_offset), np.ones(pixels.size, dtype=bool)
                high, low = largest_below, smallest_below
            if dc == -1:  # the cell on the left: its columns right of the pixel's offset
                reach &= high[cell, t] >= col_offset + 1
            elif dc == 1:  # the cell on the right: its columns left of the pixel's offset
                reach &= low[cell, t] <= col_offset - 1
            else:
                reach &= high[cell, t] >= 0
            hit[pixels] |= reach
    if order is None:
        return hit
    result[order] = hit
    return result
