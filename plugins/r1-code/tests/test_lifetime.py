"""Sandboxes die with the process that scores, even under ``kill -9``, and what it leaves on
disk is removed by the next process that starts a sandbox."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from r1_code import workdirs

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="the sandbox is Linux only")

SCORER = "from r1_code.sandbox import run_program\nrun_program('import time\\ntime.sleep(120)', timeout_s=120)\n"
NEXT_START = "from r1_code.sandbox import capabilities\ncapabilities()\n"


def _parents() -> dict[int, int]:
    out = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_bytes()
            except OSError:
                continue
            out[int(entry.name)] = int(stat[stat.rindex(b")") + 2:].split()[1])
    return out


def _descendants(pid: int) -> set[int]:
    parents = _parents()
    found, frontier = set(), {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_bytes()
    except OSError:
        return False
    return stat[stat.rindex(b")") + 2:].split()[0] != b"Z"


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def test_kill_9_of_the_scorer_ends_its_programs_and_the_next_start_cleans_up(tmp_path):
    env = {**os.environ, "TMPDIR": str(tmp_path)}
    scorer = subprocess.Popen([sys.executable, "-c", SCORER], env=env)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            family = _descendants(scorer.pid)
            if any(_cmdline(p).endswith(b"main.py\0") for p in family):
                break
            time.sleep(0.1)
        else:
            pytest.fail("the sandboxed program never started")
        time.sleep(0.3)
        family = _descendants(scorer.pid)
        leaked = list(tmp_path.glob("r1-sandbox-*"))  # TMPDIR is this test's own
        assert leaked
    finally:
        scorer.send_signal(signal.SIGKILL)
        scorer.wait(timeout=30)
    killed_at = time.monotonic()
    while any(_alive(p) for p in family) and time.monotonic() - killed_at < 10:
        time.sleep(0.05)
    assert not [p for p in family if _alive(p)], "sandboxed processes outlived the scorer"
    assert time.monotonic() - killed_at < 3
    assert all(p.exists() for p in leaked)  # nobody was left to remove it
    subprocess.run([sys.executable, "-c", NEXT_START], env=env, timeout=120, check=True)
    assert not any(p.exists() for p in leaked)


def test_clean_leaked_removes_only_directories_of_dead_processes(tmp_path):
    ours = tmp_path / f"{workdirs.PREFIX}{workdirs._owner_tag(os.getpid())}-live"
    reused = tmp_path / f"{workdirs.PREFIX}{os.getpid()}.1-reused"  # our pid, another start time
    dead = tmp_path / f"{workdirs.PREFIX}4194999.123-dead"
    foreign = tmp_path / f"{workdirs.PREFIX}not-ours"
    for d in (ours, reused, dead, foreign):
        (d / "sub").mkdir(parents=True)
        (d / "sub" / "main.py").write_text("x")
    (dead / "sub").chmod(0o000)  # a program may leave unreadable directories behind
    removed = workdirs.clean_leaked(str(tmp_path))
    assert sorted(removed) == sorted([str(reused), str(dead)])
    assert ours.exists() and foreign.exists() and not reused.exists() and not dead.exists()
