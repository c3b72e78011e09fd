"""The project written without QGIS opens in real QGIS with every layer styled as asked."""

import zipfile

import pytest
from osgeo import gdal

from ncglf2.core.apps.demo_scene import build_demo_scene
from ncglf2.core.io.qgis_project import ProjectLayer, write_qgis_project


@pytest.fixture(scope="module")
def scene(tmp_path_factory):
    return build_demo_scene(str(tmp_path_factory.mktemp("demo")), size=96, seed=3)


def _project(scene, tmp_path):
    classes = list(zip(scene.class_ids, scene.class_names, scene.class_colors))
    layers = [
        ProjectLayer(scene.hsi_path, "HSI", "rgb", bands=(28, 17, 9)),
        ProjectLayer(scene.lidar_path, "DSM", "pseudocolor", minimum=0.0, maximum=25.0),
        ProjectLayer(scene.lidar_path, "DSM gray", "gray", visible=False),
        ProjectLayer(scene.test_labels_path, "Classification", "paletted", classes=classes),
        ProjectLayer(scene.train_labels_path, "Training polygons", "vector", classes=classes),
    ]
    path = tmp_path / "demo.qgz"
    crs = gdal.Open(scene.hsi_path).GetProjection()
    write_qgis_project(str(path), layers, crs, title="NCGLF2 demo")
    return path


def test_project_opens_with_styled_layers(qgis_app, scene, tmp_path):
    from qgis.core import (
        QgsMultiBandColorRenderer,
        QgsPalettedRasterRenderer,
        QgsProject,
        QgsSingleBandGrayRenderer,
        QgsSingleBandPseudoColorRenderer,
    )

    path = _project(scene, tmp_path)
    with zipfile.ZipFile(path) as archive:
        assert archive.namelist() == ["demo.qgs"]
        assert b"<datasource>./hsi.tif</datasource>" not in archive.read("demo.qgs")  # the scene is elsewhere
    project = QgsProject.instance()
    project.clear()
    assert project.read(str(path))
    try:
        assert project.title() == "NCGLF2 demo"
        assert project.crs().authid() == "EPSG:32616"
        layers = {layer.name(): layer for layer in project.mapLayers().values()}
        assert sorted(layers) == ["Classification", "DSM", "DSM gray", "HSI", "Training polygons"]
        for layer in layers.values():
            assert layer.isValid(), layer.name()
            assert layer.crs().authid() == "EPSG:32616"

        rgb = layers["HSI"].renderer()
        assert isinstance(rgb, QgsMultiBandColorRenderer)
        assert (rgb.redBand(), rgb.greenBand(), rgb.blueBand()) == (28, 17, 9)
        stretch = rgb.redContrastEnhancement()
        assert 0 <= stretch.minimumValue() < stretch.maximumValue() <= 10000  # a 2-98 % cut of reflectance x 10000

        pseudo = layers["DSM"].renderer()
        assert isinstance(pseudo, QgsSingleBandPseudoColorRenderer)
        assert (pseudo.classificationMin(), pseudo.classificationMax()) == (0.0, 25.0)
        assert isinstance(layers["DSM gray"].renderer(), QgsSingleBandGrayRenderer)

        paletted = layers["Classification"].renderer()
        assert isinstance(paletted, QgsPalettedRasterRenderer)
        got = [(c.value, c.label, c.color.getRgb()[:3]) for c in paletted.classes()]
        assert got == [(i, n, c) for i, n, c in zip(scene.class_ids, scene.class_names, scene.class_colors)]

        vector = layers["Training polygons"]
        assert vector.featureCount() > 0
        renderer = vector.renderer()
        assert renderer.type() == "categorizedSymbol" and renderer.classAttribute() == "class"
        categories = renderer.categories()  # keep the copies alive while reading their symbols
        assert [c.value() for c in categories] == scene.class_names
        assert [c.symbol().color().getRgb()[:3] for c in categories] == scene.class_colors

        root = project.layerTreeRoot()
        assert sorted(root.findLayerIds()) == sorted(project.mapLayers())  # ids kept as written
        order = [node.name() for node in root.findLayers()]
        assert order == ["Training polygons", "Classification", "DSM gray", "DSM", "HSI"]  # last added on top
        assert not root.findLayer(layers["DSM gray"].id()).isVisible()
        assert root.findLayer(layers["HSI"].id()).isVisible()
    finally:
        project.clear()


def test_sources_are_relative_to_the_project(qgis_app, scene, tmp_path):
    from ncglf2.core.io.qgis_project import ProjectLayer, write_qgis_project

    path = tmp_path / "beside.qgs"
    hsi_copy = tmp_path / "hsi.tif"
    gdal.Translate(str(hsi_copy), scene.hsi_path)
    write_qgis_project(
        str(path),
        [ProjectLayer(str(hsi_copy), "HSI", "rgb", bands=(28, 17, 9))],
        gdal.Open(scene.hsi_path).GetProjection(),
    )
    text = path.read_text(encoding="utf-8")
    assert "<datasource>./hsi.tif</datasource>" in text
    assert not list(tmp_path.glob("*.part"))


def test_demo_project_opens_on_the_class_map_in_full(qgis_app, scene, tmp_path):
    """The canvas opens on the whole scene (not blank at 1:1), the class map on top of the HSI, files as umask says."""
    import os
    import stat

    from qgis.core import QgsProject, QgsRectangle
    from qgis.gui import QgsMapCanvas

    from ncglf2.core.apps.demo import demo_project_layers

    confidence = tmp_path / "confidence.tif"
    gdal.Translate(str(confidence), scene.lidar_path)
    path = tmp_path / "demo.qgz"
    layers = demo_project_layers(scene, scene.test_labels_path, str(confidence))
    write_qgis_project(str(path), layers, gdal.Open(scene.hsi_path).GetProjection(), title="demo")
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask

    project = QgsProject.instance()
    project.clear()
    canvas = QgsMapCanvas()
    canvas.resize(800, 600)
    project.readProject.connect(canvas.readProject)
    try:
        assert project.read(str(path))
        x0, dx, _, y0, _, dy = gdal.Open(scene.hsi_path).GetGeoTransform()
        size = gdal.Open(scene.hsi_path).RasterXSize
        scene_box = QgsRectangle(x0, y0 + dy * size, x0 + dx * size, y0)
        assert canvas.extent().contains(scene_box)
        assert canvas.extent().width() < 2 * scene_box.width()
        assert project.viewSettings().defaultViewExtent().contains(scene_box)
        root = project.layerTreeRoot()
        visible = [node.name() for node in root.findLayers() if node.isVisible()]
        assert visible == ["NCGLF2 classification", "Hyperspectral (true colour)"]  # the class map on top
    finally:
        project.readProject.disconnect(canvas.readProject)
        project.clear()
