"""Shared test set-up: hermetic plugin loading and small helpers."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

# Tests see r1's built-in plugins only, unless a test asks for entry-point plugins explicitly.
os.environ.setdefault("R1_DISABLE_PLUGIN_AUTOLOAD", "1")
os.environ.setdefault("WANDB_MODE", "offline")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

REPO_ROOT = Path(__file__).resolve().parents[1]


def load_tool(name: str):
    """``tools/<name>.py`` as a module (tools/ is no package), for tests of a tool's own functions."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(name, REPO_ROOT / "tools" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_cli(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    """Run ``python -m <args>`` as a user would, capturing its output."""
    return subprocess.run(
        [sys.executable, "-m", *args],
        capture_output=True,
        text=True,
        cwd=cwd or REPO_ROOT,
        env={**os.environ, **(env or {})},
        timeout=timeout,
    )


def one_error_line(result: subprocess.CompletedProcess) -> str:
    """The single ``r1: error: ...`` line a user mistake must end in (exit 2, no traceback)."""
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode == 2, result.stderr
    assert len(lines) == 1 and lines[0].startswith("r1: error: "), result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    return lines[0]


@pytest.fixture
def cli():
    return run_cli


@pytest.fixture
def cli_in_process(capfd, monkeypatch, tmp_path):
    """``python -m r1.run <args>`` run by this process: its exit status and output, as :func:`run_cli` returns them.

    A fresh interpreter spends seconds importing torch, Lightning and transformers before
    r1 does anything; here the command's own entry (``r1.run.main``) runs in the test's
    process. A few tests keep a real process (:func:`run_cli`): for the interpreter's own
    start and exit, a run that must be killed, DDP, and W&B (whose service and telemetry
    outlive a run), so tests that use this one choose ``logger=csv`` or ``logger=none``.

    Runs write under ``tmp_path`` unless ``paths.output_root`` is given, from the
    repository root as :func:`run_cli` does. Each run starts as a fresh process would
    (the verifier's time budget, cached from ``R1_MATH_TIMEOUT``, is read again) and ends
    as one does (its folder locks released, an active W&B run finished). When the test
    ends, what runs changed for the whole process is put back: ``sys.argv``, the working
    directory, environment variables (``env``, Lightning's ``PL_GLOBAL_SEED``), r1's
    runtime settings and the logging handlers Hydra installs. An exception that escapes
    ``main`` (a traceback for a user) fails the test with it.
    """
    import logging

    from r1 import runtime
    from r1.math import default_timeout
    from r1.phases import common
    from r1.run import main

    monkeypatch.setattr(sys, "argv", list(sys.argv))  # main() rewrites it for Hydra
    monkeypatch.setattr(runtime, "_settings", runtime._settings)  # run() applies the config's runtime node
    monkeypatch.chdir(REPO_ROOT)
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    environment = dict(os.environ)

    def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
        os.environ.update(env or {})
        if not any(arg.startswith("paths.output_root=") for arg in args):
            args = (*args, f"paths.output_root={tmp_path}")
        capfd.readouterr()
        default_timeout.cache_clear()
        locked = set(common._held)
        try:
            main(list(args))
            code = 0
        except SystemExit as exit_info:
            code = 0 if exit_info.code is None else exit_info.code
        finally:
            for folder in set(common._held) - locked:
                common.release_folder(folder)
            common.finish_logging()
        out, err = capfd.readouterr()
        return subprocess.CompletedProcess(["r1.run", *args], code, out, err)

    yield run
    for name in set(os.environ) - set(environment):
        del os.environ[name]
    os.environ.update(environment)
    default_timeout.cache_clear()  # a budget read under this test's environment
    for handler in root.handlers:
        if handler not in handlers:
            handler.close()
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.fixture
def cli_error(cli_in_process):
    """The one ``r1: error:`` line ``python -m r1.run <args>``, run in this process, ends in (exit 2, no traceback)."""

    def run(*args: str, env: dict[str, str] | None = None) -> str:
        return one_error_line(cli_in_process(*args, env=env))

    return run


@pytest.fixture(scope="session")
def reward_model_folder(tmp_path_factory):
    """A tiny (untrained) reward model saved as a Hugging Face folder, for tests that build reward=reward_model."""
    tool = load_tool("train_reward_model")
    tokenizer = tool.reward_tokenizer()
    return tool.save(tool.build_reward_model(tokenizer), tokenizer, tmp_path_factory.mktemp("reward_model"))
