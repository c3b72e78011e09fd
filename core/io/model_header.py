"""The model file's JSON header: its schema, the limits on every size, and the check against both.

A model file may come from anywhere. Before anything is built from its header,
every field is checked for its type and range against one declarative schema
(``MODEL_HEADER``), then the fields that must agree are compared, so a wrong
value is refused with the field's name (``network.patch_size``,
``classes.colors[1][0]``) instead of surfacing as a type error deep inside
the loader, and a header that asks for a network of a million layers never
gets to allocate one. Nothing here imports torch.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from ..requests import MAX_MEMBERS
from .labels import MAX_CLASS_ID, class_name_problem

__all__ = [
    "HeaderError",
    "MODEL_HEADER",
    "HEADER_PREAMBLE",
    "check_header",
    "MAX_HEADER_BYTES",
    "MAX_NESTING",
    "MAX_DEPTH",
    "MAX_WIDTH",
    "MAX_HEADS",
    "MAX_PATCH_SIZE",
    "MAX_HSI_BANDS",
    "MAX_LIDAR_CHANNELS",
    "MAX_CLASSES",
    "MAX_TRAINING_PIXELS",
    "MAX_GRID_SIDE",
    "MAX_CRS_TEXT",
]

# Limits: far above any useful model (the published one has depth 2, width 64, 4 heads, patch 11 and
# 40 components of a few hundred bands), low enough that what a header asks for stays small until it
# has been compared with the tensors in the file.
MAX_HEADER_BYTES = 16 * 2**20  # the safetensors header: tensor table plus ours; 65535 long class names fit
MAX_NESTING = 32  # JSON levels in the header (provenance is free-form)
MAX_DEPTH = 64
MAX_WIDTH = 4096
MAX_HEADS = 256
MAX_PATCH_SIZE = 255
MAX_HSI_BANDS = 4096  # HSI bands, and so PCA components
MAX_LIDAR_CHANNELS = 64
MAX_CLASSES = 65535  # classes in one model (each is an output channel of the network)
MAX_TRAINING_PIXELS = 2**27  # recorded training pixels: 1 GiB as int32 rows and columns, far beyond any training set
MAX_GRID_SIDE = 2**31 - 1  # pixels along one side of the training grid (GDAL's own limit)
MAX_CRS_TEXT = 100_000  # characters of the training grid's CRS as WKT (a few thousand in practice)
_MAX_COUNT = 2**63 - 1
_MAX_TEXT = 1000  # free text fields: versions, dates


class HeaderError(ValueError):
    """A header field that is missing, of the wrong type or out of range; ``field`` is its dotted path."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field} {problem}")
        self.field = field


_KINDS = {str: "text", float: "a decimal number", bool: "true/false", type(None): "null", int: "a number"}


def _shown(value: Any) -> str:
    """A value for a message: its JSON kind and the start of it (lists and objects only by size)."""
    if isinstance(value, dict):
        return f"an object of {len(value)} fields"
    if isinstance(value, list):
        return f"a list of {len(value)} items"
    text = repr(value)
    return f"{_KINDS.get(type(value), type(value).__name__)} {text[:60]}{'...' if len(text) > 60 else ''}"


class Spec(Protocol):
    """One node of the schema: checks a decoded JSON value and returns it (normalised where that is defined)."""

    def check(self, value: Any, where: str) -> Any: ...


@dataclass(frozen=True)
class Whole:
    """A whole number in [low, high]; JSON ``11.0``, ``"11"`` or ``true`` are not one."""

    low: int
    high: int
    odd: bool = False
    even: bool = False

    def check(self, value: Any, where: str) -> int:
        if type(value) is not int:
            raise HeaderError(where, f"must be a whole number, not {_shown(value)}")
        if not self.low <= value <= self.high:
            raise HeaderError(where, f"is {value}, outside {self.low}..{self.high}")
        if self.odd and value % 2 != 1:
            raise HeaderError(where, f"is {value}; it must be odd")
        if self.even and value % 2 != 0:
            raise HeaderError(where, f"is {value}; it must be even")
        return value


@dataclass(frozen=True)
class Real:
    """A finite JSON number (whole or decimal); ``true``, text and NaN are not one."""

    def check(self, value: Any, where: str) -> float:
        try:
            number = float(value) if type(value) in (int, float) else math.nan
        except OverflowError:  # a whole number beyond any float
            number = math.nan
        if not math.isfinite(number):
            raise HeaderError(where, f"must be a finite number, not {_shown(value)}")
        return number


@dataclass(frozen=True)
class Flag:
    """JSON true or false."""

    def check(self, value: Any, where: str) -> bool:
        if type(value) is not bool:
            raise HeaderError(where, f"must be true or false, not {_shown(value)}")
        return value


