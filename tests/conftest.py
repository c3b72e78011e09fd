import pytest
from paths import REFERENCE_CHECKPOINT, REFERENCE_VECTORS  # noqa: E402


@pytest.fixture(scope="session")
def reference_files():
    """(checkpoint, vectors) from ../shared/reference, or skip with the reason."""
    missing = [p for p in (REFERENCE_CHECKPOINT, REFERENCE_VECTORS) if not p.is_file()]
    if missing:
        pytest.skip(f"reference files not present: {', '.join(map(str, missing))} (../shared is absent)")
    return REFERENCE_CHECKPOINT, REFERENCE_VECTORS
