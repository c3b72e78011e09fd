"""What each job is asked to do: one frozen request per job, its choices and defaults, checked in one place.

The CLI, the Processing algorithms and the dialog build these requests; the
engine process and Dask workers receive them as JSON. Nothing here imports
torch or GDAL, so the QGIS side and the command line can use it freely, and a
bad value is refused with the parameter's name before any work starts.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar

from .errors import InputError

__all__ = [
    "DEVICES",
    "PRECISIONS",
    "OUTPUT_FORMATS",
    "VALIDATION_SPLITS",
    "DEFAULT_TILE_SIZE",
    "DEFAULT_MAX_FIT_PIXELS",
    "REFERENCE_PCA_COMPONENTS",
    "PROTOCOLS",
    "PROTOCOL_CHOICES",
    "KEEPS",
    "MAX_MEMBERS",
    "SCHEDULES",
    "TrainingParameters",
    "TrainRequest",
    "ClassifyRequest",
    "AssessRequest",
    "ImportRequest",
    "request_from_dict",
    "request_from_json",
]

#: Where the network runs: auto = a CUDA GPU when torch sees one, else the CPU ("cuda:N" picks a GPU).
DEVICES = ("auto", "cpu", "cuda")
#: Arithmetic of classification: float32 reproduces the network exactly.
PRECISIONS = ("float32", "bfloat16")
#: File format of the classification's rasters: GTiff = tiled GeoTIFF; COG = Cloud Optimized GeoTIFF with overviews
#: (a converted copy of the GeoTIFF: readable in pieces over HTTP, quick to show zoomed out).
OUTPUT_FORMATS = ("GTiff", "COG")
#: How validation pixels are drawn from the training labels: spatial = whole polygons, regions or blocks kept
#: apart from every training patch (the default: an honest validation); random = the paper's random pixels,
#: whose patches overlap the training patches.
VALIDATION_SPLITS = ("spatial", "random")
#: Tile side for classification; memory stays bounded by a few tiles whatever the raster size.
DEFAULT_TILE_SIZE = 256
#: Pixels the PCA and standardization are fitted on at most (a sample beyond that).
DEFAULT_MAX_FIT_PIXELS = 4_000_000
#: The published implementation keeps 40 whitened principal components.
REFERENCE_PCA_COMPONENTS = 40

#: Training protocols: "paper" is the published one exactly; "robust" adds what makes a model independent of luck;
#: "ensemble" is the paper's training for 3 networks, each on its own spatial split, the last epoch kept.
PROTOCOLS = ("robust", "paper", "ensemble")
#: Which weights are kept: the best validation's (the paper's) or the last epoch's (validation only reports).
KEEPS = ("best", "last")
#: Learning-rate schedules: the paper's step decay, or a cosine decay after a linear warm-up.
SCHEDULES = ("step", "cosine")
#: The most networks an ensemble holds (each costs a network's training and classification time).
MAX_MEMBERS = 16
#: What each protocol chooses for the training choices a request leaves unset (None).
PROTOCOL_CHOICES: dict[str, dict[str, Any]] = {
    "paper": {
        "epochs": 80,
        "augment": False,
        "label_smoothing": 0.0,
        "ema_decay": 0.0,
        "schedule": "step",
        "warmup_epochs": 0,
        "patience": 0,
        "balanced_batches": False,
        "members": 1,
        "keep": "best",
    },
    "robust": {
        "epochs": 80,
        "augment": True,
        "label_smoothing": 0.1,
        "ema_decay": 0.99,
        "schedule": "cosine",
        "warmup_epochs": 5,
        "patience": 0,
        "balanced_batches": True,
        "members": 1,
        "keep": "best",
    },
}
#: The paper's training, for 3 networks of 50 epochs, each on its own split, the last epoch kept.
PROTOCOL_CHOICES["ensemble"] = {**PROTOCOL_CHOICES["paper"], "epochs": 50, "members": 3, "keep": "last"}

_MAX_TILE_SIZE = 100_000
_MAX_LOCAL_WORKERS = 1024
#: A Dask scheduler's address: tcp:// or tls://, a host name or address ([...] for IPv6), a port.
_SCHEDULER = re.compile(r"(tcp|tls)://(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+):([0-9]{1,5})")
_MAX_BATCH_SIZE = 1_000_000
_MAX_SEED = 2**63 - 1


def _require(ok: bool, message: str) -> None:
    if not ok:
        raise InputError(message)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _check_device(device: Any) -> None:
    ok = isinstance(device, str) and (device in DEVICES or (device.startswith("cuda:") and device[5:].isdigit()))
    _require(ok, f"device must be one of {', '.join(DEVICES)} or cuda:N (got {device!r})")


def _check_dask(address: Any) -> None:
    """``local:N`` (a cluster of N worker processes on this machine) or a scheduler's ``tcp://host:port``."""
    if address is None:
        return
    ok = False
    if isinstance(address, str) and address.startswith("local:"):
        count = address[6:]
        ok = count.isdigit() and 1 <= int(count) <= _MAX_LOCAL_WORKERS
    elif isinstance(address, str):
        found = _SCHEDULER.fullmatch(address)
        ok = found is not None and 1 <= int(found.group(3)) <= 65535
    _require(
        ok,
        f"dask must be local:N (N from 1 to {_MAX_LOCAL_WORKERS} worker processes) or a scheduler address "
        f"tcp://host:port or tls://host:port (got {address!r})",
    )


