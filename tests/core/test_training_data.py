"""Training data: streamed patches equal gathered ones, labels on nodata are left out, divergence stops training."""

import dataclasses
import os
import re
import signal
import subprocess
import sys
import tempfile

import numpy as np
import pytest
import torch
from rasters import write_raster
from scenes import build_tiny_scene, tiny_parameters

from ncglf2.core import Cancelled, InputError
from ncglf2.core.errors import NCGLF2Error
from ncglf2.core.io.labels import read_labels
from ncglf2.core.io.stack import open_inputs
from ncglf2.core.jobs import train
from ncglf2.core.nn.model import NetworkConfig
from ncglf2.core.pipeline.preprocess import fit_preprocessing
from ncglf2.core.pipeline.sampling import split_samples
from ncglf2.core.pipeline.tiling import read_validity
from ncglf2.core.pipeline.training import (
    TensorPatches,
    TrainingDiverged,
    build_patch_cache,
    fit_network,
    gather_patches,
)
from ncglf2.core.requests import TrainingParameters, TrainRequest


class Recorder:
    """Keeps the log lines; cancels once the progress passes ``cancel_at`` percent."""

    def __init__(self, cancel_at: float | None = None, on_info=None) -> None:
        self.lines: list[str] = []
        self.cancel_at, self.on_info, self.percent = cancel_at, on_info, 0.0

    def set_progress(self, percent: float) -> None:
        self.percent = percent

    def is_canceled(self) -> bool:
        return self.cancel_at is not None and self.percent >= self.cancel_at

    def info(self, message: str) -> None:
        self.lines.append(message)
        if self.on_info:
            self.on_info(message)


@pytest.fixture(scope="module")
def wide_scene(tmp_path_factory):
    """600 pixels wide, so the labelled pixels fall in two read tiles, some on the image's edges."""
    folder = tmp_path_factory.mktemp("wide")
    rng = np.random.default_rng(4)
    hsi = write_raster(folder / "hsi.tif", rng.uniform(100, 1000, (6, 23, 600)).astype(np.float32))
    dsm = write_raster(folder / "dsm.tif", rng.normal(5, 2, (23, 600)).astype(np.float32))
    index = rng.choice(23 * 600, size=400, replace=False)
    rows = np.concatenate([index // 600, [0, 22, 0, 0, 22, 11]]).astype(np.int32)
    cols = np.concatenate([index % 600, [0, 599, 511, 512, 510, 300]]).astype(np.int32)
    return hsi, dsm, rows, cols


@pytest.mark.parametrize("block_side", [8, 32, 512, None])
def test_cached_patches_equal_gathered_patches(wide_scene, tmp_path, block_side):
    hsi, dsm, rows, cols = wide_scene
    with open_inputs(hsi, [dsm]) as stack:
        preprocessing = fit_preprocessing(stack, 4)
        gathered = gather_patches(stack, preprocessing, rows, cols, 7)
        cache = build_patch_cache(stack, preprocessing, rows, cols, 7, block_side=block_side, folder=str(tmp_path))
    assert len(cache) == rows.size
    order = torch.from_numpy(np.random.default_rng(0).permutation(rows.size))
    streamed = torch.cat([cache.take(order[i : i + 64]) for i in range(0, rows.size, 64)])
    assert streamed.shape == (rows.size, 5, 7, 7) and streamed.is_contiguous()
    cache.close()
    assert torch.equal(streamed, gathered[order])
    corner = streamed[order == rows.size - 6][0]  # pixel (0, 0): zero outside the image, real values inside
    assert (corner[:, :3, :] == 0).all() and (corner[:, :, :3] == 0).all() and (corner[:, 3:, 3:] != 0).all()


def test_streamed_training_equals_in_memory_training(tmp_path):
    scene = build_tiny_scene(tmp_path)
    params = tiny_parameters(epochs=4)
    with open_inputs(scene.hsi, [scene.dsm]) as stack:
        labels = read_labels(scene.labels, stack.grid)
        split = split_samples(labels, params.samples_per_class, params.validation_fraction, params.seed)
        preprocessing = fit_preprocessing(stack, params.pca_components)
        parts = {}
        for name, chosen in (("train", split.train), ("validation", split.validation)):
            rows, cols = labels.rows[chosen], labels.cols[chosen]
            parts[name] = (
                gather_patches(stack, preprocessing, rows, cols, params.patch_size),
                build_patch_cache(stack, preprocessing, rows, cols, params.patch_size),
                torch.from_numpy(labels.class_ids[chosen].astype(np.int64) - 1),
            )
    config = NetworkConfig(num_classes=3, patch_size=5, hsi_channels=4, lidar_channels=1, width=16, depth=1, heads=4)
    (train_x, train_cache, train_y), (val_x, val_cache, val_y) = parts["train"], parts["validation"]
    in_memory = fit_network(config, TensorPatches(train_x), train_y, TensorPatches(val_x), val_y, params)
    streamed = fit_network(config, train_cache, train_y, val_cache, val_y, params)
    assert streamed.history.to_dict() == in_memory.history.to_dict()
    assert np.array_equal(streamed.validation_predictions, in_memory.validation_predictions)
    expected = in_memory.network.state_dict()
    assert all(torch.equal(value, expected[key]) for key, value in streamed.network.state_dict().items())


def open_files_in(folder, pid: int | str = "self") -> list[str]:
    """What a process's open files under ``folder`` are (Linux names a deleted one "... (deleted)")."""
    names = []
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            names.append(os.readlink(f"/proc/{pid}/fd/{fd}"))
        except FileNotFoundError:  # the descriptor listing the folder, closed by now
            pass
    return [name for name in names if name.startswith(str(folder))]


linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")


@linux_only
def test_patch_cache_files_vanish_after_training_and_after_cancel(tmp_path, monkeypatch):
    scene = build_tiny_scene(tmp_path)
    temporary = tmp_path / "temporary"
    temporary.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temporary))
    seen = []

    def look(message):
        if message.startswith("epoch 1/"):
            seen.extend(open_files_in(temporary) + [p.name for p in temporary.iterdir()])

    request = TrainRequest(
        hsi=scene.hsi, lidar=[scene.dsm], labels=scene.labels, out=str(tmp_path / "m.ncglf2"), params=tiny_parameters()
    )
    train(request, Recorder(on_info=look))
    assert len(seen) == 2 and all(name.endswith("(deleted)") for name in seen)  # two caches there, with no name
    assert open_files_in(temporary) == [] and list(temporary.iterdir()) == []
    with pytest.raises(Cancelled):
        train(dataclasses.replace(request, out=str(tmp_path / "n.ncglf2")), Recorder(cancel_at=50))
    assert open_files_in(temporary) == [] and list(temporary.iterdir()) == []
    assert not (tmp_path / "n.ncglf2").exists()


