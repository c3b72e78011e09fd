"""The small protocol through which long work reports progress and hears cancel.

The CLI prints a bar, Processing forwards to ``QgsProcessingFeedback``, the
dialog to its task; the engine only ever sees this protocol.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Protocol, runtime_checkable

from .errors import Cancelled

#: Where one-line messages go (``print``, ``progress.info``...).
Log = Callable[[str], None]


def no_log(message: str) -> None:
    """A log that drops everything."""


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


class Throughput:
    """Progress of a long count (pixels, patches) with its rate and time left in the log every few seconds.

    The bar moves on every ``update``; the log line comes at most every
    ``every`` seconds, so the user sees life without being flooded.
    """

    def __init__(
        self,
        progress: Progress,
        total: int,
        unit: str,
        every: float = 5.0,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.progress, self.total, self.unit, self.every, self.clock = progress, max(1, int(total)), unit, every, clock
        self.started = clock()
        self._next_log = self.started + every
        self.done = 0.0
        progress.set_progress(0.0)

    def update(self, done: float) -> None:
        self.done = min(float(done), float(self.total))
        self.progress.set_progress(100.0 * self.done / self.total)
        now = self.clock()
        if now >= self._next_log and self.done < self.total:
            self._next_log = now + self.every
            self.progress.info(self.line(now))

    def within(self, start: float, size: float) -> Callable[[float], None]:
        """A callback for one part of the count: the share of it done moves the total from ``start``."""
        return lambda fraction: self.update(start + size * fraction)

    def line(self, now: float | None = None) -> str:
        """E.g. "12,288 of 88,305 pixels (13.9 %), 1,460 pixels/s, about 52 s left"."""
        elapsed = max((self.clock() if now is None else now) - self.started, 1e-9)
        rate = self.done / elapsed
        left = (self.total - self.done) / rate if rate > 0 else float("inf")
        return (
            f"{self.done:,.0f} of {self.total:,} {self.unit} ({100 * self.done / self.total:.1f} %), "
            f"{rate:,.0f} {self.unit}/s, about {format_duration(left)} left"
        )


def format_duration(seconds: float) -> str:
    """42 s, 3 min 05 s, 2 h 07 min."""
    if seconds != seconds or seconds == float("inf"):
        return "an unknown time"
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


def check_canceled(progress: Progress) -> None:
    """Raise :class:`Cancelled` when the user asked to stop."""
    if progress.is_canceled():
        raise Cancelled("cancelled by the user; no output was written")
