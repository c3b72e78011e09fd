"""Every algorithm's dialog opens in the real QGIS desktop, whatever layer is active, and takes raster labels.

QGIS's class-field widget dereferences its parent layer as a vector layer; a
raster there crashed QGIS (signal 11) when the Train or Assess dialog opened
with a raster active. The test runs QGIS itself, so a crash fails it with
QGIS's exit status.
"""

import pytest
from desktop import run_in_desktop
from scenes import build_tiny_scene  # noqa: E402

BODY = """
import processing
from processing.gui.BatchAlgorithmDialog import BatchAlgorithmDialog
from qgis.core import QgsApplication, QgsProject, QgsRasterLayer, QgsVectorLayer
from qgis.PyQt.QtWidgets import QApplication

project = QgsProject.instance()
hsi = QgsRasterLayer(os.environ["SCENE_HSI"], "hsi")
labels = QgsRasterLayer(os.environ["SCENE_LABELS"], "class raster")
points = QgsVectorLayer("Point?crs=EPSG:32632&field=landcover:string&field=fid:integer", "points", "memory")
polygons = QgsVectorLayer("Polygon?crs=EPSG:32632&field=kind:integer", "polygons", "memory")
project.addMapLayers([hsi, labels, points, polygons])
algorithms = sorted(a.id() for a in QgsApplication.processingRegistry().providerById("ncglf2").algorithms())
found["algorithms"] = algorithms
found["opened"] = []
found["fields"] = {}
for active in (None, hsi, labels, points, polygons):
    iface.setActiveLayer(active)
    for algorithm_id in algorithms:
        dialog = processing.createAlgorithmDialog(algorithm_id)
        dialog.show()
        QApplication.processEvents()
        wrappers = dialog.mainWidget().wrappers
        context = dialog.mainWidget().processing_context
        for vector, raster, field in (("LABELS", "LABELS_RASTER", "CLASS_FIELD"),
                                      ("REFERENCE", "REFERENCE_RASTER", "CLASS_FIELD")):
            if vector not in wrappers:
                continue
            # A raster chosen as labels, then a vector.
            wrappers[raster].setParameterValue(labels, context)
            QApplication.processEvents()
            wrappers[vector].setParameterValue(points, context)
            QApplication.processEvents()
            combo = wrappers[field].wrappedWidget()
            found["fields"][algorithm_id] = [combo.itemText(i) for i in range(combo.count())]
        found["opened"].append([algorithm_id, active.name() if active else None])
        dialog.close()
        batch = BatchAlgorithmDialog(QgsApplication.processingRegistry().createAlgorithmById(algorithm_id))
        batch.show()
        QApplication.processEvents()
        batch.close()
"""


@pytest.mark.slow
def test_every_dialog_opens_with_every_active_layer_and_takes_raster_labels(tmp_path):
    scene = build_tiny_scene(tmp_path)
    run = run_in_desktop(BODY, tmp_path, env={"SCENE_HSI": scene.hsi, "SCENE_LABELS": scene.labels})
    run.check()
    algorithms = run.found["algorithms"]
    assert algorithms == [
        "ncglf2:assess",
        "ncglf2:classify",
        "ncglf2:importreference",
        "ncglf2:installengine",
        "ncglf2:train",
    ]
    assert len(run.found["opened"]) == 5 * len(algorithms)
    # The class field lists the vector layer's fields once it is chosen.
    for algorithm_id in ("ncglf2:train", "ncglf2:assess"):
        assert [name for name in run.found["fields"][algorithm_id] if name] == ["landcover", "fid"]