def _check_paths(**paths: Any) -> None:
    for name, value in paths.items():
        _require(
            isinstance(value, str) and value.strip() != "",
            f"{name.replace('_', ' ')} must be a file path (got {value!r})",
        )


def _check_optional_paths(**paths: Any) -> None:
    for name, value in paths.items():
        _require(
            value is None or (isinstance(value, str) and value.strip() != ""),
            f"{name.replace('_', ' ')} must be a file path or left out (got {value!r})",
        )


@dataclass(frozen=True, kw_only=True)
class TrainingParameters:
    """How a network is trained; the defaults are the paper's protocol, except the spatial validation split."""

    epochs: int | None = None  # of each network; None: the protocol's
    batch_size: int = 64
    learning_rate: float = 1e-4
    lr_step_epochs: int | None = None  # None: epochs // 5
    lr_gamma: float = 0.9
    samples_per_class: int | None = 20  # None: all labelled pixels
    validation_fraction: float = 0.15
    validation_split: str = "spatial"  # honest by default; "random" is the paper's
    focal_gamma: float = 2.0
    focal_weight: float = 0.2
    consistency_weight: float = 0.8
    patch_size: int = 11
    pca_components: int = 40
    width: int = 64
    depth: int = 2
    heads: int = 4
    seed: int = 0
    device: str = "auto"
    max_fit_pixels: int = DEFAULT_MAX_FIT_PIXELS
    # The choices below left unset (None) take the protocol's (PROTOCOL_CHOICES); the model file records them all.
    protocol: str = "paper"
    augment: bool | None = None  # each training patch under a random one of its 8 symmetries
    label_smoothing: float | None = None  # share of each target spread evenly over the classes
    ema_decay: float | None = None  # exponential moving average of the weights (0: none)
    schedule: str | None = None
    warmup_epochs: int | None = None  # linear warm-up of the cosine schedule
    patience: int | None = None  # stop after this many epochs without a better validation (0: never)
    balanced_batches: bool | None = None  # draw batches with every class equally likely
    members: int | None = None  # networks trained from different seeds whose probabilities are averaged
    keep: str | None = None  # "best": the weights of the best validation epoch; "last": the last epoch's

    def __post_init__(self) -> None:
        _require(self.protocol in PROTOCOLS, f"protocol must be one of {', '.join(PROTOCOLS)} (got {self.protocol!r})")
        for name, value in PROTOCOL_CHOICES[self.protocol].items():
            if getattr(self, name) is None:
                object.__setattr__(self, name, value)
        self.check()

    def check(self) -> None:
        """Refuse impossible values with the parameter's name."""
        for name in (
            "epochs",
            "batch_size",
            "patch_size",
            "pca_components",
            "width",
            "depth",
            "heads",
            "seed",
            "max_fit_pixels",
        ):
            _require(_is_int(getattr(self, name)), f"{name.replace('_', ' ')} must be a whole number")
        for name in (
            "learning_rate",
            "lr_gamma",
            "validation_fraction",
            "focal_gamma",
            "focal_weight",
            "consistency_weight",
        ):
            value = getattr(self, name)
            _require(_is_number(value), f"{name.replace('_', ' ')} must be a finite number (got {value!r})")
        rules = [
            (self.epochs >= 1, "epochs must be at least 1"),  # type: ignore[operator]  # whole: checked above
            (self.batch_size >= 2, "batch size must be at least 2 (batch normalization needs two samples)"),
            (self.learning_rate > 0, "learning rate must be positive"),
            (
                self.lr_step_epochs is None or (_is_int(self.lr_step_epochs) and self.lr_step_epochs >= 1),
                "learning-rate step must be at least 1 epoch",
            ),
            (0 < self.lr_gamma <= 1, "learning-rate decay must be in (0, 1]"),
            (
                self.samples_per_class is None or (_is_int(self.samples_per_class) and self.samples_per_class >= 1),
                "samples per class must be at least 1",
            ),
            (0 <= self.validation_fraction < 1, "validation fraction must be in [0, 1)"),
            (
                self.focal_gamma >= 0 and self.focal_weight >= 0 and self.consistency_weight >= 0,
                "the loss weights and the focal gamma must not be negative",
            ),
            (self.patch_size >= 3 and self.patch_size % 2 == 1, "patch size must be odd and at least 3"),
            (self.pca_components >= 1, "PCA components must be at least 1"),
            (
                self.heads >= 1 and self.width >= 4 and self.width % self.heads == 0 and self.width % 2 == 0,
                "width must be even and divisible by the heads",
            ),
            (self.depth >= 1, "depth must be at least 1"),
            (0 <= self.seed <= _MAX_SEED, "seed must be between 0 and 2^63 - 1"),
            (self.max_fit_pixels >= 1000, "the PCA fitting cap must be at least 1000 pixels"),
            (isinstance(self.augment, bool), "augment must be true or false"),
            (isinstance(self.balanced_batches, bool), "balanced batches must be true or false"),
            (
                _is_number(self.label_smoothing) and 0 <= self.label_smoothing < 1,  # type: ignore[operator]
                "label smoothing must be in [0, 1)",
            ),
            (
                _is_number(self.ema_decay) and 0 <= self.ema_decay < 1,  # type: ignore[operator]
                "the weight average decay must be in [0, 1)",
            ),
            (self.schedule in SCHEDULES, f"schedule must be one of {', '.join(SCHEDULES)} (got {self.schedule!r})"),
            (
                _is_int(self.warmup_epochs) and self.warmup_epochs >= 0,  # type: ignore[operator]
                "warm-up epochs must be a whole number, 0 for none",
            ),
            (_is_int(self.patience) and self.patience >= 0, "patience must be a whole number of epochs, 0 for none"),  # type: ignore[operator]
            (
                _is_int(self.members) and 1 <= self.members <= MAX_MEMBERS,  # type: ignore[operator]
                f"members must be a whole number from 1 to {MAX_MEMBERS} (got {self.members!r})",
            ),
        ]
        for ok, message in rules:
            _require(ok, message)
        _require(self.keep in KEEPS, f"keep must be one of {', '.join(KEEPS)} (got {self.keep!r})")
        _check_device(self.device)
        _require(
            self.validation_split in VALIDATION_SPLITS,
            f"validation split must be one of {', '.join(VALIDATION_SPLITS)} (got {self.validation_split!r})",
        )

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


