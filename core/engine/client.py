"""The parent's side of the engine process: start it, hand it requests, turn its events into calls.

torch-free: QGIS (or any script) runs jobs through this without importing
the network. A job's failure arrives as an ``EngineError`` whose message is
one line for the user; a traceback, when there is one, is in ``details``.
"""

from __future__ import annotations

import atexit
import collections
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..errors import Cancelled, NCGLF2Error
from .protocol import PROTOCOL_VERSION, Event, ProtocolError, parse_event

__all__ = ["EngineError", "EngineProcess", "EnginePool", "shared_pool", "PLUGIN_ROOT", "engine_command", "error_line"]

#: The folder of the plugin package (``ncglf2``), whatever it is called on disk.
PLUGIN_ROOT = Path(__file__).resolve().parents[2]

#: Loads the package from PLUGIN_ROOT under the name ``ncglf2`` and runs a module of it: the child
#: runs exactly the parent's code even where another ncglf2 is installed in the engine's Python.
_BOOTSTRAP = (
    "import importlib.util, runpy, sys; root = sys.argv[1]; module = sys.argv[2]; "
    "spec = importlib.util.spec_from_file_location('ncglf2', root + '/__init__.py', submodule_search_locations=[root]); "
    "package = importlib.util.module_from_spec(spec); sys.modules['ncglf2'] = package; spec.loader.exec_module(package); "
    "sys.argv = [module] + sys.argv[3:]; runpy.run_module(module, run_name='__main__', alter_sys=True)"
)

#: Child processes of a windowed host (QGIS on Windows) open no console window.
NO_WINDOW = getattr(subprocess, "CREATE_NO_WINDOW", 0)

#: Seconds a cancelled job has to stop by itself before its process is killed.
CANCEL_GRACE_SECONDS = 10.0
#: Seconds an idle engine process waits for its next job before it exits (and frees its memory).
IDLE_SECONDS = 900.0
#: Seconds the engine has to import torch and say hello.
START_TIMEOUT_SECONDS = 300.0


class EngineError(NCGLF2Error):
    """A job failed in the engine process, or the process itself did."""

    def __init__(self, message: str, kind: str = "internal", details: str = "", log: str = "") -> None:
        super().__init__(message)
        self.kind = kind
        self.details = details  # the traceback, for the message log only
        self.log = log  # the process's last lines of standard error


def error_line(error: BaseException, limit: int = 400) -> str:
    """An exception as one line for a message: its type and text, line breaks folded, long texts cut."""
    text = " ".join(str(error).split())
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def engine_command(python: str, module: str = "ncglf2.core.engine.child", *args: str) -> list[str]:
    """The command line that runs ``module`` of this plugin's code in ``python``."""
    return [python, "-c", _BOOTSTRAP, str(PLUGIN_ROOT), module, *args]


def _exit_description(code: int) -> str:
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        if -code == getattr(signal, "SIGKILL", 9):
            return f"was killed ({name}: out of memory, or ended by another program)"
        if -code == getattr(signal, "SIGSEGV", 11):
            return f"crashed ({name}: a fault inside torch or a native library)"
        return f"ended on {name}"
    if sys.platform == "win32" and code >= 0xC0000000:
        return f"crashed (status 0x{code:08X})"
    return f"exited with status {code}"


