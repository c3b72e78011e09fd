"""The ncglf2 command end to end on a tiny scene, as a user runs it."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
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
        "--margin",
        tmp_path / "margin.tif",
    )
    assert gdal.Open(str(tmp_path / "c.tif")).RasterXSize == 42
    assert gdal.Open(str(tmp_path / "margin.tif")).RasterXSize == 42
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
        "--model",
        model,
    )
    report = json.loads((tmp_path / "a.json").read_text())
    assert {"oa", "aa", "kappa", "per_class", "confusion_matrix"} <= set(report)
    assert f"OA {100 * report['oa']:.2f} %" in assessed.stdout
    honest = report["away_from_training"]["assessment"]
    assert f"away from the training pixels (honest): OA {100 * honest['oa']:.2f} %" in assessed.stdout
    assert 0 < honest["n"] < report["n"]


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


BAD_NUMBERS = [
    ("train", ["--epochs", "0"], "epochs must be at least 1"),
    ("train", ["--batch-size", "-5"], "batch size must be at least 2"),
    ("train", ["--learning-rate", "-1"], "learning rate must be positive"),
    ("train", ["--learning-rate", "inf"], "learning rate must be a finite number"),
    ("train", ["--learning-rate", "nan"], "learning rate must be a finite number"),
    ("train", ["--samples-per-class", "-3"], "samples per class must be at least 1"),
    ("train", ["--validation-fraction", "1.5"], r"validation fraction must be in \[0, 1\)"),
    ("train", ["--patch-size", "4"], "patch size must be odd"),
    ("train", ["--components", "0"], "PCA components must be at least 1"),
    ("train", ["--seed", "-1"], "seed must be between 0"),
    ("classify", ["--tile-size", "-1"], "tile size must be a whole number from 1"),
    ("classify", ["--tile-size", "0"], "tile size must be a whole number from 1"),
    ("classify", ["--batch-size", "-5"], "batch size must be a whole number from 1"),
    ("classify", ["--extent", "5", "0", "1", "1"], "is empty"),
    ("classify", ["--dask", "local:0"], "dask must be local:N"),
    ("import-reference", ["--classes", "1"], "number of classes must be a whole number from 2"),
    ("import-reference", ["--classes", "15", "--patch-size", "2"], "patch size must be odd"),
    ("demo", ["--size", "-5"], "demo scene size must be from 96"),
    ("demo", ["--epochs", "0"], "epochs must be at least 1"),
    ("demo", ["--seed", "-1"], "seed must be between 0"),
]


@pytest.mark.parametrize(
    ("command", "option", "says"), BAD_NUMBERS, ids=[f"{c} {' '.join(o)}" for c, o, _ in BAD_NUMBERS]
)
def test_every_numeric_option_is_checked_before_work(tmp_path, capsys, command, option, says):
    """Out-of-range numbers are refused with the option's name before any input is even opened."""
    from ncglf2.core.apps.cli import main

    missing = str(tmp_path / "missing.tif")  # never opened: the numbers are checked first
    inputs = {
        "train": ["--hsi", missing, "--lidar", missing, "--labels", missing, "--out", str(tmp_path / "m.ncglf2")],
        "classify": ["--model", missing, "--hsi", missing, "--lidar", missing, "--out", str(tmp_path / "c.tif")],
        "import-reference": [missing, "--hsi", missing, "--lidar", missing, "--out", str(tmp_path / "m.ncglf2")],
        "demo": ["--out", str(tmp_path / "demo")],
    }[command]
    if command == "import-reference" and "--classes" not in option:
        option = ["--classes", "15", *option]
    assert main([command, *inputs, *option]) == 2
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1 and error.startswith(f"ncglf2 {command}: error: ")
    assert re.search(says, error), error
    assert list(tmp_path.iterdir()) == []


def test_trust_options_reach_the_requests():
    """--margin and --tta of classify, --model of assess: into the requests as given; off by default."""
    from ncglf2.core.apps.cli import build_parser, job_request

    parser = build_parser()
    base = ["classify", "--model", "m.ncglf2", "--hsi", "h.tif", "--lidar", "d.tif", "--out", "c.tif"]
    plain = job_request(parser.parse_args(base))
    assert plain.margin is None and plain.tta is False
    chosen = job_request(parser.parse_args([*base, "--margin", "g.tif", "--tta"]))
    assert chosen.margin == "g.tif" and chosen.tta is True
    assert type(chosen).from_json(chosen.to_json()) == chosen
    assess = ["assess", "--classification", "c.tif", "--reference", "r.tif", "--out", "a.html"]
    assert job_request(parser.parse_args(assess)).model is None
    assert job_request(parser.parse_args([*assess, "--model", "m.ncglf2"])).model == "m.ncglf2"
    assert "8 times" in parser._subparsers._group_actions[0].choices["classify"].format_help()


def test_dask_reaches_the_request_and_without_the_package_says_how_to_install_it(
    tiny_model, tmp_path, monkeypatch, capsys
):
    from ncglf2.core.apps.cli import build_parser, job_request, main

    scene, model, _ = tiny_model
    base = ["classify", "--model", model, "--hsi", scene.hsi, "--lidar", scene.dsm, "--out"]
    parser = build_parser()
    assert job_request(parser.parse_args([*base, "c.tif"])).dask is None
    chosen = job_request(parser.parse_args([*base, "c.tif", "--dask", "tcp://10.0.0.7:8786"]))
    assert chosen.dask == "tcp://10.0.0.7:8786"
    monkeypatch.setitem(sys.modules, "distributed", None)  # this Python without Dask distributed
    assert main([*base, str(tmp_path / "classes.tif"), "--dask", "local:2"]) == 2
    said = capsys.readouterr().err.strip().splitlines()
    assert len(said) == 1 and said[0].endswith('pip install "dask[distributed]"'), said
    assert list(tmp_path.iterdir()) == []


def test_the_output_format_reaches_the_request_and_a_wrong_one_is_refused(capsys):
    from ncglf2.core.apps.cli import build_parser, job_request

    parser = build_parser()
    base = ["classify", "--model", "m.ncglf2", "--hsi", "h.tif", "--lidar", "d.tif", "--out", "c.tif"]
    assert job_request(parser.parse_args(base)).format == "GTiff"
    assert job_request(parser.parse_args([*base, "--format", "COG"])).format == "COG"
    with pytest.raises(SystemExit):
        parser.parse_args([*base, "--format", "PNG"])
    assert "invalid choice: 'PNG'" in capsys.readouterr().err
