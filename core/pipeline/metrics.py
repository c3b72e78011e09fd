"""Accuracy of a classification map against reference labels.

Counting rules, shared by :func:`confusion_matrix`, :func:`assess` and
:class:`ConfusionAccumulator` so that one-shot and block-by-block results are
identical:

* A pixel is assessed only where the reference holds one of ``class_ids``.
  Reference 0 (unlabelled) and any other value (nodata such as -9999, NaN,
  classes the model does not know) are ignored: there is no truth to compare to.
* Where the map holds 0 (not classified / nodata, the classifier's nodata
  value) the pixel is ignored too: it was never classified, so it says nothing
  about the classifier's skill. Callers that want such gaps to count against
  the map must fill them with an id outside ``class_ids`` first.
* Where the map holds any other id that is not in ``class_ids`` the pixel is a
  plain error. It has no column in the ``(K, K)`` confusion matrix, so it is
  kept per reference class in :attr:`Assessment.other_ids`; it lowers the
  producer's accuracy of its reference class, OA, AA and kappa, and counts in
  ``n``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import InputError

__all__ = [
    "Assessment",
    "AwayFromTraining",
    "ConfusionAccumulator",
    "assess",
    "confusion_matrix",
    "wilson_interval",
]

_Z95 = 1.96  # two-sided 95 % normal quantile, rounded as remote-sensing texts quote it


def _class_id_array(class_ids: Sequence[int]) -> np.ndarray:
    """Validate class ids once so that every counting path agrees on them."""
    ids = np.asarray(list(class_ids))
    if ids.ndim != 1 or ids.size == 0:
        raise InputError("class_ids must be a non-empty list of integer class ids")
    if not np.issubdtype(ids.dtype, np.integer):
        raise InputError(f"class_ids must be integers, got {list(class_ids)!r}")
    ids = ids.astype(np.int64)
    if np.any(ids == 0):
        raise InputError("class id 0 is reserved for 'unlabelled / not classified' and cannot be a class")
    if np.unique(ids).size != ids.size:
        raise InputError(f"class_ids contain duplicates: {ids.tolist()}")
    return ids


def _count_pairs(reference: np.ndarray, predicted: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """(K, K + 1) counts; the last column holds predictions of ids that are no class."""
    reference = np.asarray(reference)
    predicted = np.asarray(predicted)
    if reference.shape != predicted.shape:
        raise InputError(f"reference and classification differ in shape: {reference.shape} vs {predicted.shape}")
    k = ids.size
    order = np.argsort(ids)
    sorted_ids = ids[order]
    reference = reference.ravel()
    predicted = predicted.ravel()

    ref_pos = np.searchsorted(sorted_ids, reference).clip(0, k - 1)
    valid = sorted_ids[ref_pos] == reference  # False for 0, unknown ids and NaN
    valid &= predicted != 0
    pred_pos = np.searchsorted(sorted_ids, predicted).clip(0, k - 1)
    pred_known = sorted_ids[pred_pos] == predicted

    ref_index = order[ref_pos[valid]]
    pred_index = np.where(pred_known[valid], order[pred_pos[valid]], k)
    flat = np.bincount(ref_index * (k + 1) + pred_index, minlength=k * (k + 1))
    return flat.astype(np.int64, copy=False).reshape(k, k + 1)


def confusion_matrix(reference: np.ndarray, predicted: np.ndarray, class_ids: Sequence[int]) -> np.ndarray:
    """Count reference/mapped pairs, rows = reference class, columns = mapped class.

    Both arrays must have the same shape (any). Rows and columns follow the
    order of ``class_ids``. Ignored pixels follow the module rules; pixels
    mapped to an id outside ``class_ids`` have no column here — use
    :func:`assess` or :class:`ConfusionAccumulator`, which count them as errors.

    Returns:
        ``(K, K)`` int64 array.
    """
    ids = _class_id_array(class_ids)
    return _count_pairs(reference, predicted, ids)[:, :-1].copy()


def wilson_interval(successes: np.ndarray, trials: np.ndarray, z: float = _Z95) -> np.ndarray:
    """(K, 2) Wilson score intervals of ``successes / trials``; NaN where there are no trials.

    Unlike the normal approximation it stays inside [0, 1] and does not shrink
    to nothing at 0 % or 100 %, which matters for classes with few pixels.
    """
    x = np.asarray(successes, dtype=np.float64)
    n = np.asarray(trials, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = x / n
        z2n = z * z / n
        centre = (p + z2n / 2.0) / (1.0 + z2n)
        half = z / (1.0 + z2n) * np.sqrt(p * (1.0 - p) / n + z2n / (4.0 * n))
    bounds = np.stack([np.clip(centre - half, 0.0, 1.0), np.clip(centre + half, 0.0, 1.0)], axis=-1)
    bounds[n <= 0] = np.nan
    return bounds


def _nan_to_none(value: float) -> float | None:
    return None if value is None or math.isnan(value) else float(value)


@dataclass
class Assessment:
    """Scores of one map against one reference, with everything needed to report them.

    ``oa``, ``aa`` and ``kappa`` are fractions (kappa may be negative when the
    map is worse than chance; NaN when undefined, see :func:`_scores`).
    ``oa_ci95`` is the normal-approximation (Wald) 95 % interval
    ``oa ± 1.96·sqrt(oa(1-oa)/n)`` clipped to [0, 1]: simple and standard in
    remote-sensing reports, but it treats pixels as independent samples, so
    with spatially clustered reference pixels the true interval is wider.
    Per-class arrays are NaN where undefined: producer's accuracy without
    reference pixels, user's accuracy without mapped pixels, F1
    (``2·TP / (reference + mapped)``) when the class has neither.
    ``producers_ci95`` and ``users_ci95`` are (K, 2) Wilson 95 % intervals
    (:func:`wilson_interval`), with the same caveat about clustered pixels.
    """

    class_ids: list[int]
    names: list[str]
    confusion: np.ndarray
    n: int
    oa: float
    aa: float
    kappa: float
    oa_ci95: tuple[float, float]
    producers: np.ndarray
    users: np.ndarray
    f1: np.ndarray
    # Per reference class: pixels mapped to an id outside ``class_ids`` (errors).
    other_ids: np.ndarray = field(default=None)  # type: ignore[arg-type]  # filled in __post_init__
    producers_ci95: np.ndarray = field(default=None)  # type: ignore[arg-type]  # filled in __post_init__
    users_ci95: np.ndarray = field(default=None)  # type: ignore[arg-type]  # filled in __post_init__

    def __post_init__(self) -> None:
        if self.other_ids is None:
            self.other_ids = np.zeros(len(self.class_ids), dtype=np.int64)
        correct = np.diag(self.confusion)
        if self.producers_ci95 is None:
            self.producers_ci95 = wilson_interval(correct, self.reference_pixels)
        if self.users_ci95 is None:
            self.users_ci95 = wilson_interval(correct, self.mapped_pixels)

    @property
    def reference_pixels(self) -> np.ndarray:
        """Assessed reference pixels per class (row totals, errors to other ids included)."""
        return self.confusion.sum(axis=1) + self.other_ids

    @property
    def mapped_pixels(self) -> np.ndarray:
        """Assessed pixels mapped to each class (column totals)."""
        return self.confusion.sum(axis=0)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready plain types; NaN becomes ``None``."""
        reference = self.reference_pixels
        mapped = self.mapped_pixels
        per_class = [
            {
                "id": int(cid),
                "name": str(name),
                "producers_accuracy": _nan_to_none(self.producers[i]),
                "producers_ci95": [_nan_to_none(v) for v in self.producers_ci95[i]],
                "users_accuracy": _nan_to_none(self.users[i]),
                "users_ci95": [_nan_to_none(v) for v in self.users_ci95[i]],
                "f1": _nan_to_none(self.f1[i]),
                "reference_pixels": int(reference[i]),
                "mapped_pixels": int(mapped[i]),
                "mapped_to_other_ids": int(self.other_ids[i]),
            }
            for i, (cid, name) in enumerate(zip(self.class_ids, self.names))
        ]
        return {
            "oa": _nan_to_none(self.oa),
            "aa": _nan_to_none(self.aa),
            "kappa": _nan_to_none(self.kappa),
            "oa_ci95": [_nan_to_none(self.oa_ci95[0]), _nan_to_none(self.oa_ci95[1])],
            "n": int(self.n),
            "class_ids": [int(c) for c in self.class_ids],
            "names": [str(s) for s in self.names],
            "per_class": per_class,
            "confusion_matrix": self.confusion.astype(np.int64).tolist(),
            "mapped_to_other_ids": int(self.other_ids.sum()),
        }


