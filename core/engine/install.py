"""The managed engine environment: a virtual environment with the pinned torch and safetensors.

It is created from the host's own Python with ``--system-site-packages``, so
the engine sees the host's numpy and GDAL bindings; packages with compiled
code that the host has are pinned to the host's versions through a
constraints file (a numpy 2 under GDAL built for numpy 1 breaks both).
Pure-Python packages may be newer inside the environment: they only shadow
the host's copies there, never in the host itself. The environment counts as
ready only once a child process of it has run a patch through the network
(``READY_MARKER``); a failed or cancelled installation is never marked.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ..errors import Cancelled, InputError, NCGLF2Error
from ..progress import Progress
from ..version import __version__
from .client import NO_WINDOW, engine_command
from .interpreter import READY_MARKER, managed_engine_ready, venv_python
from .protocol import parse_event

__all__ = [
    "ENGINE_PACKAGES",
    "PYTORCH_INDEX",
    "InstallError",
    "InstallPlan",
    "plan_install",
    "install_engine",
    "uninstall_engine",
    "cuda_build_for_driver",
]

#: The versions the engine is tested with (requirements.txt pins the same).
ENGINE_PACKAGES = {"torch": "2.13.0", "safetensors": "0.8.0"}
#: PyTorch's own wheel indexes: ``<base>/cpu``, ``<base>/cu126``...; a mirror replaces the base.
PYTORCH_INDEX = "https://download.pytorch.org/whl"
#: The value of the index setting that leaves the choice to pip's own configuration.
PIP_CONFIGURED = "pip"
#: CUDA builds of torch, newest first, with the lowest CUDA version the driver must support.
CUDA_BUILDS = (((13, 0), "cu130"), ((12, 8), "cu128"), ((12, 6), "cu126"))
#: Disk space an installation needs (download cache and unpacked packages).
_NEEDED_BYTES = {"cpu": 2 * 2**30, "cuda": 8 * 2**30}

_DISTRIBUTIONS_SCRIPT = r"""
import importlib.metadata as md, json, os
found = {}
for d in md.distributions():
    name = (d.metadata["Name"] or "").strip()
    if not name or name.lower() in found:
        continue
    files = [str(f) for f in (d.files or [])]
    binary = any(f.endswith((".so", ".pyd")) or ".so." in f for f in files)
    if not binary:
        base = str(d.locate_file(""))
        for top in (d.read_text("top_level.txt") or "").split():
            folder = os.path.join(base, top)
            if os.path.isdir(folder):
                binary = any(n.endswith((".so", ".pyd")) for _, _, names in os.walk(folder) for n in names)
            if binary:
                break
    found[name.lower()] = [d.version, binary]
