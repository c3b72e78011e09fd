"""The ``.ncglf2`` model file: one safetensors file, weights plus a JSON header.

Safetensors holds only raw tensors and a string header, so loading a model
never executes anything from the file. Everything inference needs travels in
it: network sizes, band counts, preprocessing statistics, class ids, names
and colours, and provenance (training parameters, scores, inputs, version).
A trained model also records where it was trained (format 2): the rows and
columns of its training pixels on the HSI's grid, so an assessment can leave
out the reference pixels whose patches overlap them.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import struct
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
import torch

from ..errors import ModelFileError
from ..nn.checkpoint import network_outline, state_value_problem
from ..nn.ensemble import Ensemble
from ..nn.model import NCGLF2, NetworkConfig
from ..nn.preprocessing import Preprocessing
from ..version import __version__
from .grid import Grid
from .labels import ClassTable
from .model_header import HEADER_PREAMBLE, MAX_HEADER_BYTES, MAX_NESTING, HeaderError, check_header
from .outputs import atomic_path

__all__ = [
    "ModelBundle",
    "TrainingPixels",
    "save_model",
    "model_bytes",
    "write_model_bytes",
    "load_model",
    "FORMAT_VERSION",
    "MODEL_SUFFIX",
]

FORMAT_VERSION = 3  # the newest format this version reads; a file is written in the oldest that holds it
_FORMAT_WITH_TRAINING_PIXELS = 2
_FORMAT_WITH_ENSEMBLES = 3
MODEL_SUFFIX = ".ncglf2"
_HEADER_KEY = "ncglf2"
_TRAINING_PIXELS_KEY = "training.pixels"
_PREPROCESS_KEYS = ("hsi_mean", "components", "explained_variance", "channel_mean", "channel_std")
_POSITIVE_KEYS = ("explained_variance", "channel_std")  # divisors of the input transform
# The tensor dtypes (safetensors' names) a file may hold where the network has floating or integer tensors.
_DTYPES = {
    "float": frozenset({"F16", "BF16", "F32", "F64"}),
    "integer": frozenset({"I8", "U8", "I16", "U16", "I32", "U32", "I64"}),
}

Table = dict[str, tuple[str, tuple[int, ...]]]  # tensor name -> (dtype: safetensors' name or a kind, shape)


@dataclass(frozen=True)
class TrainingPixels:
    """The pixels a network was trained on, by row and column of the grid of the HSI it was trained on."""

    rows: np.ndarray  # (N,) int32
    cols: np.ndarray  # (N,) int32
    grid: Grid

    def __post_init__(self) -> None:
        object.__setattr__(self, "rows", np.ascontiguousarray(self.rows, dtype=np.int32))
        object.__setattr__(self, "cols", np.ascontiguousarray(self.cols, dtype=np.int32))

    @property
    def count(self) -> int:
        return int(self.rows.size)

    def header(self) -> dict:
        return {
            "count": self.count,
            "width": self.grid.width,
            "height": self.grid.height,
            "geotransform": [float(v) for v in self.grid.geotransform],
            "crs": self.grid.crs_wkt,
        }

    def problem(self) -> str | None:
        """What makes the record unusable (rows and columns off the grid), or None."""
        return _pixels_problem(self.rows, self.cols, self.grid)


def _pixels_problem(rows: np.ndarray, cols: np.ndarray, grid: Grid) -> str | None:
    for name, values, size in (("row", rows, grid.height), ("column", cols, grid.width)):
        outside = (values < 0) | (values >= size)
        if outside.any():
            return (
                f"{_TRAINING_PIXELS_KEY} holds the {name} {int(values[outside][0])}, "
                f"outside the {grid.width} x {grid.height} training grid"
            )
    return None


@dataclass
class ModelBundle:
    """A trained network with everything needed to apply it to new rasters."""

    network: NCGLF2 | Ensemble  # an ensemble averages the class probabilities of its networks
    preprocessing: Preprocessing
    classes: ClassTable  # the network's outputs in order: their ids, names and colours
    provenance: dict = field(default_factory=dict)
    source_header: dict = field(default_factory=dict)  # the header read from disk, if any
    training_pixels: TrainingPixels | None = None  # None: imported, or written before models recorded them

    @property
    def class_ids(self) -> list[int]:
        return self.classes.ids

    @property
    def class_names(self) -> list[str]:
        return self.classes.names

    @property
    def class_colors(self) -> list[tuple[int, ...]]:
        return self.classes.colors

    @property
    def config(self) -> NetworkConfig:
        return self.network.config

    @property
    def members(self) -> int:
        """How many networks the model averages (1: a single network)."""
        return len(self.network.members) if isinstance(self.network, Ensemble) else 1

    def header(self) -> dict:
        version = 1 if self.training_pixels is None else _FORMAT_WITH_TRAINING_PIXELS
        header = {
            "format": "ncglf2-model",
            "format_version": _FORMAT_WITH_ENSEMBLES if self.members > 1 else version,
            "software_version": __version__,
            "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
            "network": self.config.to_dict(),
            "bands": {"hsi": self.preprocessing.hsi_bands, "lidar": self.preprocessing.lidar_channels},
            "preprocessing": {
                "pca_components": self.preprocessing.n_components,
                "whiten": True,
                "fitted_pixels": self.preprocessing.pixel_count,
                "sampled": self.preprocessing.sampled,
            },
            "classes": {
                "ids": list(self.class_ids),
                "names": list(self.class_names),
                "colors": [list(c) for c in self.class_colors],
            },
            "provenance": self.provenance,
        }
        if self.training_pixels is not None:
            header["training_pixels"] = self.training_pixels.header()
        if self.members > 1:
            header["ensemble"] = {"members": self.members}
        return header


def model_bytes(bundle: ModelBundle, path: str) -> bytes:
    """The model file's content; what ``load_model`` would refuse is refused here (``path`` names it in messages).

    A header outside the schema, or weights and statistics that are not finite
    (a diverged training run), never reach a file.
    """
    from safetensors.torch import save

    text = json.dumps(bundle.header())
    try:
        check_header(json.loads(text))
    except HeaderError as error:
        raise ModelFileError(f"cannot save the model {path}: {error}; nothing was written") from None
    state = {k: v.detach() for k, v in bundle.network.state_dict().items()}
    arrays = bundle.preprocessing.to_arrays()
    record = bundle.training_pixels
    problem = (
        state_value_problem(state, bundle.network, "network.")
        or _statistics_problem(arrays)
        or (record.problem() if record is not None else None)
    )
    if problem:
        raise ModelFileError(f"cannot save the model {path}: {problem}; nothing was written")
    tensors = {f"network.{k}": v.to("cpu").contiguous() for k, v in state.items()}
    tensors.update({f"preprocessing.{k}": torch.from_numpy(np.ascontiguousarray(v)) for k, v in arrays.items()})
    if record is not None:
        tensors[_TRAINING_PIXELS_KEY] = torch.from_numpy(np.stack([record.rows, record.cols], axis=1))
    return save(tensors, metadata={_HEADER_KEY: text})


def write_model_bytes(path: str, data: bytes) -> None:
    """Write and sync ``data`` to ``path`` (a temporary name of an output set, or a file of its own)."""
    with open(path, "wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())


def save_model(path: str | os.PathLike, bundle: ModelBundle) -> str:
    """Write atomically: a temporary file in the same folder, renamed when complete."""
    path = os.fspath(path)
    data = model_bytes(bundle, path)
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise ModelFileError(f"cannot write {path}: the folder {folder} does not exist")
    with atomic_path(path) as temporary:
        write_model_bytes(temporary, data)
    return path


def load_model(path: str | os.PathLike, device: str | torch.device = "cpu") -> ModelBundle:
    """Read and validate a model file; nothing is allocated for the network until all of it has been checked.

    In order: the header's length; its fields against the schema (``model_header``); the tensor table
    (names, dtypes, shapes, read without loading a tensor) against an outline of the network the header
    describes; the values (finite, variances not negative, scales positive, training pixels on their
    grid). Only then is the network built.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise ModelFileError(f"model file not found: {path}")
    _check_header_length(path)
    metadata, table = _read_table(path)
    header = _checked_header(metadata, path)
    try:
        config = NetworkConfig(**header["network"])
    except ValueError as error:  # a rule of the network's own beyond the schema's
        raise ModelFileError(f"not a valid model file {path}: network {error}") from None
    members = header["ensemble"]["members"] if "ensemble" in header else 1
    outline = _network(config, members, network_outline)
    _check_table(table, _expected_table(outline, header), path)
    tensors = _read_tensors(path)

    expected = outline.state_dict()
    state = {key: tensors[f"network.{key}"].to(expected[key].dtype) for key in expected}
    arrays = {key: tensors[f"preprocessing.{key}"].double().numpy() for key in _PREPROCESS_KEYS}
    record, record_problem = _training_pixels(header, tensors)
    problem = state_value_problem(state, outline, "network.") or _statistics_problem(arrays) or record_problem
    _require(problem is None, path, f"{problem}; the file is damaged")

    network = _network(config, members, NCGLF2)
    network.load_state_dict(state)
    network.eval().to(device)
    preprocessing = Preprocessing.from_arrays(
        arrays,
        pixel_count=header["preprocessing"]["fitted_pixels"],
        sampled=header["preprocessing"]["sampled"],
    )
    classes = header["classes"]
    return ModelBundle(
        network,
        preprocessing,
        ClassTable(classes["ids"], classes["names"], [tuple(c) for c in classes["colors"]]),
        provenance=dict(header.get("provenance", {})),
        source_header=header,
        training_pixels=record,
    )


