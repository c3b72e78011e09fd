"""Write ``i18n/ncglf2_en.ts``: every user-visible string of the plugin, for Qt Linguist.

Translators copy the file to ``ncglf2_<language>.ts``, translate it in Qt
Linguist and compile it with ``lrelease`` into ``ncglf2_<language>.qm``; the
plugin loads the ``.qm`` of QGIS's language when it starts. Strings are found
where the code hands them to ``tr()``: literal ``tr("...")`` calls, the
algorithms' SUMMARY and TAGS, parameter help given to ``add()``, the texts of
``add_labels()``, titles in loops that translate them, and the dialog's ``.ui``.

Stdlib only: ``python3 tools/update_translations.py`` (``--check`` fails when the file is stale).
"""

from __future__ import annotations

import ast
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ROOT / "ncglf2_qgis"
UI_FILES = [ROOT / "resources" / "ncglf2_dialog.ui"]
TS_FILE = ROOT / "i18n" / "ncglf2_en.ts"
# Modules whose tr() translates in one fixed context (``QCoreApplication.translate("NCGLF2", ...)``).
FIXED_CONTEXT = {"algorithms": "NCGLF2", "plugin.py": "NCGLF2"}


def _literal(node: ast.AST) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def _strings_in(node: ast.AST) -> list[str]:
    return [n.value for n in ast.walk(node) if isinstance(n, ast.Constant) and isinstance(n.value, str)]


def _is_tr_call(node: ast.AST) -> bool:
    return isinstance(node, ast.Call) and (
        (isinstance(node.func, ast.Attribute) and node.func.attr == "tr")
        or (isinstance(node.func, ast.Name) and node.func.id == "tr")
    )


def python_messages(path: Path) -> list[tuple[str, str, int]]:
    """(context, text, line) of the strings one module translates."""
    relative = path.relative_to(SOURCES).as_posix()
    fixed = next((c for prefix, c in FIXED_CONTEXT.items() if relative.startswith(prefix)), None)
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: list[tuple[str, str, int]] = []

    def visit(node: ast.AST, klass: str) -> None:
        context = fixed or klass
        if isinstance(node, ast.ClassDef):
            for child in node.body:
                if isinstance(child, ast.Assign) and any(
                    isinstance(t, ast.Name) and t.id in ("SUMMARY", "TAGS") for t in child.targets
                ):
                    text = _literal(child.value) if not isinstance(child.value, ast.JoinedStr) else None
                    if text:
                        found.append((fixed or node.name, text, child.lineno))
            for child in ast.iter_child_nodes(node):
                visit(child, node.name)
            return
        if _is_tr_call(node) and node.args and _literal(node.args[0]) is not None:
            found.append((context, _literal(node.args[0]), node.lineno))
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "translate"
            and len(node.args) >= 2
            and _literal(node.args[0])
            and _literal(node.args[1]) is not None
        ):
            found.append((_literal(node.args[0]), _literal(node.args[1]), node.lineno))
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "add"
            and len(node.args) >= 2
            and _literal(node.args[1]) is not None
        ):
            found.append((context, _literal(node.args[1]), node.lineno))
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "add_labels":
            found.extend((context, text, node.lineno) for arg in node.args[4:] for text in _strings_in(arg))
        elif isinstance(node, ast.For) and any(
            _is_tr_call(n) and n.args and isinstance(n.args[0], ast.Name) for n in ast.walk(node)
        ):
            found.extend((context, text, node.lineno) for text in _strings_in(node.iter))
        for child in ast.iter_child_nodes(node):
            visit(child, klass)

    visit(tree, "")
    return [(c, t, line) for c, t, line in found if c and t.strip()]


def ui_messages(path: Path) -> list[tuple[str, str, int]]:
    """(context, text, 0) of a Designer form: its class name is the context uic translates in."""
    root = ET.parse(path).getroot()
    context = root.findtext("class")
    return [(context, s.text, 0) for s in root.iter("string") if s.text and s.get("notr") != "true"]


def build_ts() -> str:
    messages: dict[str, dict[str, list[str]]] = {}
    for path in sorted(SOURCES.rglob("*.py")):
        for context, text, line in python_messages(path):
            where = f"{path.relative_to(ROOT).as_posix()}:{line}"
            messages.setdefault(context, {}).setdefault(text, []).append(where)
    for path in UI_FILES:
        for context, text, _ in ui_messages(path):
            messages.setdefault(context, {}).setdefault(text, []).append(path.relative_to(ROOT).as_posix())
    root = ET.Element("TS", version="2.1", language="en", sourcelanguage="en")
    for context in sorted(messages):
        element = ET.SubElement(root, "context")
        ET.SubElement(element, "name").text = context
        for text, places in messages[context].items():
            message = ET.SubElement(element, "message")
            # Files without line numbers: the source file stays current while code moves around.
            for filename in dict.fromkeys(place.partition(":")[0] for place in places):
                ET.SubElement(message, "location", filename=filename)
            ET.SubElement(message, "source").text = text
            ET.SubElement(message, "translation", type="unfinished")
    ET.indent(root)
    return '<?xml version="1.0" encoding="utf-8"?>\n<!DOCTYPE TS>\n' + ET.tostring(root, encoding="unicode") + "\n"


def main(argv: list[str]) -> int:
    text = build_ts()
    if "--check" in argv:
        if not TS_FILE.is_file() or TS_FILE.read_text(encoding="utf-8") != text:
            print(f"{TS_FILE} is out of date: run python3 tools/update_translations.py", file=sys.stderr)
            return 1
        return 0
    TS_FILE.parent.mkdir(parents=True, exist_ok=True)
    TS_FILE.write_text(text, encoding="utf-8")
    count = text.count("<message>")
    print(f"wrote {TS_FILE} ({count} strings)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