print(json.dumps(found))
"""


class InstallError(NCGLF2Error):
    """The environment could not be made ready; the message says why and what to do."""


@dataclass(frozen=True)
class InstallPlan:
    env_dir: Path
    base_python: str
    build: str  # "cpu" or "cu126"...
    index: str | None  # the index torch comes from; None: pip's configuration
    why: str  # how the build was chosen, for the log


def cuda_build_for_driver(driver_cuda: tuple[int, int] | None) -> str | None:
    """The newest CUDA build of torch that a driver supporting ``driver_cuda`` runs, or None."""
    if driver_cuda is None:
        return None
    for needed, tag in CUDA_BUILDS:
        if driver_cuda >= needed:
            return tag
    return None


def _driver_cuda() -> tuple[int, int] | None:
    """The CUDA version the NVIDIA driver supports, from ``nvidia-smi``; None without a driver."""
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return None
    try:
        text = subprocess.run([smi], capture_output=True, text=True, timeout=30, creationflags=NO_WINDOW).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None
    match = re.search(r"CUDA Version:\s*(\d+)\.(\d+)", text)
    return (int(match.group(1)), int(match.group(2))) if match else None


def plan_install(env_dir: Path, base_python: str, index_setting: str = "", cpu_only: bool = False) -> InstallPlan:
    """Which build of torch to install, from where (the driver decides between CPU and CUDA)."""
    driver = None if cpu_only else _driver_cuda()
    build = cuda_build_for_driver(driver) or "cpu"
    if cpu_only:
        why = "the CPU build (asked for)"
    elif driver is None:
        why = "the CPU build (no NVIDIA driver found: nvidia-smi is absent)"
    elif build == "cpu":
        why = f"the CPU build (the NVIDIA driver supports CUDA {driver[0]}.{driver[1]}, older than every CUDA build)"
    else:
        why = f"the {build} build (the NVIDIA driver supports CUDA {driver[0]}.{driver[1]})"
    setting = (index_setting or "").strip()
    if setting == PIP_CONFIGURED:
        index = None
    else:
        index = f"{(setting or PYTORCH_INDEX).rstrip('/')}/{build}"
    return InstallPlan(env_dir, base_python, build, index, why)


def _run_streaming(command: Sequence[str], progress: Progress, start: float, end: float, what: str) -> list[str]:
    """Run a command, its lines to the log, progress moving from ``start`` towards ``end``; its output lines."""
    process = subprocess.Popen(
        list(command),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        encoding="utf-8",
        errors="replace",
        bufsize=1,
        creationflags=NO_WINDOW,
        env=dict(os.environ, PIP_NO_INPUT="1", PIP_DISABLE_PIP_VERSION_CHECK="1", PYTHONUNBUFFERED="1"),
    )
    lines: list[str] = []
    assert process.stdout is not None
    steps = 0

    def watch_cancel() -> None:
        while process.poll() is None:
            if progress.is_canceled():
                process.kill()
                return
            time.sleep(0.2)

    threading.Thread(target=watch_cancel, daemon=True).start()
    for line in process.stdout:
        line = line.rstrip()
        if not line:
            continue
        lines.append(line)
        if line.startswith(("Collecting", "Downloading", "Installing", "Successfully", "Requirement already")):
            progress.info(line.strip())
            steps += 1
            progress.set_progress(start + (end - start) * (1 - 0.8**steps))
    code = process.wait()
    if progress.is_canceled():
        raise Cancelled(f"cancelled while {what}; the engine is not marked as ready")
    if code != 0:
        raise InstallError(_explain_pip_failure(lines, what))
    progress.set_progress(end)
    return lines


def _explain_pip_failure(lines: list[str], what: str) -> str:
    text = "\n".join(lines)
    tail = "\n".join(lines[-6:])
    if "No space left on device" in text or "Errno 28" in text:
        return f"no space left on the disk while {what}; free some space and run the installation again"
    if "ProxyError" in text or "Cannot connect to proxy" in text or "407 Proxy" in text:
        return (
            f"the proxy refused the connection while {what}; check QGIS's proxy settings "
            f"(Settings > Options > Network), then run the installation again.\n{tail}"
        )
    network = ("Failed to establish a new connection", "Temporary failure in name resolution", "Network is unreachable")
    if any(marker in text for marker in network) or "Could not fetch URL" in text:
        return (
            f"no connection to the package index while {what}: this computer seems to be offline or behind a firewall. "
            f"Connect it, or set a reachable mirror (Settings > Options > Processing > Providers > NCGLF2).\n{tail}"
        )
    if "No matching distribution found" in text:
        return (
            f"the package index has no matching build while {what} (Python {sys.version_info.major}."
            f"{sys.version_info.minor}, {sys.platform}); is the index setting right?\n{tail}"
        )
    if "ResolutionImpossible" in text or "conflict" in text.lower():
        return f"the packages conflict with those QGIS's Python has while {what}:\n{tail}"
    return f"pip failed while {what}:\n{tail}"


def _host_constraints(base_python: str) -> list[str]:
    """``name==version`` for every package with compiled code in the host's Python (numpy always)."""
    done = subprocess.run(
        [base_python, "-c", _DISTRIBUTIONS_SCRIPT],
        capture_output=True,
        text=True,
        timeout=120,
        creationflags=NO_WINDOW,
    )
    if done.returncode != 0:
        raise InstallError(f"the Python {base_python} cannot list its packages: {done.stderr.strip()[-500:]}")
    found = json.loads(done.stdout)
    return sorted(f"{name}=={version}" for name, (version, binary) in found.items() if binary or name == "numpy")


def _check_disk_space(env_dir: Path, build: str) -> None:
    folder = env_dir
    while not folder.exists():
        folder = folder.parent
    free = shutil.disk_usage(folder).free
    needed = _NEEDED_BYTES["cpu" if build == "cpu" else "cuda"]
    if free < needed:
        raise InstallError(
            f"not enough disk space for the engine: {free / 2**30:.1f} GB free in {folder}, "
            f"about {needed / 2**30:.0f} GB needed; free some space and run the installation again"
        )


