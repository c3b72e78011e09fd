import pytest
from paths import REFERENCE_CHECKPOINT, REFERENCE_VECTORS, require_shared  # noqa: E402


@pytest.fixture(scope="session")
def reference_files():
    """(checkpoint, vectors) from ../shared/reference; skips without them, fails in CI."""
    require_shared(REFERENCE_CHECKPOINT, REFERENCE_VECTORS)
    return REFERENCE_CHECKPOINT, REFERENCE_VECTORS
