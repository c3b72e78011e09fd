"""Loading weights safely: the published NCGLF2 implementation's checkpoints, and checks for any state dict.

The reference saves a pickled ``{'state_dict': ..., 'best_acc': numpy
scalar}``. It is read with ``torch.load(weights_only=True)``, allowing only
the two numpy globals that scalar needs, and only for the duration of the
call, so no code in the file can run.

Whatever the source of a state dict (a checkpoint, a model file), its shapes
are compared with a network outline, which has every parameter's shape and
no storage, before a network is built; and its values are checked, since a
single NaN or a negative batch-norm variance makes every prediction NaN.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable, Mapping

import numpy as np
import torch
from torch import Tensor, nn
from torch.overrides import TorchFunctionMode

from ..errors import ModelFileError
from .model import NCGLF2, NetworkConfig

__all__ = [
    "load_reference_checkpoint",
    "read_reference_state",
    "map_reference_state",
    "network_outline",
    "state_value_problem",
]

# Reference name pattern -> our name. Applied in order, first match wins.
_RENAMES: list[tuple[str, str]] = [
    (r"^embeddings\.position_embeddings$", "embedding.positions"),
    (r"^embeddings\.cls_token$", "embedding.class_token"),
    (r"^embeddings\.patch_embeddings\.", "embedding.projection."),
    (r"^BaseFuseLayer\.encoder\.", "base."),
    (r"^BaseFuseLayer1\.encoder\.", "base_fusion."),
    (r"^detailFeature\.net\.", "detail.nodes."),
    (r"^detailFeature1\.net\.", "detail_fusion.nodes."),
    (r"^CNN_Encoder1\.", "hsi_stem."),
    (r"^CNN_Encoder2\.", "lidar_stem."),
    (r"^conv_cls_head\.", "detail_head."),
    (r"^trans_norm\.", "token_norm."),
    (r"^trans_cls_head\.", "token_head."),
    (r"^Classifier\.0\.", "classifier."),
    (r"^Classifier\.2\.", "classifier_norm."),
    (r"^eca\.conv\.", "channel_attention.conv."),
]
# Second pass on the inner part of the names.
_INNER: list[tuple[str, str | Callable[[re.Match[str]], str]]] = [
    (r"\.layer\.(\d+)\.", r".blocks.\1."),
    (r"\.ffn_norm\.", ".mlp_norm."),
    (r"\.ffn\.fc1\.", ".mlp.fc."),
    (r"\.attn\.", ".attention."),
    (r"^(base|base_fusion)\.part_norm\.", r"\1.norm."),
    (r"\.part_structure\.gcn\.gc1\.weight$", ".structure.gcn1"),
    (r"\.part_structure\.gcn\.gc2\.weight$", ".structure.gcn2"),
    (r"\.theta_(phi|rho|eta)\.bottleneckBlock\.0\.", r".\1.expand."),
    (r"\.theta_(phi|rho|eta)\.bottleneckBlock\.3\.", r".\1.depthwise."),
    (r"\.theta_(phi|rho|eta)\.bottleneckBlock\.5\.", r".\1.project."),
    (r"\.shffleconv\.", ".mix."),
    (r"_stem\.conv1([123])\.([01])\.", lambda m: f"_stem.branches.{int(m.group(1)) - 1}.{m.group(2)}."),
    (r"_stem\.conv\.weight$", "_stem.merge.weight"),
]
# Parameters the reference holds but its forward pass never reads.
_UNUSED = re.compile(
    r"^(feature_extract_[12]\..*|BaseFuseLayer1?\.encoder\.attention_norm\..*|BaseFuseLayer1?\.encoder\.part_layer\..*)$"
)


class _Outline(TorchFunctionMode):
    """While a module is built: parameters and buffers on the meta device, and their random initialisation skipped.

    The tensor factories that make parameters and buffers move to the meta device. Index tensors
    (``arange``) of up to ``_REAL_INDEX`` elements stay real, so the few ops on them run in C++ as usual:
    on the meta device torch would route those ops through its Python reference kernels, whose first use
    imports its compiler stack (seconds). Larger index tensors, which only absurd sizes ask for, go to the
    meta device too: slower, still without storage.
    """

    _FACTORIES = frozenset({torch.empty, torch.zeros, torch.ones, torch.full})
    _INITIALISERS = frozenset({"normal_", "uniform_"})
    _REAL_INDEX = 2**20

    def __torch_function__(self, func, types, args=(), kwargs=None):  # type: ignore[no-untyped-def]  # torch's signature
        kwargs = dict(kwargs or {})
        if func in self._FACTORIES or (func is torch.arange and _arange_length(*args) > self._REAL_INDEX):
            kwargs["device"] = "meta"
        elif (
            getattr(func, "__module__", None) == "torch.nn.init" or getattr(func, "__name__", "") in self._INITIALISERS
        ):
            target = args[0] if args else kwargs.get("tensor")
            if isinstance(target, Tensor) and target.is_meta:
                return target
        return func(*args, **kwargs)


def _arange_length(*bounds: float) -> int:
    """Elements of ``torch.arange(*bounds)`` (end; start, end; or start, end, step)."""
    start, end, step = (0, bounds[0], 1) if len(bounds) == 1 else (*bounds[:2], bounds[2] if len(bounds) > 2 else 1)
    return max(0, math.ceil((float(end) - float(start)) / float(step)))


def network_outline(config: NetworkConfig) -> NCGLF2:
    """An NCGLF2 whose parameters have their shapes and dtypes but no storage: costs nothing whatever the sizes.

    Its ``state_dict()`` tells what a file must hold for ``config``, before a real network is allocated.
    """
    with _Outline():
        return NCGLF2(config)


def state_value_problem(state: Mapping[str, Tensor], network: nn.Module, prefix: str = "") -> str | None:
    """What makes these weights unusable, or None: a NaN or infinite value, or a negative batch-norm variance.

    ``state`` holds the values as the network would (after any dtype conversion: a float64 1e300 is finite,
    its float32 is not); ``network`` (an outline will do) tells which tensors are variances.
    """
    variances = {
        f"{name}.running_var"
        for name, module in network.named_modules()
        if isinstance(module, nn.modules.batchnorm._BatchNorm)
    }
    for key, value in state.items():
        if value.is_floating_point() and not bool(torch.isfinite(value).all()):
            return f"{prefix}{key} holds NaN or infinite values"
        if key in variances and bool((value < 0).any()):
            return (
                f"{prefix}{key} holds the negative value {float(value.min()):g} "
                "(a batch-norm running variance cannot be negative)"
            )
    return None


def _numpy_scalar_globals() -> list:
    """The globals a pickled numpy scalar refers to, under the names numpy 1 and 2 pickle them."""
    from numpy.core import multiarray  # numpy 2 keeps this alias for unpickling

    scalar = multiarray.scalar  # type: ignore[attr-defined]
    return [np.dtype, (scalar, "numpy.core.multiarray.scalar"), (scalar, "numpy._core.multiarray.scalar")] + [
        type(np.dtype(t)) for t in ("f8", "f4", "i8", "i4")
    ]


def read_reference_state(path: str | os.PathLike) -> dict[str, Tensor]:
    """Read the tensors of a reference checkpoint without executing anything from it."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise ModelFileError(f"checkpoint not found: {path}")
    try:
        with torch.serialization.safe_globals(_numpy_scalar_globals()):
            obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises many types for bad files
        text = str(error)
        if "Weights only load failed" in text or "Unsupported global" in text:
            found = re.search(r"GLOBAL ([\w.]+)", text)
            what = found.group(1) if found else "a Python object"
            raise ModelFileError(
                f"refused to load {path}: it contains {what}, which is not tensor data "
                "(a checkpoint holds only tensors and numbers; this file could run code)"
            ) from None
        raise ModelFileError(
            f"cannot read checkpoint {path}: the file is damaged, truncated or not a PyTorch checkpoint ({text.splitlines()[0] if text else type(error).__name__})"
        ) from None
    state = obj.get("state_dict", obj) if isinstance(obj, Mapping) else None
    if not isinstance(state, Mapping) or not all(isinstance(v, Tensor) for v in state.values()):
        raise ModelFileError(
            f"{path} is not an NCGLF2 checkpoint: expected a dict of tensors (or one under 'state_dict')"
        )
    return {re.sub(r"^module\.", "", k): v for k, v in state.items()}


