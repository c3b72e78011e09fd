"""Outputs are never lost, corrupted or clobbered: full disks, outputs over inputs, races, kills.

The full-disk cases write onto a real, small tmpfs (mounting needs root; skipped where it cannot be mounted).
"""

from __future__ import annotations

import os
import shutil
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from osgeo import gdal
from rasters import write_raster
from scenes import build_tiny_scene, tiny_parameters

from ncglf2.core.errors import InputError, OutputError
from ncglf2.core.io.outputs import OutputSet, remove_stale_temporaries
from ncglf2.core.jobs import assess, classify, train
from ncglf2.core.requests import AssessRequest, ClassifyRequest, TrainRequest

NCGLF2 = [sys.executable, "-m", "ncglf2.core.apps.cli"]


@pytest.fixture(scope="module")
def trained(tiny_model):
    return tiny_model


@pytest.fixture(scope="module")
def wide_scene(tmp_path_factory):
    """The tiny scene's classes on a wider raster: enough output to fill a small disk."""
    return build_tiny_scene(tmp_path_factory.mktemp("wide"), height=96, width=96)


@pytest.fixture
def small_disk(tmp_path):
    """mount(kilobytes) -> a folder on a fresh tmpfs of that size, unmounted afterwards."""
    mounted = []

    def mount(kilobytes: int) -> Path:
        point = tmp_path / f"disk{len(mounted)}"
        point.mkdir()
        done = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={kilobytes}k", "tmpfs", str(point)], capture_output=True
        )
        if done.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
        mounted.append(point)
        return point

    yield mount
    for point in mounted:
        subprocess.run(["umount", "-l", str(point)], check=False)


def _train_request(scene, **fields) -> TrainRequest:
    return TrainRequest(hsi=scene.hsi, lidar=[scene.dsm], labels=scene.labels, **fields)


def _request(scene, model, out, **fields) -> ClassifyRequest:
    return ClassifyRequest(model=model, hsi=scene.hsi, lidar=[scene.dsm], out=str(out), device="cpu", **fields)


def _names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name != "lost+found")


class _Hook:
    """A progress listener that does something once, the first time the run reports progress."""

    def __init__(self, action):
        self.action, self.lines = action, []

    def set_progress(self, percent):
        if self.action is not None and percent > 0:
            action, self.action = self.action, None
            action()

    def is_canceled(self):
        return False

    def info(self, message):
        self.lines.append(message)


# Full disks ---------------------------------------------------------------------------------------------------


def test_full_disk_during_classify_leaves_nothing_under_a_final_name(trained, wide_scene, small_disk):
    _, model, _ = trained
    disk = small_disk(60)  # passes the up-front estimate (about 37 kB at least), the rasters need about 100 kB
    request = _request(
        wide_scene, model, disk / "classes.tif", confidence=str(disk / "conf.tif"), probabilities=str(disk / "p.tif")
    )
    with pytest.raises(OutputError) as error:
        classify(replace_tile(request, 32))
    message = str(error.value)
    assert message.startswith("no space left on device writing ") and str(disk) in message
    assert "MB needed" in message and "\n" not in message
    assert _names(disk) == []  # no final name, no temporary, no sidecar, no style


def replace_tile(request: ClassifyRequest, tile_size: int) -> ClassifyRequest:
    return ClassifyRequest.from_dict({**request.to_dict(), "tile_size": tile_size})


def test_classify_refuses_a_disk_that_is_clearly_too_small_before_work(trained, wide_scene, small_disk):
    _, model, _ = trained
    disk = small_disk(16)
    hook = _Hook(None)
    with pytest.raises(OutputError, match=r"not enough free space in .*disk0: the outputs need at least"):
        classify(_request(wide_scene, model, disk / "c.tif", probabilities=str(disk / "p.tif")), hook)
    assert _names(disk) == [] and not any("pixels" in line for line in hook.lines)


