"""Processing algorithms, one module each, over a shared base."""


def all_algorithms() -> list:
    """Fresh instances of every algorithm the provider offers."""
    return []
