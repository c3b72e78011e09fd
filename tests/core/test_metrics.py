"""Accuracy metrics against a confusion matrix worked out by hand."""

import math

import numpy as np
import pytest

from ncglf2.core.errors import InputError
from ncglf2.core.pipeline.metrics import ConfusionAccumulator, assess, confusion_matrix, wilson_interval

# Non-contiguous ids on purpose: rows/columns follow the order given, not the id values.
IDS = [7, 2, 5]
NAMES = ["Grass", "Road", "Water"]

# Rows = reference, columns = mapped, in the order of IDS.
#             Grass Road Water | reference total
#   Grass       5     1    0   |  6
#   Road        2     3    1   |  6
#   Water       0     1    4   |  5
#   mapped      7     5    5   | 17, diagonal 12
HAND = np.array([[5, 1, 0], [2, 3, 1], [0, 1, 4]], dtype=np.int64)
# OA    = 12/17
# PA    = 5/6, 3/6, 4/5            UA = 5/7, 3/5, 4/5
# F1    = 2TP/(ref+mapped) = 10/13, 6/11, 8/10
# AA    = (5/6 + 1/2 + 4/5)/3 = (25 + 15 + 24)/90 = 32/45
# pe    = (6*7 + 6*5 + 5*5)/17^2 = 97/289;  po = 204/289
# kappa = (204 - 97)/(289 - 97) = 107/192
# CI    = 12/17 -/+ 1.96*sqrt((12/17)(5/17)/17)


def pixels_from(matrix, ids, rng):
    """Shuffled (reference, predicted) pixel pairs realising ``matrix``."""
    ref, pred = [], []
    for i, r in enumerate(ids):
        for j, p in enumerate(ids):
            ref += [r] * int(matrix[i, j])
            pred += [p] * int(matrix[i, j])
    order = rng.permutation(len(ref))
    return np.asarray(ref)[order], np.asarray(pred)[order]


@pytest.fixture
def hand_pixels():
    return pixels_from(HAND, IDS, np.random.default_rng(0))


def test_hand_computed_scores(hand_pixels):
    reference, predicted = hand_pixels
    a = assess(reference, predicted, IDS, NAMES)
    np.testing.assert_array_equal(a.confusion, HAND)
    assert a.confusion.dtype == np.int64
    assert a.n == 17
    assert a.class_ids == IDS and a.names == NAMES
    assert a.oa == pytest.approx(12 / 17, abs=1e-12)
    assert a.aa == pytest.approx(32 / 45, abs=1e-12)
    assert a.kappa == pytest.approx(107 / 192, abs=1e-12)
    np.testing.assert_allclose(a.producers, [5 / 6, 3 / 6, 4 / 5], rtol=0, atol=1e-12)
    np.testing.assert_allclose(a.users, [5 / 7, 3 / 5, 4 / 5], rtol=0, atol=1e-12)
    np.testing.assert_allclose(a.f1, [10 / 13, 6 / 11, 8 / 10], rtol=0, atol=1e-12)
    half = 1.96 * math.sqrt((12 / 17) * (5 / 17) / 17)
    assert a.oa_ci95[0] == pytest.approx(12 / 17 - half, abs=1e-12)
    assert a.oa_ci95[1] == pytest.approx(12 / 17 + half, abs=1e-12)
    np.testing.assert_array_equal(a.reference_pixels, [6, 6, 5])
    np.testing.assert_array_equal(a.mapped_pixels, [7, 5, 5])


def test_confusion_matrix_function_matches(hand_pixels):
    reference, predicted = hand_pixels
    np.testing.assert_array_equal(confusion_matrix(reference.reshape(1, 17), predicted.reshape(1, 17), IDS), HAND)