@dataclass
class AwayFromTraining:
    """The accuracy on the reference pixels whose patch holds no training pixel of the model: the honest figure.

    A reference pixel within ``radius`` = P // 2 pixels (Chebyshev distance) of
    a training pixel shares part of its P x P patch with it, and so part of what
    the network was fitted on; its accuracy flatters the map. ``assessment`` is
    None when no reference pixel lies farther away, or when the figure cannot be
    computed at all (``unavailable`` says why: the model does not record its
    training pixels, or the class map is on another kind of grid).
    """

    assessment: Assessment | None
    patch_size: int = 0
    training_pixels: int = 0  # recorded in the model
    excluded: int = 0  # assessed reference pixels within reach of a training pixel, left out
    unavailable: str = ""

    @property
    def radius(self) -> int:
        return self.patch_size // 2

    def describe(self) -> str:
        """What the figure covers, in a reader's words."""
        if self.unavailable:
            return f"the accuracy away from the training pixels cannot be computed: {self.unavailable}"
        return (
            f"reference pixels more than {self.radius} pixels (half the {self.patch_size} x {self.patch_size} "
            f"patch) from each of the model's {self.training_pixels:,} training pixels, so that no patch holds one; "
            f"{self.excluded:,} reference pixels closer than that are left out"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "honest": not self.unavailable and self.assessment is not None,
            "description": self.describe(),
            "unavailable": self.unavailable or None,
            "patch_size": self.patch_size or None,
            "radius_pixels": self.radius if self.patch_size else None,
            "training_pixels": self.training_pixels,
            "excluded_reference_pixels": self.excluded,
            "assessment": self.assessment.to_dict() if self.assessment is not None else None,
        }


