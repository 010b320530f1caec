"""The whole recipe in one command, shrunk to seconds: every stage runs, the report is written, a rerun skips."""

from __future__ import annotations

import json
from pathlib import Path

SMALL = [
    "logger=csv",
    "phase.sft=['phase.max_steps=10','data.num_samples=64','data.val_size=8','phase.val_every_steps=null']",
    "phase.grpo=['phase.max_steps=2','phase.prompts_per_step=2','phase.group_size=4','phase.max_new_tokens=40',"
    "'phase.val_prompts=8','phase.progress_bar=false']",
    "phase.rejection=['filter=none','phase.num_prompts=8','phase.samples_per_prompt=2','phase.chunk_size=8','phase.max_new_tokens=40']",
    "phase.distill=['phase.max_steps=5','data.val_size=8','phase.val_every_steps=null']",
    "phase.eval=['benchmark=heldout','benchmark.n=8','benchmark.k=1','benchmark.max_new_tokens=40']",
]


def test_pipeline_runs_every_stage_writes_the_report_and_skips_finished_stages(cli_in_process, tmp_path):
    first = cli_in_process(*SMALL, f"paths.output_root={tmp_path}")
    assert first.returncode == 0, first.stderr[-3000:]
    [folder] = list((tmp_path / "pipeline").glob("r1-*"))
    for stage in ("sft", "grpo", "rejection", "distill", "eval_base", "eval_sft", "eval_grpo", "eval_student"):
        assert (folder / stage / "done.json").is_file(), stage
    report = (folder / "report.md").read_text()
    for row in ("Base model", "Cold-start SFT", "GRPO (RL)", "Distilled student"):
        assert row in report
    assert (folder / "grpo_curve.png").is_file() and (folder / "accuracy_by_stage.png").is_file()
    numbers = json.loads((folder / "report.json").read_text())
    assert set(numbers["scores"]) == {"base", "sft", "grpo", "student"}

    second = cli_in_process(*SMALL, f"paths.output_root={tmp_path}")
    assert second.returncode == 0, second.stderr[-3000:]
    assert second.stdout.count("already done") == 8
    assert "running" not in second.stdout.replace("already done", "")


def test_experiment_variants_compose(cli):
    for experiment, stages in (("r1", "sft"), ("r1_zero", "grpo"), ("distill_only", "rejection")):
        result = cli("r1.run", f"experiment={experiment}", "--cfg", "job")
        assert result.returncode == 0, result.stderr
        assert f"label: {experiment}" in result.stdout and stages in result.stdout


def test_the_full_recipe_adds_the_second_sft_the_all_scenario_rl_and_general_scores(cli_in_process, tmp_path):
    small_full = [
        *SMALL, "experiment=r1_full",
        "phase.sft2=['task=general','phase.max_steps=6','data.val_size=8','phase.val_every_steps=null']",
        "phase.grpo2=['task=mixture','reward=by_task','phase.max_steps=2','phase.prompts_per_step=4','phase.group_size=4',"
        "'phase.max_new_tokens=40','phase.val_prompts=0','phase.progress_bar=false']",
        "phase.distill=['task=general','phase.max_steps=5','data.val_size=8','phase.val_every_steps=null']",
        "phase.evaluate=[sft,grpo2,student]",
    ]
    result = cli_in_process(*small_full, f"paths.output_root={tmp_path}")
    assert result.returncode == 0, result.stderr[-3000:]
    [folder] = list((tmp_path / "pipeline").glob("r1_full-*"))
    for stage in ("sft", "grpo", "rejection", "sft2", "grpo2", "distill", "eval_sft", "eval_sft_general", "eval_grpo2", "eval_grpo2_general"):
        assert (folder / stage / "done.json").is_file(), stage
    # the second SFT read the rejection samples and the general task's examples, 3:1
    sft2 = json.loads((folder / "sft2" / "done.json").read_text())
    assert Path(sft2["hf_dir"], "config.json").is_file()
    # the last RL stage saw both kinds of prompt, each scored by its own reward
    rows = [json.loads(line) for line in (folder / "grpo2" / "history.jsonl").read_text().splitlines()]
    keys = {key for row in rows for key in row}
    assert "reward/by_task/general/exact_match_mean" in keys and any(key.startswith("reward/by_task/arithmetic/") for key in keys)
    report = (folder / "report.md").read_text()
    assert "arithmetic pass@1 | general pass@1 | arithmetic think length | general think length" in report
    for row in ("Cold-start SFT", "RL over all scenarios", "Distilled student"):
        assert row in report
    numbers = json.loads((folder / "report.json").read_text())
    assert set(numbers["scores"]["grpo2"]["tasks"]) == {"arithmetic", "general"}
    assert numbers["scores"]["sft"]["tasks"]["arithmetic"]["think_chars"] > 0
    # a rerun reuses every stage
    again = cli_in_process(*small_full, f"paths.output_root={tmp_path}")
    assert again.returncode == 0 and "running" not in again.stdout.replace("already done", "")
