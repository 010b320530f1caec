"""Run untrusted, model-written Python programs in parallel, each in its own contained process.

Why this shape: a reward is computed for every completion of every GRPO step, so programs
run by the hundred; one hanging, forking, allocating or printing without end must cost no
more than its own time-out and never touch the caller, the other programs or the machine.

Each program gets (where the kernel allows; see :func:`capabilities`):

- a fresh working directory (a size-limited tmpfs when mount namespaces work), removed after;
- an empty environment and ``python -I -S`` (no site-packages, no user paths);
- a fresh, otherwise unused uid and no supplementary groups when run as root (RLIMIT_NPROC
  does not bind uid 0, and a uid of its own keeps one program's fork bomb from eating
  another's process quota);
- RLIMIT_AS (memory), RLIMIT_CPU, RLIMIT_FSIZE, RLIMIT_NPROC, RLIMIT_NOFILE, no core files;
- new network (only a down loopback), mount and PID namespaces: a root file system of its
  own holding only system directories, the interpreter and its working directory, all
  read-only but the latter (``_rootfs.py``: no home directories, no ``/tmp``, ``/run`` or
  other sandboxes, no unix sockets on disk, no reference solutions), and when the program
  exits or is killed, everything it started dies with it;
- a system-call filter: no namespaces, mounts, chroot, ptrace or keyrings (``_seccomp.py``);
- a wall-clock time-out that kills its whole process group, and caps on the bytes kept
  from stdout and stderr: a program that prints more is killed at the cap;
- death with the caller: killing the scoring process (even ``kill -9``) kills its programs,
  and the working directories it leaves are removed by the next process that starts one.

What is unavailable is reported once as a logged warning. The setup itself happens in
``_launcher.py``, a single-threaded helper process; see its docstring for why.
"""

from __future__ import annotations

import json
import logging
import math
import os
import random
import selectors
import shutil
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from r1_code import workdirs

logger = logging.getLogger(__name__)

LAUNCHER = Path(__file__).with_name("_launcher.py")

# Host paths every program's root holds (read-only): what an interpreter and the programs
# it may start need. Everything else is absent, not merely unreadable.
SYSTEM_PATHS = ("/usr", "/etc", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
# Never visible to a program, even inside a bound tree: the bundled reference solutions.
HIDDEN_PATHS = (Path(__file__).with_name("data"),)

# Fresh uids are drawn from a range no distribution or container runtime hands out.
_UID_BASE = 1_900_000_000
_UID_SPAN = 1 << 24

STATUSES = ("ok", "error", "timeout", "oom", "output_limit", "sandbox_error")


@dataclass(frozen=True)
class ExecResult:
    """What became of one program.

    Attributes:
        passed: the program exited with status 0 (``status == "ok"``).
        status: ``"ok"``; ``"error"`` (non-zero exit or killed by a signal); ``"timeout"``
            (wall-clock or CPU limit); ``"oom"`` (hit the memory limit); ``"output_limit"``
            (printed more than the cap, killed); ``"sandbox_error"`` (could not be set up).
        stdout, stderr: decoded output, at most the cap each (``truncated`` says if cut).
        duration: wall-clock seconds from start to end.
        returncode: the exit code, negative for a signal; ``None`` if it never started.
    """

    passed: bool
    status: str
    stdout: str
    stderr: str
    duration: float
    returncode: int | None = None
    truncated: bool = False


@dataclass(frozen=True)
class Capabilities:
    """What isolation this machine allows, found once by running a probe program.

    Attributes:
        root: we run as uid 0, so each program drops to a fresh unprivileged uid.
        userns: namespaces are entered through a user namespace (not root).
        net, mount, pid: which namespaces each program gets.
        python: the interpreter the programs run with (one the sandbox uid can execute).
        seccomp: programs run under the system-call filter.
        binds: the host paths a program's root holds (with ``mount``).
        warnings: what could not be isolated, as logged.
    """

    root: bool
    userns: bool
    net: bool
    mount: bool
    pid: bool
    python: str
    seccomp: bool = False
    binds: tuple[str, ...] = ()
    warnings: tuple[str, ...] = field(default_factory=tuple)


class SandboxUnavailable(RuntimeError):
    """No configuration of the sandbox can run a program on this machine."""


_caps: Capabilities | None = None
_caps_lock = threading.Lock()
_uids_in_use: set[int] = set()
_uid_lock = threading.Lock()


def run_programs(
    programs: list[str],
    *,
    timeout_s: float = 10.0,
    memory_mb: int = 1024,
    max_workers: int | None = None,
    max_output_bytes: int = 1 << 20,
    max_processes: int = 32,
    max_file_mb: int = 16,
    disk_mb: int = 64,
    stdin: list[str] | None = None,
    files: list[dict[str, str]] | None = None,
    python_args: tuple[str, ...] = ("-I", "-S", "-B"),
) -> list[ExecResult]:
    """Runs each program as ``main.py`` in its own sandbox, up to ``max_workers`` at a time.

    Args:
        programs: Python sources.
        timeout_s: wall-clock limit of each program (the CPU limit is its ceiling + 1 s).
        memory_mb: address-space limit (RLIMIT_AS) of each process of a program.
        max_workers: programs run at once; default: the number of CPUs.
        max_output_bytes: bytes kept of stdout and of stderr; past it the program is killed.
        max_processes: processes and threads a program may have at once (RLIMIT_NPROC).
        max_file_mb: largest file a program may write (RLIMIT_FSIZE).
        disk_mb: size of the tmpfs working directory (where mount namespaces work).
        stdin: text fed to each program's standard input (aligned with ``programs``).
        files: extra files ``{name: text}`` put next to ``main.py`` (aligned with ``programs``).
        python_args: interpreter flags; drop ``-S`` to let programs import the site-packages
            of the base interpreter (a virtual environment is not in their file system).

    Returns:
        One :class:`ExecResult` per program, in order. Never raises for a program's fault.
    """
    if not programs:
        return []
    caps = capabilities()
    spec = _Spec(
        timeout_s=timeout_s,
        memory_bytes=memory_mb << 20,
        max_output_bytes=max_output_bytes,
        max_processes=max_processes,
        file_bytes=max_file_mb << 20,
        disk_kb=disk_mb << 10,
        python_args=tuple(python_args),
    )
    stdins = stdin or [""] * len(programs)
    extras = files or [{}] * len(programs)
    if len(stdins) != len(programs) or len(extras) != len(programs):
        raise ValueError("stdin and files must align with programs")
    workers = max(1, min(max_workers or os.cpu_count() or 1, len(programs)))
    if workers == 1:
        return [_run_one(p, s, f, spec, caps) for p, s, f in zip(programs, stdins, extras)]
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="r1-sandbox") as pool:
        return list(pool.map(lambda a: _run_one(*a, spec, caps), zip(programs, stdins, extras)))


