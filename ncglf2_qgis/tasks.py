"""Processing algorithms run in the background, one ``QgsProcessingAlgRunnerTask`` per step.

The dialog hands over the same parameter dicts a Processing user would give the
algorithms; this module only schedules them in ``QgsApplication.taskManager()``,
forwards progress and log lines, chains the steps and reports how the run ended.
Results arrive through ``QgsProcessingAlgRunnerTask.executed``, which QGIS emits
on the main thread, so whoever listens may touch layers, the project and widgets.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from qgis.core import (
    QgsApplication,
    QgsProcessingAlgRunnerTask,
    QgsProcessingContext,
    QgsProcessingFeedback,
    QgsProject,
)
from qgis.PyQt.QtCore import QObject, pyqtSignal

SUCCEEDED = "succeeded"
FAILED = "failed"
CANCELLED = "cancelled"

# A step's parameters, or a function building them from the results of the
# steps before it (keyed by algorithm id), e.g. classify using train's model.
Parameters = dict | Callable[[dict], dict]

# Runs between start and end. A task holds its context and feedback by
# reference only, so a run must outlive whoever started it (a dialog closed
# or a plugin unloaded mid-run).
_active_runs: set = set()


@dataclass
class Step:
    """One algorithm of a run; ``weight`` is its share of the progress bar."""

    algorithm_id: str
    parameters: Parameters
    weight: float = 1.0


@dataclass
class RunOutcome:
    """How a run ended: status, each finished step's results, the error shown to the user."""

    status: str
    results: dict[str, dict] = field(default_factory=dict)
    error: str = ""
    seconds: float = 0.0
    steps_run: list[str] = field(default_factory=list)  # the algorithm ids of the run, in order


class LogFeedback(QgsProcessingFeedback):
    """A Processing feedback whose messages become a signal (kind: info, warning or error).

    Algorithms call it from the task's thread; the signal is queued to the main
    thread, where the log pane lives.
    """

    logged = pyqtSignal(str, str)

    def __init__(self) -> None:
        super().__init__()
        self.last_error = ""

    def pushInfo(self, info: str) -> None:  # noqa: N802 - QGIS API
        super().pushInfo(info)
        self.logged.emit(info, "info")

    def pushCommandInfo(self, info: str) -> None:  # noqa: N802
        super().pushCommandInfo(info)
        self.logged.emit(info, "info")

    def pushConsoleInfo(self, info: str) -> None:  # noqa: N802
        super().pushConsoleInfo(info)
        self.logged.emit(info, "info")

    def pushWarning(self, warning: str) -> None:  # noqa: N802
        super().pushWarning(warning)
        self.logged.emit(warning, "warning")

    def reportError(self, error: str, fatalError: bool = False) -> None:  # noqa: N802, N803
        super().reportError(error, fatalError)
        self.last_error = error
        self.logged.emit(error, "error")


def _algorithm(algorithm_id: str):
    algorithm = QgsApplication.processingRegistry().algorithmById(algorithm_id)
    if algorithm is None:
        raise LookupError(
            f"the Processing algorithm {algorithm_id} is not available; "
            "enable the plugin in Plugins > Manage and Install Plugins"
        )
    return algorithm


