"""Spatial validation split: whole polygons, regions or blocks held out, no training patch touching a validation patch.

The geometry is checked directly on the rows and columns the split returns,
for labels read from real GeoPackages and GeoTIFFs; the random split is
compared bit for bit with the split as it was before the spatial one existed.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from osgeo import ogr
from rasters import box_wkt, point_wkt, write_raster, write_vector
from scenes import build_tiny_scene, tiny_parameters

from ncglf2.core import InputError
from ncglf2.core.io.grid import raster_grid
from ncglf2.core.io.labels import ClassTable, LabeledPixels, read_labels
from ncglf2.core.io.model_file import load_model
from ncglf2.core.jobs import train
from ncglf2.core.pipeline.sampling import Split, member_seed, split_samples, validate_label_counts
from ncglf2.core.pipeline.spatial import connected_regions, near_pixels
from ncglf2.core.requests import TrainRequest

HEIGHT, WIDTH = 60, 80


def chebyshev_gaps(labels: LabeledPixels, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The Chebyshev distance from every pixel of ``a`` to the nearest pixel of ``b`` (brute force)."""
    rows, cols = labels.rows.astype(np.int64), labels.cols.astype(np.int64)
    distance = np.maximum(np.abs(rows[a][:, None] - rows[b][None]), np.abs(cols[a][:, None] - cols[b][None]))
    return distance.min(axis=1)


def assert_apart(labels: LabeledPixels, split: Split, patch_size: int) -> None:
    """No training pixel within Chebyshev distance < patch_size of a validation pixel: the patches never overlap."""
    assert split.validation.size and split.train.size
    assert chebyshev_gaps(labels, split.train, split.validation).min() >= patch_size
    everything = np.concatenate([split.train, split.validation, split.test])
    assert np.array_equal(np.sort(everything), np.arange(len(labels)))


def grid(tmp_path):
    return raster_grid(write_raster(tmp_path / "hsi.tif", np.ones((2, HEIGHT, WIDTH), dtype=np.float32)))


# ---------------------------------------------------------------- geometry against second implementations


def test_regions_are_scipys_8_connected_labels_per_class():
    ndimage = pytest.importorskip("scipy.ndimage")
    rng = np.random.default_rng(0)
    for _ in range(40):
        height, width = (int(v) for v in rng.integers(1, 50, 2))
        image = rng.integers(0, 4, (height, width)) * (rng.random((height, width)) < rng.random())
        rows, cols = np.nonzero(image)
        shuffle = rng.permutation(rows.size)  # any order, not only the reader's row-major one
        rows, cols = rows[shuffle].astype(np.int32), cols[shuffle].astype(np.int32)
        ids = image[rows, cols].astype(np.int32)
        regions = connected_regions(rows, cols, ids)
        expected, offset = np.zeros(rows.size, dtype=np.int64), 0
        for class_id in np.unique(ids):
            labelled, count = ndimage.label(image == class_id, structure=np.ones((3, 3)))
            mine = ids == class_id
            expected[mine] = labelled[rows[mine], cols[mine]] + offset
            offset += count
        assert regions.size == 0 or regions.max() + 1 == offset
        pairs = np.unique(np.stack([regions, expected]), axis=1)  # the same partition: one pair per region
        assert pairs.shape[1] == offset


def test_near_pixels_is_the_brute_force_chebyshev_test():
    rng = np.random.default_rng(1)
    for distance in (0, 1, 2, 4, 10):
        for _ in range(15):
            count = int(rng.integers(1, 400))
            rows = rng.integers(0, 70, count).astype(np.int32)
            cols = rng.integers(0, 90, count).astype(np.int32)
            near = rng.random(count) < rng.random()
            got = near_pixels(rows, cols, rows[near], cols[near], distance)
            if not near.any():
                assert not got.any()
                continue
            reach = np.maximum(np.abs(rows[:, None] - rows[near][None]), np.abs(cols[:, None] - cols[near][None]))
            assert np.array_equal(got, reach.min(axis=1) <= distance)


# ---------------------------------------------------------------- polygons