def run_program(program: str, **options) -> ExecResult:
    """One program; see :func:`run_programs` for the options."""
    return run_programs([program], **options)[0]


def capabilities() -> Capabilities:
    """The isolation this machine allows (probed on first use, then cached)."""
    global _caps
    with _caps_lock:
        if _caps is None:
            for path in workdirs.clean_leaked():
                logger.info("r1-code sandbox: removed %s, left by a process that is gone", path)
            _caps = _probe()
            for warning in _caps.warnings:
                logger.warning(warning)
            if _caps.python not in _our_pythons():
                logger.info(
                    "r1-code sandbox: programs run with %s (the sandbox cannot run %s)", _caps.python, sys.executable
                )
        return _caps


def reset_capabilities() -> None:
    """Forget the probe result (tests use it to see the warnings again)."""
    global _caps
    with _caps_lock:
        _caps = None


@dataclass(frozen=True)
class _Spec:
    timeout_s: float
    memory_bytes: int
    max_output_bytes: int
    max_processes: int
    file_bytes: int
    disk_kb: int
    python_args: tuple[str, ...]


def _probe() -> Capabilities:
    """Tries the strongest isolation first and keeps the first setting that runs a program.

    A failed ``unshare`` or ``mount`` makes the launcher exit with 125 before anything runs,
    so each weaker setting is only tried when the stronger one cannot work here.
    """
    root = os.geteuid() == 0
    settings = [(True, True, True), (True, False, True), (True, False, False), (False, False, False)]
    pythons = _python_candidates()
    spec = _Spec(30.0, 1 << 30, 1 << 16, 16, 1 << 20, 1 << 10, ("-I", "-S", "-B"))
    errors: list[str] = []
    for net, mount, pid in settings:
        for python in pythons:
            userns = not root and (net or mount or pid)
            binds = _binds_for(python) if mount else ()
            for seccomp in (True, False):
                caps = Capabilities(root, userns, net, mount, pid, python, seccomp, binds)
                res = _run_one("import ctypes\nprint('r1-sandbox-probe')", "", {}, spec, caps)
                if res.status == "ok" and "r1-sandbox-probe" in res.stdout:
                    return Capabilities(**{**caps.__dict__, "warnings": _warnings(caps, errors)})
                errors.append(
                    f"net={net} mount={mount} pid={pid} seccomp={seccomp} {python}: {res.status} {res.stderr.strip()[:200]}"
                )
                if "r1-sandbox-setup: seccomp" not in res.stderr:
                    break  # the filter is not what failed
            if res.returncode == 125:  # the namespaces, not the interpreter, failed
                break
    raise SandboxUnavailable("no sandbox setting works here:\n" + "\n".join(errors))


