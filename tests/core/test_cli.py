"""The ncglf2 command end to end on a tiny scene, as a user runs it."""

import json
import os
import subprocess
import sys
from pathlib import Path

from osgeo import gdal
from scenes import build_tiny_scene

NCGLF2 = (
    [str(Path(sys.executable).parent / "ncglf2")]
    if (Path(sys.executable).parent / "ncglf2").exists()
    else [sys.executable, "-m", "ncglf2.core.apps.cli"]
)


def run(*args, check=True):
    result = subprocess.run(
        [*NCGLF2, *map(str, args)], capture_output=True, text=True, env=dict(os.environ, OMP_NUM_THREADS="2")
    )
    if check:
        assert result.returncode == 0, result.stderr
    return result


def test_train_classify_assess(tmp_path):
    scene = build_tiny_scene(tmp_path)
    model = tmp_path / "m.ncglf2"
    trained = run(
        "train",
        "--hsi",
        scene.hsi,
        "--lidar",
        scene.dsm,
        "--labels",
        scene.labels,
        "--out",
        model,
        "--epochs",
        3,
        "--patch-size",
        5,
        "--components",
        4,
        "--report",
        tmp_path / "train.html",
        "--device",
        "cpu",
    )
    assert "validation: OA" in trained.stdout and "epoch 3/3" in trained.stderr
    run(
        "classify",
        "--model",
        model,
        "--hsi",
        scene.hsi,
        "--lidar",
        scene.dsm,
        "--out",
        tmp_path / "c.tif",
        "--confidence",
        tmp_path / "conf.tif",
    )
    assert gdal.Open(str(tmp_path / "c.tif")).RasterXSize == 42
    assessed = run(
        "assess",
        "--classification",
        tmp_path / "c.tif",
        "--reference",
        scene.labels,
        "--out",
        tmp_path / "a.html",
        "--json",
        tmp_path / "a.json",
    )
    report = json.loads((tmp_path / "a.json").read_text())
    assert {"oa", "aa", "kappa", "per_class", "confusion_matrix"} <= set(report)
    assert f"OA {100 * report['oa']:.2f} %" in assessed.stdout


def test_bad_input_gives_one_line_and_nonzero_exit(tmp_path):
    result = run(
        "classify",
        "--model",
        tmp_path / "none.ncglf2",
        "--hsi",
        "x.tif",
        "--lidar",
        "y.tif",
        "--out",
        tmp_path / "c.tif",
        check=False,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "model file not found" in lines[0] and "Traceback" not in result.stderr
    debug = run(
        "classify",
        "--model",
        tmp_path / "none.ncglf2",
        "--hsi",
        "x.tif",
        "--lidar",
        "y.tif",
        "--out",
        tmp_path / "c.tif",
        "--debug",
        check=False,
    )
    assert "Traceback" in debug.stderr


def test_help_explains_commands():
    text = run("--help").stdout
    for command in ("train", "classify", "assess", "import-reference", "demo", "bench"):
        assert command in text
    assert "--samples-per-class" in run("train", "--help").stdout
