"""The plugin as QGIS loads it: classFactory, provider registration, metadata."""
import configparser

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
