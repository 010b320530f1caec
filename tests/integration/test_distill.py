"""Distillation end to end: a dense student learns from a JSONL of teacher responses."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from r1.paths import conf_dir

# conf/experiment/sft_quick.yaml, shortened further.
QUICK = [
    "experiment=sft_quick",
    "logger=csv",
    "phase.max_steps=12",
    "phase.val_every_steps=6",
    "phase.trainer.log_every_n_steps=1",
    "+trainer.enable_progress_bar=false",
]


@pytest.fixture(scope="module")
def teacher_responses(tmp_path_factory) -> Path:
    """What rejection sampling writes: JSONL rows with prompt, response and answer."""
    from r1.tasks.arithmetic import ArithmeticTask

    path = tmp_path_factory.mktemp("rejection") / "accepted.jsonl"
    rows = ArithmeticTask().samples("train", 48, seed=7)
    path.write_text("".join(json.dumps({"prompt": r["prompt"], "response": r["response"], "answer": r["answer"]}) + "\n" for r in rows))
    return path


@pytest.fixture(scope="module")
def teacher_folder(tmp_path_factory) -> Path:
    """A saved tiny MoE with r1's tokenizer (an untrained stand-in for the RL checkpoint)."""
    from r1.models import load_model
    from r1.phases.common import save_hf

    cfg = OmegaConf.load(conf_dir() / "model" / "tiny_moe.yaml")
    cfg.architecture.seed = 0
    model, tokenizer = load_model(cfg)
    return save_hf(model, tokenizer, tmp_path_factory.mktemp("teacher") / "hf")


def test_distill_from_a_jsonl_with_logit_kd_reports_student_and_teacher(cli_in_process, tmp_path, teacher_responses, teacher_folder):
    result = cli_in_process(
        "phase=distill", f"data.path={teacher_responses}", f"paths.output_root={tmp_path}",
        f"phase.teacher={teacher_folder}", "phase.kd.weight=1.0", "phase.kd.temperature=2.0", *QUICK,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    (summary_path,) = tmp_path.rglob("summary.json")
    summary = json.loads(summary_path.read_text())
    assert summary["steps"] == 12 and summary["train/examples"] == 48
    for key in ("student/accuracy", "teacher/accuracy", "student/format_rate", "teacher/format_rate"):
        assert 0.0 <= summary[key] <= 1.0
    assert summary["student/parameters"] < summary["teacher/parameters"]

    from transformers import AutoModelForCausalLM

    student = AutoModelForCausalLM.from_pretrained(summary["hf_dir"])
    assert type(student).__name__ == "Qwen3ForCausalLM"  # the dense student, not the MoE teacher

    import csv

    rows = list(csv.DictReader((summary_path.parent / "logs" / "version_0" / "metrics.csv").open()))
    kd = [float(r["train/kd"]) for r in rows if r.get("train/kd")]
    assert kd and all(value >= 0 for value in kd) and kd[-1] < kd[0]  # weight 1: pure KD, so the student moves toward the teacher


def test_distill_plain_sft_from_a_saved_dataset_folder(cli_in_process, tmp_path, teacher_responses):
    import datasets

    folder = tmp_path / "dataset"
    datasets.load_dataset("json", data_files=str(teacher_responses), split="train").save_to_disk(str(folder))
    result = cli_in_process("phase=distill", f"data.path={folder}", f"paths.output_root={tmp_path / 'out'}", "experiment=sft_quick", "logger=csv", "phase.max_steps=4", "phase.val_every_steps=null", "data.max_samples=40", "+trainer.enable_progress_bar=false")
    assert result.returncode == 0, result.stderr[-3000:]
    (summary_path,) = (tmp_path / "out").rglob("summary.json")
    summary = json.loads(summary_path.read_text())
    assert summary["steps"] == 4 and summary["train/examples"] == 40 and "teacher/accuracy" not in summary and Path(summary["hf_dir"]).is_dir()
    state = Path(summary["checkpoint_dir"]).parent  # the resume state the same command would continue from
    assert state.parent == tmp_path / "out" / "state" and state.name.startswith("distill-") and (state / "done.json").is_file()


def test_teacher_with_another_tokenizer_is_one_line(cli_error, tmp_path, teacher_responses):
    from r1.models import build_tiny_tokenizer, load_model
    from r1.phases.common import save_hf

    tokenizer = build_tiny_tokenizer()
    tokenizer.add_tokens(["<tool>"])  # one extra token: a different vocabulary
    cfg = OmegaConf.load(conf_dir() / "model" / "tiny_dense.yaml")
    cfg.architecture.seed = 0
    model, _ = load_model(cfg)
    model.resize_token_embeddings(len(tokenizer))
    teacher = save_hf(model, tokenizer, tmp_path / "other")
    line = cli_error("phase=distill", f"data.path={teacher_responses}", f"paths.output_root={tmp_path}", f"phase.teacher={teacher}", "phase.kd.weight=0.5")
    assert "tokenizer" in line and "phase.kd.weight=0" in line


def test_missing_data_path_is_one_line(cli_error, tmp_path):
    line = cli_error("phase=distill", f"data.path={tmp_path / 'accepted.jsonl'}", f"paths.output_root={tmp_path}")
    assert "accepted.jsonl" in line and "does not exist" in line


def test_kd_without_a_teacher_is_one_line(cli_error, tmp_path, teacher_responses):
    line = cli_error("phase=distill", f"data.path={teacher_responses}", f"paths.output_root={tmp_path}", "phase.kd.weight=0.5")
    assert "phase.teacher" in line