@pytest.fixture
def polygon_labels(tmp_path):
    """48 polygons of 3 classes on a lattice; some touch their neighbours (distance 0 between features)."""
    rng = np.random.default_rng(4)
    features = []
    for row in range(0, HEIGHT - 6, 9):
        for col in range(0, WIDTH - 7, 10):
            wide = 10 if (row // 9) % 2 else 7  # every other row of polygons touches side by side
            features.append((box_wkt(col, row, col + wide, row + 6), {"class": int(rng.integers(1, 4))}))
    path = write_vector(tmp_path / "fields.gpkg", features)
    return read_labels(path, grid(tmp_path), class_field="class"), len(features)


def test_polygons_are_held_out_whole_and_apart(polygon_labels):
    labels, features = polygon_labels
    assert labels.groups is not None and set(np.unique(labels.groups).tolist()) == set(range(1, features + 1))
    split = split_samples(labels, samples_per_class=10, validation_fraction=0.2, seed=3, patch_size=5)
    assert_apart(labels, split, 5)
    validated = np.unique(labels.groups[split.validation])
    assert not np.isin(labels.groups[split.train], validated).any()
    for feature in validated:  # every polygon with a validation pixel is all validation
        assert np.isin(np.flatnonzero(labels.groups == feature), split.validation).all()
    summary = {c["id"]: c for c in split.summary["classes"]}
    assert split.method == "spatial" and split.summary["gap"] == 4
    for class_id, members in labels.counts().items():
        held = labels.class_ids[split.validation] == class_id
        assert summary[class_id]["groups"] == "polygons" and summary[class_id]["held_out"] >= 1
        assert summary[class_id]["validation_pixels"] == int(held.sum())
        assert round(0.2 * members) <= held.sum() <= 2 * round(0.2 * members)  # about the share, in whole polygons
    assert split.summary["removed_by_gap"] == int(
        np.count_nonzero(chebyshev_gaps(labels, split.test, split.validation) < 5)
    )


def test_seeded_splits_repeat_and_seeds_differ(polygon_labels):
    labels, _ = polygon_labels
    a, b = (split_samples(labels, 10, 0.2, seed=8, patch_size=5) for _ in range(2))
    c = split_samples(labels, 10, 0.2, seed=9, patch_size=5)
    for part in ("train", "validation", "test"):
        assert np.array_equal(getattr(a, part), getattr(b, part))
    assert a.summary == b.summary
    assert not np.array_equal(a.validation, c.validation)


def test_a_polygon_beyond_twice_the_share_is_never_held_out(tmp_path):
    features = [(box_wkt(0, 0, 20, 20), {"class": 1})]  # 400 of the class's 850 pixels: not most of it
    features += [
        (box_wkt(25 + 6 * (i % 5), 10 * (i // 5), 30 + 6 * (i % 5), 9 + 10 * (i // 5)), {"class": 1}) for i in range(10)
    ]
    features += [(box_wkt(2 + 6 * i, 30, 6 + 6 * i, 35), {"class": 2}) for i in range(8)]
    labels = read_labels(write_vector(tmp_path / "l.gpkg", features), grid(tmp_path), class_field="class")
    assert labels.counts()[1] == 850
    for seed in range(12):
        split = split_samples(labels, samples_per_class=20, validation_fraction=0.15, seed=seed, patch_size=5)
        held = labels.groups[split.validation[labels.class_ids[split.validation] == 1]]
        assert held.size and 1 not in held and 128 <= held.size <= 256


def test_a_class_with_one_polygon_is_validated_on_blocks_inside_it(tmp_path):
    features = [(box_wkt(2, 2, 32, 32), {"class": 1})]  # 900 pixels in one polygon
    features += [
        (box_wkt(40 + 6 * (i % 6), 2 + 8 * (i // 6), 44 + 6 * (i % 6), 7 + 8 * (i // 6)), {"class": 2})
        for i in range(18)
    ]
    labels = read_labels(write_vector(tmp_path / "l.gpkg", features), grid(tmp_path), class_field="class")
    split = split_samples(labels, samples_per_class=30, validation_fraction=0.15, seed=0, patch_size=5)
    assert_apart(labels, split, 5)
    one = {c["id"]: c for c in split.summary["classes"]}[1]
    assert one["groups"] == "polygons cut into blocks" and one["block_size"] == math.ceil(math.sqrt(135 / 4))
    held = int(np.count_nonzero(labels.class_ids[split.validation] == 1))
    assert one["held_out"] >= 2 and 135 <= held <= 270
    assert np.count_nonzero(labels.class_ids[split.train] == 1) == 30


def test_a_class_squeezed_beside_validation_takes_it_back_and_trains(tmp_path):
    """Class 3 lies next to the only polygon of class 1 small enough to validate: that polygon trains instead."""
    features = [
        (box_wkt(0, 0, 10, 3), {"class": 1}),  # 30 pixels: more than twice the 6 asked, never held out
        (box_wkt(30, 0, 34, 3), {"class": 1}),  # 12 pixels: the validation of class 1
        (box_wkt(35, 0, 37, 2), {"class": 3}),  # 4 pixels beside it
    ]
    labels = read_labels(write_vector(tmp_path / "l.gpkg", features), grid(tmp_path), class_field="class")
    split = split_samples(labels, samples_per_class=20, validation_fraction=0.15, seed=0, patch_size=5)
    assert split.validation.size == 0
    assert np.count_nonzero(labels.class_ids[split.train] == 3) == 4
    assert any("'class 3': only 0 of its 4 labelled pixels" in note and "'class 1'" in note for note in split.notes)
    assert any("'class 3': its 4 labelled pixels lie in one block" in note for note in split.notes)
    random = split_samples(labels, samples_per_class=20, validation_fraction=0.15, seed=0, method="random")
    assert random.validation.size > 0 and random.notes == []


# ---------------------------------------------------------------- points


def test_points_are_held_out_in_blocks_and_apart(tmp_path):
    rng = np.random.default_rng(5)
    centres = rng.uniform([0, 0], [HEIGHT, WIDTH], (25, 2))
    features = []
    for row, col in centres:  # clusters of points, as surveys along a path give them
        for dr, dc in rng.normal(0, 2.5, (8, 2)):
            r, c = float(np.clip(row + dr, 0, HEIGHT - 0.5)), float(np.clip(col + dc, 0, WIDTH - 0.5))
            features.append((point_wkt(c, r), {"class": 1 + int(c * 3 // WIDTH)}))
    labels = read_labels(write_vector(tmp_path / "points.gpkg", features), grid(tmp_path), class_field="class")
    assert labels.groups is not None and (labels.groups == 0).all()
    split = split_samples(labels, samples_per_class=15, validation_fraction=0.2, seed=2, patch_size=5)
    assert_apart(labels, split, 5)
    side = split.summary["point_block_size"]
    extent = max(np.ptp(labels.rows), np.ptp(labels.cols)) + 1
    assert side == max(5, math.ceil(extent / 10))
    blocks = (labels.rows // side).astype(np.int64) * 1000 + labels.cols // side
    key = blocks * 10 + labels.class_ids
    assert not np.isin(key[split.train], key[split.validation]).any()  # a class's block is held out whole
    assert all(c["groups"] == "point blocks" and c["held_out"] >= 1 for c in split.summary["classes"])


# ---------------------------------------------------------------- class rasters


def test_raster_regions_are_held_out_whole_and_apart(tmp_path):
    ndimage = pytest.importorskip("scipy.ndimage")
    rng = np.random.default_rng(6)
    image = np.zeros((HEIGHT, WIDTH), dtype=np.uint8)
    for row in range(0, HEIGHT - 4, 7):
        for col in range(0, WIDTH - 4, 6):
            image[row : row + 5, col : col + 5] = rng.integers(1, 4)  # squares one pixel apart
    image[5, 5] = image[4, 4]  # a diagonal touch joins two squares under 8-connectivity
    labels = read_labels(write_raster(tmp_path / "classes.tif", image, nodata=0), grid(tmp_path))
    assert labels.groups is None
    split = split_samples(labels, samples_per_class=20, validation_fraction=0.15, seed=1, patch_size=7)
    assert_apart(labels, split, 7)
    region = np.zeros(len(labels), dtype=np.int64)
    for class_id in (1, 2, 3):
        labelled, _ = ndimage.label(image == class_id, structure=np.ones((3, 3)))
        mine = labels.class_ids == class_id
        region[mine] = class_id * 1000 + labelled[labels.rows[mine], labels.cols[mine]]
    assert not np.isin(region[split.train], region[split.validation]).any()
    for value in np.unique(region[split.validation]):
        assert np.isin(np.flatnonzero(region == value), split.validation).all()
    assert all(c["groups"] == "regions" and c["held_out"] >= 1 for c in split.summary["classes"])


def test_a_dense_raster_is_cut_into_blocks(tmp_path):
    image = np.ones((HEIGHT, WIDTH), dtype=np.uint8)
    image[:, WIDTH // 2 :] = 2  # two regions: every pixel of a class in one
    labels = read_labels(write_raster(tmp_path / "dense.tif", image), grid(tmp_path))
    split = split_samples(labels, samples_per_class=50, validation_fraction=0.15, seed=4, patch_size=5)
    assert_apart(labels, split, 5)
    for summary in split.summary["classes"]:
        assert summary["groups"] == "regions cut into blocks"
        assert summary["block_size"] == math.ceil(math.sqrt(round(0.15 * 2400) / 4))
        assert summary["count"] >= 9 and summary["held_out"] >= 1
        assert 360 <= summary["validation_pixels"] <= 720
    assert np.bincount(labels.class_ids[split.train]).tolist() == [0, 50, 50]


def test_a_class_too_small_to_cut_is_trained_but_not_validated_with_the_reason():
    ids = np.array([1] * 200 + [2] * 6, dtype=np.int32)
    rows = np.concatenate([np.arange(200) // 20, [30, 30, 30, 31, 31, 31]]).astype(np.int32)
    cols = np.concatenate([np.arange(200) % 20, [40, 41, 42, 40, 41, 42]]).astype(np.int32)
    labels = LabeledPixels(rows, cols, ids, ClassTable([1, 2], ["wheat", "pond"], [(0, 0, 0)] * 2))
    split = split_samples(labels, samples_per_class=5, validation_fraction=0.2, seed=0, patch_size=5)
    assert not np.isin(split.validation, np.flatnonzero(ids == 2)).any()
    assert any(n.startswith("'pond': its 6 labelled pixels lie in one block of 5 x 5 pixels") for n in split.notes)
    assert_apart(labels, split, 5)


# ---------------------------------------------------------------- random split: the paper's, as it was


def split_before(labels, samples_per_class=20, validation_fraction=0.15, seed=0, separate_validation=False):
    """The split exactly as it was before the spatial one (the paper's random split), kept to compare."""
    validate_label_counts(labels)
    rng = np.random.default_rng(seed)
    fraction = 0.0 if separate_validation else validation_fraction
    train, validation, test = [], [], []
    for class_id in labels.classes.ids:
        members = np.flatnonzero(labels.class_ids == class_id)
        if members.size == 0:
            continue
        members = rng.permutation(members)
        if samples_per_class is None:
            n_val = int(round(fraction * members.size))
            n_val = min(n_val, members.size - 1)
            validation.append(members[:n_val])
            train.append(members[n_val:])
            continue
        n_train = min(samples_per_class, members.size)
        rest = members[n_train:]
        n_val = int(round(fraction * rest.size))
        train.append(members[:n_train])
        validation.append(rest[:n_val])
        test.append(rest[n_val:])
    dtype = np.int32 if len(labels) < 2**31 else np.int64

    def join(parts):
        return np.sort(np.concatenate(parts)).astype(dtype) if parts else np.zeros(0, dtype=dtype)

    return join(train), join(validation), join(test)


def small_labels() -> LabeledPixels:
    ids = np.array([1] * 12 + [2] * 9 + [3] * 5, dtype=np.int32)
    index = np.arange(ids.size, dtype=np.int32)
    return LabeledPixels(index // 10, index % 10, ids, ClassTable([1, 2, 3], ["a", "b", "c"], [(0, 0, 0)] * 3))


def test_random_split_is_bit_for_bit_the_split_before(polygon_labels):
    labels, _ = polygon_labels
    for samples, fraction, seed, separate in [
        (20, 0.15, 0, False),
        (10, 0.3, 5, False),
        (None, 0.25, 2, False),
        (7, 0.15, 1, True),
        (None, 0.0, 3, False),
    ]:
        got = split_samples(labels, samples, fraction, seed, separate, method="random")
        for part, expected in zip(
            (got.train, got.validation, got.test), split_before(labels, samples, fraction, seed, separate)
        ):
            assert part.dtype == expected.dtype and np.array_equal(part, expected)
    # Recorded from the split before the spatial one existed.
    got = split_samples(small_labels(), 4, 0.3, 7, method="random")
    assert got.train.tolist() == [0, 4, 6, 10, 15, 16, 18, 20, 21, 23, 24, 25]
    assert got.validation.tolist() == [1, 3, 14, 17]
    assert got.test.tolist() == [2, 5, 7, 8, 9, 11, 12, 13, 19, 22]
    got = split_samples(small_labels(), None, 0.25, 11, method="random")
    assert got.validation.tolist() == [2, 8, 10, 13, 14, 21] and got.test.size == 0


def test_separate_validation_labels_leave_the_split_as_it_was(polygon_labels):
    labels, _ = polygon_labels
    got = split_samples(labels, 10, 0.2, 4, separate_validation=True)  # spatial by default: ignored here
    expected = split_before(labels, 10, 0.2, 4, separate_validation=True)
    assert all(np.array_equal(a, b) for a, b in zip((got.train, got.validation, got.test), expected))
    assert got.method == "separate" and got.validation.size == 0


def test_a_bad_split_name_is_refused(polygon_labels):
    labels, _ = polygon_labels
    with pytest.raises(InputError, match=r"validation split must be one of spatial, random \(got 'stripes'\)"):
        split_samples(labels, method="stripes")


def test_the_cli_refuses_a_bad_split_name(tmp_path, capsys):
    from ncglf2.core.apps.cli import build_parser, job_request, main

    missing = str(tmp_path / "missing.tif")
    inputs = ["train", "--hsi", missing, "--lidar", missing, "--labels", missing, "--out", str(tmp_path / "m.ncglf2")]
    with pytest.raises(SystemExit) as exit_:
        main([*inputs, "--validation-split", "stripes"])
    assert exit_.value.code == 2
    assert "argument --validation-split: invalid choice: 'stripes' (choose from 'spatial', 'random')" in (
        capsys.readouterr().err
    )
    assert job_request(build_parser().parse_args(inputs)).params.validation_split == "spatial"
    random = job_request(build_parser().parse_args([*inputs, "--validation-split", "random"]))
    assert random.params.validation_split == "random"
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------- end to end


class Log:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def set_progress(self, percent: float) -> None:
        pass

    def is_canceled(self) -> bool:
        return False

    def info(self, message: str) -> None:
        self.lines.append(message)


def train_tiny(tmp_path, log: Log, **params):
    """The tiny scene trained with its model and report in ``tmp_path``."""
    scene = build_tiny_scene(tmp_path)
    return train(
        TrainRequest(
            hsi=scene.hsi,
            lidar=[scene.dsm],
            labels=scene.labels,
            out=str(tmp_path / "m.ncglf2"),
            report=str(tmp_path / "train.html"),
            params=tiny_parameters(**params),
        ),
        log,
    )


def test_training_with_the_spatial_split_records_it(tmp_path):
    log = Log()
    outcome = train_tiny(tmp_path, log, epochs=4)
    assert outcome.train_pixels == 60 and outcome.validation is not None
    split = load_model(str(tmp_path / "m.ncglf2")).provenance["split"]
    assert split["method"] == "spatial" and split["patch_size"] == 5 and split["gap"] == 4
    assert [c["groups"] for c in split["classes"]] == ["regions"] * 3
    assert all(c["held_out"] >= 1 for c in split["classes"])
    assert sum(c["validation_pixels"] for c in split["classes"]) == outcome.validation_pixels
    assert outcome.validation.reference_pixels.tolist() == [c["validation_pixels"] for c in split["classes"]]
    assert any(line.startswith("spatial validation split (class 1: ") for line in log.lines)
    page = (tmp_path / "train.html").read_text()
    assert "<h2>Validation split</h2><p>Spatial:" in page and "<h2>Validation accuracy</h2>" in page
    assert json.loads((tmp_path / "train.json").read_text())["split"] == split


def test_training_with_the_random_split_warns_in_the_log_and_the_report(tmp_path):
    log = Log()
    train_tiny(tmp_path, log, epochs=2, validation_split="random")
    warnings = [line for line in log.lines if line.startswith("warning: the validation pixels were drawn at random")]
    assert len(warnings) == 1
    page = (tmp_path / "train.html").read_text()
    assert '<div class="warning"><strong>Warning:</strong> the validation pixels were drawn at random' in page
    provenance = load_model(str(tmp_path / "m.ncglf2")).provenance
    assert provenance["split"] == {"method": "random"} and provenance["training"]["validation_split"] == "random"
    assert provenance["validation_warnings"][0] == warnings[0][len("warning: ") :]


def test_an_ogr_layer_with_points_and_polygons_groups_each_kind(tmp_path):
    features = [
        (box_wkt(0, 0, 4, 4), {"class": 1}),
        (point_wkt(10, 10), {"class": 1}),
        (box_wkt(20, 0, 22, 2), {"class": 2}),
        ("MULTIPOINT ((660030.5 5100020.5), (660031.5 5100020.5))", {"class": 2}),
    ]
    labels = read_labels(
        write_vector(tmp_path / "mixed.gpkg", features, fields={"class": ogr.OFTInteger}),
        grid(tmp_path),
        class_field="class",
    )
    by_pixel = {(int(r), int(c)): int(g) for r, c, g in zip(labels.rows, labels.cols, labels.groups)}
    assert {by_pixel[(r, c)] for r in range(4) for c in range(4)} == {1}
    assert by_pixel[(10, 10)] == 0 and by_pixel[(9, 30)] == 0 and by_pixel[(9, 31)] == 0
    assert {by_pixel[(r, c)] for r in range(2) for c in range(20, 22)} == {3}


# ---------------------------------------------------------------- one split a network of an ensemble


def assert_members_apart(labels: LabeledPixels, split: Split, patch_size: int, members: int, **options) -> None:
    """Network k's split is the spatial split of its seed; the unions and the rest make up the labels."""
    assert split.networks is not None and len(split.networks) == members and split.summary["members"] == members
    for k, (train_at, validation_at) in enumerate(split.networks):
        alone = split_samples(
            labels,
            seed=member_seed(options["seed"], k),
            patch_size=patch_size,
            **{n: v for n, v in options.items() if n != "seed"},
        )
        assert np.array_equal(train_at, alone.train) and np.array_equal(validation_at, alone.validation)
        if validation_at.size:
            assert chebyshev_gaps(labels, validation_at, train_at).min() >= patch_size
    trained = np.unique(np.concatenate([t for t, _ in split.networks]))
    validated = np.unique(np.concatenate([v for _, v in split.networks]))
    assert np.array_equal(split.train, trained) and np.array_equal(split.validation, validated)
    rest = np.setdiff1d(np.arange(len(labels)), np.union1d(trained, validated))
    assert np.array_equal(split.test, rest)


def test_each_network_of_an_ensemble_gets_the_spatial_split_of_its_own_seed(polygon_labels):
    labels, _ = polygon_labels
    options = {"samples_per_class": 10, "validation_fraction": 0.2, "seed": 3}
    split = split_samples(labels, patch_size=5, networks=3, **options)
    assert_members_apart(labels, split, 5, 3, **options)
    held = [set(labels.groups[v].tolist()) for _, v in split.networks]
    assert held[0] != held[1] and held[1] != held[2]  # the networks hold out different polygons
    assert split.train.size > 3 * 10  # and learn from more pixels together than one network
    for c in split.summary["classes"]:
        mine = labels.class_ids[split.validation] == c["id"]
        assert c["validation_pixels"] == int(np.count_nonzero(mine))
        assert c["held_out"] == np.unique(labels.groups[split.validation[mine]]).size
    again = split_samples(labels, patch_size=5, networks=3, **options)
    assert all(np.array_equal(a, b) for fold, other in zip(split.networks, again.networks) for a, b in zip(fold, other))


def test_an_ensembles_splits_on_points_and_rasters_stay_apart(tmp_path):
    rng = np.random.default_rng(5)
    features = []
    for row, col in rng.uniform([0, 0], [HEIGHT, WIDTH], (25, 2)):
        for dr, dc in rng.normal(0, 2.5, (8, 2)):
            r, c = float(np.clip(row + dr, 0, HEIGHT - 0.5)), float(np.clip(col + dc, 0, WIDTH - 0.5))
            features.append((point_wkt(c, r), {"class": 1 + int(c * 3 // WIDTH)}))
    points = read_labels(write_vector(tmp_path / "points.gpkg", features), grid(tmp_path), class_field="class")
    options = {"samples_per_class": 15, "validation_fraction": 0.2, "seed": 0}
    assert_members_apart(points, split_samples(points, patch_size=5, networks=4, **options), 5, 4, **options)
    image = np.ones((HEIGHT, WIDTH), dtype=np.uint8)
    image[:, WIDTH // 2 :] = 2
    dense = read_labels(write_raster(tmp_path / "dense.tif", image), grid(tmp_path))
    options = {"samples_per_class": None, "validation_fraction": 0.15, "seed": 1}
    split = split_samples(dense, patch_size=5, networks=2, **options)
    assert_members_apart(dense, split, 5, 2, **options)
    assert all(c["groups"] == "regions cut into blocks" for c in split.summary["classes"])


def test_an_ensembles_notes_say_which_network_they_are_about(tmp_path):
    features = [
        (box_wkt(0, 0, 10, 3), {"class": 1}),
        (box_wkt(30, 0, 34, 3), {"class": 1}),
        (box_wkt(35, 0, 37, 2), {"class": 3}),
    ]
    labels = read_labels(write_vector(tmp_path / "l.gpkg", features), grid(tmp_path), class_field="class")
    split = split_samples(labels, samples_per_class=20, validation_fraction=0.15, seed=0, patch_size=5, networks=2)
    assert any(note.startswith("network 1: 'class 3': only 0 of its 4 labelled pixels") for note in split.notes)
    assert any(note.startswith("network 2: ") for note in split.notes)


def test_training_an_ensemble_validates_each_network_on_its_split_and_reports_out_of_split(tmp_path):
    log = Log()
    outcome = train_tiny(tmp_path, log, epochs=3, members=2)
    bundle = load_model(str(tmp_path / "m.ncglf2"))
    split = bundle.provenance["split"]
    assert split["method"] == "spatial" and split["members"] == 2 and len(bundle.provenance["best_epochs"]) == 2
    assert outcome.validation is not None
    assert outcome.validation.n == outcome.validation_pixels == sum(c["validation_pixels"] for c in split["classes"])
    assert outcome.train_pixels > 60  # 20 pixels a class for each network, drawn apart
    assert bundle.training_pixels is not None and bundle.training_pixels.rows.size == outcome.train_pixels
    assert any(line.startswith("spatial validation split for each of the 2 networks (class 1: ") for line in log.lines)
    assert any(line.startswith("ensemble of 2: validation accuracy ") for line in log.lines)
    assert "<h2>Validation split</h2><p>Spatial, one split a network:" in (tmp_path / "train.html").read_text()
