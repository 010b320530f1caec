"""Process-wide settings that make PyTorch on CPU faster; applied once when a phase starts.

**Keep freed memory.** PyTorch's CPU allocator hands every tensor to glibc's ``malloc``
and frees it when the tensor dies. Tensors above glibc's mmap threshold (128 KiB at
first, adapting upwards) get fresh pages from the kernel each time, and freed memory
at the top of the heap is returned to it, so a training step that builds and drops the
same activations over and over page-faults on each of them again. On the tiny model a
GRPO update took about 1,400 page faults per step; raising glibc's mmap and trim
thresholds (``mallopt``, the same as ``MALLOC_MMAP_THRESHOLD_`` / ``MALLOC_TRIM_THRESHOLD_``
set before start-up) lets freed blocks be reused instead: the faults fall to a few dozen
and the update (reference forward, policy forward and backward, AdamW) runs 13-25 %
faster on 2 CPU cores. The cost is that the process keeps its peak heap instead of
shrinking after it. Other C libraries (musl, macOS, Windows) are left alone.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import sys

log = logging.getLogger(__name__)

# glibc's mallopt parameters (malloc.h)
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3

MMAP_THRESHOLD_BYTES = 32 << 20  # blocks below this come from the heap and are reused (glibc's ceiling); larger ones are mapped
TRIM_THRESHOLD_BYTES = 1 << 30  # free memory kept at the top of the heap before any is returned to the kernel

_applied: bool | None = None


def keep_freed_memory(enabled: bool = True) -> bool:
    """Ask glibc's malloc to reuse freed memory rather than return it to the kernel; True if it took effect.

    Safe to call more than once; does nothing (and returns False) when ``enabled`` is false,
    off Linux, or with a C library without ``mallopt``.
    """
    global _applied
    if not enabled or not sys.platform.startswith("linux"):
        return False
    if _applied is not None:
        return _applied
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        _applied = False
        return False
    _applied = bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES)) and bool(mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES))
    if not _applied:
        log.debug("mallopt refused the thresholds; malloc keeps its defaults")
    return _applied
