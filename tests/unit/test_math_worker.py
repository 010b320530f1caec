"""The sympy worker dies with the process that started it, even in the middle of a comparison."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# A parent that starts the worker (from its main thread, or from a thread that ends at
# once), prints the worker's pid, then waits on a comparison that runs for minutes.
PARENT = """
import sys, threading
sys.path.insert(0, sys.argv[1])
from r1.math.worker import get_worker
worker = get_worker()
if sys.argv[2] == "thread":
    starter = threading.Thread(target=worker.start)
    starter.start()
    starter.join()
else:
    worker.start()
print(worker.pid, flush=True)
worker.compare("(x+y+z+1)^{201}", "(x+y+z+3)^{201}", timeout=600)
print("finished", flush=True)
"""

pytestmark = pytest.mark.skipif(not os.path.exists("/proc/self/stat"), reason="reads process states from /proc")


def _running(pid: int) -> bool:
    """Whether ``pid`` exists and is not a zombie (a killed orphan may wait to be reaped)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False
    return state not in ("Z", "X")


def _cpu_ticks(pid: int) -> int:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


@pytest.mark.parametrize(
    ("started_from", "worker_threads"),
    [
        pytest.param("main", 1, id="main-thread:parent-death-signal"),
        pytest.param("thread", 2, id="ended-thread:watchdog"),
    ],
)
def test_worker_dies_when_its_parent_is_killed_mid_comparison(started_from, worker_threads):
    """Before, the orphaned worker went on expanding the polynomial at 100 % CPU for hours.

    Started from the parent's main thread, the worker is killed by the kernel
    (``PR_SET_PDEATHSIG``) and runs no watchdog; started from a thread that has
    ended, it must survive that thread and is ended by its watchdog thread.
    """
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT, str(ROOT), started_from],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    worker_pid = None
    try:
        assert parent.stdout is not None
        line = parent.stdout.readline()
        assert line.strip().isdigit(), parent.stderr.read() if parent.stderr else line
        worker_pid = int(line)
        busy_from = _cpu_ticks(worker_pid)
        deadline = time.monotonic() + 30
        while _cpu_ticks(worker_pid) - busy_from < 50 and time.monotonic() < deadline:  # half a CPU second
            time.sleep(0.1)
        assert _running(worker_pid), "the worker died before its parent did"
        assert len(os.listdir(f"/proc/{worker_pid}/task")) == worker_threads
        assert parent.poll() is None, "the comparison finished: it is not long enough to test this"

        os.kill(parent.pid, signal.SIGKILL)
        parent.wait(timeout=10)
        deadline = time.monotonic() + 5
        while _running(worker_pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _running(worker_pid), "the worker outlived its parent"
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait(timeout=10)
        if worker_pid is not None and _running(worker_pid):
            os.kill(worker_pid, signal.SIGKILL)
