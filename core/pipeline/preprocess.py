"""Fitting the input transform (PCA + standardization) on the rasters, streamed in windows."""

from __future__ import annotations

import numpy as np

from ..errors import InputError
from ..io.stack import WindowSource
from ..nn.preprocessing import Preprocessing
from ..progress import Progress, SilentProgress, check_canceled
from ..requests import DEFAULT_MAX_FIT_PIXELS

__all__ = ["fit_preprocessing"]


class _Moments:
    """Streaming count, mean and scatter matrix around a fixed shift (for stability)."""

    def __init__(self, bands: int, lidar: int) -> None:
        self.n = 0
        self.shift: np.ndarray | None = None
        self.sum = np.zeros(bands)
        self.scatter = np.zeros((bands, bands))
        self.lidar_sum = np.zeros(lidar)
        self.lidar_sq = np.zeros(lidar)

    def update(self, hsi: np.ndarray, lidar: np.ndarray, valid: np.ndarray) -> None:
        x = hsi.reshape(hsi.shape[0], -1)[:, valid.reshape(-1)].astype(np.float64)
        y = lidar.reshape(lidar.shape[0], -1)[:, valid.reshape(-1)].astype(np.float64)
        if x.shape[1] == 0:
            return
        if self.shift is None:
            self.shift = x.mean(axis=1)
            self.lidar_shift = y.mean(axis=1)
        x -= self.shift[:, None]
        y -= self.lidar_shift[:, None]
        self.n += x.shape[1]
        self.sum += x.sum(axis=1)
        self.scatter += x @ x.T
        self.lidar_sum += y.sum(axis=1)
        self.lidar_sq += (y * y).sum(axis=1)


def fit_preprocessing(
    stack: WindowSource,
    n_components: int = 40,
    max_pixels: int = DEFAULT_MAX_FIT_PIXELS,
    seed: int = 0,
    progress: Progress | None = None,
) -> Preprocessing:
    """Fit whitened PCA + standardization on the valid pixels of a :class:`RasterStack`."""
    progress = progress or SilentProgress()
    grid = stack.grid
    bands, lidar = stack.hsi_bands, stack.lidar_bands
    if n_components > bands:
        raise InputError(
            f"the HSI {stack.hsi_path} has {bands} bands, fewer than the {n_components} PCA components asked for; "
            f"use at most {bands} components"
        )
    moments = _Moments(bands, lidar)
    total_pixels = grid.width * grid.height
    sampled = total_pixels > max_pixels
    if sampled:
        lines = max(1, int(max_pixels // grid.width))
        rng = np.random.default_rng(seed)
        rows = np.sort(rng.choice(grid.height, size=min(lines, grid.height), replace=False))
        progress.info(
            f"fitting PCA on a seeded sample of {rows.size} of {grid.height} lines ({rows.size * grid.width} pixels)"
        )
        for start in range(0, rows.size, 64):
            check_canceled(progress)
            moments.update(*stack.read_rows(rows[start : start + 64]))
            progress.set_progress(100.0 * min(rows.size, start + 64) / rows.size)
    else:
        # Whole lines, block aligned, about 32 MB of float32 per read.
        step = max(grid.block_size[1], 8_000_000 // max(1, grid.width * (bands + lidar)))
        for y in range(0, grid.height, step):
            check_canceled(progress)
            h = min(step, grid.height - y)
            moments.update(*stack.read_window(0, y, grid.width, h))
            progress.set_progress(100.0 * (y + h) / grid.height)
    n = moments.n
    if n < 2:
        raise InputError(f"the HSI {stack.hsi_path} and LiDAR have fewer than 2 valid pixels in common: nothing to fit")
    mean_shifted = moments.sum / n
    covariance = (moments.scatter - n * np.outer(mean_shifted, mean_shifted)) / (n - 1)
    values, vectors = np.linalg.eigh(covariance)
    order = np.argsort(values)[::-1][:n_components]
    values, components = values[order], vectors[:, order].T.copy()
    # A deterministic sign: the largest loading of every axis is positive.
    biggest = np.abs(components).argmax(axis=1)
    components *= np.sign(components[np.arange(n_components), biggest])[:, None]
    floor = max(values[0], 1e-300) * 1e-12
    if values[-1] <= floor:
        rank = int((values > floor).sum())
        raise InputError(
            f"the HSI {stack.hsi_path} has only {rank} linearly independent bands over its valid pixels; "
            f"use at most {rank} PCA components (asked for {n_components})"
        )
    lidar_mean_shifted = moments.lidar_sum / n
    lidar_var = np.maximum(moments.lidar_sq / n - lidar_mean_shifted**2, 0.0)
    lidar_std = np.sqrt(lidar_var)
    if np.any(lidar_std <= 0):
        flat = [str(i + 1) for i in np.flatnonzero(lidar_std <= 0)]
        raise InputError(
            f"LiDAR channel(s) {', '.join(flat)} are constant over the valid pixels: they carry no information"
        )
    # Whitened scores have mean 0 and sample variance 1 by construction; the
    # standardization (ddof 0) that follows them therefore scales by sqrt((n-1)/n).
    channel_mean = np.concatenate((np.zeros(n_components), lidar_mean_shifted + moments.lidar_shift))
    channel_std = np.concatenate((np.full(n_components, np.sqrt((n - 1) / n)), lidar_std))
    assert moments.shift is not None  # set by the first window, and there was one
    return Preprocessing(
        hsi_mean=mean_shifted + moments.shift,
        components=components,
        explained_variance=values,
        channel_mean=channel_mean,
        channel_std=channel_std,
        pixel_count=n,
        sampled=sampled,
    )