def _usable_python(python: Path) -> bool:
    try:
        return subprocess.run([str(python), "-c", "pass"], timeout=60, creationflags=NO_WINDOW).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def verify_engine(python: str, progress: Progress) -> dict:
    """Run one patch in a child process of ``python``; its facts and the device, or InstallError."""
    done = subprocess.run(
        engine_command(python, "ncglf2.core.engine.child", "--verify", "auto"),
        capture_output=True,
        text=True,
        timeout=600,
        creationflags=NO_WINDOW,
    )
    facts: dict = {}
    for line in done.stdout.splitlines():
        try:
            event = parse_event(line)
        except NCGLF2Error:
            continue
        if event.kind == "engine":
            facts.update(event.fields)
        elif event.kind == "result":
            facts.update(event.get("result") or {})
        elif event.kind == "error":
            raise InstallError(f"the engine does not work: {event.get('message')}")
    if done.returncode != 0 or "device" not in facts:
        raise InstallError(f"the engine does not work (status {done.returncode}): {done.stderr.strip()[-800:]}")
    progress.info(f"verified: torch {facts.get('torch')} ran a patch on {facts['device']}")
    return facts


def install_engine(
    plan: InstallPlan, progress: Progress, proxy: str | None = None, packages: dict[str, str] | None = None
) -> dict:
    """Create or repair the environment of ``plan``, install torch and safetensors, verify; the ready record."""
    packages = packages or ENGINE_PACKAGES
    env_dir = plan.env_dir
    _check_disk_space(env_dir, plan.build)
    progress.info(f"engine environment: {env_dir}; torch {packages['torch']}, {plan.why}")
    previous = managed_engine_ready(env_dir)
    marker = env_dir / READY_MARKER
    python = venv_python(env_dir)
    if marker.exists():
        marker.unlink()  # not ready while it changes
    try:
        if not _usable_python(python):
            if env_dir.exists():
                _remove_environment(env_dir)
            env_dir.parent.mkdir(parents=True, exist_ok=True)
            _run_streaming(
                [plan.base_python, "-m", "venv", "--system-site-packages", str(env_dir)],
                progress,
                0,
                10,
                "creating the environment",
            )
        constraints = env_dir / "ncglf2-constraints.txt"
        constraints.write_text("\n".join(_host_constraints(plan.base_python)) + "\n", encoding="utf-8")
        pip = [str(python), "-m", "pip", "install", "--progress-bar", "off", "-c", str(constraints)]
        if proxy:
            pip += ["--proxy", proxy]
        torch_source = [] if plan.index is None else ["--index-url", plan.index]
        _run_streaming(pip + torch_source + [f"torch=={packages['torch']}"], progress, 10, 75, "installing torch")
        _run_streaming(pip + [f"safetensors=={packages['safetensors']}"], progress, 75, 85, "installing safetensors")
        facts = verify_engine(str(python), progress)
    except (InstallError, Cancelled):
        if previous is not None and _still_works(str(python), progress):
            marker.write_text(json.dumps(previous, indent=2), encoding="utf-8")
            progress.info("the engine installed before still works and stays in use")
        raise
    record = {
        "installed": _dt.datetime.now().isoformat(timespec="seconds"),
        "plugin": __version__,
        "python": str(python),
        "base_python": plan.base_python,
        "build": plan.build,
        "index": plan.index,
        "torch": facts.get("torch"),
        "device": facts.get("device"),
    }
    marker.write_text(json.dumps(record, indent=2), encoding="utf-8")
    progress.set_progress(100)
    return record


def _still_works(python: str, progress: Progress) -> bool:
    try:
        verify_engine(python, progress)
    except NCGLF2Error:
        return False
    return True


def _remove_environment(env_dir: Path) -> None:
    """Delete a managed environment, only when it is one (a virtual environment we made, or a partial one)."""
    looks_managed = env_dir.name == "engine" and env_dir.parent.name == "ncglf2"
    if not looks_managed or not ((env_dir / "pyvenv.cfg").exists() or not any(env_dir.iterdir())):
        raise InputError(f"{env_dir} does not look like the NCGLF2 engine environment; it is left alone")
    shutil.rmtree(env_dir)


def uninstall_engine(env_dir: Path, progress: Progress) -> bool:
    """Remove the managed environment; False when there was none."""
    if not env_dir.exists():
        progress.info(f"no engine environment at {env_dir}")
        return False
    marker = env_dir / READY_MARKER
    if marker.exists():
        marker.unlink()
    _remove_environment(env_dir)
    progress.info(f"removed the engine environment {env_dir}")
    return True
