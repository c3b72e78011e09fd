"""Write ``docs/algorithms.md``, the page the algorithms' Help buttons open, from their own definitions.

Each algorithm gets a section (anchored by its id, as ``helpUrl()`` links it)
with its summary and every parameter and output with its help text, so the
page says exactly what the toolbox says. Needs QGIS's Python:
``QT_QPA_PLATFORM=offscreen .venv/bin/python tools/algorithm_docs.py`` (``--check`` fails when stale).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PAGE = ROOT / "docs" / "algorithms.md"


def render() -> str:
    from qgis.core import QgsProcessingParameterDefinition

    from ncglf2.ncglf2_qgis.algorithms import all_algorithms

    lines = [
        "# NCGLF2 Processing algorithms",
        "",
        "The algorithms of the provider *NCGLF2 HSI + LiDAR fusion*, as the Processing toolbox, batch processing,",
        "the graphical modeler and `qgis_process` show them. This page is written from the algorithms' own",
        "definitions by `tools/algorithm_docs.py`.",
        "",
    ]
    for algorithm in sorted(all_algorithms(), key=lambda a: a.name()):
        algorithm.initAlgorithm()
        lines += [
            f'<a id="{algorithm.name()}"></a>',
            "",
            f"## {algorithm.displayName()} (`ncglf2:{algorithm.name()}`)",
            "",
            algorithm.SUMMARY,
            "",
            "| parameter | name | help |",
            "|---|---|---|",
        ]
        for definition in algorithm.parameterDefinitions():
            flags = definition.flags()
            notes = [
                word
                for word, flag in (
                    ("optional", QgsProcessingParameterDefinition.FlagOptional),
                    ("advanced", QgsProcessingParameterDefinition.FlagAdvanced),
                )
                if flags & flag
            ]
            title = definition.description() + (f" *({', '.join(notes)})*" if notes else "")
            lines.append(f"| {title} | `{definition.name()}` | {definition.help().replace('|', '/')} |")
        outputs = [o for o in algorithm.outputDefinitions() if algorithm.parameterDefinition(o.name()) is None]
        if outputs:
            lines += [
                "",
                "Also returns: " + ", ".join(f"`{o.name()}` ({o.description().lower()})" for o in outputs) + ".",
            ]
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from qgis.core import QgsApplication

    app = QgsApplication([], False)
    app.initQgis()
    text = render()
    if "--check" in argv:
        stale = not PAGE.is_file() or PAGE.read_text(encoding="utf-8") != text
        if stale:
            print(f"{PAGE} is out of date: run tools/algorithm_docs.py", file=sys.stderr)
        return int(stale)
    PAGE.write_text(text, encoding="utf-8")
    print(f"wrote {PAGE}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
