"""Which Python runs the engine: a setting, the managed environment, or the host's own Python.

The host (QGIS) often is not a Python: on Windows ``sys.executable`` is
``qgis-bin.exe``, on macOS the application binary. ``host_python`` finds the
interpreter of the Python installation the host embeds.
"""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from ..errors import NCGLF2Error
from .client import NO_WINDOW

__all__ = [
    "AUTOMATIC",
    "READY_MARKER",
    "EngineMissing",
    "EngineChoice",
    "host_python",
    "venv_python",
    "managed_engine_ready",
    "python_has_engine_packages",
    "choose_engine_python",
]

#: The setting's value (or an empty one) that lets the plugin pick.
AUTOMATIC = "automatic"
#: Written into the managed environment once it has been verified; without it the environment is not used.
READY_MARKER = "ncglf2-engine.json"

#: How to get an engine, for messages.
INSTALL_HINT = (
    "Install it from inside QGIS: Processing toolbox > NCGLF2 > Engine > 'Install NCGLF2 engine' "
    "(or the 'Install engine' button of the NCGLF2 dialog); it downloads PyTorch into a separate environment "
    "and leaves QGIS's own Python untouched."
)


class EngineMissing(NCGLF2Error):
    """No Python that can run the engine was found."""


@dataclass(frozen=True)
class EngineChoice:
    python: str
    why: str  # for the log: "the NCGLF2 engine setting", "the managed environment", ...


def host_python() -> str | None:
    """The interpreter of the Python this process runs, or None when none is found beside it."""
    prefixes = list(dict.fromkeys((sys.prefix, sys.exec_prefix, sys.base_exec_prefix)))
    own = os.path.abspath(sys.executable) if sys.executable else ""
    # An embedding host may report whichever python3 comes first on PATH: only one inside this installation counts.
    inside = any(own.startswith(os.path.abspath(prefix) + os.sep) for prefix in prefixes)
    if Path(own).name.lower().startswith("python") and os.path.isfile(own) and inside:
        return own
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    names = ("python.exe", "python3.exe") if sys.platform == "win32" else (f"python{version}", "python3", "python")
    for prefix in prefixes:
        folders = (prefix,) if sys.platform == "win32" else (os.path.join(prefix, "bin"),)
        for folder in folders:
            for name in names:
                candidate = os.path.join(folder, name)
                if os.path.isfile(candidate):
                    return candidate
    return None


def venv_python(env_dir: Path) -> Path:
    """The interpreter of a virtual environment."""
    return env_dir / ("Scripts/python.exe" if sys.platform == "win32" else "bin/python")


def managed_engine_ready(env_dir: Path) -> dict | None:
    """The managed environment's record when it was installed and verified, else None."""
    try:
        record = json.loads((env_dir / READY_MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) and venv_python(env_dir).is_file() else None


@functools.lru_cache(maxsize=16)
def python_has_engine_packages(python: str) -> bool:
    """Whether a child process of ``python`` imports torch and safetensors (torch stays out of this process)."""
    try:
        done = subprocess.run(
            [python, "-c", "import torch, safetensors"],
            capture_output=True,
            timeout=300,
            creationflags=NO_WINDOW,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


def choose_engine_python(setting: str, managed_dir: Path | None) -> EngineChoice:
    """The Python that runs jobs: the setting when it names one, else the managed environment, else the host's."""
    setting = (setting or "").strip()
    if setting and setting.lower() != AUTOMATIC:
        if not os.path.isfile(setting):
            raise EngineMissing(
                f"the NCGLF2 engine Python {setting!r} (Settings > Options > Processing > Providers > NCGLF2) "
                f"does not exist; set it to a Python that has torch, or to '{AUTOMATIC}'"
            )
        return EngineChoice(setting, "the NCGLF2 engine setting")
    if managed_dir is not None and managed_engine_ready(managed_dir) is not None:
        return EngineChoice(str(venv_python(managed_dir)), f"the managed environment {managed_dir}")
    host = host_python()
    if host is not None and python_has_engine_packages(host):
        return EngineChoice(host, "the Python QGIS runs (it has torch and safetensors)")
    raise EngineMissing(f"the NCGLF2 engine (PyTorch) is not installed. {INSTALL_HINT}")
