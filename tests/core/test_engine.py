"""The engine process: real child processes, the event protocol, cancel, crashes and reuse."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from osgeo import gdal
from pythons import DLL_ERROR, bare_python, broken_torch_python, older_python
from scenes import build_tiny_scene, tiny_parameters
from test_cli import NCGLF2

from ncglf2.core.engine.client import EngineError, EnginePool, EngineProcess
from ncglf2.core.engine.protocol import ProtocolError, parse_event
from ncglf2.core.errors import Cancelled
from ncglf2.core.requests import ClassifyRequest, TrainRequest


@pytest.fixture(scope="module")
def scene(tmp_path_factory):
    return build_tiny_scene(tmp_path_factory.mktemp("engine_scene"))


@pytest.fixture(scope="module")
def model(scene, tmp_path_factory):
    from ncglf2.core.jobs import train

    out = tmp_path_factory.mktemp("engine_model") / "m.ncglf2"
    train(
        TrainRequest(
            hsi=scene.hsi, lidar=[scene.dsm], labels=scene.labels, out=str(out), params=tiny_parameters(epochs=2)
        )
    )
    return str(out)


def long_training(scene, out) -> TrainRequest:
    return TrainRequest(
        hsi=scene.hsi, lidar=[scene.dsm], labels=scene.labels, out=str(out), params=tiny_parameters(epochs=5000)
    )


def collect(events):
    def on_event(event):
        events.append(event)

    return on_event


def logged(events, text):
    return any(e.kind == "log" and text in e.get("message") for e in events)


def wait_for(condition, seconds, what):
    started = time.monotonic()
    while not condition():
        assert time.monotonic() - started < seconds, what
        time.sleep(0.02)


def test_cli_events_are_json_lines_with_progress_and_a_result(scene, model, tmp_path):
    out = tmp_path / "map.tif"
    args = ["classify", "--model", model, "--hsi", scene.hsi, "--lidar", scene.dsm, "--out", out, "--events", "jsonl"]
    done = subprocess.run([*NCGLF2, *map(str, args)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    events = [parse_event(line) for line in done.stdout.splitlines()]  # every line is an event
    kinds = [e.kind for e in events]
    assert kinds[0] == "engine" and kinds[-1] == "result" and "progress" in kinds
    assert events[0].get("python") == sys.executable and events[0].get("torch")
    percents = [e.get("percent") for e in events if e.kind == "progress"]
    assert percents == sorted(percents) and percents[-1] == 100.0
    assert events[-1].get("result")["classes"] == str(out) and out.is_file()
    assert any("classifying on cpu" in e.get("message") for e in events if e.kind == "log")


def test_cli_events_report_a_bad_input_as_one_error_event(scene, tmp_path):
    args = ["classify", "--model", tmp_path / "none.ncglf2", "--hsi", scene.hsi, "--lidar", scene.dsm]
    args += ["--out", tmp_path / "map.tif", "--events", "jsonl"]
    done = subprocess.run([*NCGLF2, *map(str, args)], capture_output=True, text=True)
    assert done.returncode == 2
    error = parse_event(done.stdout.splitlines()[-1])
    assert error.kind == "error" and error.get("kind") == "input" and error.get("details") == ""
    assert "model file not found" in error.get("message")


def test_a_pool_runs_jobs_in_one_process_and_reports_the_engine(scene, model, tmp_path):
    pool = EnginePool()
    try:
        first, second = [], []
        result = pool.run(
            sys.executable,
            ClassifyRequest(model=model, hsi=scene.hsi, lidar=[scene.dsm], out=str(tmp_path / "a.tif")),
            collect(first),
        )
        pool.run(
            sys.executable,
            ClassifyRequest(model=model, hsi=scene.hsi, lidar=[scene.dsm], out=str(tmp_path / "b.tif")),
            collect(second),
        )
        engines = [e for e in first + second if e.kind == "engine"]
        assert [e.get("reused") for e in engines] == [False, True]
        assert engines[0].get("pid") == engines[1].get("pid") != os.getpid()
        a = gdal.Open(str(tmp_path / "a.tif")).ReadAsArray()
        b = gdal.Open(str(tmp_path / "b.tif")).ReadAsArray()
        np.testing.assert_array_equal(a, b)
        assert result["pixels"] == int((a > 0).sum()) > 0
        # An input error leaves the process usable; the message is the engine's own.
        with pytest.raises(EngineError, match="model file not found") as raised:
            pool.run(
                sys.executable,
                ClassifyRequest(
                    model=str(tmp_path / "none.ncglf2"), hsi=scene.hsi, lidar=[scene.dsm], out=str(tmp_path / "c.tif")
                ),
                collect([]),
            )
        assert raised.value.kind == "input" and raised.value.details == ""
        third = []
        pool.run(
            sys.executable,
            ClassifyRequest(model=model, hsi=scene.hsi, lidar=[scene.dsm], out=str(tmp_path / "d.tif")),
            collect(third),
        )
        assert [e.get("pid") for e in third if e.kind == "engine"] == [engines[0].get("pid")]
    finally:
        pool.close()


def test_cancel_stops_the_job_within_the_grace_period_and_writes_nothing(scene, tmp_path):
    engine = EngineProcess(sys.executable)
    try:
        engine.start()
        events: list = []
        out = tmp_path / "never.ncglf2"
        with pytest.raises(Cancelled):
            engine.run(
                long_training(scene, out), collect(events), is_canceled=lambda: logged(events, "epoch 2/"), grace=20
            )
        assert engine.alive()  # it stopped by itself: the process stays usable
        assert not out.exists() and not [p for p in tmp_path.iterdir() if p.name != "never"]
        assert logged(events, "epoch 2/") and not logged(events, "epoch 50/")
    finally:
        engine.close()
    wait_for(lambda: not engine.alive(), 10, "the engine did not exit when told to")


def test_a_child_that_does_not_stop_is_killed_after_the_grace_period(scene, tmp_path):
    engine = EngineProcess(sys.executable)
    engine.start()
    os.kill(engine.pid, signal.SIGSTOP)  # a child stuck where it cannot check for cancel
    try:
        started = time.monotonic()
        with pytest.raises(Cancelled, match="did not stop within 1 s"):
            engine.run(long_training(scene, tmp_path / "m.ncglf2"), collect([]), is_canceled=lambda: True, grace=1)
        assert time.monotonic() - started < 5
        wait_for(lambda: not engine.alive(), 5, "the stuck engine was not killed")
    finally:
        engine.kill()


def test_a_killed_child_gives_a_clear_error_and_the_pool_starts_a_new_one(scene, model, tmp_path):
    pool = EnginePool()
    try:
        events: list = []
        out = tmp_path / "killed.ncglf2"

        def kill_after_first_epoch():
            if logged(events, "epoch 1/"):
                pid = next(e.get("pid") for e in events if e.kind == "engine")
                os.kill(pid, signal.SIGKILL)  # what the out-of-memory killer does
            return False

        with pytest.raises(EngineError) as raised:
            pool.run(sys.executable, long_training(scene, out), collect(events), is_canceled=kill_after_first_epoch)
        assert raised.value.kind == "crash"
        assert "was killed (SIGKILL: out of memory" in str(raised.value) and "QGIS is unaffected" in str(raised.value)
        assert not out.exists()
        again: list = []
        pool.run(
            sys.executable,
            ClassifyRequest(model=model, hsi=scene.hsi, lidar=[scene.dsm], out=str(tmp_path / "c.tif")),
            collect(again),
        )
        first_pid = next(e.get("pid") for e in events if e.kind == "engine")
        assert [e.get("pid") for e in again if e.kind == "engine"] != [first_pid]
    finally:
        pool.close()


def test_a_child_that_prints_garbage_is_refused(tmp_path):
    fake = tmp_path / "python"
    fake.write_text("#!/bin/sh\necho 'Welcome to a Python that is not one'\nsleep 30\n")
    fake.chmod(0o755)
    engine = EngineProcess(str(fake))
    with pytest.raises(EngineError, match="not an event: 'Welcome to a Python that is not one'"):
        engine.start(timeout=20)
    wait_for(lambda: not engine.alive(), 5, "the garbage-printing child was not ended")


def test_a_python_without_torch_gives_the_repair_hint_not_a_traceback(tmp_path):
    python = bare_python(tmp_path / "bare")
    engine = EngineProcess(python)
    with pytest.raises(EngineError) as raised:
        engine.start()
    message = str(raised.value)
    assert raised.value.kind == "engine"
    assert f"the engine's Python ({python}) cannot load torch: ModuleNotFoundError: No module named 'torch'" in message
    assert "ncglf2:installengine" in message and "Install NCGLF2 engine" in message
    assert "Traceback" not in message and "Traceback" in raised.value.details


def test_a_torch_that_raises_oserror_on_import_gives_the_install_hint(scene, tmp_path):
    """A DLL of torch that does not load: the engine, the pool and the installer's check all name it."""
    from ncglf2.core.engine.install import InstallError, verify_engine
    from ncglf2.core.progress import SilentProgress

    python = broken_torch_python(tmp_path / "broken")
    engine = EngineProcess(python)
    with pytest.raises(EngineError) as raised:
        engine.start()
    message = str(raised.value)
    assert raised.value.kind == "engine"
    assert message.startswith(f"the engine's Python ({python}) cannot load torch: OSError: {DLL_ERROR}. ")
    assert "ncglf2:installengine" in message and "\n" not in message and "Traceback" not in message
    assert "Traceback (most recent call last)" in raised.value.details and DLL_ERROR in raised.value.details
    pool = EnginePool()
    request = ClassifyRequest(
        model=str(tmp_path / "m.ncglf2"), hsi=scene.hsi, lidar=[scene.dsm], out=str(tmp_path / "c.tif")
    )
    with pytest.raises(EngineError) as pooled:
        pool.run(python, request, collect([]))
    assert str(pooled.value) == message and not pool._idle
    with pytest.raises(InstallError) as verified:
        verify_engine(python, SilentProgress())
    assert str(verified.value) == f"the engine does not work: {message}"
    assert not (tmp_path / "c.tif").exists()