def test_a_disk_that_fills_while_copying_into_cogs_leaves_nothing(trained, small_disk):
    scene, model, _ = trained
    # In 4 kB pages, the GeoTIFFs and the style take 40 kB; the class map's and the confidence's copies fit beside
    # them (each GeoTIFF goes once copied), the probabilities' 20 kB copy does not.
    disk = small_disk(52)
    request = _request(scene, model, disk / "c.tif", confidence=str(disk / "k.tif"), probabilities=str(disk / "p.tif"))
    hook = _Hook(None)
    with pytest.raises(OutputError) as error:
        classify(ClassifyRequest.from_dict({**request.to_dict(), "format": "COG"}), hook)
    assert str(error.value).startswith(f"no space left on device writing {disk / 'p.tif'} (up to about ")
    assert sum("Cloud Optimized GeoTIFF" in line for line in hook.lines) == 3
    assert _names(disk) == []


def test_saving_a_model_on_a_full_disk_names_the_model_file(trained, small_disk):
    scene, _, _ = trained
    disk = small_disk(48)  # the tiny model takes about 125 kB
    out = disk / "m.ncglf2"
    with pytest.raises(OutputError, match=rf"no space left on device writing {out} \("):
        train(_train_request(scene, out=str(out), params=tiny_parameters(epochs=1)))
    assert _names(disk) == []


def test_model_and_report_are_one_set_when_the_report_fails(trained, tmp_path, small_disk):
    """--overwrite with a report that cannot be written: the old model and the old report both stay."""
    scene, _, _ = trained
    model = tmp_path / "m.ncglf2"
    model.write_bytes(b"the earlier model")
    disk = small_disk(8)  # the report's picture alone takes more
    report = disk / "train.html"
    report.write_text("the earlier report")
    with pytest.raises(OutputError, match="no space left on device writing .*train"):
        train(
            _train_request(
                scene,
                out=str(model),
                report=str(report),
                overwrite=True,
                params=tiny_parameters(epochs=1),
            )
        )
    assert model.read_bytes() == b"the earlier model" and report.read_text() == "the earlier report"
    assert _names(disk) == ["train.html"] and _names(tmp_path) == ["disk0", "m.ncglf2"]


# Outputs over inputs, folders, races ------------------------------------------------------------------------


def test_outputs_over_inputs_are_refused_even_with_overwrite(trained, tmp_path):
    scene, model, folder = trained
    before = Path(model).read_bytes()
    link = tmp_path / "link.ncglf2"
    link.symlink_to(model)
    hard = tmp_path / "hard.tif"
    os.link(scene.hsi, hard)
    cases = [
        dict(out=model),
        dict(out=str(tmp_path / "c.tif"), confidence=model),
        dict(out=str(link)),  # through a symbolic link
        dict(out=str(hard)),  # a hard link to the HSI
        dict(out=str(tmp_path / "c.tif"), probabilities=scene.dsm),
        dict(out=str(tmp_path / "c.tif"), confidence=str(tmp_path / "c.tif.aux.xml")),  # the map's own sidecar
    ]
    for fields in cases:
        out = fields.pop("out")
        with pytest.raises(InputError, match="would destroy the input|are the same file"):
            classify(_request(scene, model, out, overwrite=True, **fields))
    assert Path(model).read_bytes() == before


def test_training_and_assessment_outputs_over_their_inputs_are_refused(trained, tmp_path):
    scene, model, folder = trained
    csv = tmp_path / "classes.csv"
    csv.write_text("id,name\n1,one\n2,two\n3,three\n")
    shutil.copy(csv, tmp_path / "t.json")
    validation = tmp_path / "validation.tif"
    shutil.copy(scene.labels, validation)
    kept = validation.read_bytes()
    with pytest.raises(InputError, match="would destroy the input"):
        train(
            _train_request(
                scene,
                validation=str(validation),
                out=str(validation),
                overwrite=True,
                params=tiny_parameters(),
            )
        )
    with pytest.raises(InputError, match="would destroy the input"):
        train(
            _train_request(
                scene,
                class_csv=str(tmp_path / "t.json"),
                out=str(tmp_path / "m.ncglf2"),
                report=str(tmp_path / "t.html"),  # its JSON is t.json, the class table
                overwrite=True,
                params=tiny_parameters(),
            )
        )
    with pytest.raises(InputError, match="would destroy the input"):
        assess(
            AssessRequest(
                classification=scene.labels,
                reference=scene.labels,
                out_html=str(tmp_path / "a.html"),
                json_path=str(csv),
                class_csv=str(csv),
                overwrite=True,
            )
        )
    assert validation.read_bytes() == kept and csv.read_text().startswith("id,name")