def _python_candidates() -> list[str]:
    """Interpreters to try, as real paths (a program's root holds real directories, not a
    virtual environment's links): ours first, then system ones, for when ours lives where
    the sandbox uid cannot reach (e.g. under /root) and there is no mount namespace."""
    out: list[str] = []
    for p in (getattr(sys, "_base_executable", ""), sys.executable,
              "/usr/bin/python3", "/usr/local/bin/python3", shutil.which("python3") or ""):
        real = os.path.realpath(p) if p else ""
        if real and os.path.isfile(real) and real not in out:
            out.append(real)
    return out


def _our_pythons() -> set[str]:
    """The real paths of the interpreter running r1 (a virtual environment's and its base)."""
    return {os.path.realpath(p) for p in (sys.executable, getattr(sys, "_base_executable", "")) if p}


def _binds_for(python: str) -> tuple[str, ...]:
    """The host paths a program's root holds when it runs with ``python``: the system
    directories, and the interpreter's installation when it lies outside them."""
    binds = [p for p in SYSTEM_PATHS if os.path.lexists(p)]
    system = tuple(os.path.realpath(p) + "/" for p in binds)
    ours = python in _our_pythons()
    prefixes = {sys.base_prefix, sys.base_exec_prefix} if ours else {os.path.dirname(os.path.dirname(python))}
    for prefix in sorted(os.path.realpath(p) for p in prefixes):
        if not (prefix + "/").startswith(system) and prefix not in binds:
            binds.append(prefix)
    return tuple(binds)


def _warnings(caps: Capabilities, errors: list[str]) -> tuple[str, ...]:
    out = []
    how = "" if caps.root else " (not root, and unprivileged user namespaces are not allowed here)"
    why = f" [{errors[0]}]" if errors else ""
    if not caps.net:
        out.append(f"r1-code sandbox: no network isolation{how}; sandboxed programs can open sockets{why}")
    if not caps.mount:
        out.append(
            f"r1-code sandbox: no mount namespace{how}; programs see every file your user can read "
            "(home directory, ~/.ssh, tokens, /tmp, unix sockets such as /run/docker.sock, other "
            f"sandboxes) and write wherever it may{why}"
        )
    if not caps.pid:
        out.append(f"r1-code sandbox: no PID namespace{how}; a program's escaped children outlive it until their CPU limit")
    if not caps.seccomp:
        out.append(
            "r1-code sandbox: no system-call filter on this machine; programs may create namespaces "
            "of their own and reach root-only kernel code through them"
        )
    return tuple(out)


def _acquire_uid() -> int:
    with _uid_lock:
        while True:
            uid = _UID_BASE + random.randrange(_UID_SPAN)
            if uid not in _uids_in_use:
                _uids_in_use.add(uid)
                return uid


def _release_uid(uid: int | None) -> None:
    if uid is not None:
        with _uid_lock:
            _uids_in_use.discard(uid)


def _run_one(program: str, stdin: str, files: dict[str, str], spec: _Spec, caps: Capabilities) -> ExecResult:
    start = time.monotonic()
    uid = _acquire_uid() if caps.root else None
    workdir = workdirs.create()
    try:
        for name, text in {**files, "main.py": program}.items():
            if os.path.basename(name) != name or name in (".", ".."):
                raise ValueError(f"file names must be plain names: {name!r}")
            Path(workdir, name).write_text(text, encoding="utf-8")
            if uid is not None:
                os.chown(Path(workdir, name), uid, uid)
        if uid is not None:
            os.chown(workdir, uid, uid)
        os.chmod(workdir, 0o700)
        cfg = {
            "net": caps.net,
            "mount": caps.mount,
            "pid": caps.pid,
            "userns": caps.userns,
            "seccomp": caps.seccomp,
            "binds": list(caps.binds),
            "hide": [os.path.realpath(p) for p in HIDDEN_PATHS],
            "workdir": workdir,
            "parent": os.getpid(),
            "uid": uid,
            "gid": uid,
            "disk_kb": spec.disk_kb,
            "max_files": 4096,
            "limits": {
                "cpu_s": math.ceil(spec.timeout_s) + 1,
                "memory_bytes": spec.memory_bytes,
                "file_bytes": spec.file_bytes,
                "open_files": 256,
                "processes": spec.max_processes,
            },
            "argv": [caps.python, *spec.python_args, "main.py"],
            "env": {},
        }
        cmd = [sys.executable, "-I", "-S", "-B", str(LAUNCHER), json.dumps(cfg)]
        try:
            proc = subprocess.Popen(
                cmd, cwd=workdir, env={}, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                stderr=subprocess.PIPE, start_new_session=True, close_fds=True,
            )
        except OSError as e:
            return ExecResult(False, "sandbox_error", "", f"r1-sandbox: could not start: {e}", time.monotonic() - start)
        try:
            out, err, reason = _pump(proc, stdin.encode(), start + spec.timeout_s, spec.max_output_bytes)
        finally:
            _kill_group(proc)
            returncode = proc.wait()
        return _result(out, err, reason, returncode, time.monotonic() - start)
    finally:
        if uid is not None and not caps.pid:
            _kill_uid(uid)
        workdirs.remove(workdir)
        _release_uid(uid)