def test_the_probe_tells_a_broken_torch_from_a_missing_one(tmp_path):
    from ncglf2.core.engine.interpreter import EngineMissing, python_has_engine_packages

    broken = broken_torch_python(tmp_path / "broken")
    with pytest.raises(EngineMissing) as raised:
        python_has_engine_packages(broken)
    message = str(raised.value)
    assert message.startswith(f"torch is installed in {broken} but does not load (OSError: {DLL_ERROR}). ")
    assert "ncglf2:installengine" in message and "\n" not in message
    assert python_has_engine_packages(bare_python(tmp_path / "bare")) is False
    assert python_has_engine_packages(sys.executable) is True


def test_an_engine_python_too_old_for_the_code_fails_in_one_line_and_keeps_its_output():
    """Python 3.9 stops at the engine's first import: one line with its last words; the traceback stays in ``log``."""
    python = older_python()
    engine = EngineProcess(python)
    with pytest.raises(EngineError) as raised:
        engine.start(timeout=60)
    error = raised.value
    message = str(error)
    assert error.kind == "crash" and "\n" not in message
    assert message.startswith(
        f"the engine process ({python}) exited with status 1; QGIS is unaffected (its last output: "
    )
    lines = error.log.splitlines()
    assert lines[0] == "Traceback (most recent call last):" and f"(its last output: {lines[-1].strip()})" in message


