"""Classification on Dask distributed: a real scheduler and worker processes on loopback give the same map."""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from osgeo import gdal
from scenes import tiny_parameters

from ncglf2.core.apps.cli import main
from ncglf2.core.errors import Cancelled, ClusterError, InputError
from ncglf2.core.jobs import classify, train
from ncglf2.core.pipeline import cluster as cluster_module
from ncglf2.core.requests import ClassifyRequest, TrainRequest

distributed = pytest.importorskip("distributed")

pytestmark = pytest.mark.slow

# Columns 2-39 and rows 0-29 of the 42 x 36 tiny scene (1 m pixels): the nodata corner's columns 2-3 inside.
EXTENT = (660002.0, 5100000.0, 660040.0, 5100030.0)
OUTPUTS = ("out", "confidence", "probabilities", "margin")


def read(path):
    return gdal.Open(str(path)).ReadAsArray()


class Recorder:
    """The progress protocol, keeping what it heard; ``when`` runs once, at the first share done above 0."""

    def __init__(self, when=None, cancel_after_first=False):
        self.percents, self.lines, self.when, self.cancel_after_first = [], [], when, cancel_after_first

    def set_progress(self, percent):
        self.percents.append(percent)
        if percent > 0 and self.when is not None:
            when, self.when = self.when, None
            when()

    def is_canceled(self):
        return self.cancel_after_first and any(p > 0 for p in self.percents)

    def info(self, message):
        self.lines.append(message)


def request_in(folder, tiny_model, **changes):
    scene, model, _ = tiny_model
    request = ClassifyRequest(
        model=model,
        hsi=scene.hsi,
        lidar=[scene.dsm],
        out=str(folder / "classes.tif"),
        confidence=str(folder / "confidence.tif"),
        probabilities=str(folder / "probabilities.tif"),
        margin=str(folder / "margin.tif"),
        device="cpu",
        extent=EXTENT,
        tile_size=8,
    )
    return dataclasses.replace(request, **changes)


@pytest.fixture(scope="module")
def client():
    """A scheduler and two workers of one thread started by hand, the way a cluster is, shared by the tests of
    this module; without a nanny, so that a killed worker stays dead."""
    with (
        distributed.LocalCluster(n_workers=0, host="127.0.0.1", dashboard_address=None) as cluster,
        distributed.Client(cluster) as client,
    ):
        command = [sys.executable, "-m", "distributed.cli.dask_worker", cluster.scheduler_address]
        command += ["--nthreads", "1", "--no-nanny", "--no-dashboard", "--host", "127.0.0.1"]
        environment = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
        quiet = dict(stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        workers = [subprocess.Popen(command, env=environment, **quiet) for _ in range(2)]
        try:
            client.wait_for_workers(2, timeout=120)
            yield client
        finally:
            for worker in workers:
                worker.terminate()
            for worker in workers:
                worker.wait(timeout=30)


@pytest.fixture(scope="module")
def single(tiny_model, tmp_path_factory):
    """The outputs of the single-process path, which every distributed run must equal."""
    folder = tmp_path_factory.mktemp("single")
    result = classify(request_in(folder, tiny_model))
    assert result.pixels > 0
    return folder


def assert_same_outputs(folder, single):
    classes, expected = read(folder / "classes.tif"), read(single / "classes.tif")
    assert classes.dtype == expected.dtype and classes.tobytes() == expected.tobytes()
    assert (folder / "classes.tif").read_bytes() == (single / "classes.tif").read_bytes()
    assert (classes == 0).any() and len(np.unique(classes[classes > 0])) >= 2  # nodata and several classes
    for name in ("confidence", "probabilities", "margin"):
        np.testing.assert_allclose(read(folder / f"{name}.tif"), read(single / f"{name}.tif"), rtol=0, atol=1e-6)


def tiles_left(client, seconds=10.0):
    """The tile tasks the scheduler still knows, once the client's releases (sent in the background) arrived."""
    deadline = time.monotonic() + seconds
    while True:
        left = client.run_on_scheduler(
            lambda dask_scheduler: [str(key) for key in dask_scheduler.tasks if "ncglf2-tile" in str(key)]
        )
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.1)


def test_the_command_line_on_a_local_cluster_writes_the_single_process_map(tiny_model, single, tmp_path, capsys):
    scene, model, _ = tiny_model
    arguments = ["classify", "--model", model, "--hsi", scene.hsi, "--lidar", scene.dsm, "--device", "cpu"]
    arguments += ["--extent", *map(str, EXTENT), "--tile-size", "8", "--dask", "local:2"]
    for name in OUTPUTS:
        arguments += [f"--{name}", str(tmp_path / ("classes.tif" if name == "out" else f"{name}.tif"))]
    assert main(arguments) == 0
    assert_same_outputs(tmp_path, single)
    said = capsys.readouterr().err
    assert "2 worker process(es)" in said and "20 tiles on Dask workers" in said