def test_reference_zero_unknown_and_unclassified_are_ignored(hand_pixels):
    reference, predicted = hand_pixels
    # reference 0 (unlabelled), -9999 and 99 (not a class): no truth, ignored whatever the map says;
    # map 0 (not classified) over a labelled pixel: ignored as well.
    extra_ref = np.array([0, 0, 0, -9999, 99, 99, 7, 2, 5])
    extra_pred = np.array([7, 2, 42, 7, 5, 0, 0, 0, 0])
    a = assess(np.concatenate([reference, extra_ref]), np.concatenate([predicted, extra_pred]), IDS, NAMES)
    np.testing.assert_array_equal(a.confusion, HAND)
    assert a.n == 17
    assert a.kappa == pytest.approx(107 / 192, abs=1e-12)


def test_nan_reference_is_ignored(hand_pixels):
    reference, predicted = hand_pixels
    ref = np.concatenate([reference.astype(np.float32), [np.nan, np.nan]])
    pred = np.concatenate([predicted, [7, 2]])
    np.testing.assert_array_equal(assess(ref, pred, IDS, NAMES).confusion, HAND)


def test_unknown_predicted_ids_count_as_errors(hand_pixels):
    reference, predicted = hand_pixels
    # Two Grass pixels and one Water pixel mapped to 42, which is no class.
    a = assess(np.concatenate([reference, [7, 7, 5]]), np.concatenate([predicted, [42, 42, 42]]), IDS, NAMES)
    np.testing.assert_array_equal(a.confusion, HAND)
    np.testing.assert_array_equal(a.other_ids, [2, 0, 1])
    assert a.n == 20
    assert a.oa == pytest.approx(12 / 20, abs=1e-12)
    # Grass: 5 of 8, Water: 4 of 6; users unchanged (42 is no mapped class).
    np.testing.assert_allclose(a.producers, [5 / 8, 3 / 6, 4 / 6], rtol=0, atol=1e-12)
    np.testing.assert_allclose(a.users, [5 / 7, 3 / 5, 4 / 5], rtol=0, atol=1e-12)
    np.testing.assert_array_equal(a.reference_pixels, [8, 6, 6])
    # pe = (8*7 + 6*5 + 6*5)/20^2 = 116/400; kappa = (240 - 116)/(400 - 116) = 124/284
    assert a.kappa == pytest.approx(124 / 284, abs=1e-12)
    assert a.to_dict()["per_class"][0]["mapped_to_other_ids"] == 2


def test_class_absent_from_reference():
    # Water (5) is never in the reference but mapped twice.
    reference = np.array([7, 7, 7, 2, 2, 2, 2])
    predicted = np.array([7, 7, 5, 2, 2, 2, 5])
    a = assess(reference, predicted, IDS, NAMES)
    assert math.isnan(a.producers[2])
    assert a.users[2] == 0.0 and a.f1[2] == 0.0
    # AA over Grass and Road only: (2/3 + 3/4)/2 = 17/24
    assert a.aa == pytest.approx(17 / 24, abs=1e-12)
    assert a.to_dict()["per_class"][2]["producers_accuracy"] is None


def test_class_never_mapped_has_undefined_users_accuracy():
    a = assess(np.array([7, 7, 2, 5]), np.array([7, 7, 7, 5]), IDS, NAMES)
    assert math.isnan(a.users[1]) and a.producers[1] == 0.0 and a.f1[1] == 0.0


def test_class_neither_in_reference_nor_map_has_nan_f1():
    a = assess(np.array([7, 2, 2]), np.array([7, 2, 7]), IDS, NAMES)
    assert math.isnan(a.producers[2]) and math.isnan(a.users[2]) and math.isnan(a.f1[2])
    d = a.to_dict()["per_class"][2]
    assert d["f1"] is None and d["users_accuracy"] is None and d["reference_pixels"] == 0


def test_perfect_map():
    reference = np.random.default_rng(1).choice(IDS, size=(40, 30))
    a = assess(reference, reference.copy(), IDS, NAMES)
    assert a.oa == 1.0 and a.aa == 1.0 and a.kappa == pytest.approx(1.0, abs=1e-12)
    assert a.oa_ci95 == (1.0, 1.0)
    np.testing.assert_array_equal(a.producers, [1.0, 1.0, 1.0])


