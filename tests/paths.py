"""Where the shared reference files live; tests that need them skip without them, except in CI.

Every CI run has ``../shared`` (or ``$NCGLF2_SHARED``): there a missing file is
a failure, not a skip, so that a broken checkout cannot pass by skipping the
fidelity tests.
"""

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("NCGLF2_SHARED", ROOT.parent / "shared"))
REFERENCE = SHARED / "reference"
REFERENCE_CHECKPOINT = REFERENCE / "upstream_trento_best_model.pth.tar"
REFERENCE_VECTORS = REFERENCE / "ref_trento_checkpoint.npz"


def require_shared(*paths: Path) -> None:
    """Skip (outside CI) or fail (with ``CI`` set) when any of ``paths`` is missing."""
    missing = [str(p) for p in paths if not p.exists()]
    if not missing:
        return
    message = f"shared files not present: {', '.join(missing)}"
    if os.environ.get("CI"):
        pytest.fail(f"{message}; CI must have ../shared (or NCGLF2_SHARED)", pytrace=False)
    pytest.skip(message)
