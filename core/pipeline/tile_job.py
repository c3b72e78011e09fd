"""One tile's classification as a function of the request and the window: what a Dask worker runs.

A worker receives the request and a tile (paths and numbers; a GDAL handle or a
torch module never crosses a process boundary), opens the model file and the
rasters itself, and keeps them for the next tiles: the model is loaded and
prepared once per process for a given file (path, size, modification time),
device and precision, and the rasters stay open per thread, GDAL datasets not
being safe to share between threads. The computation is the single-process
path's: :func:`read_tile_features` then :func:`classify_tile`.
"""

from __future__ import annotations

import logging
import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
import torch

from ..errors import NCGLF2Error
from ..io.model_file import ModelBundle, load_model
from ..io.stack import RasterStack, open_inputs
from ..nn.devices import resolve_device
from ..requests import ClassifyRequest
from ..version import __version__
from .inference import (
    BatchPlan,
    TileResult,
    check_model_fits,
    class_map_type,
    classify_tile,
    default_batch_size,
    patch_predictor,
    prepare_network,
)
from .tiling import Tile, read_tile_features

__all__ = ["classify_window", "check_inputs_here", "PreparedModel", "prepared_model", "open_stack", "clear_caches"]

_log = logging.getLogger("ncglf2.worker")

# A worker serves one campaign at a time, perhaps two runs side by side: a few entries each.
_MODELS_KEPT = 2
_STACKS_KEPT = 2

V = TypeVar("V")


class _Cache:
    """A small least-recently-used map whose values are made at most once per key, under a lock."""

    def __init__(self, size: int, close: Callable[[Any], None] | None = None) -> None:
        self.size = size
        self.close = close
        self.entries: OrderedDict[Hashable, Any] = OrderedDict()
        self.lock = threading.Lock()

    def get(self, key: Hashable, make: Callable[[], V]) -> V:
        with self.lock:
            if key in self.entries:
                self.entries.move_to_end(key)
                return self.entries[key]
            value = make()
            self.entries[key] = value
            while len(self.entries) > self.size:
                _, old = self.entries.popitem(last=False)
                if self.close is not None:
                    self.close(old)
            return value

    def clear(self) -> None:
        with self.lock:
            for value in self.entries.values():
                if self.close is not None:
                    self.close(value)
            self.entries.clear()


def _file_key(path: str) -> tuple[str, int, int] | tuple[str]:
    """A file's path with its size and modification time, so a replaced file is read anew."""
    try:
        status = os.stat(path)
    except OSError:  # a GDAL path (/vsi..., a subdataset): known by its name only
        return (path,)
    return (path, status.st_size, status.st_mtime_ns)


class _WorkerLog:
    """The progress protocol for work on a worker: messages go to the worker's log; nothing cancels here
    (the client cancels the task itself)."""

    def set_progress(self, percent: float) -> None:
        pass

    def is_canceled(self) -> bool:
        return False

    def info(self, message: str) -> None:
        _log.info(message)


@dataclass
class PreparedModel:
    """A model file loaded once per process: the bundle, its network ready on the device, and the batch plans."""

    bundle: ModelBundle
    network: torch.nn.Module
    device: torch.device
    lookup: torch.Tensor  # network class index -> class id, on the device
    class_dtype: str
    plans: dict[int | None, BatchPlan]  # by the batch size asked for (None: the device's default)

    def plan(self, batch_size: int | None) -> BatchPlan:
        """The batch plan for a requested size, kept so that a size halved on a full GPU stays halved."""
        if batch_size not in self.plans:
            size = batch_size or default_batch_size(self.device, self.bundle.config.patch_size)
            self.plans[batch_size] = BatchPlan(size, _WorkerLog())
        return self.plans[batch_size]


_models = _Cache(_MODELS_KEPT)
_stacks = threading.local()  # per thread: a _Cache of open raster stacks


def prepared_model(path: str, device: str, precision: str) -> PreparedModel:
    """The model file at ``path`` loaded and prepared for ``device`` and ``precision``, once per process."""
    torch_device = resolve_device(device)

    def load() -> PreparedModel:
        bundle = load_model(path)
        network = prepare_network(bundle.network, torch_device, precision)
        lookup = torch.from_numpy(np.asarray(bundle.class_ids, dtype=np.int64)).to(torch_device)
        return PreparedModel(bundle, network, torch_device, lookup, class_map_type(bundle.class_ids), {})

    return _models.get((_file_key(path), str(torch_device), precision), load)


def open_stack(hsi: str, lidar: tuple[str, ...]) -> RasterStack:
    """The HSI and LiDAR rasters open in this thread, reused by the thread's next tiles."""
    cache = getattr(_stacks, "cache", None)
    if cache is None:
        cache = _stacks.cache = _Cache(_STACKS_KEPT, close=lambda stack: stack.close())
    key = (_file_key(hsi), tuple(_file_key(p) for p in lidar))
    return cache.get(key, lambda: open_inputs(hsi, list(lidar)))


def clear_caches() -> None:
    """Forget the loaded models and this thread's open rasters (the next tile loads them again)."""
    _models.clear()
    cache = getattr(_stacks, "cache", None)
    if cache is not None:
        cache.clear()


def classify_window(request: ClassifyRequest, tile: Tile) -> TileResult:
    """Classify one tile of ``request``'s rasters (its patches reach P // 2 pixels beyond it).

    ``tile`` is in pixels of the HSI grid; the outputs asked for by the request
    (confidence, probabilities, margin) come back with the class ids.
    """
    model = prepared_model(request.model, request.device, request.precision)
    stack = open_stack(request.hsi, tuple(request.lidar))
    check_model_fits(model.bundle, stack)
    patch_size = model.bundle.config.patch_size
    features, valid = read_tile_features(stack, model.bundle.preprocessing, tile, patch_size // 2)
    with torch.inference_mode():
        return classify_tile(
            patch_predictor(model.network, request.tta),
            features,
            valid,
            model.lookup,
            patch_size,
            model.plan(request.batch_size),
            model.class_dtype,
            confidence=request.confidence is not None,
            probabilities=request.probabilities is not None,
            margin=request.margin is not None,
        )


def check_inputs_here(request: ClassifyRequest) -> dict[str, Any]:
    """What this process makes of the request's inputs: the problems (one line each, naming the input),
    the raster's shape and the model file's size, the device and the version.

    Opens the rasters and loads the model the way :func:`classify_window` does,
    so that the first tiles find them ready.
    """
    problems: list[str] = []
    facts: dict[str, Any] = {"version": __version__, "pid": os.getpid(), "problems": problems}
    try:
        facts["model_bytes"] = os.path.getsize(request.model)
    except OSError as error:
        problems.append(f"cannot read the model file {request.model}: {error.strerror or error}")
    try:
        stack = open_stack(request.hsi, tuple(request.lidar))
        facts["rasters"] = [stack.grid.width, stack.grid.height, stack.hsi_bands, stack.lidar_bands]
    except NCGLF2Error as error:
        problems.append(str(error))
    if "model_bytes" in facts:
        try:
            model = prepared_model(request.model, request.device, request.precision)
            facts["device"] = str(model.device)
        except NCGLF2Error as error:
            problems.append(str(error))
        except (OSError, RuntimeError) as error:  # a GPU that fails to start, a file that went away
            problems.append(f"cannot load the model file {request.model} on device {request.device}: {error}")
    return facts
