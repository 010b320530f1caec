"""Experiment tracking: W&B offline runs and CSV logs hold the metrics and the completions table; W&B never stalls or breaks a run."""

from __future__ import annotations

import csv
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

from tests.conftest import REPO_ROOT, one_error_line, run_cli
from tests.integration.test_grpo import FAST

TRACKED = [a for a in FAST if not a.startswith(("logger=", "phase.log_completions_every="))] + ["phase.max_steps=2", "phase.log_completions_every=1"]


def test_wandb_offline_run_has_metrics_config_and_completions_table(tmp_path):
    result = run_cli("r1.run", *TRACKED, "logger=wandb", f"paths.output_root={tmp_path}", f"paths.run_dir={tmp_path / 'run'}",
                     env={"WANDB_MODE": "offline", "WANDB_API_KEY": ""})
    assert result.returncode == 0, result.stderr
    runs = list((tmp_path / "run" / "wandb").glob("offline-run-*"))
    assert len(runs) == 1, "one offline W&B run in the run folder"
    assert list(runs[0].glob("run-*.wandb")), "the run's event file (metrics, config) is written"
    tables = list(runs[0].glob("files/media/table/completions*.table.json"))
    assert tables, "the completions table is logged"
    assert "offline" in result.stdout + result.stderr  # W&B says where to sync from


def test_csv_logger_writes_every_step_metric(cli_in_process, tmp_path):
    result = cli_in_process(*TRACKED, "logger=csv", f"paths.output_root={tmp_path}", f"paths.run_dir={tmp_path / 'run'}")
    assert result.returncode == 0, result.stderr
    files = list((tmp_path / "run").glob("logs/version_*/metrics.csv"))
    assert files
    rows = list(csv.DictReader(files[0].open()))
    columns = set(rows[0])
    for key in ("reward/mean", "train/kl", "train/clip_fraction", "groups/tied_share", "time/generate_s", "perf/tokens_per_s"):
        assert key in columns, key
    assert (tmp_path / "run" / "completions.jsonl").is_file()
    hparams = list((tmp_path / "run").glob("logs/version_*/hparams.yaml"))
    assert hparams and "group_size" in hparams[0].read_text()


# ----------------------------------------------------------------------------- W&B that cannot start online

TINY_EVAL = ["phase=eval", "benchmark.n=4", "benchmark.k=1", "benchmark.max_new_tokens=4", "logger=wandb"]
KEY = "k" * 40
"""A well-formed W&B API key that no server knows."""
BOUNDED_S = 90
"""A run whose W&B cannot start online must still finish well within this (it used to wait 208 s, then fail)."""


def run_without_wandb_env(tmp_path: Path, **env: str) -> tuple[subprocess.CompletedProcess, float]:
    """A tiny ``phase=eval`` with ``logger=wandb`` and exactly the W&B variables given (none from this shell)."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("WANDB_") and k != "NETRC"}
    clean.update(WANDB_CONFIG_DIR=str(tmp_path / "wandb-config"), NETRC=str(tmp_path / "no-netrc"), **env)
    started = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "r1.run", *TINY_EVAL, f"paths.output_root={tmp_path}", f"paths.run_dir={tmp_path / 'run'}"],
                            capture_output=True, text=True, cwd=REPO_ROOT, env=clean, timeout=BOUNDED_S * 2)
    return result, time.perf_counter() - started


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]  # closed again when the block ends: connections are refused


def assert_offline_after_one_warning(result, seconds: float, tmp_path, *phrases: str) -> None:
    """The run succeeded in bounded time, logged offline, and said why in exactly one ``[logger]`` line holding ``phrases``."""
    assert result.returncode == 0, result.stderr
    warnings = [line for line in result.stdout.splitlines() if line.startswith("[logger]")]
    assert len(warnings) == 1 and all(phrase in warnings[0] for phrase in phrases), result.stdout
    assert "Traceback" not in result.stdout + result.stderr and seconds < BOUNDED_S
    assert list((tmp_path / "run" / "wandb").glob("offline-run-*"))


def test_wandb_with_a_key_and_no_server_logs_offline_after_one_warning_line(tmp_path):
    result, seconds = run_without_wandb_env(tmp_path, WANDB_API_KEY=KEY, WANDB_BASE_URL=f"http://127.0.0.1:{closed_port()}")
    assert_offline_after_one_warning(result, seconds, tmp_path, "W&B is unreachable", "logging offline")


def test_wandb_online_without_a_key_logs_offline_after_one_warning_line(tmp_path):
    server = socket.socket()  # a W&B address that accepts connections and never answers
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    try:
        # Without a key, W&B refuses to start online at once. WANDB_ERROR_REPORTING=false: W&B's own usage telemetry
        # would otherwise wait 10 s at exit for this silent server (wandb's HTTP timeout, not r1's fallback).
        result, seconds = run_without_wandb_env(tmp_path, WANDB_MODE="online", WANDB_BASE_URL=f"http://127.0.0.1:{server.getsockname()[1]}",
                                                WANDB_ERROR_REPORTING="false")
    finally:
        server.close()
    assert_offline_after_one_warning(result, seconds, tmp_path, "W&B could not start online", "API key")


def test_a_wandb_setting_that_breaks_even_offline_logging_is_one_line(tmp_path):
    result, _ = run_without_wandb_env(tmp_path, WANDB_MODE="sideways")
    line = one_error_line(result)
    assert "W&B cannot start even offline" in line and "sideways" in line and "logger=csv" in line
    assert not list((tmp_path / "run").glob("completions.jsonl"))  # refused before the model was loaded, not after the run
