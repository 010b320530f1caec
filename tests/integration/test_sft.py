"""Cold-start SFT end to end on the tiny MoE: it learns, the same command resumes it exactly, it exports a loadable folder."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import torch
from hydra import compose, initialize_config_dir

from r1.paths import conf_dir

# A few seconds of training (conf/experiment/sft_quick.yaml: batches of 8 from 36 examples, so
# an epoch ends mid-run), with every step's loss in metrics.csv.
QUICK = ["experiment=sft_quick", "logger=csv", "phase.trainer.log_every_n_steps=1", "+trainer.enable_progress_bar=false"]


def compose_sft(output_dir: Path, *overrides: str):
    """The config of ``python -m r1.run phase=sft`` writing its run to ``output_dir`` and its state beside it."""
    with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
        return compose("config", overrides=["phase=sft", f"paths.output_dir={output_dir}", f"paths.output_root={output_dir.parent}", *QUICK, *overrides])


def run_in_process(output_dir: Path, *overrides: str) -> dict:
    from r1.run import run

    return run(compose_sft(output_dir, *overrides))


def logged(folder: Path, key: str) -> dict[int, float]:
    """``{step: value}`` of one metric in a run's metrics.csv."""
    rows = list(csv.DictReader((folder / "logs" / "version_0" / "metrics.csv").open()))
    return {int(row["step"]): float(row[key]) for row in rows if row.get(key)}


@pytest.fixture(scope="module")
def cli_run(tmp_path_factory):
    """``python -m r1.run phase=sft`` as a user runs it, shortened to 20 steps (validation every 10, checkpoints every 10)."""
    from tests.conftest import run_cli

    root = tmp_path_factory.mktemp("sft-cli")
    result = run_cli("r1.run", "phase=sft", f"paths.output_root={root}", *QUICK)
    assert result.returncode == 0, result.stderr[-3000:]
    (folder,) = [p.parent for p in root.rglob("summary.json")]
    return result, folder


def test_cli_writes_checkpoints_hf_folder_summary_and_metrics(cli_run):
    result, folder = cli_run
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["steps"] == 20 and summary["hf_dir"] == str(folder / "hf")
    assert 0.0 <= summary["val/accuracy"] <= 1.0 and 0.0 <= summary["val/format_rate"] <= 1.0
    assert [point["step"] for point in summary["curve"]] == [0, 10, 20]
    checkpoints = Path(summary["checkpoint_dir"])
    assert checkpoints.parent.parent.name == "state" and checkpoints.parent.name.startswith("sft-")  # where the same command finds them
    assert {p.name for p in checkpoints.iterdir()} == {"step000020.ckpt", "last.ckpt"}  # keep=1: the newest only
    assert json.loads((checkpoints.parent / "done.json").read_text())["hf_dir"] == summary["hf_dir"] and summary["resumed_from"] is None
    assert (folder / "hf" / "config.json").is_file() and (folder / "hf" / "tokenizer.json").is_file()
    assert "[sft] step    10" in result.stdout + result.stderr  # one line per validation


def test_loss_falls_and_parameters_change(cli_run):
    from omegaconf import OmegaConf
    from transformers import AutoModelForCausalLM

    from r1.models import load_model

    _, folder = cli_run
    losses = logged(folder, "train/loss")
    first, last = losses[min(losses)], losses[max(losses)]
    assert last < 0.7 * first, losses
    config = OmegaConf.load(folder / ".hydra" / "config.yaml")
    config.model.architecture.seed = config.seed
    initial, _ = load_model(config.model)  # the same seed builds the same initial weights
    trained = AutoModelForCausalLM.from_pretrained(str(folder / "hf"))
    changed = [name for name, p in trained.named_parameters() if not torch.equal(p, initial.state_dict()[name])]
    assert len(changed) > 0.8 * len(list(trained.parameters()))


def test_exported_folder_loads_with_transformers_and_generates(cli_run):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    _, folder = cli_run
    model = AutoModelForCausalLM.from_pretrained(str(folder / "hf"))
    tokenizer = AutoTokenizer.from_pretrained(str(folder / "hf"))
    prompt = tokenizer.apply_chat_template([{"role": "user", "content": "12+34"}], tokenize=False, add_generation_prompt=True)
    batch = tokenizer(prompt, return_tensors="pt", add_special_tokens=False)
    generated = model.generate(**batch, max_new_tokens=8, do_sample=False, pad_token_id=tokenizer.pad_token_id)
    assert generated.shape[1] > batch["input_ids"].shape[1]
    assert type(model).__name__ == "DeepseekV3ForCausalLM"