def test_a_client_of_the_api_gets_the_single_process_map_with_progress_in_tiles(client, tiny_model, single, tmp_path):
    progress = Recorder()
    result = classify(request_in(tmp_path, tiny_model), progress, client=client)
    assert_same_outputs(tmp_path, single)
    assert result.pixels == int((read(single / "classes.tif") > 0).sum())
    assert progress.percents[-1] == 100 and progress.percents == sorted(progress.percents)
    assert len(set(progress.percents)) == 21  # 0 and one step per tile: 20 tiles of 8 x 8 pixels at most
    assert any("20 tiles" in line and client.scheduler.address in line for line in progress.lines)
    assert not tiles_left(client)  # nothing left on the cluster


def test_an_input_a_worker_cannot_read_is_named_before_any_tile(client, tiny_model, tmp_path):
    """A raster only this process sees (GDAL's in-memory files are per process) stands for missing shared storage."""
    scene, _, _ = tiny_model
    private = "/vsimem/only_here_hsi.tif"
    gdal.GetDriverByName("GTiff").CreateCopy(private, gdal.Open(scene.hsi))
    try:
        progress = Recorder()
        with pytest.raises(InputError) as error:
            classify(request_in(tmp_path, tiny_model, hsi=private), progress, client=client)
    finally:
        gdal.Unlink(private)
    message = str(error.value)
    workers = sorted(client.scheduler_info()["workers"])
    assert all(f"Dask worker {worker}: HSI raster {private}" in message for worker in workers), message
    assert "\n" not in message and "same paths" in message
    assert os.listdir(tmp_path) == [] and not progress.percents  # no output, not even a temporary; no tile
    assert not tiles_left(client, seconds=0)


def test_cuda_needs_workers_with_the_gpu_resource(client, tiny_model, tmp_path):
    with pytest.raises(InputError, match=r"offers the GPU resource .*--resources GPU=1"):
        classify(request_in(tmp_path, tiny_model, device="cuda"), client=client)
    assert os.listdir(tmp_path) == []


def test_cancel_stops_the_tiles_and_leaves_the_earlier_outputs(client, tiny_model, tmp_path):
    earlier = {name: tmp_path / f"{name}.tif" for name in ("classes", "confidence", "probabilities", "margin")}
    for number, path in enumerate(earlier.values()):
        path.write_bytes(b"an earlier run's file %d" % number)
    progress = Recorder(cancel_after_first=True)
    with pytest.raises(Cancelled):
        classify(request_in(tmp_path, tiny_model, overwrite=True), progress, client=client)
    assert sorted(os.listdir(tmp_path)) == sorted(p.name for p in earlier.values())  # no temporary left
    for number, path in enumerate(earlier.values()):
        assert path.read_bytes() == b"an earlier run's file %d" % number
    assert 0 < max(progress.percents) < 100
    assert not tiles_left(client)  # the tiles in flight were cancelled


def test_an_ensemble_model_gives_the_single_process_map(client, tiny_model, tmp_path):
    """The members travel as one model file: each worker loads the whole ensemble once."""
    scene, _, _ = tiny_model
    model = str(tmp_path / "ensemble.ncglf2")
    params = tiny_parameters(members=2, epochs=4)
    train(TrainRequest(hsi=scene.hsi, lidar=[scene.dsm], labels=scene.labels, out=model, params=params))
    (tmp_path / "single").mkdir()
    (tmp_path / "dask").mkdir()
    classify(request_in(tmp_path / "single", tiny_model, model=model))
    classify(request_in(tmp_path / "dask", tiny_model, model=model), client=client)
    assert_same_outputs(tmp_path / "dask", tmp_path / "single")


def test_a_worker_killed_during_the_run_has_its_tiles_run_again(client, tiny_model, single, tmp_path):
    before = client.run(os.getpid)
    victim = sorted(before)[0]

    def kill_one_worker():
        os.kill(before[victim], signal.SIGKILL)

    progress = Recorder(when=kill_one_worker)
    classify(request_in(tmp_path, tiny_model), progress, client=client)
    assert_same_outputs(tmp_path, single)
    assert progress.percents[-1] == 100
    assert client.run(os.getpid) == {w: pid for w, pid in before.items() if w != victim}  # it did die, and stays dead


def test_a_run_whose_workers_all_die_says_so_and_writes_nothing(client, tiny_model, tmp_path, monkeypatch):
    """The scheduler would keep the tiles waiting for a worker forever; the run gives up and says why.

    Last of the module: it kills the workers that are left."""
    monkeypatch.setattr(cluster_module, "LOST_WORKERS_SECONDS", 2.0)
    earlier = tmp_path / "classes.tif"
    earlier.write_bytes(b"an earlier run's map")
    pids = list(client.run(os.getpid).values())

    def kill_every_worker():
        for pid in pids:
            os.kill(pid, signal.SIGKILL)

    progress = Recorder(when=kill_every_worker)
    started = time.monotonic()
    with pytest.raises(ClusterError, match=r"no worker for the tiles for 2 s \(\d+ of 20 tiles done\)"):
        classify(request_in(tmp_path, tiny_model, overwrite=True), progress, client=client)
    assert time.monotonic() - started < 60
    assert not tiles_left(client)  # the tiles in flight were cancelled
    assert os.listdir(tmp_path) == ["classes.tif"] and earlier.read_bytes() == b"an earlier run's map"
