"""Sets up one sandbox and ``exec``s the program in it; run by :mod:`r1_code.sandbox`, never imported.

Why a separate process rather than ``preexec_fn``: the caller is multi-threaded (a worker
pool), and running Python between ``fork`` and ``exec`` in a threaded parent can deadlock.
This launcher is a fresh, single-threaded interpreter (``python -I -S -B _launcher.py``), so
it may freely call ``unshare``, ``mount`` and ``setuid`` before it ``exec``s the program.

It is started in the program's working directory with an empty environment, and reads its
settings (a JSON object) from ``argv[1]``. Steps, each only when the settings ask for it:

0. Die with the caller: a parent-death signal (SIGKILL), so that killing the scoring
   process (even with ``kill -9``) ends its sandboxes, not only their time-outs.
1. ``unshare`` new network, mount and PID namespaces (in a new user namespace when not root).
2. In the new mount namespace, build the program's root file system on the working
   directory (``_rootfs.py``: only system directories, the interpreter, a few devices and
   its own size-limited tmpfs; home directories, ``/tmp``, ``/run`` and the reference
   solutions are simply absent).
3. Fork an init: PID 1 of the new PID namespace. It mounts a fresh ``/proc``, moves into the
   new root (``pivot_root``), forks the program (PID 2), reaps orphans, and reports the
   program's wait status through a pipe. When it exits, or is killed with the launcher
   (parent-death signal), the kernel kills every process left in the namespace: nothing a
   program starts can outlive it.
4. In the program's process: resource limits, drop to the unprivileged uid/gid and no
   supplementary groups (root only; an unprivileged user namespace cannot drop them, which
   is why the mount view matters), the parent-death signal again, the system-call filter
   (``_seccomp.py``), then ``execve`` the interpreter with the given argv and environment.

Exit codes: 125 setup failed (stderr starts with ``r1-sandbox-setup:``), 126/127 the
interpreter could not be executed (``r1-sandbox-exec:``); otherwise the program's own status
(death by a signal is reproduced by killing the launcher with the same signal).
"""

import ctypes
import json
import os
import resource
import signal
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # r1-code's own directory, trusted
import _rootfs  # noqa: E402
import _seccomp  # noqa: E402

del sys.path[0]

CLONE_NEWNS = 0x00020000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000

PR_SET_PDEATHSIG = 1

SetupError = _rootfs.SetupError

_libc = ctypes.CDLL(None, use_errno=True)
_libc.unshare.argtypes = [ctypes.c_int]
_libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]


def _check(ret, what):
    if ret != 0:
        err = ctypes.get_errno()
        raise SetupError("%s: %s" % (what, os.strerror(err)))


def _die_with_parent(parent):
    """SIGKILL this process when ``parent`` (the process whose thread started it) dies.

    Set again after every change of credentials, which clears it. If the parent is already
    gone (it died before this call), exit at once rather than run unattended.
    """
    _check(_libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0), "prctl(PR_SET_PDEATHSIG)")
    if parent is not None and os.getppid() != parent:
        os._exit(125)


def _write(path, text):
    with open(path, "w") as f:
        f.write(text)


def _enter_namespaces(cfg):
    flags = 0
    if cfg["net"]:
        flags |= CLONE_NEWNET
    if cfg["mount"]:
        flags |= CLONE_NEWNS
    if cfg["pid"]:
        flags |= CLONE_NEWPID
    if not flags:
        return
    if cfg["userns"]:
        uid, gid = os.getuid(), os.getgid()
        _check(_libc.unshare(flags | CLONE_NEWUSER), "unshare")
        _write("/proc/self/setgroups", "deny")
        _write("/proc/self/uid_map", "%d %d 1" % (uid, uid))
        _write("/proc/self/gid_map", "%d %d 1" % (gid, gid))
    else:
        _check(_libc.unshare(flags), "unshare")


def _read_files():
    """The program's files, read before the working directory is covered by the new root."""
    files = {}
    for name in os.listdir("."):
        if os.path.isfile(name):
            with open(name, "rb") as f:
                files[name] = f.read()
    return files


def _count_tasks(uid):
    """Threads owned by ``uid`` now: RLIMIT_NPROC counts them all, not only ours."""
    total = 0
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open("/proc/%s/status" % pid) as f:
                status = f.read()
        except OSError:
            continue
        owner = threads = None
        for line in status.splitlines():
            if line.startswith("Uid:"):
                owner = int(line.split()[1])
            elif line.startswith("Threads:"):
                threads = int(line.split()[1])
        if owner == uid and threads:
            total += threads
    return total


def _limit(which, soft, hard=None):
    """Sets a limit, never above the current hard limit (an unprivileged process may not raise it)."""
    hard = soft if hard is None else hard
    _, current = resource.getrlimit(which)
    if current != resource.RLIM_INFINITY:
        soft, hard = min(soft, current), min(hard, current)
    resource.setrlimit(which, (soft, hard))