@dataclass(frozen=True)
class Text:
    """A string of bounded length, optionally one of ``choices``."""

    max_length: int = _MAX_TEXT
    choices: tuple[str, ...] = ()

    def check(self, value: Any, where: str) -> str:
        if not isinstance(value, str):
            raise HeaderError(where, f"must be text, not {_shown(value)}")
        if self.choices and value not in self.choices:
            raise HeaderError(where, f"is {value[:60]!r}; expected {' or '.join(map(repr, self.choices))}")
        if len(value) > self.max_length:
            raise HeaderError(where, f"is {len(value)} characters long, more than {self.max_length}")
        return value


@dataclass(frozen=True)
class ClassName:
    """A class's display name: surrounding spaces are dropped; then as for the class CSV."""

    def check(self, value: Any, where: str) -> str:
        name = Text(max_length=_MAX_COUNT).check(value, where).strip()
        problem = class_name_problem(name)
        if problem:
            raise HeaderError(where, f"{name[:60]!r} {problem}")
        return name


@dataclass(frozen=True)
class ListOf:
    """A JSON list of at most ``max_items`` items (exactly one of ``lengths`` items, when given)."""

    item: Spec
    max_items: int
    lengths: tuple[int, ...] = ()

    def check(self, value: Any, where: str) -> list:
        if not isinstance(value, list):
            raise HeaderError(where, f"must be a list, not {_shown(value)}")
        if self.lengths and len(value) not in self.lengths:
            raise HeaderError(where, f"has {len(value)} items; expected {' or '.join(map(str, self.lengths))}")
        if len(value) > self.max_items:
            raise HeaderError(where, f"has {len(value)} items, more than {self.max_items}")
        return [self.item.check(item, f"{where}[{i}]") for i, item in enumerate(value)]


@dataclass(frozen=True)
class Record:
    """A JSON object with the given fields; unknown fields are refused unless ``open``."""

    fields: Mapping[str, Spec]
    optional: frozenset[str] = frozenset()
    open: bool = False

    def check(self, value: Any, where: str) -> dict:
        if not isinstance(value, dict):
            raise HeaderError(where, f"must be an object, not {_shown(value)}")
        prefix = f"{where}." if where else ""
        for name in self.fields:
            if name not in value and name not in self.optional:
                raise HeaderError(f"{prefix}{name}", "is missing")
        if not self.open:
            unknown = sorted(set(value) - set(self.fields))
            if unknown:
                raise HeaderError(f"{prefix}{unknown[0]}", "is not a field of this format")
        return {name: spec.check(value[name], f"{prefix}{name}") for name, spec in self.fields.items() if name in value}


@dataclass(frozen=True)
class FreeObject:
    """Any JSON object nested at most ``MAX_NESTING`` levels (provenance: written by us, read by people)."""

    def check(self, value: Any, where: str) -> dict:
        if not isinstance(value, dict):
            raise HeaderError(where, f"must be an object, not {_shown(value)}")
        if _nesting(value) > MAX_NESTING:
            raise HeaderError(where, f"is nested more than {MAX_NESTING} levels deep")
        return value


def _nesting(value: Any) -> int:
    """Levels of lists and objects in ``value``, without recursion (a hostile header may be deep)."""
    deepest, pending = 0, [(value, 1)]
    while pending:
        item, level = pending.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        if children is None:
            continue
        deepest = max(deepest, level)
        if deepest > MAX_NESTING:
            break
        pending.extend((child, level + 1) for child in children)
    return deepest


_COLOR = ListOf(Whole(0, 255), max_items=4, lengths=(3, 4))

#: The fields that say how to read the rest: checked first, so a newer format is reported as such.
HEADER_PREAMBLE = Record(
    {"format": Text(choices=("ncglf2-model",)), "format_version": Whole(1, 2**31 - 1)},
    open=True,
)

