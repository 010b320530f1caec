"""The command line as a user meets it: Hydra flags work, mistakes end in one line."""

from __future__ import annotations

import pytest

from tests.conftest import one_error_line


def test_cfg_job_prints_the_composed_config(cli):
    result = cli("r1.run", "--cfg", "job")
    assert result.returncode == 0, result.stderr
    assert "phase:" in result.stdout and "reward:" in result.stdout and "DeepseekV3" not in result.stderr


def test_cfg_job_shows_overrides(cli):
    result = cli("r1.run", "phase=sft", "task=arithmetic_hard", "seed=5", "--cfg", "job")
    assert result.returncode == 0, result.stderr
    assert "name: sft" in result.stdout and "- 4" in result.stdout and "seed: 5" in result.stdout


def test_help_lists_the_config_groups(cli):
    result = cli("r1.run", "--help")
    assert result.returncode == 0, result.stderr
    for group in ["phase:", "model:", "reward:", "task:", "trainer:", "logger:"]:
        assert group in result.stdout


def test_unknown_option_is_one_line_with_the_choices(cli):
    line = one_error_line(cli("r1.run", "reward=nope"))
    assert "unknown reward 'nope'" in line and "hybrid" in line and "accuracy" in line


def test_unknown_option_inside_a_sweep_is_caught(cli):
    line = one_error_line(cli("r1.run", "-m", "task=arithmetic,nope"))
    assert "unknown task 'nope'" in line and "arithmetic" in line


@pytest.mark.parametrize("override", ["seed=[1", "reward", "seed={a:"])
def test_malformed_override_is_one_line(cli, override):
    line = one_error_line(cli("r1.run", override))
    assert "cannot parse override" in line and override in line


def test_unknown_key_is_one_line(cli):
    line = one_error_line(cli("r1.run", "no_such_key=3", "--cfg", "job"))
    assert "no_such_key" in line


def test_missing_model_path_is_one_line(cli):
    line = one_error_line(cli("r1.run", "phase=grpo", "model=hf", "model.name_or_path=./does/not/exist", "logger=none"))
    assert "does not exist" in line and "./does/not/exist" in line


def test_model_hf_without_a_path_is_one_line(cli_error):
    line = cli_error("phase=eval", "model=hf", "logger=none")
    assert "name_or_path" in line


def test_multirun_runs_one_job_per_choice(cli_in_process, tmp_path):
    tiny_grpo = ["phase=grpo", "phase.init_from=model", "phase.max_steps=1", "phase.val_prompts=0", "phase.prompts_per_step=1",
                 "phase.group_size=2", "phase.max_new_tokens=4", "phase.progress_bar=false", "logger=none"]
    result = cli_in_process("-m", "seed=0,1", *tiny_grpo, f"paths.output_root={tmp_path}")
    assert result.returncode == 0, result.stderr
    assert "#0 : seed=0" in result.stdout and "#1 : seed=1" in result.stdout
    summaries = sorted(tmp_path.glob("multirun/grpo/*/*/*/summary.json"))
    assert len(summaries) == 2


def test_two_hydra_modes_at_once_is_one_line(cli):
    line = one_error_line(cli("r1.run", "-m", "seed=1,2", "--cfg", "job"))
    assert "only one of" in line


def test_plugins_table_lists_builtins_with_provider_and_version(cli):
    result = cli("r1.plugins")
    assert result.returncode == 0, result.stderr
    for expected in ["arithmetic", "hybrid", "accuracy", "r1.rewards", "r1.tasks", "r1 0.1.0"]:
        assert expected in result.stdout


def test_runs_started_together_get_their_own_run_folders(tmp_path):
    import subprocess
    import sys
    import time

    from tests.conftest import REPO_ROOT

    # Each is stopped as soon as Hydra has made the run folders (what a run does next does not matter here).
    command = [sys.executable, "-m", "r1.run", "phase=eval", "model=hf", "logger=none", f"paths.output_root={tmp_path}"]
    runs = [subprocess.Popen(command, cwd=REPO_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for _ in range(2)]
    deadline = time.monotonic() + 120
    try:
        while len(list(tmp_path.glob("eval/*/*"))) < 2 and any(run.poll() is None for run in runs) and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        for run in runs:
            run.kill()
            run.wait()
    folders = sorted(tmp_path.glob("eval/*/*"))
    assert len(folders) == 2, folders  # in the same second too: <time>-<6 random hex digits>
    assert all(len(folder.name.rsplit("-", 1)[1]) == 6 for folder in folders)