def _set_limits(cfg):
    lim = cfg["limits"]
    _limit(resource.RLIMIT_AS, lim["memory_bytes"])
    _limit(resource.RLIMIT_FSIZE, lim["file_bytes"])
    _limit(resource.RLIMIT_NOFILE, lim["open_files"])
    _limit(resource.RLIMIT_CORE, 0)
    _limit(resource.RLIMIT_CPU, lim["cpu_s"], lim["cpu_s"] + 1)  # SIGXCPU, then SIGKILL a second later
    nproc = lim["processes"]
    if cfg["uid"] is None:  # not dropping to a fresh uid: the user's other processes count too
        nproc += _count_tasks(os.getuid())
    _limit(resource.RLIMIT_NPROC, nproc)


def _exec_program(cfg):
    """Runs in the process that becomes the program; never returns."""
    try:
        _set_limits(cfg)
        if cfg["uid"] is not None:
            os.setgroups([])
            os.setresgid(cfg["gid"], cfg["gid"], cfg["gid"])
            os.setresuid(cfg["uid"], cfg["uid"], cfg["uid"])
            if os.geteuid() == 0 or os.getegid() == 0:
                raise SetupError("privileges were not dropped")
        _die_with_parent(None)  # the new credentials cleared it
        if cfg["seccomp"]:
            try:
                _seccomp.install()
            except (OSError, ValueError) as e:
                raise SetupError("seccomp: %s" % e)
    except (SetupError, OSError, ValueError) as e:
        _die(125, "r1-sandbox-setup: %s" % e)
    try:
        os.execve(cfg["argv"][0], cfg["argv"], cfg["env"])
    except OSError as e:
        _die(127 if isinstance(e, FileNotFoundError) else 126, "r1-sandbox-exec: %s: %s" % (cfg["argv"][0], e))


def _run_init(cfg, report_fd):
    """PID 1 of the new PID namespace: starts the program as PID 2, reaps orphans, reports.

    The program is not PID 1 itself because the kernel shields PID 1 from signals it has no
    handler for (``os.kill(os.getpid(), SIGTERM)`` or ``abort()`` would misbehave) and PID 1
    must reap orphans. When this process exits, the kernel kills everything left in the
    namespace; if the launcher is killed (time-out), the parent-death signal kills this one.
    """
    try:
        _die_with_parent(None)
        if cfg["mount"]:
            _rootfs.enter(cfg)  # the new root, with a /proc that shows only this namespace
        program = os.fork()
    except (SetupError, OSError) as e:
        _die(125, "r1-sandbox-setup: %s" % e)
    if program == 0:
        os.close(report_fd)
        _exec_program(cfg)
    _detach_stdio()
    status = _wait_for(program, reap_all=True)
    os.write(report_fd, b"%d" % status)
    os._exit(0)


def _detach_stdio():
    """Point stdin/stdout at /dev/null so that the program alone holds those pipes."""
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 0)
    os.dup2(devnull, 1)
    os.close(devnull)


def _wait_for(pid, reap_all=False):
    """The raw wait status of ``pid``; with ``reap_all``, reaps any other child meanwhile."""
    while True:
        try:
            got, status = os.waitpid(-1 if reap_all else pid, 0)
        except InterruptedError:
            continue
        if got == pid:
            return status


def _exit_like(status):
    """Ends the launcher the way the program ended, so the caller sees its real status."""
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        if sig not in (signal.SIGKILL, signal.SIGSTOP):
            signal.signal(sig, signal.SIG_DFL)
        os.kill(os.getpid(), sig)
    os._exit(os.WEXITSTATUS(status) if os.WIFEXITED(status) else 1)


def _die(code, message):
    try:
        os.write(2, (message + "\n").encode())
    finally:
        os._exit(code)


def _kill_uid(uid):
    """Kills every process of ``uid`` (a sandbox's own uid) by becoming it: ``kill(-1)``
    reaches exactly the processes of the same uid. The clean-up when no PID namespace is
    available, where a program's ``setsid`` children escape the process-group kill."""
    os.setgroups([])
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)
    try:
        os.kill(-1, signal.SIGKILL)
    except ProcessLookupError:
        pass
    os._exit(0)


def main():
    if sys.argv[1] == "--kill-uid":
        _kill_uid(int(sys.argv[2]))
    cfg = json.loads(sys.argv[1])
    try:
        _die_with_parent(cfg["parent"])
        if cfg["mount"] and not cfg["pid"]:
            raise SetupError("a mount namespace needs a PID namespace (for its /proc)")
        files = _read_files() if cfg["mount"] else {}
        _enter_namespaces(cfg)
        if cfg["mount"]:
            _rootfs.prepare(cfg, files)
    except (SetupError, OSError) as e:
        _die(125, "r1-sandbox-setup: %s" % e)
    if not cfg["pid"]:
        _exec_program(cfg)
    read_fd, write_fd = os.pipe()
    init = os.fork()  # the first child after unshare(CLONE_NEWPID) is the namespace's PID 1
    if init == 0:
        os.close(read_fd)
        _run_init(cfg, write_fd)
    os.close(write_fd)
    _detach_stdio()
    init_status = _wait_for(init)
    report = b""
    while True:
        chunk = os.read(read_fd, 64)
        if not chunk:
            break
        report += chunk
    _exit_like(int(report) if report else init_status)


if __name__ == "__main__":
    main()
