"""The ``.ncglf2`` model file: one safetensors file, weights plus a JSON header.

Safetensors holds only raw tensors and a string header, so loading a model
never executes anything from the file. Everything inference needs travels in
it: network sizes, band counts, preprocessing statistics, class ids, names
and colours, and provenance (training parameters, scores, inputs, version).
"""

from __future__ import annotations

import datetime as _dt
import json
import os
from dataclasses import dataclass, field

import numpy as np
import torch

from ..errors import ModelFileError
from ..nn.model import NCGLF2, NetworkConfig
from ..nn.preprocessing import Preprocessing
from ..version import __version__
from .labels import ClassTable
from .outputs import atomic_path

__all__ = ["ModelBundle", "save_model", "load_model", "FORMAT_VERSION", "MODEL_SUFFIX"]

FORMAT_VERSION = 1
MODEL_SUFFIX = ".ncglf2"
_HEADER_KEY = "ncglf2"
_PREPROCESS_KEYS = ("hsi_mean", "components", "explained_variance", "channel_mean", "channel_std")


@dataclass
class ModelBundle:
    """A trained network with everything needed to apply it to new rasters."""

    network: NCGLF2
    preprocessing: Preprocessing
    classes: ClassTable  # the network's outputs in order: their ids, names and colours
    provenance: dict = field(default_factory=dict)
    source_header: dict = field(default_factory=dict)  # the header read from disk, if any

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

    def header(self) -> dict:
        return {
            "format": "ncglf2-model",
            "format_version": FORMAT_VERSION,
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


def save_model(path: str | os.PathLike, bundle: ModelBundle) -> str:
    """Write atomically: a temporary file in the same folder, renamed when complete."""
    from safetensors.torch import save

    path = os.fspath(path)
    tensors = {f"network.{k}": v.detach().to("cpu").contiguous() for k, v in bundle.network.state_dict().items()}
    tensors.update(
        {
            f"preprocessing.{k}": torch.from_numpy(np.ascontiguousarray(v))
            for k, v in bundle.preprocessing.to_arrays().items()
        }
    )
    data = save(tensors, metadata={_HEADER_KEY: json.dumps(bundle.header())})
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise ModelFileError(f"cannot write {path}: the folder {folder} does not exist")
    with atomic_path(path) as temporary, open(temporary, "wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())
    return path


def _require(condition: bool, path: str, message: str) -> None:
    if not condition:
        raise ModelFileError(f"{path} is not a valid NCGLF2 model file: {message}")


def load_model(path: str | os.PathLike, device: str | torch.device = "cpu") -> ModelBundle:
    """Read and validate a model file: version, keys, shapes, finite values."""
    from safetensors import SafetensorError, safe_open

    path = os.fspath(path)
    if not os.path.isfile(path):
        raise ModelFileError(f"model file not found: {path}")
    try:
        with safe_open(path, framework="pt", device="cpu") as archive:
            metadata = archive.metadata() or {}
            tensors = {key: archive.get_tensor(key) for key in archive.keys()}
    except (SafetensorError, OSError, ValueError, RuntimeError) as error:
        raise ModelFileError(
            f"cannot read model file {path}: damaged, truncated or not a model file ({error})"
        ) from None
    _require(_HEADER_KEY in metadata, path, "it has no NCGLF2 header")
    try:
        header = json.loads(metadata[_HEADER_KEY])
    except json.JSONDecodeError as error:
        raise ModelFileError(f"{path}: the model header is not valid JSON ({error})") from None
    _require(isinstance(header, dict) and header.get("format") == "ncglf2-model", path, "unknown header format")
    version = header.get("format_version")
    _require(isinstance(version, int), path, "no format version")
    if version > FORMAT_VERSION:
        raise ModelFileError(
            f"{path} was written in model format {version} by NCGLF2 {header.get('software_version', '?')}; "
            f"this version ({__version__}) reads format {FORMAT_VERSION} and older: update the plugin"
        )
    try:
        config = NetworkConfig(**header["network"])
        classes = header["classes"]
        ids = [int(i) for i in classes["ids"]]
        names = [str(n) for n in classes["names"]]
        colors = [tuple(int(v) for v in c) for c in classes["colors"]]
        bands = header["bands"]
        preprocessing_info = header["preprocessing"]
    except (KeyError, TypeError, ValueError) as error:
        raise ModelFileError(f"{path}: incomplete or inconsistent model header ({error})") from None
    _require(
        len(ids) == len(names) == len(colors) == config.num_classes,
        path,
        "class table does not match the network's class count",
    )
    _require(len(set(ids)) == len(ids) and all(i > 0 for i in ids), path, "class ids must be distinct and positive")

    for name, tensor in tensors.items():
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
            raise ModelFileError(f"{path}: tensor {name} holds NaN or infinite values; the file is damaged")

    network = NCGLF2(config)
    expected = network.state_dict()
    weights = {k[len("network.") :]: v for k, v in tensors.items() if k.startswith("network.")}
    missing = sorted(set(expected) - set(weights))
    unexpected = sorted(set(weights) - set(expected))
    _require(not missing, path, f"missing weights {missing[:5]}")
    _require(not unexpected, path, f"unexpected weights {unexpected[:5]}")
    for key, value in weights.items():
        _require(
            tuple(value.shape) == tuple(expected[key].shape),
            path,
            f"weight {key} has shape {tuple(value.shape)}, the network needs {tuple(expected[key].shape)}",
        )
    network.load_state_dict({k: v.to(expected[k].dtype) for k, v in weights.items()})

    arrays = {}
    for key in _PREPROCESS_KEYS:
        tensor = tensors.get(f"preprocessing.{key}")
        if tensor is None:
            raise ModelFileError(f"{path}: missing preprocessing statistics {key}")
        arrays[key] = tensor.double().numpy()
    preprocessing = Preprocessing.from_arrays(
        arrays,
        pixel_count=int(preprocessing_info.get("fitted_pixels", 0)),
        sampled=bool(preprocessing_info.get("sampled", False)),
    )
    k, b = preprocessing.n_components, preprocessing.hsi_bands
    _require(
        arrays["components"].shape == (k, b) and arrays["explained_variance"].shape == (k,),
        path,
        "PCA statistics have inconsistent shapes",
    )
    _require(
        arrays["channel_mean"].shape == arrays["channel_std"].shape,
        path,
        "standardization statistics have inconsistent shapes",
    )
    _require(
        bool((arrays["explained_variance"] > 0).all() and (arrays["channel_std"] > 0).all()),
        path,
        "zero or negative variances",
    )
    _require(
        k == config.hsi_channels and preprocessing.lidar_channels == config.lidar_channels,
        path,
        "preprocessing channels do not match the network",
    )
    _require(
        bands.get("hsi") == b and bands.get("lidar") == config.lidar_channels,
        path,
        "band counts do not match the statistics",
    )

    network.eval().to(device)
    return ModelBundle(
        network,
        preprocessing,
        ClassTable(ids, names, colors),
        provenance=dict(header.get("provenance", {})),
        source_header=header,
    )
