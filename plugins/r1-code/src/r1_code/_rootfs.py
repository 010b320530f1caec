"""The file system a sandboxed program sees; used by ``_launcher.py``, never by r1-code itself.

Why an allow-list rather than hiding what is known to be secret: a program must not read
the caller's home (``~/.ssh``, ``~/.netrc``, tokens), other users' files, other sandboxes'
working directories, unix sockets on disk (``/run/docker.sock`` and the like: a path is
all it takes to connect) or the plugin's bundled reference solutions, and a list of what
to hide is never complete. So each program gets a fresh root holding only:

- ``/usr``, ``/etc`` and the top-level ``/bin``, ``/sbin``, ``/lib*`` (copied as the symlinks
  they usually are), bound read-only from the host;
- the interpreter's own prefix when it lives elsewhere (pyenv, conda, a home directory);
- ``/dev`` with ``null``, ``zero``, ``full``, ``random`` and ``urandom`` only;
- ``/proc`` of its own PID namespace;
- an empty ``/tmp``;
- its working directory, a size-limited tmpfs at the same path as on the host (its files
  copied in): the only place it can write;
- an empty read-only tmpfs over every hidden path (the reference solutions) that a bound
  tree happens to contain.

Build and entry are split because ``/proc`` must be mounted by a process inside the new
PID namespace, and before the old root goes away (a user namespace may only mount a proc
while a full one is visible): the launcher calls :func:`prepare`, the namespace's init
calls :func:`enter`, which mounts ``/proc``, ``pivot_root``\\ s into the new root, detaches
the old one and makes every mount read-only but the working directory. Read-only remounts
carry ``MS_BIND`` (per-mount flags only: without it a remount would change the
*superblock*, the host's own file system) and repeat the flags the kernel locked.
"""

import ctypes
import os
import platform
import re

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
MNT_DETACH = 2

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

DEVICES = ("null", "zero", "full", "random", "urandom")
DEVICE_LINKS = {"fd": "/proc/self/fd", "stdin": "/proc/self/fd/0", "stdout": "/proc/self/fd/1", "stderr": "/proc/self/fd/2"}
PIVOT_ROOT = {"x86_64": 155, "aarch64": 41, "riscv64": 41}  # syscall numbers; glibc has no wrapper
ROOT_TMPFS = "size=1m,nr_inodes=4096,mode=0755"

_libc = ctypes.CDLL(None, use_errno=True)
_libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]
_libc.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]


class SetupError(Exception):
    """The sandbox could not be set up as asked; the program must not run."""


def _check(ret, what):
    if ret != 0:
        raise SetupError("%s: %s" % (what, os.strerror(ctypes.get_errno())))


def mount(source, target, fstype, flags, data=None):
    enc = lambda s: None if s is None else s.encode()  # noqa: E731
    _check(_libc.mount(enc(source), enc(target), enc(fstype), flags, enc(data)), "mount %s" % target)


def _remount_readonly(target, options):
    flags = MS_REMOUNT | MS_BIND | MS_RDONLY  # MS_BIND: per-mount flags only, never the superblock
    for opt in options.split(","):
        flags |= _MOUNT_FLAGS.get(opt, 0)
    mount(None, target, None, flags)


def _mountinfo():
    """(mount point, per-mount options) of every mount, parents before children."""
    out = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            point = re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), fields[4])  # octal escapes
            out.append((point, fields[5]))
    return out


def _bind(source, target, recursive=True):
    mount(source, target, None, MS_BIND | (MS_REC if recursive else 0))


def _place(root, path):
    """``path`` copied into the new root: a symlink as a symlink, a directory bound."""
    if os.path.islink(path):
        os.makedirs(root + os.path.dirname(path), mode=0o755, exist_ok=True)
        os.symlink(os.readlink(path), root + path)
    elif os.path.isdir(path):
        os.makedirs(root + path, mode=0o755, exist_ok=True)
        _bind(path, root + path)


def _make_dev(root):
    os.mkdir(root + "/dev", 0o755)
    for name in DEVICES:
        target = root + "/dev/" + name
        open(target, "w").close()
        _bind("/dev/" + name, target, recursive=False)
    for name, link in DEVICE_LINKS.items():
        os.symlink(link, root + "/dev/" + name)


def _hide(root, path):
    target = root + path
    if os.path.isdir(target) and not os.path.islink(target):
        mount("tmpfs", target, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=4k,nr_inodes=1,mode=0555")
    elif os.path.lexists(target):
        _bind("/dev/null", target, recursive=False)


def prepare(cfg, files):
    """Builds the new root on the working directory, whose host directory only serves as
    the mount point; ``files`` ({name: bytes}) go into the program's tmpfs at the same path
    inside. Runs in the new mount namespace, before the init is forked."""
    workdir = cfg["workdir"]
    os.umask(0o022)
    mount(None, "/", None, MS_REC | MS_PRIVATE)  # nothing propagates back to the host
    root = workdir
    mount("tmpfs", root, "tmpfs", MS_NOSUID | MS_NODEV, ROOT_TMPFS)
    for path in cfg["binds"]:
        _place(root, path)
    _make_dev(root)
    os.mkdir(root + "/proc", 0o555)
    os.makedirs(root + "/tmp", mode=0o755, exist_ok=True)
    inner = root + workdir
    os.makedirs(inner, mode=0o755, exist_ok=True)
    opts = "size=%dk,nr_inodes=%d,mode=0700" % (cfg["disk_kb"], cfg["max_files"])
    if cfg["uid"] is not None:
        opts += ",uid=%d,gid=%d" % (cfg["uid"], cfg["gid"])
    mount("tmpfs", inner, "tmpfs", MS_NOSUID | MS_NODEV, opts)
    for name, data in files.items():
        with open(os.path.join(inner, name), "wb") as f:
            f.write(data)
        if cfg["uid"] is not None:
            os.chown(os.path.join(inner, name), cfg["uid"], cfg["gid"])
    for path in cfg["hide"]:
        _hide(root, path)


def enter(cfg):
    """Moves this process (the PID namespace's init) and its mount namespace into the root
    :func:`prepare` built, with a fresh ``/proc``; every mount read-only but the working
    directory. The working directory becomes the cwd."""
    workdir = cfg["workdir"]
    mount("proc", workdir + "/proc", "proc", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC)
    number = PIVOT_ROOT.get(platform.machine())
    if number is None:
        raise SetupError("pivot_root: no system-call number for %s" % platform.machine())
    os.chdir(workdir)
    _check(_libc.syscall(number, b".", b"."), "pivot_root")
    _check(_libc.umount2(b".", MNT_DETACH), "umount old root")
    os.chdir("/")
    keep = {workdir, "/proc"} | {"/dev/" + name for name in DEVICES}  # writable, or read-only already
    done = set()
    for point, options in reversed(_mountinfo()):  # of stacked mounts, the last is the one a path reaches
        if point in keep or point in done:
            continue
        done.add(point)
        _remount_readonly(point, options)
    os.chdir(workdir)