def _network(config: NetworkConfig, members: int, build) -> NCGLF2 | Ensemble:
    """One network of ``config`` made by ``build``, or an ensemble of ``members`` of them."""
    if members == 1:
        return build(config)
    return Ensemble([build(config) for _ in range(members)])


def _training_pixels(header: dict, tensors: dict[str, torch.Tensor]) -> tuple[TrainingPixels | None, str | None]:
    """(the training pixel record of a checked header and its tensor, what is wrong with it); (None, None)
    for a file without one."""
    if "training_pixels" not in header:
        return None, None
    fields = header["training_pixels"]
    pixels = tensors[_TRAINING_PIXELS_KEY].to(torch.int64).numpy()
    grid = Grid(fields["width"], fields["height"], tuple(fields["geotransform"]), fields["crs"])  # type: ignore[arg-type]
    problem = _pixels_problem(pixels[:, 0], pixels[:, 1], grid)  # before int32: any value beyond it is off the grid
    return (None, problem) if problem else (TrainingPixels(pixels[:, 0], pixels[:, 1], grid), None)


def _require(condition: bool, path: str, message: str) -> None:
    if not condition:
        raise ModelFileError(f"not a valid model file {path}: {message}")


@contextmanager
def _reading(path: str) -> Iterator[None]:
    """Errors of the safetensors reader as one clear message."""
    from safetensors import SafetensorError

    try:
        yield
    except (SafetensorError, OSError, ValueError, RuntimeError) as error:
        raise ModelFileError(
            f"cannot read model file {path}: damaged, truncated or not a model file ({error})"
        ) from None