def test_single_class_perfect_map_has_undefined_kappa():
    a = assess(np.array([7, 7, 7]), np.array([7, 7, 7]), IDS, NAMES)
    assert a.oa == 1.0 and math.isnan(a.kappa)
    assert a.to_dict()["kappa"] is None


def test_streaming_equals_one_shot():
    rng = np.random.default_rng(2)
    reference = rng.choice([0, 7, 2, 5, 99], size=(97, 131)).astype(np.uint16)
    predicted = np.where(
        rng.random(reference.shape) < 0.7, reference, rng.choice([0, 7, 2, 5, 42], size=reference.shape)
    )
    predicted = predicted.astype(np.int32)
    whole = assess(reference, predicted, IDS, NAMES)
    accumulator = ConfusionAccumulator(IDS)
    for row in range(0, 97, 32):
        for col in range(0, 131, 50):
            accumulator.update(reference[row : row + 32, col : col + 50], predicted[row : row + 32, col : col + 50])
    streamed = accumulator.result(NAMES)
    np.testing.assert_array_equal(streamed.confusion, whole.confusion)
    np.testing.assert_array_equal(streamed.other_ids, whole.other_ids)
    assert streamed.other_ids.sum() > 0
    assert streamed.to_dict() == whole.to_dict()
    np.testing.assert_array_equal(accumulator.confusion, whole.confusion)


def test_bad_inputs_are_refused():
    with pytest.raises(InputError, match="shape"):
        assess(np.zeros((2, 3)), np.zeros((3, 2)), IDS, NAMES)
    with pytest.raises(InputError, match="no pixel can be assessed"):
        assess(np.array([0, 0, 99]), np.array([7, 2, 5]), IDS, NAMES)
    with pytest.raises(InputError, match="duplicates"):
        ConfusionAccumulator([1, 2, 1])
    with pytest.raises(InputError, match="reserved"):
        confusion_matrix(np.array([1]), np.array([1]), [0, 1])
    with pytest.raises(InputError, match="2 class names given for 3"):
        assess(np.array([7]), np.array([7]), IDS, NAMES[:2])


def _wilson(x, n, z=1.96):
    """The Wilson score interval in its textbook form, written out independently of the module's."""
    p = x / n
    centre = (x + z * z / 2) / (n + z * z)
    half = z * math.sqrt(n) / (n + z * z) * math.sqrt(p * (1 - p) + z * z / (4 * n))
    return centre - half, centre + half


def test_wilson_intervals_of_known_counts():
    bounds = wilson_interval(np.array([0, 10, 8, 5, 0]), np.array([10, 10, 10, 6, 0]))
    # Published values: 0/10 -> [0, 0.2775], 10/10 -> [0.7225, 1], 8/10 -> [0.4902, 0.9433].
    np.testing.assert_allclose(bounds[:3], [[0, 0.27754], [0.72246, 1], [0.49016, 0.94332]], rtol=0, atol=1e-5)
    np.testing.assert_allclose(bounds[3], _wilson(5, 6), rtol=0, atol=1e-12)
    assert np.isnan(bounds[4]).all()  # no trials: undefined


def test_per_class_accuracies_carry_wilson_intervals(hand_pixels):
    reference, predicted = hand_pixels
    a = assess(reference, predicted, IDS, NAMES)
    np.testing.assert_allclose(a.producers_ci95, [_wilson(5, 6), _wilson(3, 6), _wilson(4, 5)], rtol=0, atol=1e-12)
    np.testing.assert_allclose(a.users_ci95, [_wilson(5, 7), _wilson(3, 5), _wilson(4, 5)], rtol=0, atol=1e-12)
    assert (a.producers_ci95[:, 0] < a.producers).all() and (a.producers < a.producers_ci95[:, 1]).all()
    per_class = a.to_dict()["per_class"]
    assert per_class[1]["users_ci95"] == pytest.approx(list(_wilson(3, 5)), abs=1e-12)
    absent = assess(np.array([7, 2]), np.array([7, 2]), IDS, NAMES).to_dict()["per_class"][2]
    assert absent["producers_ci95"] == [None, None] and absent["users_ci95"] == [None, None]
