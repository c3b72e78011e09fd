"""Train, save, classify and assess end to end on a tiny real scene."""

import json

import numpy as np
import pytest
import torch
from osgeo import gdal
from scenes import build_tiny_scene, tiny_parameters

from ncglf2.core import InputError, ModelFileError
from ncglf2.core.io.model_file import load_model
from ncglf2.core.io.reading import read_class_map_info
from ncglf2.core.jobs import assess, classify, import_reference, train
from ncglf2.core.requests import AssessRequest, ClassifyRequest, ImportRequest, TrainRequest


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    folder = tmp_path_factory.mktemp("scene")
    scene = build_tiny_scene(folder)
    model = str(folder / "model.ncglf2")
    outcome = train(
        TrainRequest(
            hsi=scene.hsi,
            lidar=[scene.dsm],
            labels=scene.labels,
            out=model,
            report=str(folder / "train.html"),
            # The tiny scene's few label regions: holding one out per class leaves too little to learn from.
            params=tiny_parameters(validation_split="random"),
        )
    )
    return scene, model, outcome, folder


def test_training_outcome(trained):
    scene, model, outcome, folder = trained
    assert outcome.train_pixels == 60
    assert outcome.validation is not None and outcome.validation.oa > 0.9
    assert (folder / "train.html").is_file() and (folder / "train_curves.png").is_file()
    history = json.loads((folder / "train.json").read_text())["history"]
    assert len(history["epochs"]) == 12
    bundle = load_model(model)
    assert bundle.class_ids == [1, 2, 3]
    assert bundle.config.lidar_channels == 1 and bundle.preprocessing.hsi_bands == 8


def test_classification_is_correct_and_styled(trained, tmp_path):
    scene, model, _, _ = trained
    out = str(tmp_path / "classes.tif")
    result = classify(
        ClassifyRequest(
            model=model,
            hsi=scene.hsi,
            lidar=[scene.dsm],
            out=out,
            confidence=str(tmp_path / "conf.tif"),
            probabilities=str(tmp_path / "probs.tif"),
            tile_size=16,
        )
    )
    ds = gdal.Open(out)
    classes = ds.GetRasterBand(1).ReadAsArray()
    hsi = gdal.Open(scene.hsi)
    assert ds.GetGeoTransform() == hsi.GetGeoTransform()
    assert ds.GetSpatialRef().IsSame(hsi.GetSpatialRef())
    assert ds.GetRasterBand(1).GetNoDataValue() == 0
    assert read_class_map_info(out)[:2] == ([1, 2, 3], ["class 1", "class 2", "class 3"])
    assert ds.GetRasterBand(1).GetRasterColorTable() is not None
    assert (classes[:3, :4] == 0).all(), "nodata pixels are never classified"
    valid = np.ones_like(classes, dtype=bool)
    valid[:3, :4] = False
    accuracy = (classes[valid] == scene.truth[valid]).mean()
    assert accuracy > 0.85  # block edges are ambiguous to 5 x 5 patches
    assert result.pixels == valid.sum()
    conf = gdal.Open(str(tmp_path / "conf.tif")).ReadAsArray()
    assert ((conf[valid] >= 1 / 3 - 1e-6) & (conf[valid] <= 1 + 1e-6)).all()
    assert (conf[~valid] == -1).all()
    probs = gdal.Open(str(tmp_path / "probs.tif")).ReadAsArray()
    np.testing.assert_allclose(probs[:, valid].sum(axis=0), 1, atol=1e-5)
    np.testing.assert_allclose(probs[:, valid].max(axis=0), conf[valid], atol=1e-6)
    assert (tmp_path / "classes.qml").is_file()


def test_tile_size_does_not_change_the_map(trained, tmp_path):
    scene, model, _, _ = trained
    maps = []
    for tile in (7, 64):
        out = str(tmp_path / f"classes_{tile}.tif")
        classify(
            ClassifyRequest(
                model=model,
                hsi=scene.hsi,
                lidar=[scene.dsm],
                out=out,
                probabilities=str(tmp_path / f"p_{tile}.tif"),
                tile_size=tile,
            )
        )
        maps.append((gdal.Open(out).ReadAsArray(), gdal.Open(str(tmp_path / f"p_{tile}.tif")).ReadAsArray()))
    np.testing.assert_array_equal(maps[0][0], maps[1][0])
    np.testing.assert_allclose(maps[0][1], maps[1][1], atol=1e-5)


