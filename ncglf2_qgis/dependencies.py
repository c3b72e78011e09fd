"""Which Python packages the engine needs, and how to install them for QGIS's Python.

QGIS runs its own Python; a ``pip install`` in another Python does not help.
This module finds packages without importing them (importing torch takes
seconds), so the plugin can load and explain what is missing.
"""

from __future__ import annotations

import importlib.util
import os
import sys

__all__ = ["REQUIRED_PACKAGES", "missing_dependencies", "qgis_python", "install_command", "install_hint"]

# Import name -> name on the Python Package Index.
REQUIRED_PACKAGES = {"torch": "torch", "safetensors": "safetensors"}


def missing_dependencies() -> list[str]:
    """Package-index names of the required packages that QGIS's Python cannot find."""
    missing = []
    for module, package in REQUIRED_PACKAGES.items():
        try:
            found = importlib.util.find_spec(module) is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            missing.append(package)
    return missing


def qgis_python() -> str:
    """The Python interpreter QGIS runs.

    ``sys.executable`` is often the QGIS program itself, so the interpreter
    is looked up beside the Python installation QGIS uses.
    """
    if sys.platform == "win32":
        return "python"
    for name in ("python3", "python"):
        candidate = os.path.join(sys.exec_prefix, "bin", name)
        if os.path.isfile(candidate):
            return candidate
    return os.path.join(sys.exec_prefix, "bin", "python3")


def install_command(missing: list[str]) -> str:
    """The command that installs ``missing`` into QGIS's Python."""
    packages = " ".join(missing)
    if sys.platform == "win32":
        return f"python -m pip install {packages}"
    return f'"{qgis_python()}" -m pip install {packages}'


def install_hint(missing: list[str]) -> str:
    """A message for the user: what is missing, the exact command, and where to run it."""
    if not missing:
        return ""
    names = " and ".join(missing)
    lines = [
        f"NCGLF2 needs the Python package{'s' if len(missing) > 1 else ''} {names}, "
        f"which the Python that QGIS runs cannot find."
    ]
    if sys.platform == "win32":
        lines.append(
            "Close QGIS, open the OSGeo4W Shell (Start menu > OSGeo4W Shell, or OSGeo4W.bat "
            "in the QGIS installation folder) and run:"
        )
        lines.append(f"    {install_command(missing)}")
    else:
        lines.append("Close QGIS and run in a terminal:")
        lines.append(f"    {install_command(missing)}")
        if sys.platform.startswith("linux") and sys.exec_prefix == "/usr":
            lines.append(
                "On a system Python (Debian, Ubuntu) add --user, and --break-system-packages "
                "where pip refuses to install otherwise."
            )
    if "torch" in missing:
        lines.append(
            "For a smaller download without GPU support add "
            "--index-url https://download.pytorch.org/whl/cpu to the torch installation; "
            "for an NVIDIA GPU follow https://pytorch.org/get-started/locally/."
        )
    lines.append("Then start QGIS again.")
    return "\n".join(lines)
