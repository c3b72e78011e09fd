"""Install the plugin into a QGIS profile, or build the repository zip.

Stdlib only, so it runs with any Python before setup.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PLUGIN_NAME = "ncglf2"
CONTENTS = ["__init__.py", "metadata.txt", "LICENSE", "README.md", "core", "ncglf2_qgis", "resources", "i18n"]
SKIP = re.compile(r"(__pycache__|\.pyc$|\.pyo$|~$)")


def plugin_files() -> list[tuple[Path, str]]:
    """(source, path inside the plugin folder) of every file that ships."""
    files = []
    for entry in CONTENTS:
        source = ROOT / entry
        if source.is_file():
            files.append((source, entry))
            continue
        for path in sorted(source.rglob("*")):
            rel = path.relative_to(ROOT).as_posix()
            if path.is_file() and not SKIP.search(rel):
                files.append((path, rel))
    return files


def enable_in_profile(plugins_dir: Path, name: str) -> Path:
    """Set ``[PythonPlugins] name=true`` in the profile's QGIS3.ini, keeping every other line."""
    profile = plugins_dir.resolve().parent.parent
    ini = profile / "QGIS" / "QGIS3.ini"
    ini.parent.mkdir(parents=True, exist_ok=True)
    lines = ini.read_text(encoding="utf-8").splitlines() if ini.exists() else []
    out, in_section, done = [], False, False
    for line in lines:
        stripped = line.strip()
        if stripped.startswith("[") and stripped.endswith("]"):
            if in_section and not done:
                out.append(f"{name}=true")
                done = True
            in_section = stripped == "[PythonPlugins]"
        elif in_section and stripped.split("=", 1)[0] == name:
            line, done = f"{name}=true", True
        out.append(line)
    if not done:
        if not in_section:
            out += ["", "[PythonPlugins]"] if out else ["[PythonPlugins]"]
        out.append(f"{name}=true")
    ini.write_text("\n".join(out) + "\n", encoding="utf-8")
    return ini


def deploy(plugins_dir: Path) -> Path:
    """Copy the plugin into ``plugins_dir/ncglf2`` (replaced as a whole) and enable it."""
    target = plugins_dir / PLUGIN_NAME
    plugins_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".ncglf2-", dir=plugins_dir))
    for source, rel in plugin_files():
        dest = staging / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, dest)
    if target.exists():
        shutil.rmtree(target)
    os.replace(staging, target)
    enable_in_profile(plugins_dir, PLUGIN_NAME)
    return target


def build_zip(out: Path) -> Path:
    """The upload zip: one top folder named after the plugin, no tests or caches."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".zip.part")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as archive:
        for source, rel in plugin_files():
            archive.write(source, f"{PLUGIN_NAME}/{rel}")
    os.replace(tmp, out)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    dep = sub.add_parser("deploy", help="install into a QGIS profile's python/plugins folder")
    dep.add_argument("plugins_dir", type=Path)
    zp = sub.add_parser("zip", help="build the plugin repository zip")
    zp.add_argument("out", type=Path)
    args = parser.parse_args(argv)
    if args.command == "deploy":
        print(f"installed {deploy(args.plugins_dir)} and enabled it in the profile")
    else:
        print(build_zip(args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
