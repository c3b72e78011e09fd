"""The engine process: reads requests from the parent, runs each job, answers with events.

Started by ``client.EngineProcess`` (or ``python -m ncglf2.core.engine.child``).
Its standard output carries events only: anything else a library prints is
sent to standard error, which the parent keeps as the crash log. One process
runs jobs one after the other, so torch is imported once per session; it
exits when its input ends, when told to, or after ``--idle`` seconds without
a job.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import queue
import signal
import sys
import threading
import traceback
from types import ModuleType
from typing import IO, Any

from ..errors import Cancelled, NCGLF2Error
from ..progress import Progress
from ..requests import (
    AssessRequest,
    ClassifyRequest,
    ImportRequest,
    TrainRequest,
    request_from_dict,
)
from ..version import __version__
from .client import error_line
from .interpreter import INSTALL_HINT, EngineMissing
from .protocol import PROTOCOL_VERSION, EventProgress, EventWriter

__all__ = ["import_torch", "run_job", "engine_facts", "serve", "main"]


def protect_event_stream() -> IO[str]:
    """The real standard output for events; file descriptor 1 and ``sys.stdout`` then go to standard error.

    C libraries (CUDA, oneDNN, GDAL) that print would otherwise corrupt the event lines.
    """
    events = os.fdopen(os.dup(1), "w", encoding="utf-8", buffering=1)
    sys.stdout.flush()
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return events


def import_torch() -> ModuleType:
    """torch, or EngineMissing naming this Python, the error in one line and the repair.

    Every way a torch fails to load ends here: not installed (ImportError), a
    DLL or .so that does not load (OSError), a build for another CPU or CUDA
    (RuntimeError), or anything else its import raises.
    """
    try:
        import torch
    except Exception as error:
        raise EngineMissing(
            f"the engine's Python ({sys.executable}) cannot load torch: {error_line(error)}. {INSTALL_HINT}"
        ) from error
    return torch


def engine_facts() -> dict[str, Any]:
    """Which Python and torch run the jobs (the ``engine`` event; the log of every run shows it)."""
    torch = import_torch()
    devices = (
        [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())] if torch.cuda.is_available() else []
    )
    return {
        "protocol": PROTOCOL_VERSION,
        "version": __version__,
        "python": sys.executable,
        "python_version": sys.version.split()[0],
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "gpus": devices,
        "pid": os.getpid(),
    }


def run_job(request: Any, progress: Progress) -> dict[str, Any]:
    """Run one job and return its outcome as plain JSON (what the ``result`` event carries)."""
    from .. import jobs

    if isinstance(request, TrainRequest):
        outcome = jobs.train(request, progress)
        v = outcome.validation
        return {
            "model": outcome.model,
            "report": outcome.report,
            "validation": None if v is None else {"oa": v.oa, "aa": v.aa, "kappa": v.kappa, "n": v.n},
            "classes": list(outcome.classes),
            "train_pixels": outcome.train_pixels,
            "validation_pixels": outcome.validation_pixels,
            "seconds": outcome.seconds,
        }
    if isinstance(request, ClassifyRequest):
        result = jobs.classify(request, progress)
        return {
            "classes": result.classes,
            "style": result.style,
            "confidence": result.confidence,
            "probabilities": result.probabilities,
            "margin": result.margin,
            "pixels": result.pixels,
            "seconds": result.seconds,
        }
    if isinstance(request, AssessRequest):
        assessed = jobs.assess_outcome(request, progress)
        a, away = assessed.assessment, assessed.away
        away_figures, unavailable = None, None  # the accuracy away from the training pixels, or why there is none
        if away is not None and away.assessment is not None:
            h = away.assessment
            away_figures = {"oa": h.oa, "aa": h.aa, "kappa": h.kappa, "n": h.n, "excluded": away.excluded}
        elif away is not None:
            unavailable = away.unavailable or away.describe()
        return {
            "oa": a.oa,
            "aa": a.aa,
            "kappa": a.kappa,
            "n": a.n,
            "away_from_training": away_figures,
            "away_unavailable": unavailable,
            "html": request.out_html,
            "json": request.json_path,
            "csv": request.csv_path,
        }
    if isinstance(request, ImportRequest):
        return {"model": jobs.import_reference(request, progress)}
    raise TypeError(f"not a request: {type(request).__name__}")


def run_and_report(request: Any, writer: EventWriter, cancel: threading.Event) -> int:
    """Run one job, ending with a ``result`` or an ``error`` event; the exit status the CLI would give."""
    try:
        result = run_job(request, EventProgress(writer, cancel))
    except KeyboardInterrupt:
        writer.error(Cancelled("cancelled; no output was written"))
        return 130
    except BaseException as error:  # every failure becomes one event; the parent decides what to show
        expected = isinstance(error, NCGLF2Error)  # the message says it all; a traceback only for surprises
        writer.error(error, details="" if expected else traceback.format_exc())
        return 130 if isinstance(error, Cancelled) else 2 if expected else 1
    finally:
        _release_memory()
    writer.emit("result", job=request.JOB, result=result)
    return 0


def _release_memory() -> None:
    """Give device memory back between jobs: a GPU is not held by an idle engine."""
    gc.collect()
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available() and torch.cuda.is_initialized():
        torch.cuda.empty_cache()


def _read_messages(stream: IO[str], requests: queue.Queue, cancel: threading.Event, writer: EventWriter) -> None:
    """Reader thread: requests go to the queue, cancel sets the flag, end of input cancels and stops."""
    for line in stream:
        if not line.strip():
            continue
        try:
            message = json.loads(line)
        except json.JSONDecodeError:
            message = None
        if isinstance(message, dict) and message.get("cancel"):
            cancel.set()
        elif isinstance(message, dict) and message.get("stop"):
            break
        elif isinstance(message, dict) and "request" in message:
            cancel.clear()  # here, in order: a cancel sent after this request applies to it
            requests.put(message["request"])
        else:
            writer.emit("log", message=f"the engine ignored a message it does not understand: {line.strip()[:200]!r}")
    cancel.set()
    requests.put(None)


def serve(stdin: IO[str], writer: EventWriter, idle_seconds: float | None) -> int:
    """Answer requests until input ends, ``stop`` arrives, or ``idle_seconds`` pass without one."""
    cancel = threading.Event()

    def on_signal(signum: int, frame: object) -> None:
        cancel.set()  # SIGTERM and Ctrl-C stop the running job the way a cancel does

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    requests: queue.Queue = queue.Queue()
    threading.Thread(target=_read_messages, args=(stdin, requests, cancel, writer), daemon=True).start()
    while True:
        try:
            data = requests.get(timeout=idle_seconds)
        except queue.Empty:
            return 0
        if data is None:
            return 0
        try:
            request = request_from_dict(data)
        except Exception as error:
            writer.error(error)
            continue
        run_and_report(request, writer, cancel)


def verify(writer: EventWriter, device: str) -> int:
    """One patch through a tiny network on ``device``: proof that this Python's torch works here."""
    torch = import_torch()

    from ..nn.devices import describe_device, resolve_device
    from ..nn.model import NCGLF2, NetworkConfig

    target = resolve_device(device)
    network = NCGLF2(NetworkConfig(num_classes=3, patch_size=5, hsi_channels=4, lidar_channels=1, width=16))
    network = network.eval().to(target)
    with torch.inference_mode():
        logits, _ = network(torch.randn(1, 5, 5, 5, device=target))
    finite = bool(torch.isfinite(logits).all())
    writer.emit("result", job="verify", result={"device": describe_device(device), "finite": finite})
    return 0 if finite else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="ncglf2-engine", description=__doc__.split("\n\n")[0])
    parser.add_argument("--idle", type=float, default=900.0, help="exit after this many seconds without a job")
    parser.add_argument("--verify", metavar="DEVICE", help="run one patch on DEVICE (auto, cpu, cuda) and exit")
    args = parser.parse_args(argv)
    writer = EventWriter(protect_event_stream())
    try:
        facts = engine_facts()  # imports torch: the step that fails when the engine is broken
        from .. import jobs  # noqa: F401 - the whole engine loads, or the error says why
    except Exception as error:
        message = (
            str(error)
            if isinstance(error, EngineMissing)
            else f"the engine's Python ({sys.executable}) cannot load the engine: {error_line(error)}. {INSTALL_HINT}"
        )
        writer.emit("error", kind="engine", message=message, details=traceback.format_exc())
        return 3
    writer.emit("engine", **facts)
    if args.verify:
        try:
            return verify(writer, args.verify)
        except Exception as error:
            writer.error(error, details=traceback.format_exc())
            return 1
    return serve(sys.stdin, writer, args.idle if args.idle > 0 else None)


if __name__ == "__main__":
    sys.exit(main())