def test_next_phase_takes_the_export_as_model_hf(cli_run, cli_in_process, tmp_path):
    _, folder = cli_run
    result = cli_in_process("phase=sft", "model=hf", f"model.name_or_path={folder / 'hf'}", f"paths.output_root={tmp_path}", *QUICK, "phase.max_steps=2", "data.val_size=0")
    assert result.returncode == 0, result.stderr[-3000:]
    (summary_path,) = tmp_path.rglob("summary.json")
    assert json.loads(summary_path.read_text())["steps"] == 2


def test_the_same_command_resumes_a_killed_run_mid_epoch_on_the_same_trajectory(tmp_path):
    """Run again after a kill, the same command resumes from the newest intact checkpoint and logs the
    same losses at steps 6..12 as the uninterrupted run, ending with the same weights.

    36 examples in batches of 8: the checkpoint at step 5 (40 examples) is mid-epoch, so
    a resume that restarted the data order (or lost the optimizer state) would differ.
    """
    from safetensors.torch import load_file

    common = ["phase.max_steps=12", "phase.val_every_steps=null", "phase.checkpoint.every_n_steps=5", "phase.checkpoint.keep=-1", "data.val_size=0"]
    full = run_in_process(tmp_path / "full", *common)
    checkpoints = Path(full["checkpoint_dir"])
    assert sorted(p.name for p in checkpoints.iterdir()) == ["last.ckpt", "step000005.ckpt", "step000010.ckpt"]
    trained = load_file(tmp_path / "full" / "hf" / "model.safetensors")
    # As if killed while writing the step-10 checkpoint: that file is cut short, the run never finished.
    (checkpoints.parent / "done.json").unlink()
    (checkpoints / "last.ckpt").unlink()
    step10 = checkpoints / "step000010.ckpt"
    step10.write_bytes(step10.read_bytes()[:1000])

    resumed = run_in_process(tmp_path / "resumed", *common)  # the same command
    assert resumed["resumed_from"] == str(checkpoints / "step000005.ckpt") and full["steps"] == resumed["steps"] == 12
    full_losses, resumed_losses = logged(tmp_path / "full", "train/loss"), logged(tmp_path / "resumed", "train/loss")
    assert sorted(resumed_losses) == list(range(5, 12))  # logged at steps 6..12 (0-based 5..11)
    for step, loss in resumed_losses.items():
        assert loss == pytest.approx(full_losses[step], abs=1e-5), step
    # the data position really mattered: the resumed steps did not replay the first batches
    assert [round(full_losses[s], 4) for s in range(5, 12)] != [round(full_losses[s], 4) for s in range(7)]
    again = load_file(tmp_path / "resumed" / "hf" / "model.safetensors")
    assert all(torch.allclose(trained[k], again[k], atol=1e-6) for k in trained)
    assert (checkpoints.parent / "done.json").is_file()  # finished: the same command would now start afresh


def test_missing_data_path_is_one_line(cli_error, tmp_path):
    line = cli_error("phase=sft", f"paths.output_root={tmp_path}", f"data.path={tmp_path / 'missing.jsonl'}")
    assert "missing.jsonl" in line and "does not exist" in line


def test_missing_field_is_one_line_listing_the_fields(cli_error, tmp_path):
    data = tmp_path / "cot.jsonl"
    data.write_text(json.dumps({"question": "1+1", "solution": "<think>1+1</think><answer>2</answer>"}) + "\n")
    line = cli_error("phase=sft", f"paths.output_root={tmp_path}", f"data.path={data}")
    assert "'prompt'" in line and "question, solution" in line


def test_missing_checkpoint_is_one_line(cli_error, tmp_path):
    line = cli_error("phase=sft", f"paths.output_root={tmp_path}", *QUICK, f"ckpt_path={tmp_path / 'nope.ckpt'}")
    assert "nope.ckpt" in line
