"""Sandbox working directories on the host: created per program, removed after, and the
ones a killed process left behind removed at the next start.

Why names carry their owner: a scoring process killed with ``kill -9`` never runs its
clean-up, so its ``r1-sandbox-*`` directories would pile up in the temporary directory.
Each name records the creating process's pid and start time (``/proc/<pid>/stat``, so a
reused pid does not pass for the owner); :func:`clean_leaked` removes exactly the
directories whose owner is gone, never one a live process (of any user) is using.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

PREFIX = "r1-sandbox-"


def create() -> str:
    """A fresh private directory ``<tmp>/r1-sandbox-<pid>.<start time>-<random>``."""
    return tempfile.mkdtemp(prefix=f"{PREFIX}{_owner_tag(os.getpid())}-")


def remove(path: str) -> None:
    """Deletes a working directory even if the program made parts of it unreadable."""

    def fix(func, p, _exc):
        try:
            os.chmod(os.path.dirname(p), 0o700)
            os.chmod(p, 0o700)
            func(p)
        except OSError:
            pass

    shutil.rmtree(path, onerror=fix)


def clean_leaked(directory: str | None = None) -> list[str]:
    """Removes the working directories of processes that are gone; returns their paths."""
    removed = []
    for entry in Path(directory or tempfile.gettempdir()).glob(PREFIX + "*"):
        owner = entry.name[len(PREFIX):].split("-", 1)[0]
        pid, _, start = owner.partition(".")
        if not (pid.isdigit() and start.isdigit()) or entry.is_symlink() or not entry.is_dir():
            continue
        if _owner_tag(int(pid)) == owner:
            continue  # its process still runs
        try:
            if entry.stat().st_uid != os.geteuid() and os.geteuid() != 0:
                continue
        except OSError:
            continue
        remove(str(entry))
        removed.append(str(entry))
    return removed


def _owner_tag(pid: int) -> str | None:
    """``<pid>.<start time in clock ticks>``, or None when no such process exists."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return None
    fields = stat[stat.rindex(b")") + 2:].split()
    return f"{pid}.{int(fields[19])}"