def test_an_output_that_is_a_folder_is_refused_before_work(trained, tmp_path):
    scene, model, _ = trained
    (tmp_path / "c.tif").mkdir()
    hook = _Hook(None)
    with pytest.raises(InputError, match=r"c\.tif is a folder"):
        classify(_request(scene, model, tmp_path / "c.tif", overwrite=True), hook)
    assert not hook.lines or not any("pixels" in line for line in hook.lines)
    assert _names(tmp_path) == ["c.tif"]


def test_a_failing_final_rename_cleans_up(trained, tmp_path):
    """The map's name becomes a folder while the run works: the run fails and leaves no temporary file."""
    scene, model, _ = trained
    out = tmp_path / "c.tif"
    with pytest.raises(OutputError, match=r"c\.tif is a folder"):
        classify(_request(scene, model, out, overwrite=True, confidence=str(tmp_path / "f.tif")), _Hook(out.mkdir))
    assert _names(tmp_path) == ["c.tif"] and out.is_dir()


def test_a_file_that_appears_meanwhile_is_never_replaced(trained, tmp_path):
    """Two runs writing the same map without overwrite: the one that finishes second fails and keeps the first's."""
    scene, model, _ = trained
    out = tmp_path / "c.tif"

    def other_run():  # a whole second classification into the same files, finished first
        classify(_request(scene, model, out, tile_size=16, confidence=str(tmp_path / "f.tif")))

    with pytest.raises(OutputError, match=r"c\.tif appeared while this run was working"):
        classify(_request(scene, model, out, tile_size=16, confidence=str(tmp_path / "f.tif")), _Hook(other_run))
    first = gdal.Open(str(out)).ReadAsArray()
    assert first.shape == (36, 42) and set(np.unique(first)) <= {0, 1, 2, 3}
    assert _names(tmp_path) == ["c.qml", "c.tif", "c.tif.aux.xml", "f.tif"]


def test_stale_temporaries_of_a_killed_run_are_removed_and_live_ones_kept(tmp_path):
    out = tmp_path / "c.tif"
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    host_part = OutputSet([("map", str(out))], overwrite=False).path(str(out)).split(".c.tif.")[1].split("-")[0]
    stale = tmp_path / f".c.tif.{host_part}-{dead.pid}-0123abcd.part.tif"
    stale_sidecar = tmp_path / f".c.tif.{host_part}-{dead.pid}-0123abcd.part.tif.aux.xml"
    nested = tmp_path / f"..c.tif.{host_part}-{dead.pid}-0123abcd.part.tif.{host_part}-{dead.pid}-4567cdef.tmp.tif"
    live = tmp_path / f".c.tif.{host_part}-{os.getppid()}-89abcdef.part.tif"  # a running process's file
    foreign = tmp_path / f".c.tif.otherhost-{dead.pid}-0123abcd.part.tif"  # another machine's, on a shared folder
    other = tmp_path / f".d.tif.{host_part}-{dead.pid}-0123abcd.part.tif"  # another output's
    for path in (stale, stale_sidecar, nested, live, foreign, other):
        path.write_text("x")
    assert sorted(remove_stale_temporaries(str(out))) == sorted([stale.name, stale_sidecar.name, nested.name])
    assert _names(tmp_path) == sorted(p.name for p in (live, foreign, other))


