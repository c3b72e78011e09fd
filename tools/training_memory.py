"""Peak memory and seconds per epoch of training against the number of labelled pixels.

    .venv/bin/python tools/training_memory.py [--sizes 20000,50000,100000,200000] [--epochs 1]

One generated scene (40-band HSI + DSM, 500 x 500 pixels, four classes in
blocks); for each size a label raster with that many labelled pixels (seeded),
and a training job on all of them (samples per class: all) in its own child
process, so each peak RSS is that job's alone.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

SIZE = 500
BANDS = 40
#: All labelled pixels, a small network, few epochs: the patches, not the network, dominate memory.
PARAMETERS = dict(
    epochs=1,
    batch_size=256,
    learning_rate=1e-3,
    samples_per_class=None,
    validation_split="random",  # every labelled pixel trains or validates: the counts below are exact
    patch_size=5,
    pca_components=32,
    width=8,
    depth=1,
    heads=2,
    seed=0,
    device="cpu",
)


def write_scene(folder: Path) -> tuple[str, str, np.ndarray]:
    """(HSI path, DSM path, class of every pixel) of a seeded scene of four classes in 20-pixel blocks."""
    from rasters import write_raster

    rng = np.random.default_rng(0)
    blocks = rng.integers(1, 5, size=(SIZE // 20, SIZE // 20))
    truth = np.kron(blocks, np.ones((20, 20), dtype=np.int64))
    spectra = rng.random((4, BANDS))
    cube = spectra[truth - 1].transpose(2, 0, 1) + rng.normal(0, 0.05, (BANDS, SIZE, SIZE))
    hsi = write_raster(folder / "hsi.tif", np.round(cube * 10000).clip(1, 65535).astype(np.uint16), nodata=0)
    dsm = write_raster(folder / "dsm.tif", (3.0 * (truth == 2) + rng.normal(0, 0.3, truth.shape)).astype(np.float32))
    return hsi, dsm, truth


def write_labels(path: Path, truth: np.ndarray, count: int) -> str:
    """A label raster with ``count`` labelled pixels picked at random (seeded) from ``truth``."""
    from rasters import write_raster

    labels = np.zeros(truth.size, dtype=np.uint8)
    chosen = np.random.default_rng(1).choice(truth.size, size=count, replace=False)
    labels[chosen] = truth.reshape(-1)[chosen]
    return write_raster(path, labels.reshape(truth.shape), nodata=0)


def train_once(hsi: str, dsm: str, labels: str, out: str, epochs: int) -> dict:
    """Train in this process; peak RSS (MB) and training seconds per epoch."""
    from ncglf2.core.io.model_file import load_model
    from ncglf2.core.jobs import train
    from ncglf2.core.requests import TrainingParameters, TrainRequest

    params = TrainingParameters(**{**PARAMETERS, "epochs": epochs})
    started = time.perf_counter()
    outcome = train(TrainRequest(hsi=hsi, lidar=[dsm], labels=labels, out=out, params=params))
    seconds = time.perf_counter() - started
    training = float(load_model(out).provenance["training_seconds"])
    return {
        "labelled": outcome.train_pixels + outcome.validation_pixels + outcome.test_pixels,
        "train_pixels": outcome.train_pixels,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "seconds_per_epoch": training / epochs,
        "job_seconds": seconds,
    }


def measure(sizes: list[int], epochs: int = 1, folder: Path | None = None, show=None) -> list[dict]:
    """One child process per size; their figures in order of ``sizes`` (each also to ``show`` as it comes)."""
    with tempfile.TemporaryDirectory(dir=folder) as temporary:
        root = Path(temporary)
        hsi, dsm, truth = write_scene(root)
        results = []
        for count in sizes:
            labels = write_labels(root / f"labels_{count}.tif", truth, count)
            out = str(root / f"model_{count}.ncglf2")
            child = subprocess.run(
                [sys.executable, __file__, "--child", hsi, dsm, labels, out, str(epochs)],
                capture_output=True,
                text=True,
            )
            if child.returncode != 0:
                raise RuntimeError(f"training on {count} labelled pixels failed:\n{child.stderr}")
            results.append(json.loads(child.stdout.strip().splitlines()[-1]))
            if show:
                show(results[-1])
    return results


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--child"]:
        hsi, dsm, labels, out, epochs = argv[1:]
        print(json.dumps(train_once(hsi, dsm, labels, out, int(epochs))))
        return 0
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="20000,50000,100000,200000", help="labelled pixels, comma-separated")
    parser.add_argument("--epochs", type=int, default=1)
    args = parser.parse_args(argv)
    print("labelled pixels  training pixels  peak RSS (MB)  s/epoch  job s", flush=True)

    def show(row: dict) -> None:
        print(
            f"{row['labelled']:15d}  {row['train_pixels']:15d}  {row['peak_rss_mb']:13.0f}  "
            f"{row['seconds_per_epoch']:7.2f}  {row['job_seconds']:5.1f}",
            flush=True,
        )

    measure([int(s) for s in args.sizes.split(",")], args.epochs, show=show)
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "core"))
    sys.exit(main())
