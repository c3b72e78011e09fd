"""Jobs run in the engine process: settings, the engine Python, and events as Processing feedback.

QGIS's own process never imports torch (on Windows torch 2.9+ does not load
once Qt is loaded, and a crash in torch would take QGIS down). Errors a user
can act on arrive as one line; tracebacks go to QGIS's message log only.
"""

from __future__ import annotations

import os
import traceback
from pathlib import Path
from typing import Any
from urllib.parse import quote

from qgis.core import Qgis, QgsApplication, QgsMessageLog, QgsProcessingException, QgsProcessingFeedback, QgsSettings

from ..core.engine.client import EngineError, error_line, shared_pool
from ..core.engine.interpreter import AUTOMATIC, EngineChoice, choose_engine_python
from ..core.engine.protocol import Event
from ..core.errors import NCGLF2Error

#: Processing's settings of the provider (Settings > Options > Processing > Providers > NCGLF2).
ENGINE_PYTHON = "NCGLF2_ENGINE_PYTHON"
TORCH_INDEX = "NCGLF2_TORCH_INDEX"
KEEP_ENGINE = "NCGLF2_KEEP_ENGINE"
#: Where Processing keeps its configuration in QgsSettings (read directly: qgis_process has no ProcessingConfig).
_SETTINGS_GROUP = "Processing/Configuration"
#: The tab of QGIS's message log that holds the details.
LOG_TAG = "NCGLF2"
#: Where a one-line error sends the user for its traceback or the engine's last output.
SEE_LOG = f"the details are in the QGIS message log ({LOG_TAG})"


def setting(name: str, default: str = "") -> str:
    """A provider setting; the environment variable of the same name wins (for scripts and tests)."""
    value = os.environ.get(name)
    if value is None:
        value = QgsSettings().value(f"{_SETTINGS_GROUP}/{name}", default)
    return "" if value is None else str(value)


def managed_engine_dir() -> Path:
    """The managed environment, inside the QGIS profile (removed with it)."""
    return Path(QgsApplication.qgisSettingsDirPath()) / "ncglf2" / "engine"


class FeedbackProgress:
    """The engine's progress protocol over a ``QgsProcessingFeedback`` (for work done in this process)."""

    def __init__(self, feedback: QgsProcessingFeedback | None) -> None:
        self.feedback = feedback

    def set_progress(self, percent: float) -> None:
        if self.feedback is not None:
            self.feedback.setProgress(percent)

    def is_canceled(self) -> bool:
        return self.feedback is not None and self.feedback.isCanceled()

    def info(self, message: str) -> None:
        if self.feedback is not None:
            push_message(self.feedback, message)


def push_message(feedback: QgsProcessingFeedback, message: str) -> None:
    """An engine log line in the Processing log; warnings (inputs unlike the training data...) stand out."""
    if message.startswith("warning: "):
        feedback.pushWarning(message[len("warning: ") :])
    else:
        feedback.pushInfo(message)


def qgis_proxy() -> str | None:
    """QGIS's HTTP proxy (Settings > Options > Network) as a URL for pip, or None."""
    settings = QgsSettings()
    if str(settings.value("proxy/proxyEnabled", "false")).lower() not in ("true", "1"):
        return None
    host = str(settings.value("proxy/proxyHost", "") or "")
    if not host:
        return None
    port = str(settings.value("proxy/proxyPort", "") or "")
    user = str(settings.value("proxy/proxyUser", "") or "")
    password = str(settings.value("proxy/proxyPassword", "") or "")
    credentials = f"{quote(user)}:{quote(password)}@" if user else ""
    return f"http://{credentials}{host}{':' + port if port else ''}"


def engine_choice() -> EngineChoice:
    try:
        return choose_engine_python(setting(ENGINE_PYTHON, AUTOMATIC), managed_engine_dir())
    except NCGLF2Error as error:
        raise QgsProcessingException(str(error)) from None


def describe_engine(facts: dict[str, Any], why: str) -> str:
    """One log line: which Python and torch run the job."""
    gpus = ", ".join(facts.get("gpus") or []) or "none"
    reused = " (kept from the previous job)" if facts.get("reused") else ""
    return (
        f"engine: Python {facts.get('python_version')} at {facts.get('python')} ({why}), "
        f"torch {facts.get('torch')}, CUDA GPUs: {gpus}, process {facts.get('pid')}{reused}"
    )


def run_in_engine(request: Any, feedback: QgsProcessingFeedback | None) -> dict[str, Any]:
    """Run ``request`` in the engine process; its result, or a QgsProcessingException for the user."""
    choice = engine_choice()
    pool = shared_pool()
    pool.keep = setting(KEEP_ENGINE, "true").lower() not in ("false", "0", "no")
    if feedback is not None:
        feedback.setProgress(0)

    def on_event(event: Event) -> None:
        if feedback is None:
            return
        if event.kind == "progress":
            feedback.setProgress(float(event.get("percent")))
        elif event.kind == "log":
            push_message(feedback, str(event.get("message")))
        elif event.kind == "engine":
            feedback.pushInfo(describe_engine(event.fields, choice.why))

    try:
        return pool.run(
            choice.python, request, on_event, is_canceled=lambda: feedback is not None and feedback.isCanceled()
        )
    except EngineError as error:
        raise engine_failure(error) from None
    except NCGLF2Error as error:  # Cancelled
        raise QgsProcessingException(str(error)) from None


def log_details(message: str, details: str) -> None:
    """A failure's traceback or output, once, in the NCGLF2 tab of the message log.

    As a warning: qgis_process prints every critical message of the log, and
    Processing reports the failure's one line itself.
    """
    QgsMessageLog.logMessage(f"{message}\n{details.rstrip()}", LOG_TAG, Qgis.Warning)


def engine_failure(error: EngineError) -> QgsProcessingException:
    """An engine error as one line for the user; its traceback or the process's output goes to the log."""
    message = " ".join(str(error).split())
    details = error.details or error.log
    if error.kind == "internal":  # the engine's words are "unexpected <type>: <text>"
        message = f"NCGLF2 failed unexpectedly in the engine ({message.removeprefix('unexpected ')})"
    if details:
        message = f"{message.rstrip('.')}; {SEE_LOG}"
        log_details(message, details)
    return QgsProcessingException(message)


def unexpected_failure(error: BaseException) -> QgsProcessingException:
    """An exception of this side's own code as one line; the traceback goes to the log."""
    message = f"NCGLF2 failed unexpectedly ({error_line(error)}); {SEE_LOG}"
    log_details(message, "".join(traceback.format_exception(type(error), error, error.__traceback__)))
    return QgsProcessingException(message)
