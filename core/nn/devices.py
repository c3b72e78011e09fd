"""Which torch device a job runs on."""

from __future__ import annotations

import torch

from ..errors import InputError

__all__ = ["resolve_device", "describe_device"]


def resolve_device(name: str = "auto") -> torch.device:
    """``auto`` picks CUDA when present; asking for CUDA without it is an error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise InputError("CUDA was asked for but torch sees no CUDA device; use device auto or cpu")
    return torch.device(name)


def describe_device(name: str = "auto") -> str:
    """What a job on ``name`` runs on, for the log: the device and, for a GPU, its model and memory."""
    device = resolve_device(name)
    if device.type != "cuda":
        threads = torch.get_num_threads()
        return f"{device.type} ({threads} thread{'s' if threads != 1 else ''})"
    index = device.index if device.index is not None else torch.cuda.current_device()
    properties = torch.cuda.get_device_properties(index)
    return f"cuda:{index} ({properties.name}, {properties.total_memory / 2**30:.0f} GiB)"
