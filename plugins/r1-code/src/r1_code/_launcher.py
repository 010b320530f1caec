"""Sets up one sandbox and ``exec``s the program in it; run by :mod:`r1_code.sandbox`, never imported.

Why a separate process rather than ``preexec_fn``: the caller is multi-threaded (a worker
pool), and running Python between ``fork`` and ``exec`` in a threaded parent can deadlock.
This launcher is a fresh, single-threaded interpreter (``python -I -S -B _launcher.py``), so
it may freely call ``unshare``, ``mount`` and ``setuid`` before it ``exec``s the program.

It is started in the program's working directory with an empty environment, and reads its
settings (a JSON object) from ``argv[1]``. Steps, each only when the settings ask for it:

1. ``unshare`` new network, mount and PID namespaces (in a new user namespace when not root).
2. In the new mount namespace: make every mount private (nothing propagates back to the
   host), mount a size-limited tmpfs over the working directory (the program's files are
   copied into it), then remount every other mount read-only, so ``/tmp``, ``/dev/shm`` and
   the like cannot be written. Read-only remounts always carry ``MS_BIND``: without it a
   remount changes the *superblock* and would make the host's file system read-only.
3. Fork an init: PID 1 of the new PID namespace. It mounts a fresh ``/proc``, forks the
   program (PID 2), reaps orphans, and reports the program's wait status through a pipe.
   When it exits, or is killed with the launcher (parent-death signal), the kernel kills
   every process left in the namespace: nothing a program starts can outlive it.
4. In the program's process: resource limits, drop to the unprivileged uid/gid (root only),
   ``execve`` the interpreter with the given argv and environment.

Exit codes: 125 setup failed (stderr starts with ``r1-sandbox-setup:``), 126/127 the
interpreter could not be executed (``r1-sandbox-exec:``); otherwise the program's own status
(death by a signal is reproduced by killing the launcher with the same signal).
"""

import ctypes
import json
import os
import re
import resource
import signal
import sys

CLONE_NEWNS = 0x00020000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000

MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MS_REMOUNT = 32
MS_NOATIME = 1024
MS_NODIRATIME = 2048
MS_BIND = 4096
MS_REC = 16384
MS_PRIVATE = 1 << 18
MS_RELATIME = 1 << 21
MS_STRICTATIME = 1 << 24

PR_SET_PDEATHSIG = 1

# Per-mount options as mountinfo prints them; a read-only remount must repeat them, because
# in a user namespace the kernel refuses a remount that would clear a locked flag.
_MOUNT_FLAGS = {
    "nosuid": MS_NOSUID,
    "nodev": MS_NODEV,
    "noexec": MS_NOEXEC,
    "noatime": MS_NOATIME,
    "nodiratime": MS_NODIRATIME,
    "relatime": MS_RELATIME,
    "strictatime": MS_STRICTATIME,
}

# Mounts the kernel itself guards from unprivileged writers; failing to remount them
# read-only is not worth refusing to run.
_LENIENT_PREFIXES = ("/proc", "/sys")

_libc = ctypes.CDLL(None, use_errno=True)
_libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]
_libc.unshare.argtypes = [ctypes.c_int]
_libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]


class SetupError(Exception):
    """The sandbox could not be set up as asked; the program must not run."""


def _check(ret, what):
    if ret != 0:
        err = ctypes.get_errno()
        raise SetupError("%s: %s" % (what, os.strerror(err)))


def _mount(source, target, fstype, flags, data=None):
    enc = lambda s: None if s is None else s.encode()  # noqa: E731
    _check(_libc.mount(enc(source), enc(target), enc(fstype), flags, enc(data)), "mount %s" % target)


def _remount_readonly(target, options):
    flags = MS_REMOUNT | MS_BIND | MS_RDONLY  # MS_BIND: per-mount flags only, never the superblock
    for opt in options.split(","):
        flags |= _MOUNT_FLAGS.get(opt, 0)
    _mount(None, target, None, flags)


def _mountinfo():
    """(mount point, per-mount options) of every mount, parents before children."""
    out = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            point = re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), fields[4])  # octal escapes
            out.append((point, fields[5]))
    return out


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


def _isolate_filesystem(cfg):
    """Private tmpfs working directory; everything else read-only (see module docstring)."""
    workdir = os.getcwd()
    _mount(None, "/", None, MS_REC | MS_PRIVATE)
    files = {}
    for name in os.listdir("."):
        if os.path.isfile(name):
            with open(name, "rb") as f:
                files[name] = f.read()
    opts = "size=%dk,nr_inodes=%d,mode=0700" % (cfg["disk_kb"], cfg["max_files"])
    if cfg["uid"] is not None:
        opts += ",uid=%d,gid=%d" % (cfg["uid"], cfg["gid"])
    _mount("tmpfs", workdir, "tmpfs", MS_NOSUID | MS_NODEV, opts)
    os.chdir(workdir)  # the old cwd is the directory underneath the new mount
    for name, data in files.items():
        with open(name, "wb") as f:
            f.write(data)
        if cfg["uid"] is not None:
            os.chown(name, cfg["uid"], cfg["gid"])
    done = set()
    for point, options in reversed(_mountinfo()):  # of stacked mounts, the last is the one a path reaches
        if point == workdir or point in done:
            continue
        done.add(point)
        try:
            _remount_readonly(point, options)
        except SetupError:
            if not point.startswith(_LENIENT_PREFIXES):
                raise


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
        _check(_libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0), "prctl")
        if cfg["mount"]:
            try:  # a /proc that shows only this namespace's processes
                _mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RDONLY)
            except SetupError:
                pass
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
        _enter_namespaces(cfg)
        if cfg["mount"]:
            _isolate_filesystem(cfg)
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
