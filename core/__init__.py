"""NCGLF2 engine: no QGIS or Qt import anywhere below this package.

Public API::

    from ncglf2.core import NCGLF2, NetworkConfig, load_reference_checkpoint
"""
from .checkpoint import load_reference_checkpoint
from .errors import Cancelled, InputError, ModelFileError, NCGLF2Error
from .model import NCGLF2, NetworkConfig

__all__ = [
    "NCGLF2",
    "NetworkConfig",
    "load_reference_checkpoint",
    "NCGLF2Error",
    "InputError",
    "ModelFileError",
    "Cancelled",
]
