"""Training / validation / test split of labelled pixels, as in the paper.

N random pixels per class for training (or all of them), a stratified
fraction of the rest for validation (or a separate validation layer), the
remainder held out for testing. Seeded, so a split can be repeated. Labelled
pixels without data in the rasters are left out before the split.

Everything is a few arrays of N small integers, whatever the number of labels.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import InputError
from ..io.labels import LabeledPixels

__all__ = ["Split", "split_samples", "validate_label_counts", "drop_invalid", "check_after_dropping"]


@dataclass
class Split:
    """Indices into a :class:`LabeledPixels`' arrays (int32 unless there are more than 2^31 pixels)."""

    train: np.ndarray
    validation: np.ndarray
    test: np.ndarray


def validate_label_counts(labels) -> None:
    """Refuse labels that cannot train a classifier, naming the class at fault."""
    table = labels.classes
    counts = [int(np.count_nonzero(labels.class_ids == cid)) for cid in table.ids]
    present = [(cid, name, int(c)) for cid, name, c in zip(table.ids, table.names, counts) if c > 0]
    if len(present) < 2:
        found = ", ".join(f"{name!r} ({c} pixels)" for _, name, c in present) or "none"
        raise InputError(f"labels: at least 2 classes with labelled pixels on the raster are needed; found {found}")
    few = [f"{name!r} (id {cid}: {c} pixel{'s' if c != 1 else ''})" for cid, name, c in present if c < 2]
    if few:
        raise InputError(
            f"labels: every class needs at least 2 labelled pixels on the raster; too few for {', '.join(few)}"
        )


def _describe(labels: LabeledPixels, cid: int) -> str:
    return f"{labels.classes.names[labels.classes.ids.index(cid)]!r} (id {cid})"


def drop_invalid(labels: LabeledPixels, valid: np.ndarray) -> tuple[LabeledPixels, dict[int, int]]:
    """The labels at valid pixels only, and how many each class lost (classes that lost none left out)."""
    if valid.all():
        return labels, {}
    ids, lost = np.unique(labels.class_ids[~valid], return_counts=True)
    kept = LabeledPixels(labels.rows[valid], labels.cols[valid], labels.class_ids[valid], labels.classes)
    return kept, {int(i): int(n) for i, n in zip(ids, lost)}


def check_after_dropping(
    labels: LabeledPixels, dropped: dict[int, int], samples_per_class: int | None, source: str
) -> None:
    """Refuse a class that nodata left with fewer pixels than the samples per class asked (or than 2)."""
    counts = labels.counts()
    needed = max(2, samples_per_class or 2)
    short = [
        f"{_describe(labels, cid)} keeps {counts[cid]} of {counts[cid] + lost}"
        for cid, lost in dropped.items()
        if counts[cid] < needed
    ]
    if short:
        asked = f"{samples_per_class} samples per class are asked" if samples_per_class else "2 are needed"
        raise InputError(
            f"labels {source}: too few labelled pixels on valid HSI and LiDAR data (not nodata or NaN) for "
            f"{'; '.join(short)}; {asked}: label more pixels where the rasters hold data, or ask fewer samples"
        )


def split_samples(
    labels,
    samples_per_class: int | None = 20,
    validation_fraction: float = 0.15,
    seed: int = 0,
    separate_validation: bool = False,
) -> Split:
    """Split labelled pixels per class.

    ``samples_per_class=None`` trains on all pixels of a class except its
    validation share. With ``separate_validation`` the validation comes from
    another layer, so here everything not trained on is test.
    """
    if samples_per_class is not None and samples_per_class < 1:
        raise InputError(f"samples per class must be at least 1 (got {samples_per_class})")
    if not 0.0 <= validation_fraction < 1.0:
        raise InputError(f"the validation fraction must be in [0, 1) (got {validation_fraction})")
    validate_label_counts(labels)
    rng = np.random.default_rng(seed)
    fraction = 0.0 if separate_validation else validation_fraction
    train, validation, test = [], [], []
    for class_id in labels.classes.ids:  # a loop over classes, not pixels
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

    def join(parts: list[np.ndarray]) -> np.ndarray:
        return np.sort(np.concatenate(parts)).astype(dtype) if parts else np.zeros(0, dtype=dtype)

    return Split(join(train), join(validation), join(test))