class EngineProcess:
    """One engine child process; it runs one job at a time."""

    def __init__(self, python: str, idle_seconds: float = IDLE_SECONDS, env: dict[str, str] | None = None) -> None:
        self.python = python
        self.idle_seconds = idle_seconds
        self.facts: dict[str, Any] = {}
        self.last_used = time.monotonic()
        self.jobs = 0  # finished in this process
        environment = dict(os.environ if env is None else env)
        environment["PYTHONUNBUFFERED"] = "1"
        environment.pop("PYTHONHOME", None)  # QGIS's own on Windows and macOS; the engine's Python has its own
        try:
            self._process = subprocess.Popen(
                engine_command(python, "ncglf2.core.engine.child", "--idle", str(idle_seconds)),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                encoding="utf-8",
                errors="replace",
                bufsize=1,
                env=environment,
                creationflags=NO_WINDOW,
            )
        except OSError as error:
            raise EngineError(f"the engine's Python {python} cannot be started: {error}", kind="engine") from None
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._stderr: collections.deque[str] = collections.deque(maxlen=40)
        threading.Thread(target=self._pump_events, daemon=True).start()
        self._stderr_pump = threading.Thread(target=self._pump_stderr, daemon=True)
        self._stderr_pump.start()

    @property
    def pid(self) -> int:
        return self._process.pid

    def _pump_events(self) -> None:
        assert self._process.stdout is not None
        for line in self._process.stdout:
            self._lines.put(line)
        self._lines.put(None)

    def _pump_stderr(self) -> None:
        assert self._process.stderr is not None
        for line in self._process.stderr:
            self._stderr.append(line.rstrip("\n"))

    def alive(self) -> bool:
        return self._process.poll() is None

    def stderr_tail(self, lines: int = 12) -> str:
        return "\n".join(list(self._stderr)[-lines:])

    # ------------------------------------------------------------ talking

    def _send(self, message: dict[str, Any]) -> None:
        assert self._process.stdin is not None
        try:
            self._process.stdin.write(json.dumps(message) + "\n")
            self._process.stdin.flush()
        except (BrokenPipeError, OSError, ValueError):
            pass  # it died: the end of its output says how

    def _next_event(self, timeout: float) -> Event | None:
        """The next event, None when none came within ``timeout``; EngineError when the process is gone."""
        try:
            line = self._lines.get(timeout=timeout)
        except queue.Empty:
            return None
        if line is None:
            raise self._died()
        try:
            return parse_event(line)
        except ProtocolError as error:
            self.kill()
            raise EngineError(str(error), kind="internal", log=self.stderr_tail()) from None

    def _died(self) -> EngineError:
        """The error of a process that ended: one line (with its last output line), all it kept in ``log``."""
        try:
            code = self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.kill()
            code = self._process.wait()
        self._stderr_pump.join(timeout=2)  # standard error to its end
        kept = list(self._stderr)
        last = next((line.strip() for line in reversed(kept) if line.strip()), "")
        message = f"the engine process ({self.python}) {_exit_description(code)}; QGIS is unaffected"
        if last:
            message += f" (its last output: {last[:300]})"
        return EngineError(message, kind="crash", log="\n".join(kept))

    def start(self, timeout: float = START_TIMEOUT_SECONDS) -> dict[str, Any]:
        """Wait for the engine's hello: the facts of its Python and torch."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            event = self._next_event(0.2)
            if event is None:
                continue
            if event.kind == "engine":
                if event.get("protocol") != PROTOCOL_VERSION:
                    self.kill()
                    raise EngineError(
                        f"the engine speaks protocol {event.get('protocol')}, this plugin {PROTOCOL_VERSION}",
                        kind="engine",
                    )
                self.facts = event.fields
                return self.facts
            if event.kind == "error":
                self.kill()
                raise EngineError(
                    event.get("message"), kind=event.get("kind", "engine"), details=event.get("details", "")
                )
        self.kill()
        raise EngineError(f"the engine process did not start within {timeout:.0f} s", kind="engine")

    def run(
        self,
        request: Any,
        on_event: Callable[[Event], None],
        is_canceled: Callable[[], bool] = lambda: False,
        grace: float = CANCEL_GRACE_SECONDS,
    ) -> dict[str, Any]:
        """Run one job; progress and log events go to ``on_event``; its result, or EngineError / Cancelled."""
        self._send({"request": request.to_dict()})
        cancel_sent: float | None = None
        while True:
            if cancel_sent is None and is_canceled():
                self._send({"cancel": True})
                cancel_sent = time.monotonic()
            if cancel_sent is not None and time.monotonic() - cancel_sent > grace:
                self.kill()
                raise Cancelled(
                    f"cancelled; the engine did not stop within {grace:.0f} s and was ended (no output was written)"
                )
            event = self._next_event(0.1)
            if event is None:
                continue
            if event.kind in ("result", "error"):
                self.last_used = time.monotonic()
                self.jobs += 1
            if event.kind == "result":
                return event.get("result") or {}
            if event.kind == "error":
                if event.get("kind") == "cancelled":
                    raise Cancelled(event.get("message"))
                raise EngineError(
                    event.get("message"), kind=event.get("kind", "internal"), details=event.get("details", "")
                )
            on_event(event)

    # ------------------------------------------------------------ ending

    def close(self, timeout: float = 5.0) -> None:
        """Ask the process to exit; kill it when it does not."""
        if self.alive():
            self._send({"stop": True})
            try:
                self._process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        self._close_input()

    def kill(self) -> None:
        if self.alive():
            self._process.kill()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
        self._close_input()

    def _close_input(self) -> None:
        if self._process.stdin is not None and not self._process.stdin.closed:
            try:
                self._process.stdin.close()
            except OSError:
                pass


class EnginePool:
    """Idle engine processes kept for the next job, so that torch is imported once per session, not per job.

    A process that crashed, was killed on cancel, or failed unexpectedly is
    never reused. Idle processes exit on their own after ``idle_seconds``.
    """

    def __init__(self, idle_seconds: float = IDLE_SECONDS, keep: bool = True) -> None:
        self.idle_seconds = idle_seconds
        self.keep = keep
        self._idle: list[EngineProcess] = []
        self._lock = threading.Lock()

    def _take(self, python: str) -> EngineProcess | None:
        with self._lock:
            for engine in list(self._idle):
                fresh = time.monotonic() - engine.last_used < self.idle_seconds - 30
                if engine.python == python and engine.alive() and fresh:
                    self._idle.remove(engine)
                    return engine
                if not engine.alive() or not fresh:
                    self._idle.remove(engine)
                    engine.close()
        return None

    def _give_back(self, engine: EngineProcess) -> None:
        if not self.keep or not engine.alive():
            engine.close()
            return
        with self._lock:
            self._idle.append(engine)

    def run(
        self,
        python: str,
        request: Any,
        on_event: Callable[[Event], None],
        is_canceled: Callable[[], bool] = lambda: False,
        grace: float = CANCEL_GRACE_SECONDS,
    ) -> dict[str, Any]:
        """Run ``request`` in an engine of ``python``; an ``engine`` event first tells which Python and torch."""
        engine = self._take(python)
        if engine is None:
            engine = EngineProcess(python, self.idle_seconds)
            engine.start()
        on_event(Event("engine", dict(engine.facts, reused=engine.jobs > 0)))
        try:
            result = engine.run(request, on_event, is_canceled, grace)
        except Cancelled:
            self._give_back(engine)  # it stopped by itself (a killed one is not alive)
            raise
        except EngineError as error:
            if error.kind == "input":
                self._give_back(engine)
            else:
                engine.close()
            raise
        except BaseException:
            engine.kill()
            raise
        self._give_back(engine)
        return result

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for engine in idle:
            engine.close()


_shared: EnginePool | None = None


def shared_pool() -> EnginePool:
    """The pool every job of this process uses (closed at exit)."""
    global _shared
    if _shared is None:
        _shared = EnginePool()
        atexit.register(_shared.close)
    return _shared
