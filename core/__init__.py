"""NCGLF2 engine: no QGIS or Qt import anywhere below this package.

Public API::

    from ncglf2.core import NCGLF2, NetworkConfig, load_reference_checkpoint

The names that need torch load on first access, so that the torch-free parts
(errors, raster I/O, the version) can be imported where torch is missing.
"""

from .errors import Cancelled, InputError, ModelFileError, NCGLF2Error

__all__ = [
    "NCGLF2",
    "NetworkConfig",
    "load_reference_checkpoint",
    "NCGLF2Error",
    "InputError",
    "ModelFileError",
    "Cancelled",
]

_TORCH_NAMES = {"NCGLF2": ".nn.model", "NetworkConfig": ".nn.model", "load_reference_checkpoint": ".nn.checkpoint"}


def __getattr__(name: str):
    if name in _TORCH_NAMES:
        import importlib

        return getattr(importlib.import_module(_TORCH_NAMES[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
