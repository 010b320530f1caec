"""LoRA and gradient checkpointing through the phases, as a user runs them: SFT, GRPO (resumed) and distillation."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from tests.integration.test_grpo import FAST, _history, _steps

LORA = ["model.lora.enabled=true", "model.lora.r=8", "model.lora.alpha=16"]
SFT_QUICK = ["experiment=sft_quick", "logger=none", "phase.max_steps=4", "phase.val_every_steps=null", "+trainer.enable_progress_bar=false", "data.val_size=0"]


def _summary(run: Path) -> dict:
    return json.loads((run / "summary.json").read_text())


def test_grpo_with_lora_trains_only_the_adapter_keeps_no_reference_copy_and_resumes_exactly(cli_in_process, tmp_path):
    args = [*FAST, *LORA, "phase.max_steps=4", "phase.checkpoint_every=2"]
    straight = cli_in_process(*args, f"paths.output_root={tmp_path / 'a'}", f"paths.run_dir={tmp_path / 'a' / 'run'}")
    assert straight.returncode == 0, straight.stderr[-3000:]
    summary = _summary(tmp_path / "a" / "run")
    assert summary["model/lora"] and 0 < summary["model/trainable_parameters"] < 200_000
    expected = _steps(_history(tmp_path / "a" / "run"))
    assert all(row["train/kl"] > 0 for step, row in expected.items() if step > 1)  # the adapter-off reference is a real reference
    (checkpoint,) = (tmp_path / "a" / "state").glob("grpo-*/checkpoints/step-000002.ckpt")

    resumed = cli_in_process(*args, f"ckpt_path={checkpoint}", f"paths.output_root={tmp_path / 'b'}", f"paths.run_dir={tmp_path / 'b' / 'run'}")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert _summary(tmp_path / "b" / "run")["resumed_from_step"] == 2
    got = _steps(_history(tmp_path / "b" / "run"))
    assert sorted(got) == [1, 2, 3, 4]
    for step in (3, 4):
        for key in ("train/loss", "reward/mean", "train/kl"):
            assert got[step][key] == pytest.approx(expected[step][key], abs=1e-5), (step, key)
    from safetensors.torch import load_file

    a, b = (load_file(tmp_path / run / "run" / "adapter" / "adapter_model.safetensors") for run in ("a", "b"))
    assert a.keys() == b.keys() and all(torch.allclose(a[key], b[key], atol=1e-6) for key in a)


def test_sft_with_lora_and_gradient_checkpointing_exports_a_merged_model_that_grpo_then_loads(cli_in_process, tmp_path):
    result = cli_in_process("phase=sft", *SFT_QUICK, *LORA, "model.gradient_checkpointing=true", f"paths.output_root={tmp_path}", f"paths.run_dir={tmp_path / 'sft'}")
    assert result.returncode == 0, result.stderr[-3000:]
    assert (tmp_path / "sft" / "adapter" / "adapter_config.json").is_file()
    hf = Path(_summary(tmp_path / "sft")["hf_dir"])
    assert hf == tmp_path / "sft" / "hf" and (hf / "config.json").is_file()
    grpo = cli_in_process(*FAST, "phase.max_steps=1", "model=hf", f"model.name_or_path={hf}", f"paths.output_root={tmp_path}", f"paths.run_dir={tmp_path / 'grpo'}")
    assert grpo.returncode == 0, grpo.stderr[-3000:]


def test_a_distilled_student_trains_with_lora(cli_in_process, tmp_path):
    from r1.tasks.arithmetic import ArithmeticTask

    data = tmp_path / "responses.jsonl"
    data.write_text("".join(json.dumps({"prompt": r["prompt"], "response": r["response"], "answer": r["answer"]}) + "\n" for r in ArithmeticTask().samples("train", 16, seed=7)))
    student_lora = [item.replace("model.", "phase.student.") for item in LORA]
    result = cli_in_process("phase=distill", f"data.path={data}", *SFT_QUICK, *student_lora, "phase.student.lora.merge_on_export=false",
                            f"paths.output_root={tmp_path}", f"paths.run_dir={tmp_path / 'distill'}")
    assert result.returncode == 0, result.stderr[-3000:]
    assert Path(_summary(tmp_path / "distill")["hf_dir"]) == tmp_path / "distill" / "adapter"  # not merged: the adapter is the export


@pytest.mark.gpu
def test_lora_with_gradient_checkpointing_trains_in_bf16_mixed_on_a_gpu(cli_in_process, tmp_path):
    result = cli_in_process("phase=sft", "trainer=gpu", *SFT_QUICK, *LORA, "model.gradient_checkpointing=true", f"paths.output_root={tmp_path}", f"paths.run_dir={tmp_path / 'sft'}")
    assert result.returncode == 0, result.stderr[-3000:]
    assert _summary(tmp_path / "sft")["train/loss"] < 10