R = TypeVar("R", bound="_Request")


class _Request:
    """JSON round trip shared by the requests: ``{"job": ..., fields...}``."""

    JOB: ClassVar[str] = ""

    def to_dict(self) -> dict:
        return {"job": self.JOB, **dataclasses.asdict(self)}  # type: ignore[call-overload]

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls: type[R], data: dict) -> R:
        data = dict(data)
        job = data.pop("job", cls.JOB)
        _require(job == cls.JOB, f"a {cls.JOB} request cannot be read from a {job!r} request")
        names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
        unknown = sorted(set(data) - names)
        _require(not unknown, f"the {cls.JOB} request has no field {', '.join(unknown)}")
        return cls(**cls._decode(data))

    @classmethod
    def from_json(cls: type[R], text: str) -> R:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as error:
            raise InputError(f"the {cls.JOB} request is not valid JSON: {error}") from None
        _require(isinstance(data, dict), f"the {cls.JOB} request must be a JSON object")
        return cls.from_dict(data)

    @classmethod
    def _decode(cls, data: dict) -> dict:
        """JSON lists back into the tuples the fields hold."""
        for name in ("lidar", "extent"):
            if isinstance(data.get(name), list):
                data[name] = tuple(data[name])
        return data


@dataclass(frozen=True, kw_only=True)
class TrainRequest(_Request):
    """Train a model on labelled pixels and save it (and optionally a report)."""

    JOB: ClassVar[str] = "train"

    hsi: str
    lidar: Sequence[str]  # stored as a tuple
    labels: str
    out: str
    class_field: str | None = None
    validation: str | None = None
    class_csv: str | None = None
    report: str | None = None
    overwrite: bool = False
    params: TrainingParameters = field(default_factory=TrainingParameters)
    labels_layer: str | None = None  # the layer inside a multi-layer vector file
    validation_layer: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "lidar", tuple(self.lidar))
        _check_paths(hsi=self.hsi, labels=self.labels, model_output=self.out)
        _require(len(self.lidar) >= 1, "at least one LiDAR raster is needed")
        _check_paths(**{f"LiDAR raster {i + 1}": p for i, p in enumerate(self.lidar)})
        _check_optional_paths(validation_labels=self.validation, class_table=self.class_csv, report=self.report)
        _require(isinstance(self.params, TrainingParameters), "params must be TrainingParameters")
        _require(isinstance(self.overwrite, bool), "overwrite must be true or false")

    @classmethod
    def _decode(cls, data: dict) -> dict:
        data = super()._decode(data)
        if isinstance(data.get("params"), dict):
            data["params"] = TrainingParameters(**data["params"])
        return data


