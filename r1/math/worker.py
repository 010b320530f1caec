"""A persistent sympy subprocess that can be killed when a comparison runs too long.

Why a subprocess: sympy calls cannot be interrupted from Python. ``signal.alarm``
only works in the main thread of the main process, but rewards run in trainer
threads and data-loader workers. A child process can always be killed, from any
thread, so the parent waits for the answer with a deadline and kills and
forgets the child when it passes; the next call starts a fresh one.

Why ``subprocess`` rather than ``multiprocessing``: data-loader workers are
daemonic and may not start ``multiprocessing`` children, and the ``spawn``
context would re-import the user's ``__main__``. A plain ``python -c`` child
avoids both and never inherits torch or CUDA state.

Protocol: one JSON line per message over the child's stdin/stdout.
``["ready"]`` once started, then ``[id, prediction, gold, lenient]`` → ``[id, bool]``.
One worker serves a whole process; a lock serialises calls from its threads.
After ``fork`` (data-loader workers) the child process forgets its parent's
worker and starts its own. A worker dies with the process that started it, even
in the middle of a comparison (see :func:`die_with_parent`).
"""

from __future__ import annotations

import atexit
import ctypes
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO, Any

STARTUP_TIMEOUT = 120.0
"""Seconds allowed for a fresh worker to import sympy; not part of a call's budget."""
WATCHDOG_INTERVAL = 0.2
"""Seconds between a worker's checks that its parent still lives, where the kernel cannot tell it."""

_PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>

_PACKAGE_ROOT = str(Path(__file__).resolve().parents[2])
_EOF = object()


class WorkerError(RuntimeError):
    """The worker died or could not start; the comparison counts as not equivalent."""


class SympyWorker:
    """Client side of one sympy subprocess."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._proc: subprocess.Popen[bytes] | None = None
        self._replies: queue.Queue[Any] = queue.Queue()
        self._next_id = 0
        self._ready = False
        self.restarts = 0
        """How many times a worker was killed for running over its budget."""

    def compare(self, prediction: str, gold: str, timeout: float, lenient: bool = False) -> bool:
        """Run the symbolic comparison in the worker.

        Args:
            prediction: The predicted answer.
            gold: The reference answer.
            timeout: Seconds the comparison may take, not counting worker start-up.
            lenient: Accept a prediction with some of the gold's answers only
                (see :mod:`r1.math.compare`).

        Raises:
            TimeoutError: the budget passed; the worker was killed.
            WorkerError: the worker could not start or died.
        """
        with self._lock:
            self._ensure_started()
            assert self._proc is not None and self._proc.stdin is not None
            self._next_id += 1
            request_id = self._next_id
            try:
                self._proc.stdin.write(_encode([request_id, prediction, gold, bool(lenient)]))
                self._proc.stdin.flush()
            except OSError as exc:
                self._kill()
                raise WorkerError(f"sympy worker unreachable: {exc}") from exc
            deadline = time.monotonic() + timeout
            while True:
                try:
                    reply = self._replies.get(timeout=max(0.0, deadline - time.monotonic()))
                except queue.Empty:
                    self._kill()
                    self.restarts += 1
                    self._spawn_quietly()  # start the replacement now, so the next call does not wait for it
                    raise TimeoutError(f"sympy comparison exceeded {timeout:.2f}s") from None
                if reply is _EOF:
                    self._kill()
                    raise WorkerError("sympy worker exited")
                if reply[0] == request_id:
                    return bool(reply[1])

    def start(self, wait: bool = True) -> None:
        """Start the worker now (it otherwise starts on the first comparison).

        Args:
            wait: block until it has imported sympy; ``False`` returns at once and lets
                the import overlap with other work (the first comparison waits for the rest).
        """
        with self._lock:
            if wait:
                self._ensure_started()
            elif not self._running():
                self._kill()
                self._spawn_quietly()

    @property
    def pid(self) -> int | None:
        """The worker process's id while one is running, else ``None``."""
        proc = self._proc
        return proc.pid if proc is not None and proc.poll() is None else None

    def close(self) -> None:
        """Stop the worker; a later call starts a new one."""
        with self._lock:
            self._kill()

    def _ensure_started(self) -> None:
        """Make sure a worker is running and has said it is ready."""
        if not self._running():
            self._kill()
            self._spawn()
        if self._ready:
            return
        try:
            ready = self._replies.get(timeout=STARTUP_TIMEOUT)
        except queue.Empty:
            ready = None
        if ready is _EOF or ready is None or ready[0] != "ready":
            self._kill()
            raise WorkerError("sympy worker did not start")
        self._ready = True

    def _running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def _spawn(self) -> None:
        """Start a worker process and its reader thread, without waiting for it to be ready."""
        # The kernel ties a parent-death signal to the thread that starts the child, not to its
        # process: it is only asked for when that thread is the main one, which lives as long as
        # the process. A worker started from another thread relies on its watchdog alone.
        from_main_thread = threading.current_thread() is threading.main_thread()
        # sys.path[0] is the working directory under -c; replace it, so that a folder named
        # like a module (r1/math shadows the stdlib's math when run from r1/) cannot interfere
        code = (
            f"import sys; sys.path[0] = {_PACKAGE_ROOT!r}; from r1.math.worker import serve; "
            f"serve({os.getpid()}, {from_main_thread})"
        )
        try:
            proc = subprocess.Popen(
                [sys.executable, "-c", code],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                close_fds=True,
            )
        except OSError as exc:
            raise WorkerError(f"cannot start sympy worker: {exc}") from exc
        replies: queue.Queue[Any] = queue.Queue()
        assert proc.stdout is not None
        threading.Thread(target=_read_replies, args=(proc.stdout, replies), daemon=True, name="r1-sympy-reader").start()
        self._proc, self._replies, self._ready = proc, replies, False

    def _spawn_quietly(self) -> None:
        try:
            self._spawn()
        except WorkerError:
            pass  # the next call retries and reports

    def _kill(self) -> None:
        proc, self._proc, self._ready = self._proc, None, False
        if proc is None:
            return
        try:
            proc.kill()
            proc.wait(timeout=5)
        except (OSError, subprocess.TimeoutExpired):
            pass
        for stream in (proc.stdin, proc.stdout):
            try:
                if stream is not None:
                    stream.close()
            except OSError:
                pass