def _cli(*args: object) -> subprocess.Popen:
    return subprocess.Popen(
        [*NCGLF2, *map(str, args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(os.environ, OMP_NUM_THREADS="1"),
    )


def _wait_for_temporary(folder: Path, process: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not any(".part" in name for name in os.listdir(folder)):
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "the run never started writing"
        time.sleep(0.05)


def test_sigterm_leaves_nothing_and_a_killed_run_is_cleaned_up_by_the_next(trained, wide_scene, tmp_path):
    _, model, _ = trained
    out = tmp_path / "c.tif"
    args = ["classify", "--model", model, "--hsi", wide_scene.hsi, "--lidar", wide_scene.dsm, "--out", out]
    args += ["--device", "cpu", "--tile-size", 16, "--batch-size", 8]
    terminated = _cli(*args)
    _wait_for_temporary(tmp_path, terminated)
    terminated.send_signal(signal.SIGTERM)
    _, stderr = terminated.communicate(timeout=60)
    assert terminated.returncode == 130 and "interrupted; no output was written" in stderr
    assert _names(tmp_path) == []

    killed = _cli(*args)
    _wait_for_temporary(tmp_path, killed)
    killed.kill()
    killed.wait()
    assert any(".part" in name for name in _names(tmp_path))
    rerun = subprocess.run([*NCGLF2, *map(str, args)], capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    assert "left by an interrupted run" in rerun.stderr
    assert _names(tmp_path) == ["c.qml", "c.tif", "c.tif.aux.xml"]


# Modes -------------------------------------------------------------------------------------------------------


def test_outputs_get_the_users_file_mode(trained, tmp_path):
    scene, model, _ = trained
    previous = os.umask(0o027)
    try:
        classify(_request(scene, model, tmp_path / "c.tif", confidence=str(tmp_path / "f.tif")))
        train(
            _train_request(
                scene,
                out=str(tmp_path / "m.ncglf2"),
                report=str(tmp_path / "t.html"),
                params=tiny_parameters(epochs=1),
            )
        )
        assess(
            AssessRequest(
                classification=str(tmp_path / "c.tif"),
                reference=scene.labels,
                out_html=str(tmp_path / "a.html"),
                json_path=str(tmp_path / "a.json"),
                csv_path=str(tmp_path / "a.csv"),
            )
        )
    finally:
        os.umask(previous)
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in tmp_path.iterdir()}
    assert set(modes) >= {"c.tif", "c.qml", "f.tif", "m.ncglf2", "t.html", "t_curves.png", "t.json", "a.html"}
    assert modes == dict.fromkeys(modes, 0o640), modes


# Class maps -------------------------------------------------------------------------------------------------


def test_class_ids_beyond_16_bits_are_written_exactly(tmp_path):
    scene = build_tiny_scene(tmp_path)
    truth = gdal.Open(scene.labels).ReadAsArray().astype(np.uint32)
    ids = {1: 70_000, 2: 5, 3: 2_000_000_000}
    big = np.zeros_like(truth)
    for small, large in ids.items():
        big[truth == small] = large
    labels = write_raster(tmp_path / "big_ids.tif", big, nodata=0)
    model = str(tmp_path / "m.ncglf2")
    train(TrainRequest(hsi=scene.hsi, lidar=[scene.dsm], labels=labels, out=model, params=tiny_parameters()))
    out = tmp_path / "c.tif"
    classify(_request(scene, model, out))
    dataset = gdal.Open(str(out))
    assert gdal.GetDataTypeName(dataset.GetRasterBand(1).DataType) == "UInt32"
    values = dataset.ReadAsArray()
    assert set(np.unique(values)) <= {0, *ids.values()} and len(set(np.unique(values)) - {0}) == 3
    labelled = big > 0
    assert np.mean(values[labelled] == big[labelled]) > 0.8
    style = (tmp_path / "c.qml").read_text()
    assert 'value="2000000000"' in style and 'value="70000"' in style
    report = assess(AssessRequest(classification=str(out), reference=labels, out_html=str(tmp_path / "a.html")))
    assert report.oa > 0.8 and sorted(report.class_ids) == sorted(ids.values())


def test_a_band_that_is_nan_everywhere_is_an_error_not_an_empty_map(trained, tmp_path):
    scene, model, _ = trained
    cube = gdal.Open(scene.hsi).ReadAsArray().astype(np.float32)
    cube[3] = np.nan
    hsi = write_raster(tmp_path / "nan_band.tif", cube)
    with pytest.raises(InputError, match="no pixel of the raster .* has a value in every band"):
        classify(ClassifyRequest(model=model, hsi=hsi, lidar=[scene.dsm], out=str(tmp_path / "c.tif"), device="cpu"))
    assert _names(tmp_path) == ["nan_band.tif"]


def test_an_extent_without_a_valid_pixel_is_an_error(trained, tmp_path):
    scene, model, _ = trained
    dataset = gdal.Open(scene.hsi)
    x0, dx, _, y0, _, dy = dataset.GetGeoTransform()
    corner = (x0, y0 + 3 * dy, x0 + 4 * dx, y0)  # the tiny scene's 3 x 4 nodata corner
    with pytest.raises(InputError, match=r"no pixel of the extent \(4 x 3 pixels\)"):
        classify(_request(scene, model, tmp_path / "c.tif", extent=corner))
    assert _names(tmp_path) == []
