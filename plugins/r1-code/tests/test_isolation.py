"""What a hostile program must not reach from the sandbox, as root and as an unprivileged user.

Each attack runs once without the sandbox, as the same unprivileged user, to show it would
succeed there (so each check can fail), then in the sandbox, where it must be denied:
reading a planted ``~/.ssh/id_rsa`` and ``~/.netrc``, reading the bundled reference
solutions, connecting to a world-writable and to a group-only unix socket on disk (laid out
like ``/var/run/docker.sock``, the user being in its group), listing ``/tmp`` (the host's
files, the other sandboxes), and creating namespaces, chroot or mounts of its own.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

import r1_code
from r1_code import data

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="the sandbox is Linux only")

SRC = Path(r1_code.__file__).resolve().parents[1]
SYSTEM_PYTHON = "/usr/bin/python3"
TIMEOUT_S = 120

# Runs programs in the sandbox in a process of its own (so that it can run as another user)
# and prints what became of them as JSON.
DRIVER = """
import json, sys
from dataclasses import asdict
from r1_code.sandbox import capabilities, run_programs
programs = json.loads(sys.stdin.read())
results = run_programs(programs, timeout_s=30, max_workers=len(programs))
print(json.dumps({"caps": asdict(capabilities()), "results": [[r.status, r.stdout, r.stderr] for r in results]}))
"""

ATTACK = """
import ctypes, json, os, socket, time
targets = json.loads(TARGETS)
time.sleep(targets["wait_s"])  # the neighbour sandbox has written its secret by now
out = {"cwd": os.getcwd()}
def attempt(name, action):
    try:
        action()
        out[name] = "done"
    except BaseException as e:
        out[name] = "denied: %s" % type(e).__name__
def read(path):
    with open(path, "rb") as f:
        f.read(1)
def connect(path):
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(2)
    s.connect(path)
    s.close()
libc = ctypes.CDLL(None, use_errno=True)
def ok(ret):
    if ret != 0:
        raise OSError(ctypes.get_errno(), "failed")
for p in targets["files"]:
    attempt("read " + p, lambda p=p: read(p))
for p in targets["sockets"]:
    attempt("connect " + p, lambda p=p: connect(p))
