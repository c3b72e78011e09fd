"""Paths of files shipped in ``resources/``."""
from pathlib import Path

RESOURCES = Path(__file__).resolve().parent.parent / "resources"


def resource_path(name: str) -> str:
    return str(RESOURCES / name)
