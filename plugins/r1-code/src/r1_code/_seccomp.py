"""A system-call filter for sandboxed programs; loaded by ``_launcher.py``, never by r1-code itself.

Why: without it a program can create user namespaces of its own, and inside one it holds
every capability: it may ``mount``, ``chroot``, ``pivot_root`` and reach kernel code that
is otherwise root-only, which is where most local kernel exploits start. The mount view
already hides what matters (see ``_rootfs.py``) and mounts inherited from the sandbox are
locked, so this is a second wall: it removes the attack surface rather than the data.

Denied with ``EPERM``: ``unshare``, ``setns``, ``clone`` with any ``CLONE_NEW*`` flag,
``mount``/``umount2``/``pivot_root``/``chroot`` and the new mount API (``open_tree``,
``move_mount``, ``fsopen``, ``fsconfig``, ``fsmount``, ``fspick``, ``mount_setattr``),
``ptrace`` and ``process_vm_readv``/``writev`` (reading or writing another process),
``bpf``, ``perf_event_open``, ``userfaultfd``, ``io_uring_*``, and the kernel keyring calls.
``clone3`` answers ``ENOSYS``, its flags being out of a filter's reach in memory, so that
the C library falls back to ``clone``, whose flags are checked. System calls of a foreign
ABI (32-bit calls on x86-64, the x32 ABI) are denied too, as their numbers differ.
Everything else, ``fork``, threads and ``execve`` included, is allowed. ``no_new_privs``
is set first (the kernel requires it of an unprivileged process, and it also keeps a
set-uid binary from gaining privileges).

Why no library: libseccomp's bindings are Debian's ``python3-seccomp`` (system Python
only) or ``pyseccomp`` (a ctypes wrapper needing ``libseccomp.so``, last released in 2021);
the launcher runs with ``python -I -S`` and must not depend on either, and the whole filter
is some 35 classic BPF instructions. Machines other than x86-64 and aarch64 get no filter
(the sandbox warns).
"""

import ctypes
import errno
import platform
import sys

PR_SET_NO_NEW_PRIVS = 38
PR_SET_SECCOMP = 22
SECCOMP_MODE_FILTER = 2

RET_ALLOW = 0x7FFF0000
RET_ERRNO = 0x00050000

# Classic BPF opcodes: load a 32-bit word of seccomp_data, compare, return.
LD_ABS = 0x20
JEQ = 0x15
JGE = 0x35
JSET = 0x45
RET = 0x06

CLONE_NEW_FLAGS = 0x7E020000  # NEWNS | NEWCGROUP | NEWUTS | NEWIPC | NEWUSER | NEWPID | NEWNET
X32_SYSCALL_BIT = 0x40000000

_COMMON = {  # numbers shared by x86-64 and the generic table
    "io_uring_setup": 425, "io_uring_enter": 426, "io_uring_register": 427,
    "open_tree": 428, "move_mount": 429, "fsopen": 430, "fsconfig": 431,
    "fsmount": 432, "fspick": 433, "mount_setattr": 442,
}
MACHINES = {
    "x86_64": {
        "audit_arch": 0xC000003E,
        "clone": 56,
        "clone3": 435,
        "denied": dict(_COMMON, unshare=272, setns=308, mount=165, umount2=166, pivot_root=155,
                       chroot=161, ptrace=101, process_vm_readv=310, process_vm_writev=311, bpf=321,
                       perf_event_open=298, userfaultfd=323, keyctl=250, add_key=248, request_key=249),
    },
    "aarch64": {
        "audit_arch": 0xC00000B7,
        "clone": 220,
        "clone3": 435,
        "denied": dict(_COMMON, unshare=97, setns=268, mount=40, umount2=39, pivot_root=41,
                       chroot=51, ptrace=117, process_vm_readv=270, process_vm_writev=271, bpf=280,
                       perf_event_open=241, userfaultfd=282, keyctl=219, add_key=217, request_key=218),
    },
}


class _Instruction(ctypes.Structure):
    _fields_ = [("code", ctypes.c_ushort), ("jt", ctypes.c_ubyte), ("jf", ctypes.c_ubyte), ("k", ctypes.c_uint)]


class _Program(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.POINTER(_Instruction))]


def program(machine):
    """The filter for ``machine`` as (code, jt, jf, k) tuples; ``ValueError`` if unknown."""
    if machine not in MACHINES:
        raise ValueError("no system-call table for %s" % machine)
    table = MACHINES[machine]
    denied = sorted(table["denied"].values())
    args0 = 16 if sys.byteorder == "little" else 20  # low word of seccomp_data.args[0]
    # Layout: checks, then the three returns at the end; jumps count forward from the next one.
    body = [("ld", 4), ("arch", table["audit_arch"]), ("ld", 0)]
    if machine == "x86_64":
        body.append(("jge_deny", X32_SYSCALL_BIT))
    body += [("jeq_deny", nr) for nr in denied]
    body += [("jeq_enosys", table["clone3"]), ("jne_allow", table["clone"]), ("ld", args0), ("jset_deny", CLONE_NEW_FLAGS)]
    allow = len(body)
    deny, enosys = allow + 1, allow + 2
    out = []
    for i, (op, k) in enumerate(body):
        after = i + 1
        if op == "ld":
            out.append((LD_ABS, 0, 0, k))
        elif op == "arch":  # foreign ABI: deny
            out.append((JEQ, 0, deny - after, k))
        elif op == "jge_deny":
            out.append((JGE, deny - after, 0, k))
        elif op == "jeq_deny":
            out.append((JEQ, deny - after, 0, k))
        elif op == "jeq_enosys":
            out.append((JEQ, enosys - after, 0, k))
        elif op == "jne_allow":
            out.append((JEQ, 0, allow - after, k))
        elif op == "jset_deny":
            out.append((JSET, deny - after, 0, k))
    out += [(RET, 0, 0, RET_ALLOW), (RET, 0, 0, RET_ERRNO | errno.EPERM), (RET, 0, 0, RET_ERRNO | errno.ENOSYS)]
    return out


def install():
    """Sets ``no_new_privs`` and loads the filter into this process (inherited by its
    children and kept across ``execve``); raises ``OSError``/``ValueError`` if it cannot."""
    code = program(platform.machine())
    libc = ctypes.CDLL(None, use_errno=True)
    prctl = libc.prctl
    prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
    if prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS)")
    filters = (_Instruction * len(code))(*[_Instruction(*ins) for ins in code])
    prog = _Program(len(code), filters)
    if prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.addressof(prog), 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_SECCOMP)")
