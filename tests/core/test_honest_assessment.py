"""Models record their training pixels; assessing with the model leaves out the reference pixels next to them."""

import csv
import json

import numpy as np
import pytest
import torch
from rasters import geotransform, srs_wkt, write_raster
from scenes import build_tiny_scene, tiny_parameters

from ncglf2.core import ModelFileError, jobs
from ncglf2.core.io.grid import Grid
from ncglf2.core.io.labels import ClassTable
from ncglf2.core.io.model_file import ModelBundle, TrainingPixels, load_model, save_model
from ncglf2.core.jobs import assess_outcome, train
from ncglf2.core.nn.model import NCGLF2, NetworkConfig
from ncglf2.core.nn.preprocessing import Preprocessing
from ncglf2.core.progress import SilentProgress
from ncglf2.core.requests import AssessRequest, TrainRequest

PATCH = 5  # reach: 2 pixels
TRAIN_ORIGIN = (660000.0 - 20, 5100030.0 + 20)  # the training grid starts 20 pixels up and left of the maps'


class Log(SilentProgress):
    def __init__(self):
        super().__init__()
        self.lines = []

    def info(self, message):
        self.lines.append(message)


def test_a_trained_model_records_exactly_its_training_pixels(tmp_path, monkeypatch):
    """The recorded rows and columns are those of the split the job drew, on the HSI's grid."""
    drawn = []
    real_split = jobs.split_samples

    def recording_split(labels, *args, **kwargs):
        split = real_split(labels, *args, **kwargs)
        drawn.append((labels.rows[split.train].copy(), labels.cols[split.train].copy()))
        return split

    monkeypatch.setattr(jobs, "split_samples", recording_split)
    scene = build_tiny_scene(tmp_path)
    model = str(tmp_path / "m.ncglf2")
    outcome = train(
        TrainRequest(hsi=scene.hsi, lidar=[scene.dsm], labels=scene.labels, out=model, params=tiny_parameters(epochs=1))
    )
    ((rows, cols),) = drawn
    record = load_model(model).training_pixels
    assert record is not None and record.count == outcome.train_pixels == 60 == rows.size
    np.testing.assert_array_equal(record.rows, rows)
    np.testing.assert_array_equal(record.cols, cols)
    assert (record.grid.width, record.grid.height) == (42, 36)
    assert record.grid.geotransform == pytest.approx(geotransform())
    # Every training pixel is labelled, 20 per class, and none is given twice.
    truth = scene.truth.copy()
    truth[::2, :] = 0
    assert np.bincount(truth[rows, cols], minlength=4).tolist() == [0, 20, 20, 20]
    assert len(set(zip(rows.tolist(), cols.tolist()))) == 60


def hand_model(path, rows, cols, grid=None, patch=PATCH):
    """A real model file with the given training pixels (on a 60 x 60 grid 20 pixels up-left of the maps)."""
    torch.manual_seed(0)
    network = NCGLF2(
        NetworkConfig(num_classes=2, patch_size=patch, hsi_channels=2, lidar_channels=1, width=8, depth=1, heads=2)
    ).eval()
    preprocessing = Preprocessing(
        hsi_mean=np.zeros(3),
        components=np.eye(3)[:2],
        explained_variance=np.ones(2),
        channel_mean=np.zeros(3),
        channel_std=np.ones(3),
        pixel_count=100,
    )
    grid = grid or Grid(60, 60, geotransform(TRAIN_ORIGIN), srs_wkt())
    record = None if rows is None else TrainingPixels(np.asarray(rows), np.asarray(cols), grid)
    classes = ClassTable([1, 2], ["field", "forest"], [(255, 255, 0), (0, 128, 0)])
    save_model(path, ModelBundle(network, preprocessing, classes, training_pixels=record))
    return str(path)


def run_assess(tmp_path, class_map, reference, model, name="a"):
    log = Log()
    request = AssessRequest(
        classification=write_raster(tmp_path / f"{name}_map.tif", class_map.astype(np.uint8)),
        reference=write_raster(tmp_path / f"{name}_ref.tif", reference.astype(np.uint8), nodata=0),
        out_html=str(tmp_path / f"{name}.html"),
        json_path=str(tmp_path / f"{name}.json"),
        csv_path=str(tmp_path / f"{name}.csv"),
        model=model,
    )
    outcome = assess_outcome(request, log)
    return outcome, json.loads((tmp_path / f"{name}.json").read_text()), log