def _kill_uid(uid: int) -> None:
    """Without a PID namespace, children that left the process group survive its kill; as
    the uid is this run's own, killing all of its processes is exact."""
    subprocess.run([sys.executable, "-I", "-S", "-B", str(LAUNCHER), "--kill-uid", str(uid)], env={}, timeout=30, check=False)


def _pump(proc: subprocess.Popen, stdin: bytes, deadline: float, cap: int) -> tuple[bytes, bytes, str | None]:
    """Feeds stdin and collects stdout/stderr until EOF, the deadline or the output cap.

    Returns (stdout, stderr, reason) where reason is None, "timeout" or "output_limit".
    Neither ``poll()`` nor ``wait()`` is called here: the launcher must stay unreaped until
    its process group is killed, so that its pid (the group id) cannot be reused meanwhile.
    """
    assert proc.stdin and proc.stdout and proc.stderr
    bufs = {proc.stdout.fileno(): bytearray(), proc.stderr.fileno(): bytearray()}
    sel = selectors.DefaultSelector()
    for fd in bufs:
        sel.register(fd, selectors.EVENT_READ)
    stdin_fd = proc.stdin.fileno()
    pending = memoryview(stdin)
    if pending:
        os.set_blocking(stdin_fd, False)
        sel.register(stdin_fd, selectors.EVENT_WRITE)
    else:
        proc.stdin.close()
    exited_at: float | None = None
    reason = None
    try:
        while any(key.events & selectors.EVENT_READ for key in sel.get_map().values()):
            now = time.monotonic()
            if now >= deadline:
                reason = "timeout"
                break
            if exited_at is None and _has_exited(proc.pid):
                exited_at = now
            if exited_at is not None and now - exited_at > 0.5:
                break  # the program is gone; whatever still holds the pipes is a leftover
            for key, _ in sel.select(timeout=min(deadline - now, 0.1)):
                fd = key.fd
                if fd == stdin_fd:
                    try:
                        pending = pending[os.write(fd, pending):]
                    except BlockingIOError:
                        continue
                    except OSError:  # BrokenPipe: the program does not read
                        pending = pending[:0]
                    if not pending:
                        sel.unregister(fd)
                        proc.stdin.close()
                    continue
                chunk = os.read(fd, 65536)
                if not chunk:
                    sel.unregister(fd)
                    continue
                buf = bufs[fd]
                room = cap - len(buf)
                buf += chunk[:room]
                if len(chunk) > room:
                    reason = "output_limit"
                    break
            if reason:
                break
        delay = 0.001
        while reason is None and not _has_exited(proc.pid):  # pipes closed; let it report its status
            if time.monotonic() >= deadline:
                reason = "timeout"
                break
            time.sleep(delay)
            delay = min(delay * 2, 0.05)
    finally:
        sel.close()
        if not proc.stdin.closed:
            proc.stdin.close()
    return bytes(bufs[proc.stdout.fileno()]), bytes(bufs[proc.stderr.fileno()]), reason


def _has_exited(pid: int) -> bool:
    """Whether the launcher has exited, without reaping it (WNOWAIT)."""
    try:
        return os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
    except ChildProcessError:
        return True


def _kill_group(proc: subprocess.Popen) -> None:
    """SIGKILL the program's whole process group (launcher included, still unreaped)."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    for stream in (proc.stdout, proc.stderr):
        if stream is not None:
            stream.close()


def _result(out: bytes, err: bytes, reason: str | None, returncode: int, duration: float) -> ExecResult:
    stdout = out.decode("utf-8", errors="replace")
    stderr = err.decode("utf-8", errors="replace")
    if reason is not None:
        status = reason
    elif returncode == 0:
        status = "ok"
    elif (returncode, stderr[:17]) in ((125, "r1-sandbox-setup:"), (126, "r1-sandbox-exec: "), (127, "r1-sandbox-exec: ")):
        status = "sandbox_error"
    elif returncode == -signal.SIGXCPU:
        status = "timeout"
    elif "MemoryError" in stderr or "Cannot allocate memory" in stderr:
        status = "oom"
    else:
        status = "error"
    return ExecResult(
        passed=status == "ok", status=status, stdout=stdout, stderr=stderr, duration=duration,
        returncode=returncode, truncated=reason == "output_limit",
    )
