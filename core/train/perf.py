"""Process-level settings that make CPU training fast on Linux.

glibc serves every block ≥ 128 KiB (and, after its dynamic threshold, ≥ 32 MiB) with a fresh
``mmap`` and returns it with ``munmap`` on free. A training step allocates and frees tens of
such activation buffers, so every step paid page faults and zeroing for all of them: measured
here, system time equalled user time and an iteration of 512 triplets took 1.31 s instead of
0.65 s. Raising the mmap and trim thresholds keeps those blocks on the heap for reuse.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_done = False


def tune_allocator(threshold: int = 1 << 30) -> bool:
    """Keep blocks below ``threshold`` bytes on the glibc heap; True if applied (idempotent)."""
    global _done
    if _done:
        return True
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # musl or another libc: nothing to tune
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    _done = bool(mallopt(_M_MMAP_THRESHOLD, threshold)) and bool(
        mallopt(_M_TRIM_THRESHOLD, threshold))
    return _done