def _read_replies(stream: IO[bytes], replies: queue.Queue[Any]) -> None:
    """Reader thread: move each reply line into ``replies``; post ``_EOF`` when the pipe closes."""
    try:
        for line in stream:
            try:
                replies.put(json.loads(line))
            except ValueError:
                continue
    except (OSError, ValueError):
        pass
    replies.put(_EOF)


def _encode(message: list[Any]) -> bytes:
    return json.dumps(message).encode() + b"\n"


_worker: SympyWorker | None = None
_worker_pid = -1
_worker_lock = threading.Lock()


def get_worker() -> SympyWorker:
    """This process's worker client (created on first use, re-created after ``fork``)."""
    global _worker, _worker_pid
    with _worker_lock:
        if _worker is None or _worker_pid != os.getpid():
            _worker, _worker_pid = SympyWorker(), os.getpid()
        return _worker


def shutdown_worker() -> None:
    """Stop this process's sympy worker, if any (also runs at interpreter exit)."""
    if _worker is not None and _worker_pid == os.getpid():
        _worker.close()


def _after_fork_in_child() -> None:
    """A forked child must not share its parent's pipes or a lock held at fork time."""
    global _worker, _worker_lock, _worker_pid
    _worker, _worker_pid, _worker_lock = None, -1, threading.Lock()


atexit.register(shutdown_worker)
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def die_with_parent(parent_pid: int, parent_death_signal: bool) -> None:
    """End this process as soon as ``parent_pid``, the process that started it, dies.

    A worker notices its parent's end only when its stdin closes, and it reads
    stdin only between comparisons: killed mid-comparison, the parent would leave
    the worker spinning at 100 % CPU on a pathological expression forever.

    Args:
        parent_pid: The parent's process id, as the parent saw it.
        parent_death_signal: Whether the kernel may deliver the end: on Linux the
            worker asks (``prctl(PR_SET_PDEATHSIG, SIGKILL)``) to be killed when the
            thread that started it ends, which the parent allows only from its main
            thread. Otherwise, and where ``prctl`` is unavailable, a watchdog thread
            checks ``os.getppid()`` every :data:`WATCHDOG_INTERVAL` seconds; a
            worker is re-parented when its parent dies.
    """
    armed = parent_death_signal and _set_parent_death_signal(signal.SIGKILL)
    if os.getppid() != parent_pid:  # the parent died before the signal was armed
        os._exit(1)
    if not armed:
        threading.Thread(target=_watch_parent, args=(parent_pid,), daemon=True, name="r1-sympy-watchdog").start()


def _set_parent_death_signal(signum: int) -> bool:
    """Ask Linux to send ``signum`` to this process when its parent thread ends; ``False`` if unsupported."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        args = (ctypes.c_ulong(signum), ctypes.c_ulong(0), ctypes.c_ulong(0), ctypes.c_ulong(0))
        return libc.prctl(_PR_SET_PDEATHSIG, *args) == 0
    except (OSError, AttributeError):
        return False


def _watch_parent(parent_pid: int) -> None:
    """Watchdog thread: exit the whole process once it has been re-parented (its parent died)."""
    while os.getppid() == parent_pid:
        time.sleep(WATCHDOG_INTERVAL)
    os._exit(1)


def serve(parent_pid: int | None = None, parent_death_signal: bool = False) -> None:
    """Worker main loop: answer comparison requests read from stdin until it closes.

    Args:
        parent_pid: The starting process's id; when given, the worker dies with it
            (see :func:`die_with_parent`).
        parent_death_signal: See :func:`die_with_parent`.
    """
    if parent_pid is not None:
        die_with_parent(parent_pid, parent_death_signal)
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # anything sympy prints must not corrupt the protocol
    sys.stdout = sys.stderr
    from r1.math.symbolic import answers_equivalent

    out.write(_encode(["ready"]))
    out.flush()
    for line in sys.stdin.buffer:
        try:
            request_id, prediction, gold, lenient = json.loads(line)
        except ValueError:
            continue
        try:
            result = bool(answers_equivalent(prediction, gold, bool(lenient)))
        except Exception:  # a sympy bug on one pair must not end the worker
            result = False
        out.write(_encode([request_id, result]))
        out.flush()
