"""Tiles with a halo, and the patches cut from them.

Every pixel's patch is cut from real neighbouring pixels whatever tile it
falls in (the halo reaches into adjacent tiles), and is zero only outside the
image, so maps do not depend on the tile size.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch

from ..io.stack import WindowSource
from ..nn.preprocessing import Preprocessing
from ..progress import Progress, SilentProgress, check_canceled

__all__ = [
    "Tile",
    "tile_windows",
    "tiles_holding",
    "read_tile_features",
    "read_validity",
    "cut_patches",
    "cut_block_patches",
]


@dataclass(frozen=True)
class Tile:
    """A window (x, y, width, height) in pixels of the full raster."""

    x: int
    y: int
    width: int
    height: int


def tile_windows(window: tuple[int, int, int, int], tile_size: int, block_size: tuple[int, int] = (1, 1)) -> list[Tile]:
    """Cover ``window`` row by row with tiles whose edges fall on the raster's blocks.

    The tile size is rounded to a multiple of the block size (when blocks are
    smaller than the tile) so every read touches whole blocks.
    """
    x0, y0, w, h = window
    bx, by = (max(1, b) for b in block_size)
    tw = tile_size // bx * bx if bx <= tile_size else tile_size
    th = tile_size // by * by if by <= tile_size else tile_size
    tiles = []
    for ty in range(y0 - y0 % th, y0 + h, th):
        for tx in range(x0 - x0 % tw, x0 + w, tw):
            cx, cy = max(tx, x0), max(ty, y0)
            cw, ch = min(tx + tw, x0 + w) - cx, min(ty + th, y0 + h) - cy
            if cw > 0 and ch > 0:
                tiles.append(Tile(cx, cy, cw, ch))
    return tiles


def tiles_holding(
    width: int, height: int, rows: np.ndarray, cols: np.ndarray, tile_size: int
) -> Iterator[tuple[Tile, np.ndarray]]:
    """The tiles of a ``tile_size`` grid over a ``width`` x ``height`` raster that hold the given pixels.

    Yields each tile (row-major order) with the indices into ``rows``/``cols``
    of its pixels, so a pass over scattered pixels reads each tile once.
    """
    per_row = (width + tile_size - 1) // tile_size
    tile_of = (rows.astype(np.int64) // tile_size) * per_row + cols // tile_size
    order = np.argsort(tile_of, kind="stable")
    tiles, starts = np.unique(tile_of[order], return_index=True)
    bounds = np.append(starts, rows.size)
    for i, tile_index in enumerate(tiles):  # a loop over tiles that hold pixels
        ty, tx = divmod(int(tile_index), per_row)
        x, y = tx * tile_size, ty * tile_size
        yield Tile(x, y, min(tile_size, width - x), min(tile_size, height - y)), order[bounds[i] : bounds[i + 1]]


def read_tile_features(
    stack: WindowSource, preprocessing: Preprocessing, tile: Tile, halo: int
) -> tuple[np.ndarray, np.ndarray]:
    """Preprocessed channels of ``tile`` plus ``halo`` pixels around it, and the tile's valid mask.

    Returns ``(features (C, h + 2 halo, w + 2 halo) float32, valid (h, w) bool)``:
    zero outside the image and at invalid pixels, which is the mean after
    standardization and what the reference pads patches with.
    """
    grid = stack.grid
    x0, y0 = max(0, tile.x - halo), max(0, tile.y - halo)
    x1 = min(grid.width, tile.x + tile.width + halo)
    y1 = min(grid.height, tile.y + tile.height + halo)
    hsi, lidar, valid = stack.read_window(x0, y0, x1 - x0, y1 - y0)
    inner = preprocessing.apply(hsi, lidar, valid)
    features = np.zeros((inner.shape[0], tile.height + 2 * halo, tile.width + 2 * halo), dtype=np.float32)
    oy, ox = y0 - (tile.y - halo), x0 - (tile.x - halo)
    features[:, oy : oy + inner.shape[1], ox : ox + inner.shape[2]] = inner
    core_valid = valid[tile.y - y0 : tile.y - y0 + tile.height, tile.x - x0 : tile.x - x0 + tile.width]
    return features, core_valid


def read_validity(
    stack: WindowSource,
    rows: np.ndarray,
    cols: np.ndarray,
    progress: Progress | None = None,
    tile_size: int = 512,
) -> np.ndarray:
    """Whether the HSI and every LiDAR band hold data (not nodata, NaN or infinity) at each pixel."""
    progress = progress or SilentProgress()
    valid = np.zeros(rows.size, dtype=bool)
    groups = list(tiles_holding(stack.grid.width, stack.grid.height, rows, cols, tile_size))
    for i, (tile, members) in enumerate(groups):
        check_canceled(progress)
        _, _, ok = stack.read_window(tile.x, tile.y, tile.width, tile.height)
        valid[members] = ok[rows[members] - tile.y, cols[members] - tile.x]
        progress.set_progress(100.0 * (i + 1) / len(groups))
    return valid


def cut_patches(features: torch.Tensor, rows: torch.Tensor, cols: torch.Tensor, patch_size: int) -> torch.Tensor:
    """(N, C, P, P) patches centred on tile pixels (rows, cols) of a haloed feature tile.

    ``features`` is (C, h + P - 1, w + P - 1); the patch of tile pixel (r, c)
    starts at (r, c) in it. Works through a strided view, copying only the
    patches asked for.
    """
    view = features.unfold(1, patch_size, 1).unfold(2, patch_size, 1)  # (C, h, w, P, P), no copy
    return view[:, rows, cols].permute(1, 0, 2, 3).contiguous()


def cut_block_patches(
    blocks: torch.Tensor, slots: torch.Tensor, rows: torch.Tensor, cols: torch.Tensor, patch_size: int
) -> torch.Tensor:
    """(N, C, P, P) patches cut from a stack of haloed, channel-last feature blocks (K, S, S, C).

    Pixel i sits at (rows[i], cols[i]) of block ``slots[i]``'s core, its patch
    starting there in the block: :func:`cut_patches` for many small tiles at
    once. Channels last keeps each patch's values in a few contiguous runs.
    """
    view = blocks.unfold(1, patch_size, 1).unfold(2, patch_size, 1)  # (K, s, s, C, P, P), no copy
    return view[slots, rows, cols].contiguous()


def iter_batches(count: int, batch_size: int) -> Iterator[slice]:
    for start in range(0, count, batch_size):
        yield slice(start, min(count, start + batch_size))
