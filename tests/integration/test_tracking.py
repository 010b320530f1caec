"""Experiment tracking: W&B offline runs and CSV logs hold the metrics and the completions table."""

from __future__ import annotations

import csv

from tests.conftest import run_cli
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


def test_csv_logger_writes_every_step_metric(tmp_path):
    result = run_cli("r1.run", *TRACKED, "logger=csv", f"paths.output_root={tmp_path}", f"paths.run_dir={tmp_path / 'run'}")
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
