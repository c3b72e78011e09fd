"""Output files that appear only when complete and never clobber by accident."""

from __future__ import annotations

import contextlib
import os
import secrets
import tempfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import BinaryIO

from ..errors import InputError

__all__ = ["check_outputs", "atomic_path", "write_atomically", "sidecar_paths"]


def sidecar_paths(path: str) -> list[str]:
    """Files GDAL or we write beside a raster, moved and cleaned together with it."""
    return [path + ".aux.xml"]


def check_outputs(outputs: Sequence[tuple[str, str]], overwrite: bool, inputs: Sequence[str] = ()) -> None:
    """Refuse before any work: existing files (unless ``overwrite``), missing folders, clashes.

    ``outputs`` holds (what, path) pairs, e.g. ("classification", "map.tif").
    """
    seen: dict[str, str] = {}
    real_inputs = {os.path.realpath(p) for p in inputs if p}
    for what, path in outputs:
        if not path:
            continue
        real = os.path.realpath(path)
        if real in seen:
            raise InputError(f"the {what} and the {seen[real]} outputs are the same file: {path}")
        seen[real] = what
        if real in real_inputs:
            raise InputError(f"the {what} output {path} is one of the inputs; choose another file name")
        folder = os.path.dirname(os.path.abspath(path))
        if not os.path.isdir(folder):
            raise InputError(f"cannot write the {what} {path}: the folder {folder} does not exist")
        if not os.access(folder, os.W_OK):
            raise InputError(f"cannot write the {what} {path}: the folder {folder} is not writable")
        if os.path.exists(path) and not overwrite:
            raise InputError(f"the {what} {path} already exists; choose another name or allow overwriting")


@contextlib.contextmanager
def atomic_path(path: str, suffix: str | None = None) -> Iterator[str]:
    """Yield a temporary path in the target's folder; rename onto ``path`` only on success.

    On any exception (cancel included) the temporary file and its sidecars are
    removed and an existing ``path`` stays untouched.
    """
    folder = os.path.dirname(os.path.abspath(path))
    suffix = suffix if suffix is not None else os.path.splitext(path)[1]
    handle, temporary = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".part" + suffix, dir=folder)
    os.close(handle)
    os.unlink(temporary)  # writers create it themselves (GDAL refuses some existing files)
    try:
        yield temporary
    except BaseException:
        for leftover in [temporary, *sidecar_paths(temporary)]:
            if os.path.exists(leftover):
                os.unlink(leftover)
        raise
    os.replace(temporary, path)
    for old, new in zip(sidecar_paths(temporary), sidecar_paths(path)):
        if os.path.exists(old):
            os.replace(old, new)
        elif os.path.exists(new):
            os.unlink(new)


def write_atomically(path: str | os.PathLike, write: Callable[[BinaryIO], None]) -> None:
    """Write a file through ``write(stream)`` into a temporary sibling, then rename it over ``path``.

    For writers that take a stream (reports, pictures, projects); writers that
    create their file themselves (GDAL) use :func:`atomic_path`. The sibling is
    created exclusively and synced before the rename.

    ``os.open`` with mode 0o666 lets the umask decide permissions, as a plain
    ``open`` would (``tempfile`` would leave the report readable by its owner only).
    """
    target = Path(path)
    temp = target.with_name(f".{target.name}.{secrets.token_hex(6)}.tmp")
    try:
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    except OSError as exc:
        raise InputError(f"cannot write {target}: {exc.strerror or exc}") from exc
    try:
        with os.fdopen(fd, "wb") as stream:
            write(stream)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temp, target)
    except BaseException as exc:
        try:
            os.unlink(temp)
        except OSError:
            pass
        if isinstance(exc, OSError):
            raise InputError(f"cannot write {target}: {exc.strerror or exc}") from exc
        raise
