"""The small protocol through which long work reports progress and hears cancel.

The CLI prints a bar, Processing forwards to ``QgsProcessingFeedback``, the
dialog to its task; the engine only ever sees this protocol.
"""
from __future__ import annotations

import sys
from typing import Protocol, runtime_checkable

from .errors import Cancelled


@runtime_checkable
class Progress(Protocol):
    def set_progress(self, percent: float) -> None: ...

    def is_canceled(self) -> bool: ...

    def info(self, message: str) -> None: ...


class SilentProgress:
    """Ignores everything; never cancels."""

    def set_progress(self, percent: float) -> None:
        pass

    def is_canceled(self) -> bool:
        return False

    def info(self, message: str) -> None:
        pass


class ConsoleProgress:
    """A one-line bar on stderr plus log lines; cancel is Ctrl-C."""

    def __init__(self, stream=None, width: int = 30) -> None:
        self.stream = stream or sys.stderr
        self.width = width
        self._last = -1
        self._bar_open = False
        self.interactive = hasattr(self.stream, "isatty") and self.stream.isatty()

    def set_progress(self, percent: float) -> None:
        percent = max(0.0, min(100.0, percent))
        step = int(percent)
        if step == self._last:
            return
        self._last = step
        if self.interactive:
            filled = int(self.width * percent / 100)
            self.stream.write(f"\r[{'#' * filled}{'.' * (self.width - filled)}] {percent:5.1f}%")
            self._bar_open = percent < 100
            if not self._bar_open:
                self.stream.write("\n")
            self.stream.flush()
        elif step % 10 == 0:
            self.stream.write(f"{step}%\n")
            self.stream.flush()

    def is_canceled(self) -> bool:
        return False

    def info(self, message: str) -> None:
        if self._bar_open:
            self.stream.write("\n")
            self._bar_open = False
        self.stream.write(message + "\n")
        self.stream.flush()


class SubProgress:
    """Maps 0-100 % of a sub-task onto [start, end] of a parent."""

    def __init__(self, parent: Progress, start: float, end: float) -> None:
        self.parent, self.start, self.end = parent, start, end

    def set_progress(self, percent: float) -> None:
        self.parent.set_progress(self.start + (self.end - self.start) * percent / 100.0)

    def is_canceled(self) -> bool:
        return self.parent.is_canceled()

    def info(self, message: str) -> None:
        self.parent.info(message)


def check_canceled(progress: Progress) -> None:
    """Raise :class:`Cancelled` when the user asked to stop."""
    if progress.is_canceled():
        raise Cancelled("cancelled by the user; no output was written")
