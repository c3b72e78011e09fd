"""Run a script inside the real QGIS desktop application (under Xvfb) and read back what it found.

Some failures happen only in QGIS's own dialogs (Processing algorithm dialogs,
the batch panel), which need the full application with its ``iface``. The
script runs once QGIS has started, writes a JSON result and ends the process;
a crash shows as QGIS's exit status with its log.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sysconfig
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

HARNESS = """
import json, os, site, sys, traceback
site.addsitedir({site_packages!r})
from qgis.PyQt.QtCore import QTimer
from qgis.utils import iface

RESULT = {result!r}
found = {{}}


def _main():
    import ncglf2
    plugin = ncglf2.classFactory(iface)
    plugin.initProcessing()
    plugin.initGui()
{body}


def _run():
    status = 0
    try:
        _main()
    except BaseException:
        found["error"] = traceback.format_exc()
        status = 3
    with open(RESULT, "w", encoding="utf-8") as stream:
        json.dump(found, stream, default=str)
    os._exit(status)


QTimer.singleShot(300, _run)
"""


@dataclass
class DesktopRun:
    returncode: int
    found: dict
    log: str

    def check(self) -> None:
        """Fail with the script's traceback, or QGIS's exit status and log."""
        assert "error" not in self.found, self.found["error"]
        assert self.returncode == 0, f"QGIS ended with status {self.returncode}:\n{self.log}"


def run_in_desktop(body: str, folder: Path, timeout: float = 240, env: dict | None = None) -> DesktopRun:
    """Run ``body`` (the inside of a function with ``iface`` and ``found``, a dict to fill) in QGIS."""
    if shutil.which("qgis") is None or shutil.which("xvfb-run") is None:
        pytest.skip("the QGIS desktop application or xvfb-run is not installed")
    result = folder / "desktop_result.json"
    script = folder / "desktop_script.py"
    script.write_text(
        HARNESS.format(
            site_packages=sysconfig.get_paths()["purelib"],
            result=str(result),
            body=textwrap.indent(textwrap.dedent(body), "    "),
        )
    )
    run_env = {**os.environ, "QT_QPA_PLATFORM": "xcb", **(env or {})}
    command = [
        "xvfb-run",
        "-a",
        "-s",
        "-screen 0 1600x1000x24",
        "qgis",
        "--nologo",
        "--noversioncheck",
        "--profiles-path",
        str(folder / "profiles"),
        "--code",
        str(script),
    ]
    done = subprocess.run(command, env=run_env, capture_output=True, text=True, timeout=timeout)
    found = json.loads(result.read_text()) if result.is_file() else {}
    return DesktopRun(done.returncode, found, done.stdout[-6000:] + done.stderr[-6000:])
