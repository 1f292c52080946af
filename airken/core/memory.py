"""Give decode buffers back to the system (glibc only; elsewhere these do nothing).

A large photo is decoded into tens or hundreds of MB that live for a fraction of a second.
glibc keeps freed memory in per-thread arenas and, once one big buffer has been freed,
raises its mmap threshold so that later buffers of that size come from those arenas too;
a server that decodes in many worker threads then keeps the high-water mark of every
thread for good. `tune_allocator()` (once, at start) fixes the threshold and caps the
arenas; `release()` (after a large decode) hands free arena pages back.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os

log = logging.getLogger(__name__)

_M_MMAP_THRESHOLD, _M_ARENA_MAX = -3, -8  # mallopt parameters, malloc.h
MMAP_THRESHOLD = 1 << 20  # buffers above 1 MB are mapped, and unmapped when freed
ARENA_MAX = 2


def _glibc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    if not name:
        return None
    try:
        libc = ctypes.CDLL(name)
        libc.malloc_trim  # noqa: B018 - musl and others have no malloc_trim
        libc.mallopt  # noqa: B018
    except (OSError, AttributeError):
        return None
    return libc


_LIBC = _glibc()


def tune_allocator() -> bool:
    """Fixed mmap threshold and at most ARENA_MAX arenas, unless the environment already
    sets glibc's own MALLOC_* variables. True when glibc took the settings."""
    if _LIBC is None:
        return False
    ok = True
    if "MALLOC_MMAP_THRESHOLD_" not in os.environ:
        ok &= bool(_LIBC.mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD))
    if "MALLOC_ARENA_MAX" not in os.environ:
        ok &= bool(_LIBC.mallopt(_M_ARENA_MAX, ARENA_MAX))
    log.debug("allocator tuned: %s", ok)
    return ok


def release() -> None:
    """Return the free pages of every arena to the system (a few ms after a large decode)."""
    if _LIBC is not None:
        _LIBC.malloc_trim(0)
