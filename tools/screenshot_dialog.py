"""Write a picture of the plugin dialog (docs/dialog.png by default).

The dialog is shown with the layers of a small generated demo scene (HSI,
DSM, training polygons) after a short real "Train and classify" run, so the
picture shows the log, the progress bar and the outcome; ``--idle`` skips the run;
``--during`` trains first, then takes the picture while a classification is under way
(docs/dialog_classifying.png by default); ``--install`` presses "Install engine" and
takes the picture while pip installs PyTorch (docs/dialog_install_engine.png by default;
run it in QGIS's own Python, with a throw-away profile, for the user's view):

    QGIS_CUSTOM_CONFIG_PATH=$(mktemp -d) PYTHONPATH=<folder with an ncglf2 link> \
        /usr/bin/python3 tools/screenshot_dialog.py --install

    QT_QPA_PLATFORM=offscreen .venv/bin/python tools/screenshot_dialog.py [--idle | --during] [out.png]
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def run_and_wait(dialog, timeout: float = 300) -> None:
    """Press "Train and classify" with a few epochs and wait for the run to end."""
    import time

    from qgis.core import QgsApplication

    dialog.epochsSpin.setValue(12)
    dialog.samplesSpin.setValue(0)
    dialog.patchSizeSpin.setValue(7)
    dialog.pcaSpin.setValue(10)
    dialog.trainClassifyButton.click()
    started = time.monotonic()
    while dialog.is_busy():
        if time.monotonic() - started > timeout:
            dialog.cancel()
            raise TimeoutError("the demo run took too long")
        QgsApplication.processEvents()
        time.sleep(0.01)
    QgsApplication.processEvents()
    if dialog.run.outcome.status != "succeeded":
        raise RuntimeError(dialog.run.outcome.error)


def classify_and_catch(dialog, path: str, timeout: float = 300) -> int:
    """Start Classify with the model just trained; picture the dialog once the bar is well under way."""
    import time

    from qgis.core import QgsApplication

    dialog.classOutputWidget.setFilePath(dialog.classOutputWidget.filePath().replace(".tif", "_2.tif"))
    dialog.classifyButton.click()
    started, shot = time.monotonic(), None
    while dialog.is_busy():
        if time.monotonic() - started > timeout:
            dialog.cancel()
            raise TimeoutError("the classification took too long")
        under_way = 30 <= dialog.progressBar.value() <= 90 and "pixels/s" in dialog.logEdit.toPlainText()
        if shot is None and under_way:  # the bar moving and a rate line in the log
            shot = dialog.progressBar.value()
            save_screenshot(dialog, path)
        QgsApplication.processEvents()
        time.sleep(0.01)
    if shot is None:
        raise RuntimeError("the classification ended before the bar was under way")
    return shot


def prepare_dialog(dialog, folder: str, outputs: str) -> None:
    """Fill the dialog with the demo scene's layers and sensible outputs."""
    from qgis.core import QgsProject, QgsRasterLayer, QgsVectorLayer

    from ncglf2.core.apps.demo_scene import build_demo_scene

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
    dialog.modelOutputWidget.setFilePath(os.path.join(outputs, "gulfport.ncglf2"))
    dialog.reportOutputWidget.setFilePath(os.path.join(outputs, "gulfport_training.html"))
    dialog.classOutputWidget.setFilePath(os.path.join(outputs, "gulfport_classes.tif"))
    dialog.confidenceCheck.setChecked(True)


def install_and_catch(dialog, path: str, timeout: float = 600) -> None:
    """Press "Install engine", take the picture while pip works, then wait for the end."""
    import time

    from qgis.core import QgsApplication

    dialog.installEngineButton.click()
    started, taken = time.monotonic(), False
    while dialog.is_busy():
        if time.monotonic() - started > timeout:
            raise TimeoutError("the installation did not end")
        if not taken and "Installing collected packages" in dialog.logEdit.toPlainText():
            save_screenshot(dialog, path)
            taken = True
        QgsApplication.processEvents()
        time.sleep(0.01)
    if not taken:
        raise RuntimeError("the installation ended before pip installed anything:\n" + dialog.logEdit.toPlainText())


def save_screenshot(dialog, path: str) -> str:
    """Render the dialog offscreen into ``path`` (PNG)."""
    from qgis.core import QgsApplication

    dialog.show()
    for _ in range(5):
        QgsApplication.processEvents()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    if not dialog.grab().save(path):
        raise OSError(f"could not write {path}")
    return path


def main(argv: list[str]) -> int:
    idle, during, install = "--idle" in argv, "--during" in argv, "--install" in argv
    paths = [a for a in argv[1:] if a not in ("--idle", "--during", "--install")]
    default = "dialog_install_engine.png" if install else "dialog_classifying.png" if during else "dialog.png"
    out = paths[0] if paths else str(ROOT / "docs" / default)
    from qgis.core import QgsApplication, QgsProject
    from qgis.testing import start_app
    from qgis.testing.mocked import get_iface

    start_app()  # the application QGIS's own stub interface expects
    from ncglf2.ncglf2_qgis.dialog import NCGLF2Dialog
    from ncglf2.ncglf2_qgis.provider import NCGLF2Provider

    provider = NCGLF2Provider()
    QgsApplication.processingRegistry().addProvider(provider)

    iface = get_iface()
    # A fixed, short folder name: its paths show in the picture.
    folder = os.path.join(tempfile.gettempdir(), "ncglf2-demo")
    shutil.rmtree(folder, ignore_errors=True)
    try:
        dialog = NCGLF2Dialog(iface, open_url=lambda url: True)
        outputs = os.path.join(folder, "results")
        os.makedirs(outputs)
        prepare_dialog(dialog, folder, outputs)
        dialog.show()
        if install:
            install_and_catch(dialog, out)
        elif not idle:
            run_and_wait(dialog)
        if install:
            pass
        elif during:
            print(f"caught at {classify_and_catch(dialog, out)} %")
        else:
            save_screenshot(dialog, out)
        dialog.shutdown()
        dialog.close()
        dialog.deleteLater()
        QgsProject.instance().removeAllMapLayers()
        QgsApplication.processEvents()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    QgsApplication.processingRegistry().removeProvider(provider)
    # Widgets made by the stub interface must go before the application does.
    iface.mapCanvas().deleteLater()
    iface.mainWindow().deleteLater()
    QgsApplication.processEvents()
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