def test_a_missing_python_is_named():
    with pytest.raises(EngineError, match="cannot be started"):
        EngineProcess("/nonexistent/bin/python")


def test_events_reject_what_is_not_one():
    assert parse_event('{"event": "progress", "percent": 12.5}').get("percent") == 12.5
    for line in (
        "hello",
        "[1, 2]",
        '{"event": "nonsense"}',
        '{"event": "progress", "percent": "x"}',
        '{"event": "log"}',
    ):
        with pytest.raises(ProtocolError):
            parse_event(line)
    assert json.loads('{"event": "log", "message": "x"}')


def test_the_cuda_build_follows_the_driver_and_the_index_setting(tmp_path):
    from ncglf2.core.engine.install import cuda_build_for_driver, plan_install

    assert cuda_build_for_driver(None) is None
    assert cuda_build_for_driver((12, 4)) is None  # older than every CUDA build: the CPU build
    assert cuda_build_for_driver((12, 6)) == "cu126"
    assert cuda_build_for_driver((12, 9)) == "cu128"
    assert cuda_build_for_driver((13, 2)) == "cu130"
    plan = plan_install(tmp_path / "engine", "/usr/bin/python3", "", cpu_only=True)
    assert plan.build == "cpu" and plan.index == "https://download.pytorch.org/whl/cpu"
    assert plan_install(tmp_path, "python3", "https://mirror.example/torch/", cpu_only=True).index == (
        "https://mirror.example/torch/cpu"
    )
    assert plan_install(tmp_path, "python3", "pip", cpu_only=True).index is None


def test_the_host_python_is_an_interpreter_of_this_installation():
    from ncglf2.core.engine.interpreter import host_python

    found = host_python()
    assert found is not None and os.path.isfile(found)
    prefixes = {os.path.abspath(p) for p in (sys.prefix, sys.exec_prefix, sys.base_exec_prefix)}
    assert any(os.path.abspath(found).startswith(p + os.sep) for p in prefixes)
    done = subprocess.run([found, "-c", "import sys; print(sys.version_info[:2])"], capture_output=True, text=True)
    assert done.stdout.strip() == str(tuple(sys.version_info[:2]))
