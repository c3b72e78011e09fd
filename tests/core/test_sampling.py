"""Per-class training samples, stratified validation, seeded; clear errors."""

import numpy as np
import pytest

from ncglf2.core import InputError
from ncglf2.core.io.labels import ClassTable, LabeledPixels
from ncglf2.core.pipeline.sampling import check_after_dropping, drop_invalid, split_samples


def labels_with(counts: dict[int, int]) -> LabeledPixels:
    ids = np.concatenate([np.full(n, c) for c, n in counts.items()]).astype(np.int32)
    index = np.arange(ids.size, dtype=np.int32)
    table = ClassTable(list(counts), [f"class {c}" for c in counts], [(0, 0, 0)] * len(counts))
    return LabeledPixels(index // 100, index % 100, ids, table)


def test_counts_and_disjoint():
    labels = labels_with({1: 100, 2: 60, 5: 21})
    split = split_samples(labels, samples_per_class=20, validation_fraction=0.15, seed=3, method="random")
    train_counts = np.bincount(labels.class_ids[split.train], minlength=6)
    assert train_counts[[1, 2, 5]].tolist() == [20, 20, 20]
    val_counts = np.bincount(labels.class_ids[split.validation], minlength=6)
    assert val_counts[[1, 2, 5]].tolist() == [12, 6, 0]  # round(0.15 * rest)
    everything = np.concatenate([split.train, split.validation, split.test])
    assert np.unique(everything).size == everything.size == 181


def test_seed_repeats_and_changes():
    labels = labels_with({1: 50, 2: 50})
    a, b = split_samples(labels, seed=1), split_samples(labels, seed=1)
    c = split_samples(labels, seed=2)
    assert np.array_equal(a.train, b.train) and np.array_equal(a.validation, b.validation)
    assert not np.array_equal(a.train, c.train)


def test_all_samples():
    labels = labels_with({1: 40, 2: 20})
    split = split_samples(labels, samples_per_class=None, validation_fraction=0.25, method="random")
    assert split.train.size == 45 and split.validation.size == 15 and split.test.size == 0


def test_separate_validation_leaves_rest_as_test():
    split = split_samples(labels_with({1: 40, 2: 30}), samples_per_class=10, separate_validation=True)
    assert split.validation.size == 0 and split.test.size == 50


def test_errors_name_the_problem():
    with pytest.raises(InputError, match="at least 2 classes"):
        split_samples(labels_with({3: 30}))
    with pytest.raises(InputError, match="too few for 'class 7' \\(id 7: 1 pixel\\)"):
        split_samples(labels_with({1: 30, 7: 1}))


def test_split_is_small_integer_arrays():
    labels = labels_with({1: 300, 2: 200})
    split = split_samples(labels, samples_per_class=None, validation_fraction=0.2, seed=5, method="random")
    for part in (split.train, split.validation, split.test):
        assert isinstance(part, np.ndarray) and part.dtype == np.int32
    assert split.train.size + split.validation.size == 500


def test_invalid_pixels_are_dropped_and_counted():
    labels = labels_with({1: 30, 2: 25, 4: 10})
    valid = np.ones(len(labels), dtype=bool)
    valid[[0, 1, 2, 40, 64]] = False  # three of class 1, one of class 2, one of class 4
    kept, dropped = drop_invalid(labels, valid)
    assert dropped == {1: 3, 2: 1, 4: 1}
    assert kept.counts() == {1: 27, 2: 24, 4: 9}
    assert np.array_equal(kept.rows, labels.rows[valid]) and np.array_equal(kept.cols, labels.cols[valid])
    same, none = drop_invalid(labels, np.ones(len(labels), dtype=bool))
    assert same is labels and none == {}


def test_a_class_left_short_by_nodata_is_named():
    labels = labels_with({1: 30, 2: 25, 4: 10})
    valid = np.ones(len(labels), dtype=bool)
    valid[[0, 1, 2, 40]] = False
    kept, dropped = drop_invalid(labels, valid)
    check_after_dropping(kept, dropped, 20, "l.tif")  # 27 and 24 are still enough; class 4 lost nothing
    check_after_dropping(kept, dropped, None, "l.tif")
    with pytest.raises(InputError, match=r"labels l.tif: .*'class 2' \(id 2\) keeps 24 of 25; 25 samples per class"):
        check_after_dropping(kept, dropped, 25, "l.tif")
    valid[55:65] = False  # every pixel of class 4
    kept, dropped = drop_invalid(labels, valid)
    with pytest.raises(InputError, match=r"'class 4' \(id 4\) keeps 0 of 10") as error:
        check_after_dropping(kept, dropped, None, "l.tif")
    assert "'class 1'" not in str(error.value)
