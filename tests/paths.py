"""Where the shared reference files live; tests that need them skip without them."""

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("NCGLF2_SHARED", ROOT.parent / "shared"))
REFERENCE = SHARED / "reference"
REFERENCE_CHECKPOINT = REFERENCE / "upstream_trento_best_model.pth.tar"
REFERENCE_VECTORS = REFERENCE / "ref_trento_checkpoint.npz"