attempt("unshare a user namespace", lambda: ok(libc.unshare(0x10000000)))
attempt("chroot", lambda: os.chroot("/"))
attempt("mount", lambda: ok(libc.mount(b"tmpfs", os.getcwd().encode(), b"tmpfs", 0, None)))
out["tmp"] = sorted(os.listdir("/tmp"))
print("RESULT " + json.dumps(out))
"""

NEIGHBOUR = "import os, time\nopen('secret.txt', 'w').write('neighbour secret')\nprint(os.getcwd())\ntime.sleep(6)\n"


@dataclass
class Identity:
    """Who runs r1: the command prefix that runs a Python as them, and what is planted for them."""

    name: str
    command: list[str]
    env: dict[str, str]
    files: list[str] = field(default_factory=list)
    sockets: list[str] = field(default_factory=list)
    marker: str = ""


def _run(identity: Identity, args: list[str], stdin: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*identity.command, *args], input=stdin, capture_output=True, text=True,
        env=identity.env, timeout=TIMEOUT_S, cwd="/",
    )


def _listen(path: Path, mode: int, gid: int | None = None) -> socket.socket:
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(path))
    server.listen(8)
    if gid is not None:
        os.chown(path, -1, gid)
    os.chmod(path, mode)
    return server


def _plant(home: Path, uid: int, gid: int) -> list[str]:
    """A private key and a netrc, world-readable (a careless user), owned by the user."""
    ssh = home / ".ssh"
    ssh.mkdir(mode=0o755, parents=True, exist_ok=True)
    files = [ssh / "id_rsa", home / ".netrc"]
    files[0].write_text("-----BEGIN OPENSSH PRIVATE KEY-----\nplanted\n")
    files[1].write_text("machine api.wandb.ai login user password planted-token\n")
    for path in (home, ssh, *files):
        os.chown(path, uid, gid)
        os.chmod(path, 0o755 if path.is_dir() else 0o644)
    return [str(f) for f in files]


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    """An unprivileged user with planted secrets and two listening sockets; cleaned up after.

    As root: a new user (``useradd``) in a new group that owns the group-only socket, run
    through ``setpriv --init-groups``. Otherwise: the current user, with a scratch
    directory in its home.
    """
    tag = secrets.token_hex(4)
    cleanup = []
    listeners = []
    marker = Path("/tmp") / f"r1-sbx-marker-{tag}"
    marker.write_text("host /tmp")
    marker.chmod(0o644)
    try:
        if os.geteuid() == 0:
            if not (shutil.which("useradd") and shutil.which("groupadd") and shutil.which("setpriv")
                    and os.access(SYSTEM_PYTHON, os.X_OK)):
                pytest.skip("running as an unprivileged user needs useradd, groupadd, setpriv and /usr/bin/python3")
            user, group = f"r1sbx{tag}", f"r1sbxg{tag}"
            subprocess.run(["groupadd", group], check=True, timeout=60)
            cleanup.append(["groupdel", group])
            home = Path("/home") / user
            subprocess.run(["useradd", "--create-home", "--home-dir", str(home), "--groups", group,
                            "--shell", "/usr/sbin/nologin", user], check=True, timeout=60)
            cleanup.insert(0, ["userdel", "--remove", user])
            uid, gid = int(_id(["-u", user])), int(_id(["-g", user]))
            group_gid = int(subprocess.run(["getent", "group", group], capture_output=True, text=True,
                                           timeout=60, check=True).stdout.split(":")[2])
            command = ["setpriv", f"--reuid={uid}", f"--regid={gid}", "--init-groups", SYSTEM_PYTHON]
            env = {"PATH": "/usr/bin:/bin", "HOME": str(home), "PYTHONPATH": str(SRC)}
            sock_dir = Path("/run") / f"r1sbx{tag}"
        else:
            uid, gid = os.getuid(), os.getgid()
            group_gid = gid
            home = Path.home() / f".r1-sbx-{tag}"
            cleanup.append(["rm", "-rf", str(home)])
            command = [sys.executable]
            env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(Path.home())}
            sock_dir = tmp_path_factory.mktemp("run")
        files = _plant(home, uid, gid)
        sock_dir.mkdir(mode=0o755, exist_ok=True)
        cleanup.append(["rm", "-rf", str(sock_dir)])
        world = Path("/tmp") / f"r1-sbx-{tag}.sock"
        cleanup.append(["rm", "-f", str(world)])
        listeners.append(_listen(world, 0o777))
        listeners.append(_listen(sock_dir / "docker.sock", 0o660, group_gid))
        answer_key = [str(data.MBPP_FILE.resolve()), str(data.HUMANEVAL_FILE.resolve())]
        identity = Identity("unprivileged", command, env, files + answer_key,
                            [str(world), str(sock_dir / "docker.sock")], marker.name)
        probe = _run(identity, ["-c", "import r1_code.sandbox"], "")
        if probe.returncode != 0:
            pytest.skip(f"the unprivileged user cannot import r1_code from {SRC}: {probe.stderr.strip()[-200:]}")
        yield identity
    finally:
        for s in listeners:
            s.close()
        marker.unlink(missing_ok=True)
        for cmd in cleanup:
            subprocess.run(cmd, timeout=60, check=False, capture_output=True)


def _id(args: list[str]) -> str:
    return subprocess.run(["id", *args], capture_output=True, text=True, timeout=60, check=True).stdout.strip()


def _attack_program(identity: Identity, wait_s: float) -> str:
    targets = {"files": identity.files, "sockets": identity.sockets, "wait_s": wait_s}
    return f"TARGETS = {json.dumps(json.dumps(targets))}\n" + ATTACK


def _report(stdout: str) -> dict:
    lines = [line for line in stdout.splitlines() if line.startswith("RESULT ")]
    assert lines, stdout
    return json.loads(lines[-1][len("RESULT "):])


def _in_sandbox(identity: Identity) -> tuple[dict, dict]:
    """Runs the attack next to a neighbour sandbox; returns (capabilities, attack report)."""
    programs = [NEIGHBOUR, _attack_program(identity, wait_s=2.0)]
    proc = _run(identity, ["-c", DRIVER], json.dumps(programs))
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    (n_status, _, n_err), (status, stdout, stderr) = out["results"]
    assert n_status == "ok", n_err
    assert status == "ok", stderr
    return out["caps"], _report(stdout)


def _assert_all_denied(identity: Identity, caps: dict, report: dict) -> None:
    if not caps["mount"]:
        pytest.skip(f"no mount namespace for {identity.name} here: {caps['warnings']}")
    for target in identity.files:
        assert report["read " + target].startswith("denied"), (target, report)
    for target in identity.sockets:
        assert report["connect " + target].startswith("denied"), (target, report)
    own = os.path.basename(report["cwd"])
    assert report["tmp"] == [own], report["tmp"]  # no host files, no other sandbox
    if caps["seccomp"]:
        for what in ("unshare a user namespace", "chroot", "mount"):
            assert report[what].startswith("denied"), (what, report)


def test_attacks_work_without_the_sandbox(planted):
    """The control: as the same user, outside the sandbox, every target is reachable."""
    proc = _run(planted, ["-c", _attack_program(planted, wait_s=0)], "")
    assert proc.returncode == 0, proc.stderr
    report = _report(proc.stdout)
    for target in planted.files:
        assert report["read " + target] == "done", (target, report)
    for target in planted.sockets:
        assert report["connect " + target] == "done", (target, report)
    assert planted.marker in report["tmp"]


def test_attacks_fail_in_the_sandbox_as_an_unprivileged_user(planted):
    caps, report = _in_sandbox(planted)
    assert not caps["root"]
    _assert_all_denied(planted, caps, report)


def test_attacks_fail_in_the_sandbox_as_root(planted):
    if os.geteuid() != 0:
        pytest.skip("needs root")
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": str(SRC)}
    root = Identity("root", [sys.executable], env,
                    planted.files, planted.sockets, planted.marker)
    caps, report = _in_sandbox(root)
    assert caps["root"]
    _assert_all_denied(root, caps, report)
