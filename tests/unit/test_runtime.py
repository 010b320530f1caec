"""Process-wide CPU settings (r1/runtime.py)."""

from __future__ import annotations

import subprocess
import sys

import pytest


def test_keep_freed_memory_is_off_when_disabled():
    from r1.runtime import keep_freed_memory

    assert keep_freed_memory(False) is False


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt is Linux-only")
def test_keep_freed_memory_reuses_freed_blocks_instead_of_faulting_in_fresh_pages():
    """Tensors of growing size, each freed at once: by default every one is mapped afresh."""
    script = """
import resource, sys, torch
from r1.runtime import keep_freed_memory
if sys.argv[1] == "on":
    assert keep_freed_memory() and keep_freed_memory()  # applied, and idempotent
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for mib in range(1, 17):
    torch.ones(mib << 18)  # a fresh, fully written mib-MiB tensor, freed at once
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""
    faults = {}
    for mode in ("off", "on"):
        result = subprocess.run([sys.executable, "-c", script, mode], capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stderr
        faults[mode] = int(result.stdout.split()[-1])
    # 136 MiB written in all: about 34,900 page faults by default, about 9,500 with it
    assert faults["on"] < faults["off"] / 2, faults
