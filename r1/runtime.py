"""Process-wide settings (the config's ``runtime`` node), applied once by ``r1.run`` before a phase starts.

Both make training on a CPU faster and change no result beyond float rounding:

* ``runtime.keep_freed_memory``: glibc's malloc keeps freed memory (below);
* ``runtime.fast_paths``: r1's fast paths for sampling and scoring (:mod:`r1.models.fast`,
  which reads the switch through :func:`fast_paths_enabled`); false runs transformers'
  own forward everywhere.

Code that runs without ``r1.run`` (a notebook, a test) gets the values
``conf/config.yaml`` ships until :func:`apply` is called; :func:`forced_fast_paths`
sets the switch for one block, so that tests can compare both paths.

**Keep freed memory.** PyTorch's CPU allocator hands every tensor to glibc's ``malloc``
and frees it when the tensor dies. Tensors above glibc's mmap threshold (128 KiB at
first, adapting upwards) get fresh pages from the kernel each time, and freed memory
at the top of the heap is returned to it, so a training step that builds and drops the
same activations over and over page-faults on each of them again. On the tiny model a
GRPO update took about 1,400 page faults per step; raising glibc's mmap and trim
thresholds (``mallopt``, the same as ``MALLOC_MMAP_THRESHOLD_`` / ``MALLOC_TRIM_THRESHOLD_``
set before start-up) lets freed blocks be reused instead: the faults fall to a few dozen
and the update (reference forward, policy forward and backward, AdamW) runs 13-25 %
faster on 2 CPU cores (``docs/FINDINGS.md``, keeping freed memory). The cost is that the
process keeps its peak heap instead of shrinking after it. Other C libraries (musl,
macOS, Windows) are left alone.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import dataclasses
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from r1.paths import conf_dir
from r1.settings import build_settings

log = logging.getLogger(__name__)

# glibc's mallopt parameters (malloc.h)
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3

MMAP_THRESHOLD_BYTES = 32 << 20  # blocks below this come from the heap and are reused (glibc's ceiling); larger ones are mapped
TRIM_THRESHOLD_BYTES = 1 << 30  # free memory kept at the top of the heap before any is returned to the kernel

_applied: bool | None = None


@dataclasses.dataclass(frozen=True)
class RuntimeSettings:
    """The ``runtime`` node of ``conf/config.yaml``."""

    keep_freed_memory: bool
    """glibc's malloc reuses freed tensors' memory instead of page-faulting fresh pages each step (module docstring)."""
    fast_paths: bool
    """r1's fast decoder, fused scoring forward, shared-prompt scoring and CPU experts (:mod:`r1.models.fast`); false = transformers' forward."""


_settings: RuntimeSettings | None = None


def apply(node: Any) -> RuntimeSettings:
    """Check the config's ``runtime`` node and apply it to this process (one ``ConfigError`` line on a bad value)."""
    global _settings
    settings = build_settings(RuntimeSettings, node, prefix="runtime")
    keep_freed_memory(settings.keep_freed_memory)
    _settings = settings
    return settings


def current() -> RuntimeSettings:
    """The settings in force: the last :func:`apply`'s, else those ``conf/config.yaml`` ships."""
    global _settings
    if _settings is None:
        from omegaconf import OmegaConf

        _settings = build_settings(RuntimeSettings, OmegaConf.load(conf_dir() / "config.yaml").get("runtime"), prefix="runtime")
    return _settings


def fast_paths_enabled() -> bool:
    """Whether r1's fast paths may run (``runtime.fast_paths``)."""
    return current().fast_paths


@contextmanager
def forced_fast_paths(enabled: bool) -> Iterator[None]:
    """Within the block, the fast paths are on (``True``) or off (``False``), whatever the config says."""
    global _settings
    previous = current()
    _settings = dataclasses.replace(previous, fast_paths=bool(enabled))
    try:
        yield
    finally:
        _settings = previous


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
