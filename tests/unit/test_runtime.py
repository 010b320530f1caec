"""Process-wide CPU settings (r1/runtime.py)."""

from __future__ import annotations

import subprocess
import sys

import pytest


def test_keep_freed_memory_is_off_when_disabled():
    from r1.runtime import keep_freed_memory

    assert keep_freed_memory(False) is False


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt is Linux-only")
def test_keep_freed_memory_stops_the_page_faults_of_a_repeated_step():
    """The same allocation loop page-faults on every pass by default, and hardly at all once applied."""
    script = """
import resource, sys, torch
from r1.runtime import keep_freed_memory
if sys.argv[1] == "on":
    assert keep_freed_memory() and keep_freed_memory()  # applied, and idempotent
x = torch.randn(3200, 3200)  # 40 MiB: above the largest mmap threshold glibc adapts to (32 MiB)
def faults():
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(10):
        y = x * 2  # a fresh 40 MiB tensor, freed at once
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
faults()
print(faults())
"""
    counts = {}
    for mode in ("off", "on"):
        result = subprocess.run([sys.executable, "-c", script, mode], capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stderr
        counts[mode] = int(result.stdout.split()[-1])
    assert counts["on"] < counts["off"] / 4, counts