@dataclass(frozen=True, kw_only=True)
class ClassifyRequest(_Request):
    """Classify an HSI + LiDAR pair (or an extent of it) with a model file."""

    JOB: ClassVar[str] = "classify"

    model: str
    hsi: str
    lidar: Sequence[str]  # stored as a tuple
    out: str
    confidence: str | None = None
    probabilities: str | None = None
    device: str = "auto"
    extent: Sequence[float] | None = None  # xmin, ymin, xmax, ymax in the HSI's CRS; stored as a tuple
    tile_size: int = DEFAULT_TILE_SIZE
    batch_size: int | None = None  # None: chosen for the device
    precision: str = "float32"
    format: str = "GTiff"  # of every raster output: one of OUTPUT_FORMATS
    margin: str | None = None  # top-1 minus top-2 class probability per pixel
    tta: bool = False  # average over the 8 symmetries of each patch (8 times the work)
    overwrite: bool = False
    dask: str | None = None  # tiles on Dask workers: "local:N" or a scheduler's "tcp://host:port"; None: here

    def __post_init__(self) -> None:
        object.__setattr__(self, "lidar", tuple(self.lidar))
        if self.extent is not None:
            object.__setattr__(self, "extent", tuple(self.extent))
        _check_paths(model=self.model, hsi=self.hsi, classification_output=self.out)
        _require(len(self.lidar) >= 1, "at least one LiDAR raster is needed")
        _check_paths(**{f"LiDAR raster {i + 1}": p for i, p in enumerate(self.lidar)})
        _check_optional_paths(
            confidence_output=self.confidence, probability_output=self.probabilities, margin_output=self.margin
        )
        _require(isinstance(self.tta, bool), f"tta must be true or false (got {self.tta!r})")
        _check_device(self.device)
        _require(
            self.precision in PRECISIONS, f"precision must be one of {', '.join(PRECISIONS)} (got {self.precision!r})"
        )
        _require(
            self.format in OUTPUT_FORMATS,
            f"output format must be one of {', '.join(OUTPUT_FORMATS)} (got {self.format!r})",
        )
        _require(
            _is_int(self.tile_size) and 1 <= self.tile_size <= _MAX_TILE_SIZE,
            f"tile size must be a whole number from 1 to {_MAX_TILE_SIZE:,} pixels (got {self.tile_size!r})",
        )
        _require(
            self.batch_size is None or (_is_int(self.batch_size) and 1 <= self.batch_size <= _MAX_BATCH_SIZE),
            f"batch size must be a whole number from 1 to {_MAX_BATCH_SIZE:,} (got {self.batch_size!r})",
        )
        if self.extent is not None:
            ok = len(self.extent) == 4 and all(isinstance(v, (int, float)) and math.isfinite(v) for v in self.extent)
            _require(ok, f"the extent must be four finite numbers xmin, ymin, xmax, ymax (got {self.extent!r})")
            xmin, ymin, xmax, ymax = self.extent
            _require(xmin < xmax and ymin < ymax, f"the extent {self.extent} is empty: xmin < xmax and ymin < ymax")
        _require(isinstance(self.overwrite, bool), "overwrite must be true or false")
        _check_dask(self.dask)