class ProcessingRun(QObject):
    """Runs steps one after the other in the task manager; a failed or cancelled step ends the run.

    Signals:
        progressChanged(float): 0-100 over the whole run, each step scaled to its weight.
        logged(str, str): a message and its kind (info, warning, error).
        stepFinished(str, object): algorithm id and its results, after each successful step.
        finished(object): the :class:`RunOutcome`, once.
    """

    progressChanged = pyqtSignal(float)
    logged = pyqtSignal(str, str)
    stepFinished = pyqtSignal(str, object)
    finished = pyqtSignal(object)

    def __init__(self, steps: list[Step], project: QgsProject | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        if not steps:
            raise ValueError("a run needs at least one step")
        self.steps = list(steps)
        self.project = project or QgsProject.instance()
        self.results: dict[str, dict] = {}
        self.outcome: RunOutcome | None = None
        self._index = -1
        self._cancel_requested = False
        self._started = 0.0
        # The task keeps references to the context and the feedback without
        # owning them: they must live until the task has finished.
        self._task: QgsProcessingAlgRunnerTask | None = None
        self._context: QgsProcessingContext | None = None
        self._feedback: LogFeedback | None = None
        total = sum(max(0.0, s.weight) for s in self.steps) or 1.0
        self._spans, start = [], 0.0
        for step in self.steps:
            share = 100.0 * max(0.0, step.weight) / total
            self._spans.append((start, share))
            start += share

    # -- public ------------------------------------------------------------
    def start(self) -> None:
        """Queue the first step; returns at once."""
        if self._index >= 0:
            raise RuntimeError("a run starts only once")
        self._started = time.perf_counter()
        _active_runs.add(self)
        self._start_step(0)

    def cancel(self) -> None:
        """Ask the running step to stop (it checks per batch) and start no further step."""
        self._cancel_requested = True
        if self._feedback is not None:
            self._feedback.cancel()
        if self._task is not None:
            self._task.cancel()

    def is_running(self) -> bool:
        return self._index >= 0 and self.outcome is None

    # -- steps -------------------------------------------------------------
    def _start_step(self, index: int) -> None:
        self._index = index
        step = self.steps[index]
        try:
            parameters = step.parameters(self.results) if callable(step.parameters) else dict(step.parameters)
            algorithm = _algorithm(step.algorithm_id)
        except Exception as error:  # noqa: BLE001 - shown to the user, never raised into Qt
            self._finish(FAILED, str(error))
            return
        context = QgsProcessingContext()
        context.setProject(self.project)
        feedback = LogFeedback()
        feedback.progressChanged.connect(self._on_progress)
        feedback.logged.connect(self.logged)
        self.logged.emit(f"{algorithm.displayName()} ({step.algorithm_id}) started", "step")
        # The constructor prepares the algorithm on this thread; a parameter it
        # refuses cancels the task at once, before it is ever queued.
        task = QgsProcessingAlgRunnerTask(algorithm, parameters, context, feedback)
        self._context, self._feedback, self._task = context, feedback, task
        if task.isCanceled():
            self._task = None
            self._finish(FAILED, feedback.last_error or f"{algorithm.displayName()}: the parameters were refused")
            return
        task.executed.connect(self._on_executed)
        QgsApplication.taskManager().addTask(task)

    def _on_progress(self, percent: float) -> None:
        start, share = self._spans[self._index]
        self.progressChanged.emit(start + share * max(0.0, min(100.0, percent)) / 100.0)

    def _on_executed(self, successful: bool, results: dict) -> None:
        step = self.steps[self._index]
        feedback = self._feedback
        self._task = None  # the task manager deletes it
        if self._cancel_requested or (feedback is not None and feedback.isCanceled()):
            self._finish(CANCELLED, "cancelled; no output was written")
            return
        if not successful:
            message = feedback.last_error if feedback is not None else ""
            self._finish(FAILED, message or f"{step.algorithm_id} failed; the log has the details")
            return
        self.results[step.algorithm_id] = dict(results)
        start, share = self._spans[self._index]
        self.progressChanged.emit(start + share)
        self.stepFinished.emit(step.algorithm_id, dict(results))
        if self._index + 1 < len(self.steps):
            self._start_step(self._index + 1)
        else:
            self._finish(SUCCEEDED)

    def _finish(self, status: str, error: str = "") -> None:
        self.outcome = RunOutcome(
            status, dict(self.results), error, time.perf_counter() - self._started, [s.algorithm_id for s in self.steps]
        )
        self._context = None
        self._feedback = None
        _active_runs.discard(self)
        self.finished.emit(self.outcome)
