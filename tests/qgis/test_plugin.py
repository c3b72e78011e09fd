"""The plugin as QGIS loads it: classFactory, provider registration, metadata."""

import configparser
import os

from paths import ROOT

REQUIRED_METADATA = ["name", "qgisMinimumVersion", "description", "about", "version", "author", "email", "repository"]


def test_class_factory_registers_and_unloads_provider(qgis_app):
    from qgis.core import QgsApplication
    from qgis.testing.mocked import get_iface

    import ncglf2

    iface = get_iface()
    plugin = ncglf2.classFactory(iface)
    plugin.initProcessing()
    plugin.initGui()
    registry = QgsApplication.processingRegistry()
    provider = registry.providerById("ncglf2")
    assert provider is not None
    assert provider.name() == "NCGLF2 HSI + LiDAR fusion"
    assert not provider.icon().isNull()
    plugin.unload()
    assert registry.providerById("ncglf2") is None


def test_metadata_is_complete():
    parser = configparser.ConfigParser()
    parser.optionxform = str
    parser.read(ROOT / "metadata.txt", encoding="utf-8")
    general = parser["general"]
    missing = [key for key in REQUIRED_METADATA if not general.get(key, "").strip()]
    assert not missing, f"metadata.txt lacks {missing}"
    assert general["hasProcessingProvider"] == "yes"
    assert (ROOT / general["icon"]).is_file()
    from ncglf2.core.version import __version__

    assert general["version"] == __version__


def test_root_init_holds_only_class_factory():
    import ast

    tree = ast.parse((ROOT / "__init__.py").read_text())
    top = [node for node in tree.body if not isinstance(node, ast.Expr)]
    assert [type(n).__name__ for n in top] == ["FunctionDef"] and top[0].name == "classFactory"


def test_core_never_imports_qgis():
    import ast

    offenders = []
    for path in (ROOT / "core").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            offenders += [f"{path.name}: {n}" for n in names if n.split(".")[0] in {"qgis", "PyQt5", "PyQt6"}]
    assert not offenders


def _metadata():
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str
    parser.read(ROOT / "metadata.txt", encoding="utf-8")
    return parser["general"]


def test_metadata_has_no_placeholders_and_valid_links():
    import re

    general = _metadata()
    text = (ROOT / "metadata.txt").read_text(encoding="utf-8").lower()
    for placeholder in ("todo", "fixme", "example.com", "your name", "xxx", "<", "lorem"):
        assert placeholder not in text, placeholder
    assert general["experimental"] == "False" and general["deprecated"] == "False"
    url = re.compile(r"^https://[a-z0-9.-]+\.[a-z]{2,}(/[\w.~-]+)+$")
    for key in ("homepage", "tracker", "repository"):
        assert url.match(general[key]), (key, general[key])
    assert general["tracker"] == general["repository"] + "/issues"
    assert re.fullmatch(r"\d+\.\d+\.\d+", general["version"])
    assert re.fullmatch(r"[^@\s]+@[^@\s]+\.[a-z]{2,}", general["email"])