def test_assess_with_the_model_leaves_out_exactly_the_pixels_within_half_a_patch(tmp_path):
    """Training pixel (30, 30) of the training grid is (10, 10) of the map; patch 5 reaches 2 pixels.

    The pixels next to it are mapped wrong, those farther away right: OA away from training is then 100 %
    only if exactly the near ones are left out and all the far ones kept.
    """
    model = hand_model(tmp_path / "m.ncglf2", [30], [30])
    class_map = np.ones((30, 40), np.uint8)
    reference = np.zeros((30, 40), np.uint8)
    near = [(10, 10), (12, 12), (8, 8), (12, 9), (10, 8)]  # Chebyshev distance 0..2: their patch holds (10, 10)
    far = [(13, 10), (10, 13), (7, 7), (13, 13), (25, 35)]  # distance 3 or more
    for r, c in near:
        reference[r, c] = 2  # the map says 1: wrong
    for r, c in far:
        reference[r, c] = 1  # right
    outcome, figures, log = run_assess(tmp_path, class_map, reference, model)
    assert outcome.assessment.n == 10 and outcome.assessment.oa == pytest.approx(0.5)
    away = outcome.away
    assert away.assessment.n == 5 and away.excluded == 5 and away.assessment.oa == 1.0
    assert away.radius == 2 and away.training_pixels == 1
    block = figures["away_from_training"]
    assert block["honest"] is True and block["excluded_reference_pixels"] == 5
    assert block["assessment"]["n"] == 5 and block["assessment"]["oa"] == 1.0 and figures["n"] == 10
    assert "more than 2 pixels" in block["description"]
    assert any("away from the training pixels (the honest figure): OA 100.00 %" in line for line in log.lines)
    page = (tmp_path / "a.html").read_text()
    assert "the honest figure" in page and "All reference pixels" in page
    with open(tmp_path / "a.csv", newline="") as stream:
        rows = list(csv.DictReader(stream))
    scopes = [row["scope"] for row in rows]
    assert scopes == ["all_reference_pixels"] * 3 + ["away_from_training"] * 3
    totals = {row["scope"]: int(row["reference_total"]) for row in rows if row["name"] == "mapped_total"}
    assert totals == {"all_reference_pixels": 10, "away_from_training": 5}


def test_the_kept_pixels_equal_a_brute_force_distance_on_random_labels(tmp_path):
    rng = np.random.default_rng(3)
    train_rows, train_cols = rng.integers(0, 60, 25), rng.integers(0, 60, 25)
    model = hand_model(tmp_path / "m.ncglf2", train_rows, train_cols)
    class_map = rng.integers(1, 3, (30, 40)).astype(np.uint8)
    reference = rng.integers(0, 3, (30, 40)).astype(np.uint8)
    outcome, _, _ = run_assess(tmp_path, class_map, reference, model)
    ref_rows, ref_cols = np.nonzero(reference)
    distance = np.maximum(
        np.abs(ref_rows[:, None] - (train_rows[None] - 20)), np.abs(ref_cols[:, None] - (train_cols[None] - 20))
    ).min(axis=1)
    kept = distance > PATCH // 2
    assert 0 < kept.sum() < kept.size
    expected = np.zeros((2, 2), int)
    np.add.at(
        expected, (reference[ref_rows[kept], ref_cols[kept]] - 1, class_map[ref_rows[kept], ref_cols[kept]] - 1), 1
    )
    np.testing.assert_array_equal(outcome.away.assessment.confusion, expected)
    assert outcome.away.excluded == int((~kept).sum())


def test_a_model_without_the_record_says_so_and_gives_the_usual_figures(tmp_path):
    model = hand_model(tmp_path / "old.ncglf2", None, None)
    reference = np.ones((30, 40), np.uint8)
    outcome, figures, log = run_assess(tmp_path, np.ones((30, 40)), reference, model)
    assert outcome.assessment.n == 1200 and outcome.away.assessment is None
    assert any("does not record its training pixels" in line for line in log.lines)
    block = figures["away_from_training"]
    assert block["honest"] is False and "does not record its training pixels" in block["unavailable"]
    assert "does not record its training pixels" in (tmp_path / "a.html").read_text()


def test_a_map_in_another_crs_gets_no_honest_figure_and_a_clear_line(tmp_path):
    grid = Grid(60, 60, geotransform(TRAIN_ORIGIN), srs_wkt(32633))
    model = hand_model(tmp_path / "m.ncglf2", [30], [30], grid=grid)
    outcome, figures, log = run_assess(tmp_path, np.ones((30, 40)), np.ones((30, 40)), model)
    assert outcome.away.assessment is None and "another CRS" in outcome.away.unavailable
    assert any("cannot be computed: the class map is in another CRS" in line for line in log.lines)


def test_without_the_model_the_report_has_no_second_figure(tmp_path):
    reference = np.ones((30, 40), np.uint8)
    outcome, figures, _ = run_assess(tmp_path, np.ones((30, 40)), reference, None)
    assert outcome.away is None and figures["away_from_training"] is None


def test_every_reference_pixel_near_training_leaves_no_honest_figure(tmp_path):
    model = hand_model(tmp_path / "m.ncglf2", [30], [30])
    reference = np.zeros((30, 40), np.uint8)
    reference[9:12, 9:12] = 1
    outcome, figures, log = run_assess(tmp_path, np.ones((30, 40)), reference, model)
    assert outcome.away.assessment is None and outcome.away.excluded == 9 and not outcome.away.unavailable
    assert figures["away_from_training"]["assessment"] is None
    assert any("no accuracy away from the training pixels" in line for line in log.lines)


def test_a_file_that_is_no_model_is_refused_before_any_report(tmp_path):
    junk = tmp_path / "notes.ncglf2"
    junk.write_text("not a model")
    with pytest.raises(ModelFileError, match=r"notes\.ncglf2"):
        run_assess(tmp_path, np.ones((30, 40)), np.ones((30, 40)), str(junk))
    assert not (tmp_path / "a.html").exists() and not (tmp_path / "a.json").exists()