KILLED_TRAINING = """
import sys
from scenes import build_tiny_scene, tiny_parameters
from ncglf2.core.jobs import train
from ncglf2.core.requests import TrainRequest
scene = build_tiny_scene(__import__("pathlib").Path(sys.argv[1]))

class Say:
    def set_progress(self, percent): pass
    def is_canceled(self): return False
    def info(self, message): print(message, flush=True)

train(TrainRequest(hsi=scene.hsi, lidar=[scene.dsm], labels=scene.labels, out=sys.argv[1] + "/m.ncglf2",
                   params=tiny_parameters(epochs=10000)), Say())
"""


@linux_only
def test_a_killed_training_leaves_no_cache_behind(tmp_path):
    temporary = tmp_path / "temporary"
    temporary.mkdir()
    child = subprocess.Popen(
        [sys.executable, "-c", KILLED_TRAINING, str(tmp_path)],
        stdout=subprocess.PIPE,
        text=True,
        env=dict(os.environ, TMPDIR=str(temporary), PYTHONPATH=os.pathsep.join(sys.path)),
    )
    try:
        for line in child.stdout:
            if line.startswith("epoch 1/"):
                break
        caches = open_files_in(temporary, child.pid)
        os.kill(child.pid, signal.SIGKILL)  # what the out-of-memory killer, or an engine ended after cancel, gets
    finally:
        child.kill()
        child.wait()
    assert len(caches) == 2 and all(name.endswith("(deleted)") for name in caches)
    assert list(temporary.iterdir()) == [] and not (tmp_path / "m.ncglf2").exists()


# ------------------------------------------------------------------ nodata