def test_extent_classifies_a_window(trained, tmp_path):
    scene, model, _, _ = trained
    full = str(tmp_path / "full.tif")
    part = str(tmp_path / "part.tif")
    classify(ClassifyRequest(model=model, hsi=scene.hsi, lidar=[scene.dsm], out=full))
    gt = gdal.Open(scene.hsi).GetGeoTransform()
    extent = (gt[0] + 10, gt[3] - 30, gt[0] + 30, gt[3] - 5)  # columns 10-30, rows 5-30
    classify(ClassifyRequest(model=model, hsi=scene.hsi, lidar=[scene.dsm], out=part, extent=extent))
    window = gdal.Open(part)
    assert (window.RasterXSize, window.RasterYSize) == (20, 25)
    assert window.GetGeoTransform()[0] == gt[0] + 10
    np.testing.assert_array_equal(window.ReadAsArray(), gdal.Open(full).ReadAsArray()[5:30, 10:30])


def test_existing_output_is_kept(trained, tmp_path):
    scene, model, _, _ = trained
    out = tmp_path / "classes.tif"
    out.write_bytes(b"precious")
    with pytest.raises(InputError, match="already exists"):
        classify(ClassifyRequest(model=model, hsi=scene.hsi, lidar=[scene.dsm], out=str(out)))
    assert out.read_bytes() == b"precious"


def test_wrong_band_count_is_refused_before_work(trained, tmp_path):
    scene, model, _, folder = trained
    other = build_tiny_scene(tmp_path, bands=6)
    with pytest.raises(InputError, match="expects an HSI with 8 bands.*has 6"):
        classify(ClassifyRequest(model=model, hsi=other.hsi, lidar=[other.dsm], out=str(tmp_path / "x.tif")))
    assert not (tmp_path / "x.tif").exists()


def test_assessment_against_labels(trained, tmp_path):
    scene, model, _, _ = trained
    out = str(tmp_path / "classes.tif")
    classify(ClassifyRequest(model=model, hsi=scene.hsi, lidar=[scene.dsm], out=out))
    a = assess(
        AssessRequest(
            classification=out,
            reference=scene.labels,
            out_html=str(tmp_path / "acc.html"),
            json_path=str(tmp_path / "acc.json"),
            csv_path=str(tmp_path / "acc.csv"),
        )
    )
    report = json.loads((tmp_path / "acc.json").read_text())
    labels = gdal.Open(scene.labels).ReadAsArray()
    classes = gdal.Open(out).ReadAsArray()
    mask = labels > 0
    assert a.n == mask.sum()
    assert report["oa"] == pytest.approx((labels[mask] == classes[mask]).mean())
    matrix = np.asarray(report["confusion_matrix"], dtype=float)
    assert matrix.shape == (3, 3) and matrix.sum() == mask.sum()
    agreement, chance = np.trace(matrix) / matrix.sum(), (matrix.sum(0) * matrix.sum(1)).sum() / matrix.sum() ** 2
    assert report["kappa"] == pytest.approx((agreement - chance) / (1 - chance))


