"""Training / validation / test split of labelled pixels.

N random pixels per class for training (or all of them), a share of the rest
for validation (or a separate validation layer), the remainder held out for
testing. Seeded, so a split can be repeated. Labelled pixels without data in
the rasters are left out before the split.

Validation is spatial by default: whole polygons, connected regions of a class
raster or blocks of points are held out, and no training pixel lies within
``patch_size - 1`` pixels (Chebyshev) of a validation pixel, so no training
patch overlaps a validation patch. The paper's random split (validation
pixels drawn among the training pixels' neighbours) stays on request.

Everything is a few arrays of N small integers, whatever the number of labels.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import InputError
from ..io.labels import LabeledPixels
from ..requests import VALIDATION_SPLITS
from .spatial import block_keys, connected_regions, dense_ids, near_pixels

__all__ = ["Split", "split_samples", "member_seed", "validate_label_counts", "drop_invalid", "check_after_dropping"]


#: Points fall in square blocks of about a tenth of the labelled extent's longer side (a 10 x 10 grid).
POINT_BLOCKS_PER_SIDE = 10
#: A polygon or region holding more than this share of its class is cut into blocks: there would be
#: nothing else to hold out, or holding it out would take most of the class.
DOMINANT_SHARE = 0.5
#: Blocks cut from such a polygon or region are sized so that about this many make the class's validation.
BLOCKS_PER_VALIDATION = 4


@dataclass
class _HoldoutGroups:
    groups: np.ndarray  # dense group id of each labelled pixel
    sizes: np.ndarray  # pixels of each group
    members_of: dict[int, np.ndarray]  # the labelled pixels of each class that has some
    block_side: dict[int, int]  # the side of the blocks a class's dominant groups are cut into
    cut_classes: set[int]  # the classes whose dominant groups were cut
    is_point: np.ndarray  # whether a pixel's group is a block of points
    point_side: int | None  # the side of the points' blocks


@dataclass
class Split:
    """Indices into a :class:`LabeledPixels`' arrays (int32 unless there are more than 2^31 pixels).

    With ``networks``, ``train`` and ``validation`` are the unions of the
    networks' own and may share pixels: a pixel one network validates on,
    another may train on.

    ``summary`` says how the validation was drawn (JSON-ready, for the model's
    provenance and the report); ``notes`` what the user should know about it.
    """

    train: np.ndarray
    validation: np.ndarray
    test: np.ndarray
    method: str = "random"  # random, spatial, or separate (the validation comes from another layer)
    summary: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    #: For an ensemble's spatial splits: (training, validation) indices of each network; None for one split.
    networks: list[tuple[np.ndarray, np.ndarray]] | None = None


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
    groups = labels.groups[valid] if labels.groups is not None else None
    kept = LabeledPixels(labels.rows[valid], labels.cols[valid], labels.class_ids[valid], labels.classes, groups)
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
    *,
    method: str = VALIDATION_SPLITS[0],
    patch_size: int = 11,
    networks: int = 1,
) -> Split:
    """Split labelled pixels per class.

    ``samples_per_class=None`` trains on all pixels of a class except its
    validation share. With ``separate_validation`` the validation comes from
    another layer, so here everything not trained on is test, whatever the
    ``method``. ``patch_size`` sets the spatial split's gap and smallest block.
    ``networks`` above 1 (an ensemble's) draws a spatial split for
    each network, with the network's seed.
    """
    if samples_per_class is not None and samples_per_class < 1:
        raise InputError(f"samples per class must be at least 1 (got {samples_per_class})")
    if not 0.0 <= validation_fraction < 1.0:
        raise InputError(f"the validation fraction must be in [0, 1) (got {validation_fraction})")
    if method not in VALIDATION_SPLITS:
        raise InputError(f"validation split must be one of {', '.join(VALIDATION_SPLITS)} (got {method!r})")
    if patch_size < 1:
        raise InputError(f"patch size must be at least 1 (got {patch_size})")
    validate_label_counts(labels)
    if separate_validation:
        split = _random_split(labels, samples_per_class, 0.0, seed)
        split.method, split.summary = "separate", {"method": "separate"}
        return split
    if method == "random":
        split = _random_split(labels, samples_per_class, validation_fraction, seed)
        split.summary = {"method": "random"}
        return split
    if networks > 1:
        return _member_splits(labels, samples_per_class, validation_fraction, seed, patch_size, networks)
    return _spatial_split(labels, samples_per_class, validation_fraction, seed, patch_size)


def _index_dtype(labels: LabeledPixels) -> type:
    return np.int32 if len(labels) < 2**31 else np.int64


def _join_parts(parts: list[np.ndarray], dtype: type) -> np.ndarray:
    return np.sort(np.concatenate(parts)).astype(dtype) if parts else np.zeros(0, dtype=dtype)


def _random_split(labels: LabeledPixels, samples_per_class: int | None, fraction: float, seed: int) -> Split:
    """The paper's split: N random pixels per class, then a random share of the rest."""
    rng = np.random.default_rng(seed)
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
    dtype = _index_dtype(labels)
    return Split(_join_parts(train, dtype), _join_parts(validation, dtype), _join_parts(test, dtype))


# ---------------------------------------------------------------- spatial split


def _point_block_side(rows: np.ndarray, cols: np.ndarray, patch_size: int) -> int:
    extent = max(int(rows.max()) - int(rows.min()), int(cols.max()) - int(cols.min())) + 1
    return max(patch_size, math.ceil(extent / POINT_BLOCKS_PER_SIDE))


def _groups(labels: LabeledPixels, patch_size: int) -> tuple[np.ndarray, np.ndarray, int | None]:
    """(group per pixel, whether a pixel's group is a block of points, the points' block side).

    Polygons keep their feature; points fall in square blocks; a class raster
    (no groups read) gives its 8-connected regions of one class.
    """
    if labels.groups is None:
        return connected_regions(labels.rows, labels.cols, labels.class_ids), np.zeros(len(labels), bool), None
    points = labels.groups <= 0
    groups = labels.groups.astype(np.int64)
    side = None
    if points.any():
        side = _point_block_side(labels.rows[points], labels.cols[points], patch_size)
        groups = groups.copy()
        groups[points] = -1 - block_keys(labels.rows[points], labels.cols[points], side)
    return groups, points, side


def _choose(sizes: np.ndarray, target: int, rng: np.random.Generator) -> list[int]:
    """Groups (positions in ``sizes``) drawn in random order until they hold about ``target`` pixels.

    A group that would take the total beyond twice the target is passed over;
    when every group is that large, the smallest one is taken: a class with
    two groups or more always gets one.
    """
    if target < 1 or sizes.size < 2:
        return []
    order = rng.permutation(sizes.size)
    chosen, total = [], 0
    for position in order.tolist():  # a loop over groups, until the target: not over pixels
        if total >= target:
            break
        size = int(sizes[position])
        if total + size <= 2 * target:
            chosen.append(position)
            total += size
    if not chosen:
        chosen = [int(order[np.argmin(sizes[order])])]
    return chosen


def _name(labels: LabeledPixels, class_id: int) -> str:
    return labels.classes.names[labels.classes.ids.index(class_id)]


def _group_word(points: bool, polygons: bool, raster: bool) -> str:
    if raster:
        return "regions"
    return "polygons and point blocks" if points and polygons else ("point blocks" if points else "polygons")


def _holdout_groups(labels: LabeledPixels, target: dict[int, int], patch_size: int) -> _HoldoutGroups:
    """The groups that are held out whole: polygons, point blocks or regions, a class's dominant ones cut in blocks.

    ``target`` is the number of pixels of each class one hold-out should
    take; it sizes the blocks (about :data:`BLOCKS_PER_VALIDATION` a hold-out).
    """
    rows, cols, ids = labels.rows, labels.cols, labels.class_ids
    groups, is_point, point_side = _groups(labels, patch_size)
    groups = dense_ids(ids.astype(np.int64), groups)  # a group never spans two classes
    members_of = {cid: np.flatnonzero(ids == cid) for cid in labels.classes.ids}
    members_of = {cid: m for cid, m in members_of.items() if m.size}

    # A group holding most of its class is cut into blocks, sized for a few blocks per validation.
    block_side = {cid: max(patch_size, math.ceil(math.sqrt(t / BLOCKS_PER_VALIDATION))) for cid, t in target.items()}
    sizes = np.bincount(groups)
    limit = np.zeros(sizes.size)  # the largest group a class keeps whole; none when it is not validated
    side = np.zeros(sizes.size, dtype=np.int64)
    for cid, members in members_of.items():
        limit[groups[members]] = DOMINANT_SHARE * members.size if target[cid] >= 1 else np.inf
        side[groups[members]] = block_side[cid]
    cut_classes: set[int] = set()
    if (sizes > limit).any():
        cut = np.flatnonzero((sizes > limit)[groups])
        blocks = np.full(len(labels), -1, dtype=np.int64)
        blocks[cut] = block_keys(rows[cut], cols[cut], side[groups[cut]])
        cut_classes = {int(c) for c in np.unique(ids[cut])}
        groups = dense_ids(groups, blocks)
        sizes = np.bincount(groups)
    return _HoldoutGroups(groups, sizes, members_of, block_side, cut_classes, is_point, point_side)


def _class_summary(labels: LabeledPixels, held: _HoldoutGroups, cid: int) -> dict[str, Any]:
    raster = labels.groups is None
    members = held.members_of[cid]
    points = bool(held.is_point[members].any())
    word = _group_word(points, bool((~held.is_point[members]).any()) and not raster, raster)
    return {
        "id": cid,
        "name": _name(labels, cid),
        "groups": f"{word}{' cut into blocks' if cid in held.cut_classes else ''}",
        "count": int(np.unique(held.groups[members]).size),
        "held_out": 0,  # counted once the gap has settled
        "block_size": held.block_side[cid] if cid in held.cut_classes else None,
    }


def _spatial_split(
    labels: LabeledPixels, samples_per_class: int | None, fraction: float, seed: int, patch_size: int
) -> Split:
    """Whole groups for validation, a gap of ``patch_size - 1`` pixels, then N training pixels per class."""
    rng = np.random.default_rng(seed)
    rows, cols, ids = labels.rows, labels.cols, labels.class_ids
    gap = patch_size - 1
    members_of = {cid: np.flatnonzero(ids == cid) for cid in labels.classes.ids}
    members_of = {cid: m for cid, m in members_of.items() if m.size}
    target = {cid: int(round(fraction * m.size)) for cid, m in members_of.items()}
    holdout = _holdout_groups(labels, target, patch_size)
    groups, sizes, block_side = holdout.groups, holdout.sizes, holdout.block_side

    validation = np.zeros(len(labels), dtype=bool)
    notes: list[str] = []
    classes: dict[int, dict[str, Any]] = {}
    for cid, members in members_of.items():  # a loop over classes
        mine, position = np.unique(groups[members], return_inverse=True)
        chosen = _choose(sizes[mine], target[cid], rng)
        if chosen:
            validation[members[np.isin(position.reshape(-1), chosen)]] = True
        classes[cid] = _class_summary(labels, holdout, cid)
        if target[cid] >= 1 and not chosen:
            notes.append(
                f"{_name(labels, cid)!r}: its {members.size} labelled pixels lie in one block of "
                f"{block_side[cid]} x {block_side[cid]} pixels, too small to hold a part out; it is not validated"
            )

    # A class that the gap leaves short of training pixels first gives back its own validation, then
    # takes back the validation groups of other classes next to it: every class trains.
    wanted = {
        cid: 1 if samples_per_class is None else min(samples_per_class, m.size - int(validation[m].sum()))
        for cid, m in members_of.items()
    }
    while True:  # each round gives back validation groups: a few rounds at most
        near = near_pixels(rows, cols, rows[validation], cols[validation], gap)
        short = [cid for cid, m in members_of.items() if np.count_nonzero(~near[m]) < wanted[cid]]
        if not short:
            break
        for cid in short:
            m = members_of[cid]
            left = (
                f"{_name(labels, cid)!r}: only {np.count_nonzero(~near[m])} of its {m.size} labelled pixels lie "
                f"{patch_size} or more pixels away from every validation pixel, fewer than the {wanted[cid]} it needs"
            )
            if validation[m].any():
                notes.append(f"{left}; it gives back its validation and is not validated")
                validation[m] = False
                wanted[cid] = 1 if samples_per_class is None else min(samples_per_class, m.size)
                continue
            held = np.flatnonzero(validation)
            blocking = held[near_pixels(rows[held], cols[held], rows[m], cols[m], gap)]
            given_back = np.unique(groups[blocking])
            others = ", ".join(repr(_name(labels, int(c))) for c in np.unique(ids[blocking]))
            notes.append(f"{left}; {given_back.size} validation groups of {others} next to it are trained on instead")
            validation &= ~np.isin(groups, given_back)

    train, held_out, test = [], [], []
    for cid, members in members_of.items():
        candidates = members[~near[members]]
        candidates = rng.permutation(candidates)
        count = candidates.size if samples_per_class is None else min(samples_per_class, candidates.size)
        train.append(candidates[:count])
        test.append(candidates[count:])
        held_out.append(members[validation[members]])
        test.append(members[near[members] & ~validation[members]])
        classes[cid]["held_out"] = int(np.unique(groups[held_out[-1]]).size)
        classes[cid]["validation_pixels"] = int(held_out[-1].size)
    dtype = _index_dtype(labels)
    summary = {
        "method": "spatial",
        "patch_size": patch_size,
        "gap": gap,
        "removed_by_gap": int(np.count_nonzero(near & ~validation)),
        "point_block_size": holdout.point_side,
        "classes": list(classes.values()),
    }
    return Split(
        _join_parts(train, dtype),
        _join_parts(held_out, dtype),
        _join_parts(test, dtype),
        method="spatial",
        summary=summary,
        notes=notes,
    )


# ---------------------------------------------------------------- one split a network of an ensemble

#: Between the seeds of an ensemble's networks: the members of runs with nearby seeds share none.
MEMBER_SEED_STEP = 7919


def member_seed(seed: int, member: int) -> int:
    """The seed of network ``member`` (0-based) of an ensemble trained with ``seed``; the first keeps it."""
    return (seed + MEMBER_SEED_STEP * member) % 2**63


def _member_splits(
    labels: LabeledPixels, samples_per_class: int | None, fraction: float, seed: int, patch_size: int, members: int
) -> Split:
    """A spatial split for each network, drawn with the network's seed; ``train`` and ``validation`` their unions.

    Network k holds out its own groups and trains on N pixels a class drawn
    outside them, as one network with its seed would: each network's
    validation is honest for it, and the networks learn from different
    pixels, which averages out the luck of one draw. ``test`` is what no
    network trains or validates on.
    """
    parts = [
        _spatial_split(labels, samples_per_class, fraction, member_seed(seed, k), patch_size) for k in range(members)
    ]
    dtype = _index_dtype(labels)
    trained = np.zeros(len(labels), dtype=bool)
    validated = np.zeros(len(labels), dtype=bool)
    for part in parts:
        trained[part.train] = True
        validated[part.validation] = True
    first = parts[0].summary
    members_of = {c["id"]: np.flatnonzero(labels.class_ids == c["id"]) for c in first["classes"]}
    target = {cid: int(round(fraction * m.size)) for cid, m in members_of.items()}
    groups = _holdout_groups(labels, target, patch_size).groups  # the groups every network held out from
    classes = [
        {
            **c,
            "held_out": int(np.unique(groups[m[validated[m]]]).size),  # by one network or more
            "validation_pixels": int(np.count_nonzero(validated[m])),
        }
        for c, m in zip(first["classes"], members_of.values())
    ]
    rest = np.flatnonzero(~trained & ~validated)  # what no network trains or validates on
    summary = {
        "method": "spatial",
        "members": members,
        "patch_size": patch_size,
        "gap": patch_size - 1,
        "removed_by_gap": int(rest.size),
        "point_block_size": first["point_block_size"],
        "classes": classes,
    }
    notes = [f"network {k + 1}: {note}" for k, part in enumerate(parts) for note in part.notes]
    return Split(
        np.flatnonzero(trained).astype(dtype),
        np.flatnonzero(validated).astype(dtype),
        rest.astype(dtype),
        method="spatial",
        summary=summary,
        notes=notes,
        networks=[(part.train, part.validation) for part in parts],
    )
