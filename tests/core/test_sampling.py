"""Per-class training samples, stratified validation, seeded; clear errors."""

import numpy as np
import pytest

from ncglf2.core import InputError
from ncglf2.core.io.labels import ClassTable, LabeledPixels
from ncglf2.core.pipeline.sampling import split_samples


def labels_with(counts: dict[int, int]) -> LabeledPixels:
    ids = np.concatenate([np.full(n, c) for c, n in counts.items()]).astype(np.int32)
    index = np.arange(ids.size, dtype=np.int32)
    table = ClassTable(list(counts), [f"class {c}" for c in counts], [(0, 0, 0)] * len(counts))
    return LabeledPixels(index // 100, index % 100, ids, table)


def test_counts_and_disjoint():
    labels = labels_with({1: 100, 2: 60, 5: 21})
    split = split_samples(labels, samples_per_class=20, validation_fraction=0.15, seed=3)
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
    split = split_samples(labels, samples_per_class=None, validation_fraction=0.25)
    assert split.train.size == 45 and split.validation.size == 15 and split.test.size == 0


def test_separate_validation_leaves_rest_as_test():
    split = split_samples(labels_with({1: 40, 2: 30}), samples_per_class=10, separate_validation=True)
    assert split.validation.size == 0 and split.test.size == 50


def test_errors_name_the_problem():
    with pytest.raises(InputError, match="at least 2 classes"):
        split_samples(labels_with({3: 30}))
    with pytest.raises(InputError, match="too few for 'class 7' \\(id 7: 1 pixel\\)"):
        split_samples(labels_with({1: 30, 7: 1}))