def _check_header_length(path: str) -> None:
    """The safetensors header (8-byte length, then JSON) must fit in the file and under ``MAX_HEADER_BYTES``."""
    with _reading(path), open(path, "rb") as stream:
        prefix = stream.read(8)
        size = os.fstat(stream.fileno()).st_size
    length = struct.unpack("<Q", prefix)[0] if len(prefix) == 8 else size
    if length > size - 8:
        raise ModelFileError(f"cannot read model file {path}: damaged, truncated or not a model file (no header)")
    _require(
        length <= MAX_HEADER_BYTES, path, f"its header of {length:,} bytes is above the limit of {MAX_HEADER_BYTES:,}"
    )


def _read_table(path: str) -> tuple[dict[str, str], Table]:
    """The file's metadata and its tensor table, without loading any tensor."""
    from safetensors import safe_open

    with _reading(path), safe_open(path, framework="pt", device="cpu") as archive:
        table = {}
        for key in archive.keys():
            view = archive.get_slice(key)
            table[key] = (view.get_dtype(), tuple(view.get_shape()))
        return archive.metadata() or {}, table


def _read_tensors(path: str) -> dict[str, torch.Tensor]:
    from safetensors import safe_open

    with _reading(path), safe_open(path, framework="pt", device="cpu") as archive:
        return {key: archive.get_tensor(key) for key in archive.keys()}


