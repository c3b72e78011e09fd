"""A tiny seeded HSI + DSM scene with three classes, for end-to-end engine tests.

Class 1 and 2 share a spectrum and differ in height; class 3 has its own
spectrum. Blocks of 6 x 6 pixels, so patches see homogeneous neighbourhoods.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from rasters import write_raster

from ncglf2.core.pipeline.training import TrainingParameters


@dataclass
class TinyScene:
    hsi: str
    dsm: str
    labels: str
    truth: np.ndarray  # (H, W) class ids of every pixel


def build_tiny_scene(
    folder: Path, height: int = 36, width: int = 42, bands: int = 8, seed: int = 0, nodata_corner: bool = True
) -> TinyScene:
    rng = np.random.default_rng(seed)
    block_classes = rng.integers(1, 4, size=(height // 6 + 1, width // 6 + 1))
    truth = np.kron(block_classes, np.ones((6, 6), dtype=int))[:height, :width]
    wavelengths = np.linspace(0, 1, bands)
    spectra = {1: 0.3 + 0.2 * wavelengths, 2: 0.3 + 0.2 * wavelengths, 3: 0.5 - 0.3 * wavelengths}
    cube = np.stack([spectra[c] for c in (1, 2, 3)])[truth - 1].transpose(2, 0, 1)
    cube = cube + rng.normal(0, 0.02, cube.shape)
    hsi = np.round(cube * 10000).astype(np.uint16)
    dsm = (np.where(truth == 2, 12.0, 0.5) + rng.normal(0, 0.3, truth.shape)).astype(np.float32)
    if nodata_corner:
        hsi[:, :3, :4] = 0
    hsi_path = write_raster(folder / "hsi.tif", hsi, nodata=0)
    dsm_path = write_raster(folder / "dsm.tif", dsm)
    labels = truth.astype(np.uint8).copy()
    labels[::2, :] = 0  # half of the pixels labelled
    if nodata_corner:
        labels[:3, :4] = 0
    labels_path = write_raster(folder / "labels.tif", labels, nodata=0)
    return TinyScene(hsi_path, dsm_path, labels_path, truth)


def tiny_parameters(**overrides) -> TrainingParameters:
    """A small, fast network; still the real training loop."""
    values = dict(
        epochs=12,
        batch_size=32,
        learning_rate=3e-3,
        samples_per_class=20,
        patch_size=5,
        pca_components=4,
        width=16,
        depth=1,
        heads=4,
        seed=0,
        device="cpu",
    )
    values.update(overrides)
    return TrainingParameters(**values)