def nodata_scene(folder, class_3_pixels: int = 60):
    """Labels of three classes, some on HSI nodata (declared -9999, or NaN) and some on LiDAR nodata (NaN, -1).

    Returns the paths, the labelled pixels' validity and how many of each class sit on nodata.
    """
    rng = np.random.default_rng(2)
    height, width = 30, 40
    truth = np.repeat(np.array([1, 2, 3]), [14, 13, 13])[None, :].repeat(height, axis=0)
    spectra = np.array([[0.2, 0.4, 0.6, 0.8, 0.5, 0.3], [0.8, 0.6, 0.4, 0.2, 0.5, 0.7], [0.5] * 6])
    hsi = (spectra[truth - 1].transpose(2, 0, 1) * 1000 + rng.normal(0, 10, (6, height, width))).astype(np.float32)
    dsm = (np.where(truth == 2, 8.0, 1.0) + rng.normal(0, 0.2, truth.shape)).astype(np.float32)
    labels = np.where(rng.random(truth.shape) < 0.5, truth, 0).astype(np.uint8)
    labels[0, 0] = 0
    three = np.argwhere(labels == 3)
    labels[tuple(three[class_3_pixels:].T)] = 0
    labelled = [np.argwhere(labels == c) for c in (1, 2, 3)]
    hsi[2][tuple(labelled[0][:5].T)] = -9999  # declared HSI nodata in one band
    dsm[tuple(labelled[0][5:8].T)] = -1  # declared LiDAR nodata
    hsi[4][tuple(labelled[1][:4].T)] = np.nan  # NaN in one HSI band
    dsm[tuple(labelled[2][:6].T)] = np.nan  # NaN LiDAR
    hsi[0, 0, 0] = np.nan  # an unlabelled pixel on nodata is no concern
    paths = (
        write_raster(folder / "hsi.tif", hsi, nodata=-9999),
        write_raster(folder / "dsm.tif", dsm, nodata=-1),
        write_raster(folder / "labels.tif", labels, nodata=0),
    )
    return paths, {1: 8, 2: 4, 3: 6}, sum(len(p) for p in labelled)


def test_validity_of_labelled_pixels(tmp_path):
    (hsi, dsm, labels_path), skipped, total = nodata_scene(tmp_path)
    with open_inputs(hsi, [dsm]) as stack:
        labels = read_labels(labels_path, stack.grid)
        valid = read_validity(stack, labels.rows, labels.cols, tile_size=16)
    assert valid.size == total
    lost = {c: int(np.count_nonzero(~valid[labels.class_ids == c])) for c in (1, 2, 3)}
    assert lost == skipped


def test_labels_on_nodata_are_left_out(tmp_path):
    (hsi, dsm, labels), skipped, total = nodata_scene(tmp_path)
    progress = Recorder()
    outcome = train(
        TrainRequest(
            hsi=hsi,
            lidar=[dsm],
            labels=labels,
            out=str(tmp_path / "m.ncglf2"),
            params=tiny_parameters(
                epochs=2, samples_per_class=None, validation_fraction=0.2, validation_split="random"
            ),
        ),
        progress,
    )
    assert outcome.train_pixels + outcome.validation_pixels == total - 18
    assert outcome.test_pixels == 0
    assert (
        f"18 labelled pixels of {labels} fall on nodata or NaN in the HSI or LiDAR and are left out "
        "(class 1: 8, class 2: 4, class 3: 6)"
    ) in progress.lines


@pytest.mark.parametrize("class_3_pixels,message", [(24, "keeps 18 of 24"), (6, "keeps 0 of 6")])
def test_class_left_short_by_nodata_is_refused(tmp_path, class_3_pixels, message):
    (hsi, dsm, labels), _, _ = nodata_scene(tmp_path, class_3_pixels)
    with pytest.raises(InputError, match=re.escape(f"'class 3' (id 3) {message}")) as error:
        train(
            TrainRequest(
                hsi=hsi,
                lidar=[dsm],
                labels=labels,
                out=str(tmp_path / "m.ncglf2"),
                params=tiny_parameters(samples_per_class=20),
            )
        )
    assert "20 samples per class are asked" in str(error.value) and labels in str(error.value)
    assert "'class 1'" not in str(error.value)  # still 20 or more
    assert not (tmp_path / "m.ncglf2").exists()


# ------------------------------------------------------------------ divergence


def test_infinite_learning_rate_is_refused():
    with pytest.raises(InputError, match="learning rate must be a finite number \\(got inf\\)"):
        TrainingParameters(learning_rate=float("inf"))
    with pytest.raises(InputError, match="learning rate must be positive"):
        TrainingParameters(learning_rate=0.0)


def test_diverging_training_stops_and_saves_nothing(tmp_path):
    scene = build_tiny_scene(tmp_path)
    out, report = tmp_path / "m.ncglf2", tmp_path / "train.html"
    request = TrainRequest(
        hsi=scene.hsi,
        lidar=[scene.dsm],
        labels=scene.labels,
        out=str(out),
        report=str(report),
        params=tiny_parameters(learning_rate=1e30),
    )
    with pytest.raises(TrainingDiverged) as error:
        train(request)
    message = str(error.value)
    assert re.search(r"training diverged at epoch 1, batch 2 of 2: the loss is (nan|inf)", message), message
    assert "learning rate 1e+30" in message and "lower the learning rate" in message
    assert isinstance(error.value, NCGLF2Error)
    assert not out.exists() and not report.exists() and list(tmp_path.glob("train*")) == []