def _scores(counts: np.ndarray, ids: np.ndarray, names: Sequence[str]) -> Assessment:
    """Turn (K, K + 1) counts into an :class:`Assessment`."""
    names = [str(s) for s in names]
    if len(names) != ids.size:
        raise InputError(f"{len(names)} class names given for {ids.size} class ids")
    confusion = counts[:, :-1].copy()
    other = counts[:, -1].copy()
    n = int(counts.sum())
    if n == 0:
        raise InputError(
            "no pixel can be assessed: the reference holds none of the class ids "
            f"{ids.tolist()} where the classification is not 0"
        )
    diag = np.diag(confusion).astype(np.float64)
    reference = counts.sum(axis=1).astype(np.float64)
    mapped = confusion.sum(axis=0).astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        producers = np.where(reference > 0, diag / reference, np.nan)
        users = np.where(mapped > 0, diag / mapped, np.nan)
        both = reference + mapped
        f1 = np.where(both > 0, 2.0 * diag / both, np.nan)

    oa = float(diag.sum() / n)
    aa = float(np.mean(producers[reference > 0]))
    # Float products: reference_i * mapped_i can overflow int64 on large rasters.
    pe = float(np.dot(reference / n, mapped / n))
    # pe == 1 only when reference and map both hold a single, same class: chance
    # explains everything and kappa is undefined.
    kappa = float((oa - pe) / (1.0 - pe)) if pe < 1.0 else math.nan
    half = _Z95 * math.sqrt(oa * (1.0 - oa) / n)
    ci = (max(0.0, oa - half), min(1.0, oa + half))
    return Assessment(
        class_ids=[int(c) for c in ids],
        names=names,
        confusion=confusion,
        n=n,
        oa=oa,
        aa=aa,
        kappa=kappa,
        oa_ci95=ci,
        producers=producers,
        users=users,
        f1=f1,
        other_ids=other,
    )


def assess(reference: np.ndarray, predicted: np.ndarray, class_ids: Sequence[int], names: Sequence[str]) -> Assessment:
    """Score a whole classification that fits in memory (see module rules)."""
    ids = _class_id_array(class_ids)
    return _scores(_count_pairs(reference, predicted, ids), ids, names)


class ConfusionAccumulator:
    """Counts block by block, so a raster larger than memory is assessed in one pass.

    Gives exactly the same :class:`Assessment` as :func:`assess` on the whole arrays.
    """

    def __init__(self, class_ids: Sequence[int]) -> None:
        self._ids = _class_id_array(class_ids)
        self._counts = np.zeros((self._ids.size, self._ids.size + 1), dtype=np.int64)

    @property
    def class_ids(self) -> list[int]:
        return [int(c) for c in self._ids]

    @property
    def confusion(self) -> np.ndarray:
        """The ``(K, K)`` matrix counted so far (a copy)."""
        return self._counts[:, :-1].copy()

    @property
    def pixels(self) -> int:
        """Pixels assessed so far."""
        return int(self._counts.sum())

    def update(self, reference_block: np.ndarray, predicted_block: np.ndarray) -> None:
        """Add one block (same-shaped reference and map windows)."""
        self._counts += _count_pairs(reference_block, predicted_block, self._ids)

    def result(self, names: Sequence[str]) -> Assessment:
        """Scores over every block added so far."""
        return _scores(self._counts, self._ids, names)