def _checked_header(metadata: dict[str, str], path: str) -> dict:
    """The NCGLF2 header, decoded and checked against the schema: a newer format is reported as such."""
    _require(_HEADER_KEY in metadata, path, "it has no NCGLF2 header")
    try:
        header = json.loads(metadata[_HEADER_KEY])
    except RecursionError:
        raise ModelFileError(
            f"not a valid model file {path}: the header is nested more than {MAX_NESTING} levels deep"
        ) from None
    except ValueError as error:
        raise ModelFileError(f"not a valid model file {path}: the header is not valid JSON ({error})") from None
    _require(isinstance(header, dict), path, "the header is not a JSON object")
    try:
        HEADER_PREAMBLE.check(header, "")
        version = header["format_version"]
        if version > FORMAT_VERSION:
            raise ModelFileError(
                f"{path} was written in model format {version} by NCGLF2 {header.get('software_version', '?')}; "
                f"this version ({__version__}) reads format {FORMAT_VERSION} and older: update the plugin"
            )
        return check_header(header)
    except HeaderError as error:
        raise ModelFileError(f"not a valid model file {path}: {error}") from None


def _expected_table(outline: torch.nn.Module, header: dict) -> Table:
    """What the file must hold for its header (kind and shape per tensor): the network's state dict, the
    input transform's statistics and, when the header records them, the training pixels."""
    table = {
        f"network.{k}": ("float" if v.is_floating_point() else "integer", tuple(v.shape))
        for k, v in outline.state_dict().items()
    }
    bands, components = header["bands"]["hsi"], header["preprocessing"]["pca_components"]
    channels = components + header["bands"]["lidar"]
    shapes = {
        "hsi_mean": (bands,),
        "components": (components, bands),
        "explained_variance": (components,),
        "channel_mean": (channels,),
        "channel_std": (channels,),
    }
    table.update({f"preprocessing.{k}": ("float", shape) for k, shape in shapes.items()})
    if "training_pixels" in header:
        table[_TRAINING_PIXELS_KEY] = ("integer", (header["training_pixels"]["count"], 2))
    return table


def _check_table(found: Table, expected: Table, path: str) -> None:
    """Every tensor present, none else, each of the expected shape and of a floating or integer kind as needed."""
    unexpected = sorted(set(found) - set(expected))
    _require(not unexpected, path, f"tensor(s) {', '.join(unexpected[:5])} not part of the model the header describes")
    missing = sorted(set(expected) - set(found))
    _require(not missing, path, f"missing tensor(s) {', '.join(missing[:5])}")
    for key, (dtype, shape) in found.items():
        kind, wanted_shape = expected[key]
        _require(
            shape == wanted_shape,
            path,
            f"tensor {key} has shape {shape}, the header needs {wanted_shape}",
        )
        _require(
            dtype in _DTYPES[kind],
            path,
            f"tensor {key} holds {dtype} values; expected {kind} values ({', '.join(sorted(_DTYPES[kind]))})",
        )


def _statistics_problem(arrays: dict[str, np.ndarray]) -> str | None:
    """What makes the input transform's statistics unusable, or None."""
    for key in _PREPROCESS_KEYS:
        if not np.isfinite(arrays[key]).all():
            return f"preprocessing.{key} holds NaN or infinite values"
    for key in _POSITIVE_KEYS:
        if not (arrays[key] > 0).all():
            return (
                f"preprocessing.{key} holds the value {arrays[key].min():g}; it must be positive (it divides the input)"
            )
    return None
