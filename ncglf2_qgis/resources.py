"""Files shipped with the plugin: ``resources/``, ``i18n/`` and the fields of ``metadata.txt``."""

import configparser
from functools import cache
from pathlib import Path

PLUGIN_ROOT = Path(__file__).resolve().parent.parent
RESOURCES = PLUGIN_ROOT / "resources"
TRANSLATIONS = PLUGIN_ROOT / "i18n"


def resource_path(name: str) -> str:
    return str(RESOURCES / name)


@cache
def plugin_metadata(key: str) -> str:
    """One field of ``metadata.txt`` (homepage, tracker, version...), the single place they are written."""
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(PLUGIN_ROOT / "metadata.txt", encoding="utf-8")
    return parser.get("general", key, fallback="")
