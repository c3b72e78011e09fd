"""Keep freed CPU memory in the process while the network runs.

Why: every batch allocates and frees activations of tens of MB. By default
glibc hands such blocks back to the kernel at once and takes them again on
the next batch, so each batch pays thousands of page faults (measured: 10-20 %
of the run spent in the kernel, zeroing pages). Serving large blocks from the
heap and trimming it only past a high mark removes that. The settings are
process-wide and only change how much freed memory is retained; a no-op on
other C libraries.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import sys

__all__ = ["keep_freed_memory"]

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 32 << 20  # the largest value every glibc accepts
TRIM_THRESHOLD = 512 << 20


@functools.cache
def keep_freed_memory() -> bool:
    """Apply the allocator settings once per process; True where they took effect."""
    return _apply()


def _apply() -> bool:
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD))
