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

#: How to get or repair an engine, for messages.
INSTALL_HINT = (
    "Install or repair it from inside QGIS: Processing toolbox > NCGLF2 > Engine > 'Install NCGLF2 engine' "
    "(ncglf2:installengine in qgis_process, or the 'Install engine' button of the NCGLF2 dialog); it downloads "
    "PyTorch into a separate environment and leaves QGIS's own Python untouched. Or set the NCGLF2 engine Python "
    "(Settings > Options > Processing > Providers > NCGLF2) to a Python whose torch works."
)
#: Seconds a candidate Python has to import torch and safetensors.
PROBE_TIMEOUT_SECONDS = 300
#: Run in a candidate Python, package by package: exit status 3 when one is not installed; a broken one fails on import.
_PROBE = (
    "import importlib, importlib.util, sys\n"
    "for name in ('torch', 'safetensors'):\n"
    "    if importlib.util.find_spec(name) is None: sys.exit(3)\n"
    "    importlib.import_module(name)\n"
)
_NOT_INSTALLED = 3


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
    """Whether ``python`` has torch and safetensors; EngineMissing when they are there but do not load.

    A child process imports them, so torch stays out of this process. A torch
    that is installed but broken (a DLL or .so that does not load raises
    OSError, a wrong build RuntimeError) is named with its error, not taken
    for a missing one.
    """
    try:
        done = subprocess.run(
            [python, "-c", _PROBE],
            capture_output=True,
            text=True,
            errors="replace",
            timeout=PROBE_TIMEOUT_SECONDS,
            creationflags=NO_WINDOW,
        )
    except OSError:
        return False
    except subprocess.TimeoutExpired:
        raise EngineMissing(
            f"importing torch in {python} did not finish within {PROBE_TIMEOUT_SECONDS} s. {INSTALL_HINT}"
        ) from None
    if done.returncode in (0, _NOT_INSTALLED):
        return done.returncode == 0
    lines = [line.strip() for line in done.stderr.splitlines() if line.strip()]
    problem = lines[-1] if lines else f"the import ended with status {done.returncode}"
    raise EngineMissing(f"torch is installed in {python} but does not load ({problem}). {INSTALL_HINT}")


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
