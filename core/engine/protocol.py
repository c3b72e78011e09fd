"""The engine's event protocol: one JSON object per line, each with an ``event`` field.

Parent to child, one line per message:
  ``{"request": {...}}``   run a job (the request's ``to_dict``)
  ``{"cancel": true}``     stop the running job as Ctrl-C would (nothing that looks finished)
  end of input             the parent is gone: cancel and exit

Child to parent:
  ``engine``    once at start: Python, torch, CUDA devices, process id
  ``progress``  ``percent`` 0-100 of the running job
  ``log``       ``message``: one line for the user
  ``result``    ``job`` and ``result``: the job's outcome, plain JSON (ends the job)
  ``error``     ``kind``, ``message``, ``details`` (ends the job); kinds below
"""

from __future__ import annotations

import json
import math
import threading
from dataclasses import dataclass, field
from typing import IO, Any

from ..errors import Cancelled, NCGLF2Error

__all__ = [
    "PROTOCOL_VERSION",
    "ERROR_KINDS",
    "Event",
    "EventWriter",
    "EventProgress",
    "ProtocolError",
    "parse_event",
]

#: Bumped when a field changes meaning; the parent refuses a child that speaks another version.
PROTOCOL_VERSION = 1

#: ``input``: a problem the user can fix (the message says how); ``cancelled``: stopped on request;
#: ``engine``: the engine's own Python packages are broken (the message gives the repair);
#: ``memory``: out of memory; ``internal``: a bug (``details`` holds the traceback).
ERROR_KINDS = ("input", "cancelled", "engine", "memory", "internal")

_EVENTS = ("engine", "progress", "log", "result", "error")


class ProtocolError(NCGLF2Error):
    """The child wrote something that is not an event of this protocol."""


@dataclass(frozen=True)
class Event:
    kind: str
    fields: dict[str, Any] = field(default_factory=dict)

    def get(self, name: str, default: Any = None) -> Any:
        return self.fields.get(name, default)


def parse_event(line: str) -> Event:
    """One line from the child as an event, or ProtocolError naming what arrived instead."""
    text = line.strip()
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        data = None
    if not isinstance(data, dict) or data.get("event") not in _EVENTS:
        shown = text if len(text) <= 200 else text[:200] + "..."
        raise ProtocolError(f"the engine process wrote something that is not an event: {shown!r}")
    kind = data.pop("event")
    if kind == "progress" and not isinstance(data.get("percent"), (int, float)):
        raise ProtocolError(f"a progress event without a number: {text!r}")
    if kind in ("log", "error") and not isinstance(data.get("message"), str):
        raise ProtocolError(f"a {kind} event without a message: {text!r}")
    return Event(kind, data)


def _plain(value: Any) -> Any:
    """JSON-ready: NaN and infinities (an undefined kappa) become null, numpy scalars Python numbers."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if hasattr(value, "item") and callable(value.item) and getattr(value, "ndim", 1) == 0:
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


class EventWriter:
    """Writes events to a text stream, whole lines only, from any thread."""

    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream
        self._lock = threading.Lock()

    def emit(self, event: str, /, **fields: Any) -> None:
        line = json.dumps(_plain({"event": event, **fields}), allow_nan=False, default=str)
        with self._lock:
            self.stream.write(line + "\n")
            self.stream.flush()

    def error(self, error: BaseException, details: str = "") -> None:
        """The event that ends a failed job."""
        if isinstance(error, Cancelled):
            kind, message = "cancelled", str(error)
        elif isinstance(error, NCGLF2Error):
            kind, message = "input", str(error)
        elif isinstance(error, MemoryError):
            kind, message = "memory", f"out of memory: {error or 'an allocation failed'}"
        else:
            kind, message = "internal", f"unexpected {type(error).__name__}: {error}"
        self.emit("error", kind=kind, message=message, details=details)


class EventProgress:
    """The engine's progress protocol as events; cancel comes from the parent (or a signal)."""

    def __init__(self, writer: EventWriter, cancel: threading.Event) -> None:
        self.writer = writer
        self.cancel = cancel
        self._last = -1.0

    def set_progress(self, percent: float) -> None:
        percent = round(max(0.0, min(100.0, float(percent))), 2)
        if percent != self._last:  # batches report often; equal values say nothing new
            self._last = percent
            self.writer.emit("progress", percent=percent)

    def is_canceled(self) -> bool:
        return self.cancel.is_set()

    def info(self, message: str) -> None:
        self.writer.emit("log", message=str(message))