MODEL_HEADER = Record(
    {
        "format": Text(choices=("ncglf2-model",)),
        "format_version": Whole(1, 2**31 - 1),
        "software_version": Text(),
        "created": Text(),
        "network": Record(
            {
                "num_classes": Whole(2, MAX_CLASSES),
                "patch_size": Whole(3, MAX_PATCH_SIZE, odd=True),
                "hsi_channels": Whole(1, MAX_HSI_BANDS),
                "lidar_channels": Whole(1, MAX_LIDAR_CHANNELS),
                "width": Whole(2, MAX_WIDTH, even=True),
                "depth": Whole(1, MAX_DEPTH),
                "heads": Whole(1, MAX_HEADS),
            }
        ),
        "bands": Record({"hsi": Whole(1, MAX_HSI_BANDS), "lidar": Whole(1, MAX_LIDAR_CHANNELS)}),
        "preprocessing": Record(
            {
                "pca_components": Whole(1, MAX_HSI_BANDS),
                "whiten": Flag(),
                "fitted_pixels": Whole(0, _MAX_COUNT),
                "sampled": Flag(),
            }
        ),
        "classes": Record(
            {
                "ids": ListOf(Whole(1, MAX_CLASS_ID), max_items=MAX_CLASSES),
                "names": ListOf(ClassName(), max_items=MAX_CLASSES),
                "colors": ListOf(_COLOR, max_items=MAX_CLASSES),
            }
        ),
        "provenance": FreeObject(),
        # Format 2: where the model was trained (the tensor ``training.pixels`` holds the rows and columns).
        "training_pixels": Record(
            {
                "count": Whole(1, MAX_TRAINING_PIXELS),
                "width": Whole(1, MAX_GRID_SIDE),
                "height": Whole(1, MAX_GRID_SIDE),
                "geotransform": ListOf(Real(), max_items=6, lengths=(6,)),
                "crs": Text(max_length=MAX_CRS_TEXT),
            }
        ),
        # Format 3: an ensemble of networks of the one configuration, their tensors under network.members.K.
        "ensemble": Record({"members": Whole(2, MAX_MEMBERS)}),
    },
    optional=frozenset({"software_version", "created", "provenance", "training_pixels", "ensemble"}),
    open=True,  # fields a later release adds within this format version are ignored
)


def _repeated(values: list) -> Any:
    return next(value for value, count in Counter(values).items() if count > 1)


# Fields that must agree with others, each as (the field named when not, holds, what is wrong).
_Agreement = tuple[str, Callable[[dict], bool], Callable[[dict], str]]

_AGREEMENTS: list[_Agreement] = [
    (
        "network.heads",
        lambda h: h["network"]["width"] % h["network"]["heads"] == 0,
        lambda h: f"is {h['network']['heads']}, which does not divide network.width {h['network']['width']}",
    ),
    (
        "classes.ids",
        lambda h: len(h["classes"]["ids"]) == h["network"]["num_classes"],
        lambda h: f"lists {len(h['classes']['ids'])} classes, the network has {h['network']['num_classes']} outputs",
    ),
    (
        "classes.names",
        lambda h: len(h["classes"]["names"]) == len(h["classes"]["ids"]),
        lambda h: f"lists {len(h['classes']['names'])} names for {len(h['classes']['ids'])} classes",
    ),
    (
        "classes.colors",
        lambda h: len(h["classes"]["colors"]) == len(h["classes"]["ids"]),
        lambda h: f"lists {len(h['classes']['colors'])} colours for {len(h['classes']['ids'])} classes",
    ),
    (
        "classes.ids",
        lambda h: len(set(h["classes"]["ids"])) == len(h["classes"]["ids"]),
        lambda h: f"holds the id {_repeated(h['classes']['ids'])} more than once; ids must be distinct",
    ),
    (
        "preprocessing.pca_components",
        lambda h: h["preprocessing"]["pca_components"] == h["network"]["hsi_channels"],
        lambda h: f"is {h['preprocessing']['pca_components']}, network.hsi_channels is {h['network']['hsi_channels']}",
    ),
    (
        "bands.hsi",
        lambda h: h["bands"]["hsi"] >= h["preprocessing"]["pca_components"],
        lambda h: f"is {h['bands']['hsi']}, fewer than the {h['preprocessing']['pca_components']} PCA components",
    ),
    (
        "bands.lidar",
        lambda h: h["bands"]["lidar"] == h["network"]["lidar_channels"],
        lambda h: f"is {h['bands']['lidar']}, network.lidar_channels is {h['network']['lidar_channels']}",
    ),
    (
        "training_pixels.count",
        lambda h: "training_pixels" not in h or _record_fits(h["training_pixels"]),
        lambda h: (
            f"is {h['training_pixels']['count']}, more than the "
            f"{h['training_pixels']['width']} x {h['training_pixels']['height']} pixels of the training grid"
        ),
    ),
]


def _record_fits(record: dict) -> bool:
    return record["count"] <= record["width"] * record["height"]


def check_header(header: Any) -> dict:
    """The header, checked against ``MODEL_HEADER`` and its fields compared; raises ``HeaderError``.

    Class names come back without surrounding spaces; everything else as given.
    """
    checked = MODEL_HEADER.check(header, "")
    for name, holds, problem in _AGREEMENTS:
        if not holds(checked):
            raise HeaderError(name, problem(checked))
    return checked
