"""One real QGIS application (offscreen) for the whole session, with Processing."""

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))  # desktop.py

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# Jobs run in engine processes of this Python (the project's .venv, which has torch).
os.environ.setdefault("NCGLF2_ENGINE_PYTHON", sys.executable)


@pytest.fixture(scope="session")
def qgis_app():
    from qgis.core import QgsApplication

    app = QgsApplication.instance()
    if app is None:
        QgsApplication.setPrefixPath("/usr", True)
        app = QgsApplication([], True)
        app.initQgis()
    processing_dir = "/usr/share/qgis/python/plugins"
    if processing_dir not in sys.path:
        sys.path.append(processing_dir)
    from processing.core.Processing import Processing

    Processing.initialize()
    yield app
