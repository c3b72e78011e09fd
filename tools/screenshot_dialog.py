"""Write a picture of the plugin dialog (docs/dialog.png by default).

The dialog is shown as a user finds it after choosing the demo scene's
layers: HSI, DSM and training polygons from a small generated scene.

    QT_QPA_PLATFORM=offscreen .venv/bin/python tools/screenshot_dialog.py [out.png]
"""
from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def prepare_dialog(dialog, folder: str) -> None:
    """Fill the dialog with the demo scene's layers and sensible outputs."""
    from qgis.core import QgsProject, QgsRasterLayer, QgsVectorLayer

    from ncglf2.core.demo_scene import build_demo_scene

    scene = build_demo_scene(folder, size=96)
    project = QgsProject.instance()
    hsi = QgsRasterLayer(scene.hsi_path, "hsi")
    dsm = QgsRasterLayer(scene.lidar_path, "dsm")
    polygons = QgsVectorLayer(f"{scene.train_labels_path}|layername=train_labels", "train_labels", "ogr")
    project.addMapLayers([hsi, dsm, polygons])
    dialog.hsiLayerCombo.setLayer(hsi)
    dialog.set_lidar_layers([dsm])
    dialog.labelsLayerCombo.setLayer(polygons)
    dialog.classFieldCombo.setField("class")
    dialog.modelOutputWidget.setFilePath(str(Path.home() / "ncglf2" / "gulfport.ncglf2"))
    dialog.reportOutputWidget.setFilePath(str(Path.home() / "ncglf2" / "gulfport_training.html"))
    dialog.classOutputWidget.setFilePath(str(Path.home() / "ncglf2" / "gulfport_classes.tif"))
    dialog.confidenceCheck.setChecked(True)


def save_screenshot(dialog, path: str) -> str:
    """Render the dialog offscreen into ``path`` (PNG)."""
    from qgis.core import QgsApplication

    dialog.show()
    dialog.adjustSize()
    for _ in range(5):
        QgsApplication.processEvents()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    if not dialog.grab().save(path):
        raise OSError(f"could not write {path}")
    return path


def main(argv: list[str]) -> int:
    out = argv[1] if len(argv) > 1 else str(ROOT / "docs" / "dialog.png")
    from qgis.core import QgsApplication
    from qgis.testing.mocked import get_iface

    app = QgsApplication.instance()
    if app is None:
        QgsApplication.setPrefixPath("/usr", True)
        app = QgsApplication([], True)
        app.initQgis()
    from ncglf2.ncglf2_qgis.dialog import NCGLF2Dialog
    from ncglf2.ncglf2_qgis.provider import NCGLF2Provider

    provider = NCGLF2Provider()
    QgsApplication.processingRegistry().addProvider(provider)

    iface = get_iface()
    with tempfile.TemporaryDirectory() as folder:
        dialog = NCGLF2Dialog(iface, open_url=lambda url: True)
        prepare_dialog(dialog, folder)
        save_screenshot(dialog, out)
        dialog.shutdown()
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
