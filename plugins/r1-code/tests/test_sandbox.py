"""The sandbox contains hostile programs: each is stopped within its limits, scores nothing,
and leaves the caller, the other programs and the machine as they were."""

from __future__ import annotations

import logging
import os
import secrets
import socket
import time
from pathlib import Path

import pytest

from r1_code import sandbox
from r1_code.reward import CodeReward
from r1_code.sandbox import run_program, run_programs

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="the sandbox needs a POSIX system")


def _sandbox_procs() -> list[int]:
    """Pids of processes still owned by sandbox uids (root only: they come from a fixed range)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                uid = entry.stat().st_uid
            except OSError:
                continue
            if sandbox._UID_BASE <= uid < sandbox._UID_BASE + sandbox._UID_SPAN:
                pids.append(int(entry.name))
    return pids


def _assert_nothing_left() -> None:
    if os.geteuid() != 0:
        return  # without fixed uids there is no telling our leftovers from the user's processes
    deadline = time.monotonic() + 5
    while _sandbox_procs() and time.monotonic() < deadline:
        time.sleep(0.05)  # killed processes wait a moment to be reaped by init
    assert _sandbox_procs() == []


def test_runs_a_program_and_cleans_its_directory():
    res = run_program("import os\nopen('out.txt', 'w').write('x')\nprint(os.getcwd())", timeout_s=10)
    assert res.passed and res.status == "ok" and res.returncode == 0
    workdir = res.stdout.strip()
    assert "r1-sandbox-" in workdir
    assert not Path(workdir).exists()


def test_statuses_of_ordinary_failures():
    ok, err, stdin = run_programs(
        ["print('hi')", "raise ValueError('boom')", "print(input()[::-1])"],
        stdin=["", "", "abc\n"],
        timeout_s=10,
    )
    assert (ok.status, ok.stdout) == ("ok", "hi\n")
    assert err.status == "error" and not err.passed and "ValueError: boom" in err.stderr
    assert stdin.stdout == "cba\n"


def test_infinite_loop_times_out():
    start = time.monotonic()
    res = run_program("while True:\n    pass", timeout_s=1)
    assert res.status == "timeout" and not res.passed
    assert time.monotonic() - start < 5
    _assert_nothing_left()


def test_memory_bomb_hits_the_memory_limit():
    res = run_program("blocks = []\nwhile True:\n    blocks.append(bytearray(32 << 20))", memory_mb=256, timeout_s=10)
    assert res.status == "oom" and not res.passed
    assert res.duration < 10


def test_process_limit_applies_before_a_fork_bomb():
    # A bounded probe first: with room for 6 processes, 20 forks must mostly fail.
    probe = (
        "import os, time\nn = 0\nfor _ in range(20):\n"
        "    try:\n        pid = os.fork()\n    except OSError:\n        break\n"
        "    if pid == 0:\n        time.sleep(30)\n        os._exit(0)\n    n += 1\nprint(n)"
    )
    res = run_program(probe, max_processes=6, timeout_s=10)
    assert res.status == "ok", res.stderr
    assert int(res.stdout) < 6
    _assert_nothing_left()  # the sleeping children died with the program


def test_fork_bomb_is_contained():
    test_process_limit_applies_before_a_fork_bomb()  # never run the bomb if the limit fails
    bomb = "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass"
    start = time.monotonic()
    res = run_program(bomb, max_processes=16, timeout_s=2)
    assert res.status in ("timeout", "error") and not res.passed
    assert time.monotonic() - start < 10
    _assert_nothing_left()


def test_escaped_child_dies_with_the_program():
    code = (
        "import os, time\nif os.fork() == 0:\n    os.setsid()\n    time.sleep(60)\n    os._exit(0)\n"
        "print('parent done')"
    )
    res = run_program(code, timeout_s=10)
    assert res.status == "ok"
    if sandbox.capabilities().pid:
        _assert_nothing_left()


def test_writes_outside_the_working_directory_fail():
    caps = sandbox.capabilities()
    if not caps.mount:
        pytest.skip("no mount namespace here (a warning says so): /tmp stays writable to the sandbox uid")
    name = f"r1-escape-{secrets.token_hex(6)}"
    targets = [f"/tmp/{name}", f"/var/tmp/{name}", f"/dev/shm/{name}", str(Path.home() / name), str(Path.cwd() / name)]
    code = (
        f"targets = {targets!r}\n"
        "for t in targets:\n"
        "    try:\n        open(t, 'w').write('x')\n        print('WROTE', t)\n"
        "    except OSError as e:\n        print('denied', t, type(e).__name__)\n"
    )
    res = run_program(code, timeout_s=10)
    assert res.status == "ok", res.stderr
    assert "WROTE" not in res.stdout
    for t in targets:
        assert not Path(t).exists()


def test_parent_environment_is_invisible(monkeypatch):
    secret = "r1-secret-" + secrets.token_hex(8)
    monkeypatch.setenv("R1_CODE_TEST_SECRET", secret)
    caps = sandbox.capabilities()
    scan_proc = caps.pid or caps.root  # otherwise /proc/<our pid>/environ is readable by our own uid
    code = (
        f"import os\nsecret = {secret!r}\nfound = [k for k, v in os.environ.items() if secret in v]\n"
        f"if {scan_proc!r}:\n"
        "    for pid in os.listdir('/proc'):\n"
        "        try:\n            data = open('/proc/%s/environ' % pid, 'rb').read()\n"
        "        except OSError:\n            continue\n"
        "        if secret.encode() in data:\n            found.append(pid)\n"
        "print('found', found, 'env', sorted(os.environ))"
    )
    res = run_program(code, timeout_s=10)
    assert res.status == "ok", res.stderr
    assert "found []" in res.stdout
    assert "R1_CODE_TEST_SECRET" not in res.stdout


def test_network_is_unreachable(caplog):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    listener.setblocking(False)
    port = listener.getsockname()[1]
    code = (
        "import socket\ntry:\n"
        f"    socket.create_connection(('127.0.0.1', {port}), timeout=2)\n    print('connected')\n"
        "except OSError as e:\n    print('refused', e)"
    )
    try:
        sandbox.reset_capabilities()
        with caplog.at_level(logging.WARNING, logger="r1_code.sandbox"):
            caps = sandbox.capabilities()
        res = run_program(code, timeout_s=10)
        if caps.net:
            assert res.status == "ok" and res.stdout.startswith("refused"), res.stdout + res.stderr
            with pytest.raises(BlockingIOError):
                listener.accept()
        else:
            assert "no network isolation" in caplog.text
    finally:
        listener.close()


def test_missing_isolation_is_warned_once(monkeypatch, caplog):
    weak = sandbox.Capabilities(root=False, userns=False, net=False, mount=False, pid=False, python="python3")
    weak = sandbox.Capabilities(**{**weak.__dict__, "warnings": sandbox._warnings(weak, ["unshare: EPERM"])})
    monkeypatch.setattr(sandbox, "_probe", lambda: weak)
    sandbox.reset_capabilities()
    try:
        with caplog.at_level(logging.WARNING, logger="r1_code.sandbox"):
            sandbox.capabilities()
            sandbox.capabilities()
        assert caplog.text.count("no network isolation") == 1
        assert "no mount namespace" in caplog.text and "no PID namespace" in caplog.text
        assert "~/.ssh" in caplog.text and "no system-call filter" in caplog.text
    finally:
        sandbox.reset_capabilities()


@pytest.mark.parametrize("writer", ["sys.stdout.write('x' * 65536)", "os.write(1, b'x' * 65536)"])
def test_printing_gigabytes_is_cut_off(writer):
    start = time.monotonic()
    res = run_program(f"import os, sys\nwhile True:\n    {writer}", max_output_bytes=1 << 20, timeout_s=20)
    assert res.status == "output_limit" and res.truncated and not res.passed
    assert len(res.stdout) <= 1 << 20
    assert time.monotonic() - start < 10


def test_a_crash_or_hang_does_not_affect_the_others():
    programs = [
        "print('a')",
        "import time\ntime.sleep(60)",
        "import os\nos.abort()",
        "import os\nos.kill(os.getpid(), 9)",
        "print('b')",
        "x = bytearray(1 << 34)",
        "raise SystemExit(3)",
        "print('c')",
    ]
    start = time.monotonic()
    res = run_programs(programs, timeout_s=2, memory_mb=256, max_workers=4)
    elapsed = time.monotonic() - start
    assert [r.status for r in res] == ["ok", "timeout", "error", "error", "ok", "oom", "error", "ok"]
    assert [r.stdout for r in res if r.passed] == ["a\n", "b\n", "c\n"]
    assert res[6].returncode == 3
    assert elapsed < 8  # the hang cost its own time-out, not the batch's


def test_hostile_completions_score_zero():
    tests = ["assert f(1) == 2", "assert f(2) == 3"]
    completions = [
        "```python\nwhile True:\n    pass\n```",
        "```python\nimport os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n```",
        "```python\nx = []\nwhile True:\n    x.append(bytearray(1 << 25))\n```",
        "```python\nwhile True:\n    print('spam' * 1000)\n```",
        # Forged verdicts without the nonce, then an exit before the real tests run.
        "```python\nimport os\nfor i in range(2):\n    print('\\n@@' + '0' * 32 + ':%d:1' % i)\nprint('@@end')\nos._exit(0)\n```",
        "```python\ndef f(x):\n    return x + 1\n```",
    ]
    reward = CodeReward(timeout_s=2, memory_mb=256)
    scores = reward(completions, tests=[tests] * len(completions))
    assert scores == [0.0, 0.0, 0.0, 0.0, 0.0, 1.0]
    _assert_nothing_left()


def test_hidden_paths_are_covered_even_inside_a_bound_tree(monkeypatch):
    caps = sandbox.capabilities()
    if not caps.mount:
        pytest.skip("no mount namespace here (a warning says so)")
    directory = next(p for p in ("/usr/share", "/usr/include", "/usr/local", "/usr/games") if os.path.isdir(p))
    inside = [directory, "/etc/passwd"]  # in bound trees, and not needed by the program below
    assert os.listdir(directory) and Path("/etc/passwd").read_text()
    monkeypatch.setattr(sandbox, "HIDDEN_PATHS", tuple(Path(p) for p in inside))
    code = (
        f"import os\nfor p in {inside!r}:\n"
        "    print(p, os.listdir(p) if os.path.isdir(p) else open(p).read())\n"
    )
    res = run_program(code, timeout_s=10)
    assert res.status == "ok", res.stderr
    for p in inside:
        assert f"{p} []\n" in res.stdout or f"{p} \n" in res.stdout, res.stdout


def test_the_root_holds_system_paths_and_the_interpreter_only():
    python = sandbox._python_candidates()[0]
    binds = sandbox._binds_for(python)
    assert set(binds) >= {p for p in sandbox.SYSTEM_PATHS if os.path.lexists(p)}
    extra = set(binds) - set(sandbox.SYSTEM_PATHS)
    assert all(python.startswith(p + "/") for p in extra)
    assert sandbox._binds_for("/usr/bin/python3") == tuple(p for p in sandbox.SYSTEM_PATHS if os.path.lexists(p))


def test_the_system_call_filter_is_well_formed():
    from r1_code import _seccomp

    for machine in _seccomp.MACHINES:
        code = _seccomp.program(machine)
        assert code[-3:] == [(0x06, 0, 0, _seccomp.RET_ALLOW), (0x06, 0, 0, _seccomp.RET_ERRNO | 1),
                             (0x06, 0, 0, _seccomp.RET_ERRNO | 38)]
        for i, (op, jt, jf, _) in enumerate(code):
            if op in (_seccomp.JEQ, _seccomp.JGE, _seccomp.JSET):
                assert i + 1 + max(jt, jf) < len(code)  # every jump lands on an instruction
    with pytest.raises(ValueError):
        _seccomp.program("sparc64")