def test_tampered_model_file_is_refused(trained, tmp_path):
    _, model, _, _ = trained
    data = bytearray(open(model, "rb").read())
    broken = tmp_path / "broken.ncglf2"
    broken.write_bytes(bytes(data[: len(data) // 2]))
    with pytest.raises(ModelFileError, match="damaged, truncated"):
        load_model(broken)
    from safetensors import safe_open
    from safetensors.torch import save_file

    with safe_open(model, "pt") as archive:
        metadata = archive.metadata()
        tensors = {k: archive.get_tensor(k) for k in archive.keys()}
    tensors["network.classifier.weight"][0, 0] = float("nan")
    save_file(tensors, str(tmp_path / "nan.ncglf2"), metadata=metadata)
    with pytest.raises(ModelFileError, match="network.classifier.weight holds NaN"):
        load_model(tmp_path / "nan.ncglf2")
    header = json.loads(metadata["ncglf2"])
    metadata = dict(metadata, ncglf2=json.dumps(dict(header, format_version=99)))
    tensors["network.classifier.weight"][0, 0] = 0.0
    save_file(tensors, str(tmp_path / "future.ncglf2"), metadata=metadata)
    with pytest.raises(ModelFileError, match="format 99.*update the plugin"):
        load_model(tmp_path / "future.ncglf2")


def test_same_seed_same_model(tmp_path):
    scene = build_tiny_scene(tmp_path)
    weights = []
    for name in ("a", "b"):
        out = str(tmp_path / f"{name}.ncglf2")
        train(
            TrainRequest(
                hsi=scene.hsi, lidar=[scene.dsm], labels=scene.labels, out=out, params=tiny_parameters(epochs=2)
            )
        )
        weights.append(load_model(out).network.state_dict())
    assert all(torch.equal(weights[0][k], weights[1][k]) for k in weights[0])


def test_import_reference_matches_checkpoint(reference_files, tmp_path):
    from ncglf2.core import load_reference_checkpoint

    checkpoint, _ = reference_files
    scene = build_tiny_scene(tmp_path, bands=48)
    out = str(tmp_path / "trento.ncglf2")
    import_reference(
        ImportRequest(checkpoint=str(checkpoint), hsi=scene.hsi, lidar=[scene.dsm], num_classes=6, out=out)
    )
    bundle = load_model(out)
    assert bundle.preprocessing.n_components == 40 and bundle.class_ids == [1, 2, 3, 4, 5, 6]
    direct = load_reference_checkpoint(checkpoint, 6)
    x = torch.randn(4, 41, 11, 11)
    with torch.no_grad():
        torch.testing.assert_close(bundle.network(x)[0], direct(x)[0], rtol=0, atol=0)
    classify(ClassifyRequest(model=out, hsi=scene.hsi, lidar=[scene.dsm], out=str(tmp_path / "trento.tif")))
    ids, names, _ = read_class_map_info(str(tmp_path / "trento.tif"))
    assert ids == [1, 2, 3, 4, 5, 6] and names[0] == "class 1"


def test_labels_that_miss_the_raster(tmp_path):
    from rasters import geotransform, write_raster

    scene = build_tiny_scene(tmp_path)
    far = write_raster(tmp_path / "far.tif", np.ones((10, 10), np.uint8), gt=geotransform(origin=(100000.0, 200000.0)))
    with pytest.raises(InputError, match="overlap"):
        train(
            TrainRequest(
                hsi=scene.hsi, lidar=[scene.dsm], labels=far, out=str(tmp_path / "m.ncglf2"), params=tiny_parameters()
            )
        )
    assert not (tmp_path / "m.ncglf2").exists()


def test_model_file_round_trip(trained, tmp_path):
    from ncglf2.core.io.model_file import save_model

    _, model, _, _ = trained
    first = load_model(model)
    copy = str(tmp_path / "copy.ncglf2")
    save_model(copy, first)
    second = load_model(copy)
    assert all(
        torch.equal(a, b) for a, b in zip(first.network.state_dict().values(), second.network.state_dict().values())
    )
    for key, value in first.preprocessing.to_arrays().items():
        np.testing.assert_array_equal(value, second.preprocessing.to_arrays()[key])
    assert (second.class_ids, second.class_names, second.class_colors) == (
        first.class_ids,
        first.class_names,
        first.class_colors,
    )
    assert second.config == first.config
    header = second.source_header
    assert header["format_version"] == 2 and header["bands"] == {"hsi": 8, "lidar": 1}  # 2: training pixels
    assert header["provenance"]["inputs"]["hsi"] == "hsi.tif" and header["provenance"]["training"]["epochs"] == 12
    leftovers = [p.name for p in tmp_path.iterdir() if ".part" in p.name]  # e.g. ".m.ncglf2.x1y2.part.ncglf2"
    assert not leftovers, f"temporary files left behind: {leftovers}"


class _Recorder:
    def __init__(self):
        self.percents, self.lines = [], []

    def set_progress(self, percent):
        self.percents.append(percent)

    def is_canceled(self):
        return False

    def info(self, message):
        self.lines.append(message)


def test_classify_reports_progress_per_batch_within_a_tile(trained, tmp_path):
    """One tile holds the whole scene: the bar still moves with every batch, up to 100 %."""
    scene, model, _, _ = trained
    progress = _Recorder()
    classify(
        ClassifyRequest(
            model=model,
            hsi=scene.hsi,
            lidar=[scene.dsm],
            out=str(tmp_path / "c.tif"),
            device="cpu",
            tile_size=4096,
            batch_size=64,
        ),
        progress,
    )
    valid = 36 * 42 - 36  # the tiny scene's nodata corner is 6 x 6
    assert len(progress.percents) >= valid // 64
    assert progress.percents[0] == 0.0 and progress.percents[-1] == pytest.approx(100.0)
    assert all(b >= a for a, b in zip(progress.percents, progress.percents[1:]))
    assert len({round(p, 3) for p in progress.percents if 0 < p < 100}) >= 10


def test_throughput_logs_rate_and_time_left_every_few_seconds():
    from ncglf2.core.progress import Throughput, format_duration

    now = [100.0]
    progress = _Recorder()
    meter = Throughput(progress, 1000, "pixels", every=5.0, clock=lambda: now[0])
    for done in range(100, 1001, 100):
        now[0] += 2.0  # 50 pixels/s
        meter.update(done)
    assert progress.percents == [0.0] + [float(p) for p in range(10, 101, 10)]
    # Lines after 6, 12 and 18 s (at most one per 5 s), none at the end.
    assert progress.lines == [
        "300 of 1,000 pixels (30.0 %), 50 pixels/s, about 14 s left",
        "600 of 1,000 pixels (60.0 %), 50 pixels/s, about 8 s left",
        "900 of 1,000 pixels (90.0 %), 50 pixels/s, about 2 s left",
    ]
    assert format_duration(185) == "3 min 05 s" and format_duration(7620) == "2 h 07 min"