@dataclass(frozen=True, kw_only=True)
class AssessRequest(_Request):
    """Compare a class map with reference labels and write the accuracy reports."""

    JOB: ClassVar[str] = "assess"

    classification: str
    reference: str
    out_html: str
    json_path: str | None = None
    csv_path: str | None = None
    class_field: str | None = None
    class_csv: str | None = None
    reference_layer: str | None = None
    model: str | None = None  # the model that made the map: its training pixels are left out of a second figure
    overwrite: bool = False

    def __post_init__(self) -> None:
        _check_paths(classification=self.classification, reference=self.reference, HTML_report=self.out_html)
        _check_optional_paths(
            JSON_report=self.json_path, CSV_report=self.csv_path, class_table=self.class_csv, model=self.model
        )
        _require(isinstance(self.overwrite, bool), "overwrite must be true or false")


@dataclass(frozen=True, kw_only=True)
class ImportRequest(_Request):
    """Turn a checkpoint of the published implementation into a model file."""

    JOB: ClassVar[str] = "import"

    checkpoint: str
    hsi: str
    lidar: Sequence[str]  # stored as a tuple
    num_classes: int
    out: str
    patch_size: int = 11
    class_csv: str | None = None
    max_fit_pixels: int = DEFAULT_MAX_FIT_PIXELS
    seed: int = 0
    overwrite: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "lidar", tuple(self.lidar))
        _check_paths(checkpoint=self.checkpoint, hsi=self.hsi, model_output=self.out)
        _require(len(self.lidar) >= 1, "at least one LiDAR raster is needed")
        _check_paths(**{f"LiDAR raster {i + 1}": p for i, p in enumerate(self.lidar)})
        _check_optional_paths(class_table=self.class_csv)
        _require(
            _is_int(self.num_classes) and 2 <= self.num_classes <= 65535,
            f"the number of classes must be a whole number from 2 to 65535 (got {self.num_classes!r})",
        )
        _require(
            _is_int(self.patch_size) and self.patch_size >= 3 and self.patch_size % 2 == 1,
            f"patch size must be odd and at least 3 (got {self.patch_size!r})",
        )
        _require(
            _is_int(self.max_fit_pixels) and self.max_fit_pixels >= 1000,
            "the PCA fitting cap must be at least 1000 pixels",
        )
        _require(_is_int(self.seed) and 0 <= self.seed <= _MAX_SEED, "seed must be between 0 and 2^63 - 1")
        _require(isinstance(self.overwrite, bool), "overwrite must be true or false")


_JOBS: dict[str, type[_Request]] = {r.JOB: r for r in (TrainRequest, ClassifyRequest, AssessRequest, ImportRequest)}


def request_from_dict(data: object) -> _Request:
    """Any job's request from its dictionary, by its ``job`` field."""
    _require(
        isinstance(data, dict) and data.get("job") in _JOBS, f"the request must name its job: one of {', '.join(_JOBS)}"
    )
    assert isinstance(data, dict)
    return _JOBS[data["job"]].from_dict(data)


def request_from_json(text: str) -> _Request:
    """Any job's request from its JSON, by its ``job`` field (what the engine process receives)."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise InputError(f"the request is not valid JSON: {error}") from None
    return request_from_dict(data)