def test_zip_follows_the_plugin_repository_rules(tmp_path):
    """The rules the official plugin repository's validator applies to an upload."""
    import subprocess
    import zipfile

    out = tmp_path / "ncglf2.zip"
    done = subprocess.run(
        ["/usr/bin/python3", str(ROOT / "tools" / "package.py"), "zip", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    with zipfile.ZipFile(out) as archive:
        assert archive.testzip() is None
        names = archive.namelist()
        metadata = archive.read("ncglf2/metadata.txt").decode("utf-8")
    tops = {name.split("/")[0] for name in names}
    assert tops == {"ncglf2"}  # one folder, named like the package (letters, digits, _)
    for required in ("__init__.py", "metadata.txt", "LICENSE", "i18n/ncglf2_en.ts"):
        assert f"ncglf2/{required}" in names
    forbidden = ("__MACOSX", ".git", "__pycache__", ".pyc", ".so", ".dll", ".exe", ".DS_Store", "Thumbs.db")
    assert not [n for n in names if any(f in n for f in forbidden)]
    parser = configparser.ConfigParser(interpolation=None)
    parser.read_string(metadata)
    for key in (
        "name",
        "description",
        "about",
        "version",
        "qgisMinimumVersion",
        "author",
        "email",
        "repository",
        "tracker",
    ):
        assert parser.get("general", key).strip(), key
    assert "plugin" not in parser.get("general", "name").lower()


def test_algorithms_have_icons_tags_and_help_pages(qgis_app):
    import re

    from ncglf2.ncglf2_qgis.algorithms import all_algorithms

    page = (ROOT / "docs" / "algorithms.md").read_text(encoding="utf-8")
    anchors = set(re.findall(r'<a id="([^"]+)"></a>', page))
    repository = _metadata()["repository"]
    for algorithm in all_algorithms():
        algorithm.initAlgorithm()
        assert not algorithm.icon().isNull() and os.path.isfile(algorithm.svgIconPath())
        assert algorithm.helpUrl() == f"{repository}/blob/main/docs/algorithms.md#{algorithm.name()}"
        assert algorithm.name() in anchors
        tags = algorithm.tags()
        assert "hyperspectral" in tags and "lidar" in tags and len(tags) >= 8


def test_help_page_and_translation_source_are_up_to_date(qgis_app):
    import importlib.util

    spec = importlib.util.spec_from_file_location("algorithm_docs", ROOT / "tools" / "algorithm_docs.py")
    docs = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(docs)
    assert docs.render() == (ROOT / "docs" / "algorithms.md").read_text(encoding="utf-8"), (
        "docs/algorithms.md is stale: run tools/algorithm_docs.py"
    )
    spec = importlib.util.spec_from_file_location("update_translations", ROOT / "tools" / "update_translations.py")
    translations = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(translations)
    ts = translations.build_ts()
    assert ts == (ROOT / "i18n" / "ncglf2_en.ts").read_text(encoding="utf-8"), (
        "i18n/ncglf2_en.ts is stale: run tools/update_translations.py"
    )
    for text in (
        "Train a model",
        "Classify with a model",
        "Training labels (class raster)",
        "Validation kappa",
        "Tick at least one LiDAR raster.",
    ):
        assert f"<source>{text}</source>" in ts


def test_a_translation_changes_what_the_toolbox_shows(qgis_app, tmp_path):
    """The mechanism translators use: a .ts translated and compiled with lrelease, loaded by the plugin."""
    import shutil
    import subprocess

    import pytest
    from qgis.core import QgsApplication
    from qgis.PyQt.QtCore import QCoreApplication

    from ncglf2.ncglf2_qgis.plugin import install_translator

    lrelease = shutil.which("lrelease")
    if lrelease is None:
        pytest.skip("Qt's lrelease is not installed")
    source = (ROOT / "i18n" / "ncglf2_en.ts").read_text(encoding="utf-8")
    german = source.replace('language="en"', 'language="de"').replace(
        '<source>Train a model</source>\n      <translation type="unfinished" />',
        "<source>Train a model</source>\n      <translation>Modell trainieren</translation>",
    )
    assert german != source
    (tmp_path / "ncglf2_de.ts").write_text(german, encoding="utf-8")
    done = subprocess.run(
        [lrelease, str(tmp_path / "ncglf2_de.ts"), "-qm", str(tmp_path / "ncglf2_de.qm")],
        capture_output=True,
        text=True,
        env={**os.environ, "QT_SELECT": "qt5"},
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert install_translator("fr", tmp_path) is None  # no French file: nothing loaded
    translator = install_translator("de", tmp_path)
    assert translator is not None
    try:
        from ncglf2.ncglf2_qgis.algorithms.train import TrainAlgorithm

        assert TrainAlgorithm().displayName() == "Modell trainieren"
    finally:
        QCoreApplication.removeTranslator(translator)
    assert TrainAlgorithm().displayName() == "Train a model"
    assert QgsApplication.instance() is not None
