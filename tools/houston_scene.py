"""A synthetic scene the size of the Houston 2013 benchmark, built in seconds for speed checks.

349 x 1905 pixels at 2.5 m, 144 HSI bands (380-1050 nm) and one LiDAR band,
15 classes, about 15,000 labelled pixels: the shapes the paper's timings are
quoted for, without the data set. The land is cut into square parcels, each
of one class; a class has its own smooth spectrum and height, so a trained
model separates them. A few parcels of every class carry labels on their
inner square. Usage: ``python tools/houston_scene.py FOLDER [--height H ...]``.
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass

import numpy as np
from osgeo import gdal, osr

#: The Houston 2013 (GRSS data fusion contest) scene.
HEIGHT, WIDTH, BANDS, CLASSES = 349, 1905, 144, 15
PIXEL = 2.5  # metres
EPSG = 32615  # UTM 15N
ORIGIN = (268_000.0, 3_290_000.0)  # upper-left corner, near the University of Houston
_ROWS_PER_WRITE = 64  # rows of the cube made and written at once (about 70 MB of floats at full size)


@dataclass
class HoustonScene:
    hsi: str
    lidar: str
    labels: str
    truth: np.ndarray  # (H, W) class id of every pixel, 1..15


def class_spectra(rng: np.random.Generator, bands: int, classes: int = CLASSES) -> np.ndarray:
    """(classes, bands) reflectances in [0.03, 0.7]: a slope and three bumps each, all different."""
    x = np.linspace(0.0, 1.0, bands)[None, None, :]
    centres, widths = rng.uniform(0, 1, (classes, 3, 1)), rng.uniform(0.05, 0.3, (classes, 3, 1))
    bumps = (rng.uniform(-0.25, 0.35, (classes, 3, 1)) * np.exp(-(((x - centres) / widths) ** 2))).sum(1)
    slope = rng.uniform(0.05, 0.35, (classes, 1)) + rng.uniform(-0.2, 0.3, (classes, 1)) * x[0]
    return np.clip(slope + bumps, 0.03, 0.7)


def parcel_classes(
    rng: np.random.Generator, height: int, width: int, parcel: int, classes: int = CLASSES
) -> tuple[np.ndarray, np.ndarray]:
    """(class id of every pixel, class id of every parcel): the classes dealt evenly over shuffled parcels."""
    rows, cols = -(-height // parcel), -(-width // parcel)
    dealt = rng.permutation(np.resize(np.arange(1, classes + 1), rows * cols)).reshape(rows, cols)
    truth = np.kron(dealt, np.ones((parcel, parcel), dtype=np.int64))[:height, :width]
    return truth, dealt


def parcel_labels(
    rng: np.random.Generator, dealt: np.ndarray, truth: np.ndarray, parcel: int, per_class: int
) -> np.ndarray:
    """Labels on the inner square of ``per_class`` random parcels of each class (0 elsewhere)."""
    margin = max(1, parcel // 6)
    inner = np.zeros((parcel, parcel), dtype=bool)
    inner[margin:-margin, margin:-margin] = True
    order = rng.permutation(dealt.size)
    ids = dealt.reshape(-1)[order]
    # The first per_class parcels of each class in a random order: rank of each parcel within its class.
    rank = np.empty_like(order)
    by_class = np.argsort(ids, kind="stable")
    starts = np.searchsorted(ids[by_class], ids[by_class])
    rank[by_class] = np.arange(ids.size) - starts
    chosen = np.zeros(dealt.size, dtype=bool)
    chosen[order[rank < per_class]] = True
    mask = np.kron(chosen.reshape(dealt.shape), inner)[: truth.shape[0], : truth.shape[1]]
    return np.where(mask, truth, 0).astype(np.uint8)


def _create(path: str, height: int, width: int, bands: int, data_type: int, nodata: float | None) -> gdal.Dataset:
    dataset = gdal.GetDriverByName("GTiff").Create(
        path, width, height, bands, data_type, ["TILED=YES", "INTERLEAVE=BAND", "BIGTIFF=IF_SAFER"]
    )
    dataset.SetGeoTransform((ORIGIN[0], PIXEL, 0.0, ORIGIN[1], 0.0, -PIXEL))
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(EPSG)
    dataset.SetProjection(srs.ExportToWkt())
    if nodata is not None:
        for index in range(1, bands + 1):
            dataset.GetRasterBand(index).SetNoDataValue(nodata)
    return dataset


def build_houston_scene(
    folder: str,
    height: int = HEIGHT,
    width: int = WIDTH,
    bands: int = BANDS,
    parcel: int = 24,
    labelled_per_class: int = 4,
    seed: int = 0,
) -> HoustonScene:
    """Write ``hsi.tif`` (UInt16, reflectance x 10,000), ``lidar.tif`` (Float32 DSM, m) and ``labels.tif``
    (Byte, 0 = unlabelled) into ``folder``."""
    rng = np.random.default_rng(seed)
    truth, dealt = parcel_classes(rng, height, width, parcel)
    spectra = class_spectra(rng, bands).astype(np.float32)
    heights = rng.uniform(0.0, 25.0, CLASSES + 1).astype(np.float32)

    hsi_path = os.path.join(folder, "hsi.tif")
    hsi = _create(hsi_path, height, width, bands, gdal.GDT_UInt16, 0)
    for start in range(0, height, _ROWS_PER_WRITE):
        rows = truth[start : start + _ROWS_PER_WRITE]
        cube = spectra[rows - 1].transpose(2, 0, 1)  # (bands, rows, width)
        noise = rng.standard_normal(cube.shape, dtype=np.float32)
        values = np.clip((cube + 0.01 * noise) * 10_000, 1, 65_535).astype(np.uint16)
        hsi.WriteArray(values, 0, start)
    hsi = None

    lidar_path = os.path.join(folder, "lidar.tif")
    terrain = np.linspace(0.0, 3.0, width, dtype=np.float32)[None, :]
    dsm = heights[truth] + terrain + rng.normal(0.0, 0.3, truth.shape).astype(np.float32)
    lidar = _create(lidar_path, height, width, 1, gdal.GDT_Float32, None)
    lidar.GetRasterBand(1).WriteArray(dsm)
    lidar = None

    labels_path = os.path.join(folder, "labels.tif")
    labels = _create(labels_path, height, width, 1, gdal.GDT_Byte, 0)
    labels.GetRasterBand(1).WriteArray(parcel_labels(rng, dealt, truth, parcel, labelled_per_class))
    labels = None
    return HoustonScene(hsi_path, lidar_path, labels_path, truth)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", help="an existing folder to write hsi.tif, lidar.tif and labels.tif into")
    parser.add_argument("--height", type=int, default=HEIGHT)
    parser.add_argument("--width", type=int, default=WIDTH)
    parser.add_argument("--bands", type=int, default=BANDS)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if not os.path.isdir(args.folder):
        parser.error(f"the folder {args.folder} does not exist")
    scene = build_houston_scene(args.folder, args.height, args.width, args.bands, seed=args.seed)
    print(f"{args.height} x {args.width} pixels, {args.bands} HSI bands + 1 LiDAR band: {scene.hsi} {scene.lidar}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
