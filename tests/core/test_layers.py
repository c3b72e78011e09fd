"""core/ is layered and its imports point one way: base <- nn <- io <- pipeline <- jobs <- engine <- apps."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CORE = ROOT / "core"
LAYERS = {
    "errors": 0,
    "version": 0,
    "progress": 0,
    "requests": 0,
    "__init__": 0,
    "nn": 1,
    "io": 2,
    "pipeline": 3,
    "jobs": 4,
    "engine": 5,
    "apps": 6,
}


def _layer(parts: list[str]) -> int:
    """The layer of module ``ncglf2.core.<parts>``."""
    return LAYERS[parts[0]] if parts else 0


def _imports(path: Path, text: str | None = None):
    """(line, target parts below ncglf2.core) of every import of the engine's own modules in ``path``."""
    package = list(path.relative_to(CORE).parent.parts)
    source = path.read_text(encoding="utf-8") if text is None else text
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                if node.level > len(package) + 1:
                    continue  # above core: the plugin package
                target = base + (node.module.split(".") if node.module else [])
            elif node.module and node.module.startswith("ncglf2.core"):
                target = node.module.split(".")[2:]
            else:
                continue
            names = [a.name for a in node.names]
            if not node.module and node.level:  # from . import x
                for name in names:
                    yield node.lineno, target + [name]
            else:
                yield node.lineno, target


def test_imports_never_point_upwards():
    offenders = []
    modules = sorted(CORE.rglob("*.py"))
    assert len(modules) > 30
    for path in modules:
        rel = list(path.relative_to(CORE).with_suffix("").parts)
        own = _layer(rel)
        for line, target in _imports(path):
            if target and target[0] in LAYERS and _layer(target) > own:
                offenders.append(f"{path.relative_to(ROOT)}:{line} imports {'.'.join(target)}")
    assert not offenders, "\n".join(offenders)


def test_every_module_sits_in_a_layer():
    loose = [p.name for p in CORE.glob("*.py") if p.stem not in LAYERS]
    assert not loose, f"modules outside the layers: {loose}"
    for package in ("nn", "io", "pipeline", "apps"):
        assert (CORE / package / "__init__.py").is_file()


def test_the_check_sees_an_upward_import():
    """The rule itself: a module of nn importing the jobs, lazily or not, would be reported."""
    probe = CORE / "nn" / "probe.py"  # never written: its text is given
    found = sorted(_imports(probe, "def f():\n    from ..jobs import train\nfrom .model import NCGLF2\n"))
    assert found == [(2, ["jobs"]), (3, ["nn", "model"])]
    assert _layer(found[0][1]) > _layer(["nn"]) and _layer(found[1][1]) == _layer(["nn"])


# Modules of core/ that load torch (directly or through what they import): the QGIS side must not reach them.
TORCH_LOADING = ("jobs", "nn", "pipeline", "io.model_file", "engine.child", "apps")


def test_the_qgis_side_never_reaches_torch():
    """QGIS runs jobs in the engine process; its own imports of core/ stay torch-free."""
    offenders = []
    for path in sorted((ROOT / "ncglf2_qgis").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                continue
            for name in names:
                if name.split(".")[0] == "torch":
                    offenders.append(f"{path.relative_to(ROOT)}:{node.lineno} imports torch")
                dotted = name.split("core.", 1)[1] if "core." in name else ""
                if any(dotted == m or dotted.startswith(m + ".") for m in TORCH_LOADING):
                    offenders.append(f"{path.relative_to(ROOT)}:{node.lineno} imports core.{dotted}")
    assert not offenders, "\n".join(offenders)
    engine = CORE / "engine"
    for module in ("protocol", "client", "interpreter", "install"):
        for line, target in _imports(engine / f"{module}.py"):
            dotted = ".".join(target)
            assert not any(dotted == m or dotted.startswith(m + ".") for m in TORCH_LOADING), (module, line, dotted)
