"""Output files that appear only when complete, all together, and never clobber by accident.

A job declares all of its outputs at the start (:class:`OutputSet`): they are
checked against each other and against every input before any work, writers
write temporary siblings, and the set is committed at the end, all or none.
Without ``overwrite`` the commit never replaces a file that appeared while the
job ran (another run writing the same name): it links the finished file into
place, which fails when the name exists. Temporary names carry the host and
the process id, so a later run can tell the leftovers of a killed run from the
files of a run still going, and removes the former.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import secrets
import shutil
import socket
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import BinaryIO

from ..errors import InputError, OutputError

__all__ = [
    "OutputSet",
    "check_outputs",
    "atomic_path",
    "write_atomically",
    "sidecar_paths",
    "remove_stale_temporaries",
    "describe_write_error",
    "megabytes",
]

#: errno values that mean "the disk (or the user's quota, or a file size limit) is full".
_FULL = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}


def sidecar_paths(path: str) -> list[str]:
    """Files GDAL or we write beside a raster, moved and cleaned together with it."""
    return [path + ".aux.xml"]


def megabytes(count: float) -> str:
    return f"{count / 1e6:,.1f} MB" if count < 1e9 else f"{count / 1e9:,.2f} GB"


def _host() -> str:
    return re.sub(r"[^A-Za-z0-9]", "", socket.gethostname())[:24] or "host"


def _temporary_name(path: str, kind: str = "part") -> str:
    """``.map.tif.HOST-PID-TOKEN.part.tif`` beside ``map.tif`` (hidden; the suffix keeps the format's extension)."""
    folder, name = os.path.split(os.path.abspath(path))
    suffix = os.path.splitext(name)[1]
    return os.path.join(folder, f".{name}.{_host()}-{os.getpid()}-{secrets.token_hex(4)}.{kind}{suffix}")


def _process_alive(pid: int) -> bool:
    """Whether ``pid`` runs on this host; in doubt, True (a file that may be in use is left alone)."""
    if pid == os.getpid():
        return True
    if sys.platform == "win32":  # os.kill(pid, 0) would send Ctrl-C there
        import ctypes

        kernel32 = ctypes.windll.kernel32  # type: ignore[attr-defined]
        handle = kernel32.OpenProcess(0x1000, False, pid)  # PROCESS_QUERY_LIMITED_INFORMATION
        if not handle:
            return ctypes.get_last_error() == 5  # access denied: it exists
        code = ctypes.c_ulong()
        kernel32.GetExitCodeProcess(handle, ctypes.byref(code))
        kernel32.CloseHandle(handle)
        return code.value == 259  # STILL_ACTIVE
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


def remove_stale_temporaries(path: str) -> list[str]:
    """Remove the temporary files a killed run left for ``path``; returns their names.

    Only files named by this host's processes that no longer run are removed:
    a run writing the same output right now, here or on another machine
    sharing the folder, keeps its files.
    """
    folder, name = os.path.split(os.path.abspath(path))
    # One or more dots: a writer that itself writes atomically names its file after the temporary one.
    pattern = re.compile(r"\.+" + re.escape(f"{name}.") + r"([A-Za-z0-9]+)-(\d+)-[0-9a-f]{8}\.(part|old|tmp)")
    removed: list[str] = []
    try:
        entries = os.listdir(folder)
    except OSError:
        return removed
    for entry in entries:
        match = pattern.match(entry)
        if not match or match.group(1) != _host() or _process_alive(int(match.group(2))):
            continue
        try:
            os.unlink(os.path.join(folder, entry))
            removed.append(entry)
        except OSError:
            pass
    return removed


def _normalized(path: str) -> str:
    real = os.path.normcase(os.path.realpath(path))
    # macOS and Windows file systems ignore case by default: compare names as they would.
    return real.casefold() if sys.platform in ("win32", "darwin") else real


def _same_file(a: str, b: str) -> bool:
    """Same file after links and case: by inode where both exist, by normalized name otherwise."""
    if os.path.exists(a) and os.path.exists(b):
        try:
            return os.path.samefile(a, b)
        except OSError:
            pass
    return _normalized(a) == _normalized(b)


def check_outputs(outputs: Sequence[tuple[str, str]], overwrite: bool, inputs: Sequence[str] = ()) -> None:
    """Refuse before any work: existing files (unless ``overwrite``), folders, missing folders, clashes.

    ``outputs`` holds (what, path) pairs, e.g. ("classification", "map.tif");
    each output and its sidecars is compared with every input (and its
    sidecars) and with every other output.
    """
    claimed: list[tuple[str, str]] = []  # (what, path) of outputs and their sidecars
    existing_inputs = [p for p in inputs if p]
    for what, path in outputs:
        if not path:
            continue
        for other_what, other in claimed:
            if _same_file(path, other):
                raise InputError(f"the {what} and the {other_what} outputs are the same file: {path}")
        for source in existing_inputs:
            for candidate in (source, *sidecar_paths(source)):
                if _same_file(path, candidate):
                    raise InputError(
                        f"the {what} output {path} is the input {candidate}; writing it would destroy the input, "
                        "choose another file name"
                    )
        claimed += [(what, path)] + [(f"{what}'s sidecar", s) for s in sidecar_paths(path)]
        folder = os.path.dirname(os.path.abspath(path))
        if not os.path.isdir(folder):
            raise InputError(f"cannot write the {what} {path}: the folder {folder} does not exist")
        if not os.access(folder, os.W_OK):
            raise InputError(f"cannot write the {what} {path}: the folder {folder} is not writable")
        if os.path.isdir(path):
            raise InputError(f"the {what} {path} is a folder; give a file name inside it")
        if os.path.lexists(path) and not os.path.isfile(path):
            raise InputError(f"the {what} {path} exists and is not a regular file")
        if os.path.lexists(path) and not overwrite:
            raise InputError(f"the {what} {path} already exists; choose another name or allow overwriting")


def describe_write_error(error: OSError, path: str, needed: int | None = None) -> str:
    """One line for a failed write: a full disk says how much room there is and how much is needed."""
    if error.errno in _FULL:
        folder = os.path.dirname(os.path.abspath(path))
        try:
            free = f"{megabytes(shutil.disk_usage(folder).free)} free"
        except OSError:
            free = "free space unknown"
        need = f"up to about {megabytes(needed)} needed, " if needed else ""
        reason = "no space left on device" if error.errno != errno.EFBIG else "file size limit reached"
        return f"{reason} writing {path} ({need}{free})"
    return f"cannot write {path}: {error.strerror or error}"


class OutputSet:
    """The output files of one job: checked up front, written as temporaries, committed together.

    Use it as a context manager: a normal exit commits every file that was
    written (all or none: when one cannot be put in place, the ones already
    moved are taken back and the earlier files restored), an exception
    removes the temporaries and leaves every existing file as it was.
    """

    def __init__(
        self,
        outputs: Sequence[tuple[str, str]],
        *,
        overwrite: bool,
        inputs: Sequence[str] = (),
        sizes: dict[str, tuple[int, int]] | None = None,
        log: Callable[[str], None] | None = None,
    ) -> None:
        members = [(what, os.fspath(path)) for what, path in outputs if path]
        check_outputs(members, overwrite, inputs)
        self.overwrite = overwrite
        # (at least, at most) bytes each output will take: refuse below the first, report the second.
        self.sizes = {os.fspath(k): v for k, v in (sizes or {}).items()}
        self._what = {path: what for what, path in members}
        self._temporary = {path: _temporary_name(path) for _, path in members}
        # final -> (working file, how it becomes the temporary): see stage().
        self._staged: dict[str, tuple[str, Callable[[str, str], None]]] = {}
        for path in self._temporary:
            stale = remove_stale_temporaries(path)
            if stale and log is not None:
                log(f"removed {len(stale)} temporary file(s) left by an interrupted run: {', '.join(stale)}")
        self._check_free_space()

    def _check_free_space(self) -> None:
        """Refuse when the outputs clearly cannot fit: less room than their smallest possible size."""
        folders: dict[str, int] = {}
        for path, (at_least, _) in self.sizes.items():
            folder = os.path.dirname(os.path.abspath(path))
            folders[folder] = folders.get(folder, 0) + at_least
        for folder, needed in folders.items():
            try:
                free = shutil.disk_usage(folder).free
            except OSError:
                continue
            if free < needed:
                raise OutputError(
                    f"not enough free space in {folder}: the outputs need at least {megabytes(needed)}, "
                    f"{megabytes(free)} free"
                )

    def path(self, final: str) -> str:
        """The temporary file to write instead of ``final``."""
        return self._temporary[os.fspath(final)]

    def stage(self, final: str, finish: Callable[[str, str], None]) -> str:
        """A working file to write instead of ``final``, made into its temporary by ``finish(working, temporary)``.

        For formats a driver can only copy from a finished file (Cloud
        Optimized GeoTIFF): on a normal exit every staged file is finished
        before any file is put in place, then removed; a failure of one
        discards the whole set, as any other error does.
        """
        final = os.fspath(final)
        working = _temporary_name(final, "tmp")
        self._staged[final] = (working, finish)
        return working

    def __enter__(self) -> OutputSet:
        return self

    def __exit__(self, kind, error, trace) -> None:
        if kind is None:
            try:
                self._finish_staged()
            except BaseException as failure:
                self._fail(failure)
                raise
            self.commit()
            return
        self._fail(error)

    def _finish_staged(self) -> None:
        for final, (working, finish) in self._staged.items():
            finish(working, self._temporary[final])
            _remove_with_sidecars(working)  # at once: the next conversion has its room

    def _fail(self, error: BaseException | None) -> None:
        """Remove every temporary; a write error becomes one line naming the output it was for."""
        self.discard()
        if isinstance(error, OSError):
            final = self._final_of(error.filename)
            if final is not None or error.errno in _FULL:
                final = final or next(iter(self._temporary), "the output")
                raise OutputError(
                    describe_write_error(error, final, self.sizes.get(final, (0, 0))[1] or None)
                ) from None

    def _final_of(self, filename) -> str | None:
        """The output a temporary (or one of its sidecars, or a temporary of it) stands for."""
        if not isinstance(filename, str):
            return None
        for final, temporary in self._temporary.items():
            working = self._staged.get(final, (temporary, None))[0]
            if (
                filename == final
                or filename.startswith(temporary)
                or filename.startswith(working)
                or os.path.basename(filename).startswith("." + os.path.basename(temporary))
            ):
                return final
        return None

    def _files(self) -> list[tuple[str, str]]:
        """(temporary, final) of every written file, sidecars after their raster."""
        files = []
        for final, temporary in self._temporary.items():
            if os.path.exists(temporary):
                files.append((temporary, final))
                files += list(zip(sidecar_paths(temporary), sidecar_paths(final)))
        return files

    def discard(self) -> None:
        for temporary in [*self._temporary.values(), *(working for working, _ in self._staged.values())]:
            _remove_with_sidecars(temporary)

    def commit(self) -> None:
        """Put every written file in place, all or none."""
        placed: list[tuple[str, str | None]] = []  # (final, backup of what it replaced, if anything)
        try:
            for temporary, final in self._files():
                if not os.path.exists(temporary):  # a sidecar the writer did not make: the old one is stale
                    placed.append((final, self._set_aside(final)))
                    continue
                placed.append((final, self._place(temporary, final)))
        except BaseException:
            self._take_back(placed)
            self.discard()
            raise
        for _, backup in placed:
            if backup is not None:
                with contextlib.suppress(OSError):
                    os.unlink(backup)

    def _set_aside(self, final: str) -> str | None:
        """Move an existing ``final`` to a backup name (restored if the commit fails)."""
        if not os.path.lexists(final):
            return None
        if os.path.isdir(final):
            raise OutputError(f"{final} is a folder now; it was left as it is and this run's result was discarded")
        backup = _temporary_name(final, "old")
        os.replace(final, backup)
        return backup

    def _place(self, temporary: str, final: str) -> str | None:
        main = final in self._temporary
        if main and not self.overwrite:
            try:
                os.link(temporary, final)  # fails if the name appeared meanwhile: never replaces
            except FileExistsError:
                raise OutputError(
                    f"the {self._what[final]} {final} appeared while this run was working (another run writing "
                    "the same file?); it was left as it is and this run's result was discarded"
                ) from None
            except OSError as error:
                if error.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV, errno.EMLINK):
                    raise OutputError(describe_write_error(error, final)) from None
                # No hard links here (FAT, some network shares): claim the name exclusively, then replace it.
                try:
                    os.close(os.open(final, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
                except FileExistsError:
                    raise OutputError(
                        f"the {self._what[final]} {final} appeared while this run was working; it was left as it is"
                    ) from None
                os.replace(temporary, final)
                return None
            os.unlink(temporary)
            return None
        backup = self._set_aside(final)
        try:
            os.replace(temporary, final)
        except OSError as error:
            if backup is not None:
                os.replace(backup, final)
            raise OutputError(describe_write_error(error, final)) from None
        return backup

    def _take_back(self, placed: list[tuple[str, str | None]]) -> None:
        for final, backup in reversed(placed):
            with contextlib.suppress(OSError):
                if os.path.lexists(final):
                    os.unlink(final)
                if backup is not None:
                    os.replace(backup, final)


def _remove_with_sidecars(path: str) -> None:
    for leftover in (path, *sidecar_paths(path)):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(leftover)


@contextlib.contextmanager
def atomic_path(path: str) -> Iterator[str]:
    """Yield a temporary path in the target's folder; rename onto ``path`` only on success.

    For single files written outside a job's :class:`OutputSet` (the demo's
    scene, pictures, styles): an existing ``path`` is replaced. On any
    exception (cancel included) the temporary file and its sidecars are
    removed and an existing ``path`` stays untouched.
    """
    temporary = _temporary_name(path)
    try:
        yield temporary
    except BaseException:
        for leftover in [temporary, *sidecar_paths(temporary)]:
            if os.path.exists(leftover):
                os.unlink(leftover)
        raise
    try:
        os.replace(temporary, path)
    except OSError as error:
        for leftover in [temporary, *sidecar_paths(temporary)]:
            with contextlib.suppress(OSError):
                os.unlink(leftover)
        raise OutputError(describe_write_error(error, path)) from None
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
    temp = _temporary_name(str(target), "tmp")
    try:
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    except OSError as exc:
        raise OutputError(describe_write_error(exc, str(target))) from exc
    try:
        with os.fdopen(fd, "wb") as stream:
            write(stream)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temp, target)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        if isinstance(exc, OSError):
            raise OutputError(describe_write_error(exc, str(target))) from exc
        raise
