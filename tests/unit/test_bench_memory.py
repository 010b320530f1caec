"""tools/bench_memory.py: its on-paper arithmetic, the overrides each setting runs with, its command line.

The benchmark itself (minutes of GRPO per setting) is not run here; these checks pin
what its numbers mean: the 7B estimate's parts, which setting turns on what, and
that a user mistake ends in one line before anything runs.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import load_tool


tool = load_tool("bench_memory")
SETTINGS = tool.SETTINGS
TINY = tool.DenseModel("tiny", parameters=1_000, hidden=8, layers=2, intermediate=16, kv_dim=4, vocab=10)
ONE_TOKEN = tool.RolloutShape(prompts=1, group_size=1, max_new_tokens=1, prompt_tokens=0)


def test_lora_parameters_match_peft_on_qwen25_7b():
    # peft reports 40,370,176 trainable parameters for r=16 on all seven projections of Qwen2.5-7B.
    assert tool.lora_parameters(tool.QWEN25_7B, 16) == 40_370_176
    assert tool.lora_parameters(tool.QWEN25_7B, 8) * 2 == tool.lora_parameters(tool.QWEN25_7B, 16)
    # q, k, v, o, gate, up, down: r x (in + out) each
    assert tool.lora_parameters(TINY, 1) == 2 * ((8 + 8) + 2 * (8 + 4) + (8 + 8) + 3 * (8 + 16))


def test_paper_parts_by_hand_on_a_tiny_model():
    full = tool.paper_estimate(TINY, SETTINGS["full"], ONE_TOKEN, lora_rank=1)
    per_layer = 2 * (7 * 8 + 3 * 4 + 4 * 16)  # bf16: seven hidden-sized, three kv-sized, four MLP-wide tensors
    assert tool.layer_activation_bytes(TINY) == per_layer
    assert full == {
        "weights": 2_000, "gradients": 2_000, "optimizer": 8_000, "reference": 2_000,
        "activations": 2 * per_layer, "logits": 10 * 6, "total": 14_000 + 2 * per_layer + 60,
    }
    checkpointed = tool.paper_estimate(TINY, SETTINGS["checkpointing"], ONE_TOKEN, lora_rank=1)
    assert checkpointed["activations"] == 2 * 8 * 2 + per_layer  # each layer's bf16 input, plus one layer recomputed
    assert {k: v for k, v in checkpointed.items() if k not in ("activations", "total")} == {
        k: v for k, v in full.items() if k not in ("activations", "total")
    }
    lora = tool.paper_estimate(TINY, SETTINGS["lora"], ONE_TOKEN, lora_rank=1)
    adapter = tool.lora_parameters(TINY, 1)
    assert lora["reference"] == 0  # the adapter-off policy is the reference
    assert (lora["weights"], lora["gradients"], lora["optimizer"]) == (2_000 + 4 * adapter, 4 * adapter, 8 * adapter)
    assert lora["activations"] == full["activations"] and lora["total"] == sum(v for k, v in lora.items() if k != "total")


def test_on_paper_only_lora_with_checkpointing_fits_a_7b_model_comfortably():
    parts = {name: tool.paper_estimate(tool.QWEN25_7B, setting) for name, setting in SETTINGS.items()}
    gib = tool.GIB
    states = parts["full"]["weights"] + parts["full"]["gradients"] + parts["full"]["optimizer"] + parts["full"]["reference"]
    assert states == 14 * tool.QWEN25_7B.parameters and states > 80 * gib  # no activation saving rescues full fine-tuning
    assert parts["checkpointing"]["total"] < parts["full"]["total"] and parts["checkpointing"]["total"] > 80 * gib
    assert parts["lora+checkpointing"]["total"] < 0.9 * 80 * gib < parts["lora"]["total"]
    table = tool.paper_table()
    rows = {line.split(" | ")[0].lstrip("| "): line.rstrip(" |").rsplit("| ", 1)[-1] for line in table.splitlines()[2:6]}
    assert rows == {
        "full fine-tuning + reference copy": "no", "full + gradient checkpointing": "no",
        "LoRA r=16, adapter-off reference": "at the edge", "LoRA r=16 + gradient checkpointing": "yes",
    }


def test_fits_leaves_headroom():
    assert tool.fits(89, 100) == "yes"
    assert tool.fits(95, 100) == "at the edge" and tool.fits(100, 100) == "at the edge"
    assert tool.fits(101, 100) == "no"


def compose(overrides: list[str]):
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir

    from r1.paths import conf_dir

    with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
        return hydra_compose("config", overrides=overrides)


@pytest.mark.parametrize("name", list(SETTINGS))
def test_each_setting_composes_to_what_it_says(name, tmp_path):
    cfg = compose(tool.setting_overrides(name, tmp_path, steps=2, lora_rank=8))
    phase, model = cfg.phase, cfg.model
    assert (phase.name, phase.init_from, model.name_or_path, cfg.logger._target_) == ("grpo", "model", str(tmp_path), None)
    assert (phase.max_new_tokens, phase.group_size, phase.prompts_per_step, phase.max_steps) == (256, 8, 4, 2)
    assert phase.val_prompts == 0 and phase.log_completions_every == 0 and not phase.progress_bar
    assert phase.checkpoint_every > phase.max_steps and phase.beta > 0  # no checkpoint writes; a KL term, so a reference
    setting = SETTINGS[name]
    assert model.gradient_checkpointing is setting.checkpointing
    assert model.lora.enabled is setting.lora
    if setting.lora:
        assert model.lora.r == 8 and model.lora.merge_on_export is False  # no merged export copy in the peak


def test_command_line_defaults_and_pass_through_overrides():
    args, extra = tool.parse(["model.dtype=bfloat16"])
    assert args.settings == list(SETTINGS) and args.steps == 2 and args.lora_rank == 16
    assert (args.max_new_tokens, args.group_size, args.prompts_per_step) == (256, 8, 4)
    assert args.stand_in is None and args.threads is None and args.device == "auto" and not args.paper and args.child is None
    assert extra == ["model.dtype=bfloat16"]
    args, _ = tool.parse(["--settings", "lora", "full", "--steps", "3", "--threads", "1", "--stand-in", "x", "--out", "t.md"])
    assert args.settings == ["lora", "full"] and (args.steps, args.threads) == (3, 1)
    assert args.stand_in == Path("x") and args.out == Path("t.md")
    assert tool.rollout_shape(args) == tool.SHAPE


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--bogus"], "unrecognized argument '--bogus'"),
        (["stray"], "unrecognized argument 'stray'"),
        (["--steps", "0"], "--steps must be at least 1, got 0"),
        (["--lora-rank", "-1"], "--lora-rank must be at least 1"),
        (["--settings", "qlora"], "invalid choice: 'qlora'"),
    ],
)
def test_bad_arguments_end_in_one_error_line(argv, message, capsys):
    with pytest.raises(SystemExit) as stop:
        tool.parse(argv)
    assert stop.value.code == 2
    errors = capsys.readouterr().err.strip().splitlines()
    assert message in errors[-1] and errors[-1].startswith("bench_memory.py: error: ")


def test_a_missing_stand_in_is_one_line_before_anything_runs(tmp_path):
    with pytest.raises(SystemExit) as stop:
        tool.main(["--stand-in", str(tmp_path / "nowhere"), "--device", "cpu"])
    message = str(stop.value.code)
    assert "\n" not in message and message.startswith(f"bench_memory: error: no model in {tmp_path / 'nowhere'}")
    assert "--only qwen3-dense-50m" in message


def test_paper_prints_the_table_and_runs_nothing(capsys):
    assert tool.main(["--paper"]) == 0
    assert capsys.readouterr().out.strip() == tool.paper_table()


def result(setting: str, peak_mib: int, baseline_mib: int = 400) -> dict:
    return {
        "setting": setting, "device": "cpu", "peak_bytes": peak_mib * tool.MIB, "baseline_bytes": baseline_mib * tool.MIB, "seconds": 12.3,
        "completion_length_mean": 250.4, "trainable_parameters": 1_234, "threads": 2,
    }


def test_measured_table_compares_the_training_part_with_full_fine_tuning():
    table = tool.measured_table([result("full", 2_400), result("lora", 900)], "m (1.0 M parameters, float32)", lora_rank=16, steps=2)
    lines = table.splitlines()
    assert lines[2] == "| full fine-tuning + reference copy | 2,400 MiB | 400 MiB | 2,000 MiB | 1.00 | 1,234 | 250 | 12 |"
    assert lines[3] == "| LoRA r=16, adapter-off reference | 900 MiB | 400 MiB | 500 MiB | 0.25 | 1,234 | 250 | 12 |"
    assert "GRPO on m (1.0 M parameters, float32), 2 steps of 4 prompts x G = 8, completions up to 256 tokens" in table
    assert "runs to the cap" in table
    without_full = tool.measured_table([result("checkpointing", 1_000)], "m", lora_rank=16, steps=2).splitlines()[2]
    assert without_full.split(" | ")[4] == "-"


def test_measured_table_gives_the_heap_in_use_its_own_columns():
    rows = [{**result("full", 2_400), "heap_peak_bytes": 1_500 * tool.MIB, "heap_baseline_bytes": 300 * tool.MIB},
            {**result("lora", 2_600), "heap_peak_bytes": 900 * tool.MIB, "heap_baseline_bytes": 300 * tool.MIB}]
    lines = tool.measured_table(rows, "m", lora_rank=16, steps=2).splitlines()
    assert lines[0].startswith("| setting | peak RSS | before the phase | training part | x full | peak heap in use | before the phase |")
    assert lines[1].count("---:") == 11
    assert lines[3] == "| LoRA r=16, adapter-off reference | 2,600 MiB | 400 MiB | 2,200 MiB | 1.10 | 900 MiB | 300 MiB | 600 MiB | 0.50 | 1,234 | 250 | 12 |"
    assert "heap in use counts live allocations, sampled every 5 ms" in lines[-1]


@pytest.mark.skipif(tool.heap_in_use() is None, reason="the C library has no mallinfo2 (not glibc >= 2.33)")
def test_heap_peak_sees_a_block_that_came_and_went():
    import time

    sampler = tool.HeapPeak(every=0.001)
    block = bytearray(64 * tool.MIB)  # above malloc's mmap threshold: a mapped block, counted in hblkhd
    time.sleep(0.05)
    del block
    peak = sampler.stop()
    assert peak - sampler.start_bytes >= 60 * tool.MIB  # the block, give or take what the process freed meanwhile
    assert tool.heap_in_use() < peak


def test_peak_rss_is_this_process_in_bytes():
    assert 20 * tool.MIB < tool.peak_rss_bytes() < 1 << 40  # torch alone is tens of MiB; KiB mistaken for bytes would be far below
