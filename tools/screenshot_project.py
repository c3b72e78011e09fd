"""Write a picture of a QGIS project as the QGIS desktop opens it (docs/demo_project.png by default).

Starts the real QGIS application under Xvfb with the project, waits until the
map canvas has rendered, grabs the main window and exits; what the picture
shows is what a user sees on opening the project.

    python3 tools/screenshot_project.py demo_output/demo.qgz [out.png]
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

GRAB = """
import os
from qgis.PyQt.QtCore import QTimer
from qgis.utils import iface

OUT = {out!r}
PROJECT = {project!r}


def grab():
    window = iface.mainWindow()
    window.resize(1400, 900)
    canvas = iface.mapCanvas()
    QTimer.singleShot(60000, lambda: os._exit(5))  # never hang
    if not iface.addProject(PROJECT):  # as File > Open Project does
        os._exit(6)

    def save():
        status = 0 if window.grab().save(OUT) else 4
        os._exit(status)

    canvas.mapCanvasRefreshed.connect(lambda: QTimer.singleShot(1500, save))
    canvas.refreshAllLayers()


QTimer.singleShot(1500, grab)
"""


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    project = os.path.abspath(argv[1])
    out = os.path.abspath(argv[2] if len(argv) > 2 else str(ROOT / "docs" / "demo_project.png"))
    with tempfile.TemporaryDirectory(prefix="ncglf2-shot-") as folder:
        script = Path(folder) / "grab.py"
        script.write_text(GRAB.format(out=out, project=project), encoding="utf-8")
        command = [
            "xvfb-run",
            "-a",
            "-s",
            "-screen 0 1400x900x24",
            "qgis",
            "--nologo",
            "--noversioncheck",
            "--profiles-path",
            folder,
            "--code",
            str(script),
        ]
        done = subprocess.run(
            command, env={**os.environ, "QT_QPA_PLATFORM": "xcb"}, capture_output=True, text=True, timeout=180
        )
    if done.returncode != 0 or not os.path.isfile(out):
        print(done.stdout[-3000:] + done.stderr[-3000:], file=sys.stderr)
        return done.returncode or 1
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
