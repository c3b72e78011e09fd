"""Real interpreters that cannot run the engine, as users point the engine setting at them.

* ``bare_python``: a fresh virtual environment with the standard library only.
* ``broken_torch_python``: a fresh virtual environment (without the system's
  packages, so the real torch stays out of sight) whose ``torch`` package
  raises the OSError Windows gives for a DLL that does not load.
* ``older_python``: a Python older than the engine's code needs (3.9 and
  older stop at its first import with a traceback), found on this machine.
"""

import glob
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

#: What Windows says when a DLL of torch (c10.dll, a CUDA runtime) is missing.
DLL_ERROR = "[WinError 126] The specified module could not be found"


def bare_python(folder: Path) -> str:
    """The interpreter of a new virtual environment in ``folder``: the standard library only."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(folder)], check=True, capture_output=True)
    return str(folder / ("Scripts/python.exe" if sys.platform == "win32" else "bin/python"))


def broken_torch_python(folder: Path) -> str:
    """The interpreter of a new virtual environment in ``folder`` whose torch raises OSError on import."""
    python = bare_python(folder)
    purelib = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    package = Path(purelib) / "torch"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text(f"raise OSError({DLL_ERROR!r})\n", encoding="utf-8")
    return python


def older_python() -> str:
    """A Python 3.6-3.9 of this machine (on PATH or under pyenv); skips when there is none."""
    candidates = [shutil.which(f"python3.{minor}") for minor in (9, 8, 7)]
    pyenv = os.environ.get("PYENV_ROOT", os.path.expanduser("~/.pyenv"))
    candidates += sorted(glob.glob(os.path.join(pyenv, "versions", "3.[6-9].*", "bin", "python")), reverse=True)
    for candidate in filter(None, candidates):
        try:
            done = subprocess.run(
                [candidate, "-c", "import sys; print(sys.version_info < (3, 10))"],
                capture_output=True,
                text=True,
                timeout=30,
            )
        except (OSError, subprocess.TimeoutExpired):
            continue
        if done.returncode == 0 and done.stdout.strip() == "True":
            return candidate
    pytest.skip("no Python older than 3.10 on this machine")
