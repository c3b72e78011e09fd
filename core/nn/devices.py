"""Which torch device a job runs on."""

from __future__ import annotations

import torch

from ..errors import InputError

__all__ = ["resolve_device"]


def resolve_device(name: str = "auto") -> torch.device:
    """``auto`` picks CUDA when present; asking for CUDA without it is an error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise InputError("CUDA was asked for but torch sees no CUDA device; use device auto or cpu")
    return torch.device(name)