def _rename(key: str) -> str | None:
    for pattern, replacement in _RENAMES:
        if re.search(pattern, key):
            key = re.sub(pattern, replacement, key)
            break
    else:
        return None
    for inner, substitute in _INNER:
        key = re.sub(inner, substitute, key)
    return key


def _implied_sizes(state: Mapping[str, Tensor]) -> str:
    """Describe the network sizes a reference state dict was trained with."""
    parts = []
    probes = [
        ("Classifier.0.weight", 0, "num_classes"),
        ("CNN_Encoder1.conv11.0.weight", 1, "hsi_channels"),
        ("CNN_Encoder2.conv11.0.weight", 1, "lidar_channels"),
    ]
    for key, dim, name in probes:
        if key in state and state[key].dim() > dim:
            parts.append(f"{name}={state[key].shape[dim]}")
    pos = state.get("embeddings.position_embeddings")
    if pos is not None and pos.dim() == 3:
        side = round((pos.shape[1] - 1) ** 0.5)
        if side * side == pos.shape[1] - 1:
            parts.append(f"patch_size={side}")
    return ", ".join(parts) if parts else "unknown sizes"


def map_reference_state(state: Mapping[str, Tensor], model: NCGLF2, source: str = "checkpoint") -> dict[str, Tensor]:
    """Rename reference keys to ours, drop the known unused ones, check every key and shape.

    ``model`` gives the expected keys and shapes; an outline (``network_outline``) will do.
    """
    expected = model.state_dict()
    mapped: dict[str, Tensor] = {}
    unexpected = []
    for key, value in state.items():
        if _UNUSED.match(key):
            continue
        ours = _rename(key)
        if ours is None or ours not in expected:
            unexpected.append(key)
            continue
        mapped[ours] = value
    config = model.config
    asked = (
        f"num_classes={config.num_classes}, hsi_channels={config.hsi_channels}, "
        f"lidar_channels={config.lidar_channels}, patch_size={config.patch_size}"
    )
    hint = f"the file implies {_implied_sizes(state)}; asked for {asked}"
    if unexpected:
        raise ModelFileError(f"{source}: unexpected parameter(s) {', '.join(sorted(unexpected)[:5])} ({hint})")
    missing = sorted(set(expected) - set(mapped))
    if missing:
        raise ModelFileError(f"{source}: missing parameter(s) {', '.join(missing[:5])} ({hint})")
    for key, value in mapped.items():
        if tuple(value.shape) != tuple(expected[key].shape):
            raise ModelFileError(
                f"{source}: shape mismatch for {key}: file has {tuple(value.shape)}, "
                f"model expects {tuple(expected[key].shape)} ({hint})"
            )
    return mapped


def load_reference_checkpoint(
    path: str | os.PathLike,
    num_classes: int,
    patch_size: int = 11,
    hsi_channels: int = 40,
    lidar_channels: int = 1,
) -> NCGLF2:
    """Build an NCGLF2 (eval mode, CPU) from a checkpoint of the published implementation.

    The checkpoint's keys, shapes and values are all checked against an outline of the network
    before the network itself is allocated.
    """
    config = NetworkConfig(
        num_classes=num_classes, patch_size=patch_size, hsi_channels=hsi_channels, lidar_channels=lidar_channels
    )
    outline = network_outline(config)
    expected = outline.state_dict()
    mapped = map_reference_state(read_reference_state(path), outline, source=os.fspath(path))
    state = {key: value.to(expected[key].dtype) for key, value in mapped.items()}
    problem = state_value_problem(state, outline)
    if problem:
        raise ModelFileError(f"cannot import the checkpoint {os.fspath(path)}: {problem}; the file is damaged")
    model = NCGLF2(config)
    model.load_state_dict(state)
    return model.eval()
