"""GRPO with a learned reward: a reward model that prefers short thinking makes the policy think less.

The reward model is trained here with ``tools/train_reward_model.py``'s functions (its
preference: a shorter ``<think>`` with the same correct answer, and a correct answer over a
wrong one). GRPO then runs from the cold-start SFT model twice with the same seed: with
``reward=hybrid`` of ``accuracy`` and ``reward_model``, and with ``accuracy`` alone. The
policy's mean ``<think>`` length (characters, over every completion of a step) is read
from ``completions.jsonl``.

Measured with these settings (80 steps, 8 prompts x 8 completions, temperature 1.5, lr 1e-4,
the reward model's sigmoid score at weight 1.0), start -> end means over 5 steps: seed 0
22.1 -> 8.3 characters with the reward model against 21.8 -> 21.5 with accuracy alone; seed 1
21.7 -> 8.5 against 21.7 -> 22.1. The tiny reward model tells a correct answer from a
near miss in only 60-65 % of held-out pairs, and the policy's training accuracy fell
to 0 in those runs: it traded correctness for brevity, as a policy does against a weak
reward model (reward hacking); the test asserts the preference, not accuracy.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.conftest import load_tool, run_cli

pytestmark = pytest.mark.slow

THINK = re.compile(r"<think>(.*?)(?:</think>|<answer>|$)", re.S)

STEPS = 80
"""GRPO steps per run: over 30 steps the think length did not move (the SFT policy rarely samples a shorter one)."""

TEMPERATURE = 1.5
"""Sampling temperature of both runs: at 1.0 the cold-start policy almost never closes ``</think>`` early."""

WINDOW = 5
"""Steps averaged at the start and at the end of a run."""

RM_WEIGHT = 1.0
"""The reward model's weight beside accuracy's 1.0 in the hybrid reward (its score through a sigmoid, in (0, 1))."""


def think_length(completion: str) -> int:
    """Characters inside the first ``<think>`` (up to ``</think>``, ``<answer>`` or the end); 0 without one."""
    match = THINK.search(completion)
    return len(match.group(1)) if match else 0


def think_lengths_by_step(run_dir: Path) -> dict[int, float]:
    """The mean ``<think>`` length of each step's completions."""
    by_step: dict[int, list[int]] = {}
    for line in (run_dir / "completions.jsonl").read_text().splitlines():
        row = json.loads(line)
        by_step.setdefault(int(row["step"]), []).append(think_length(row["completion"]))
    return {step: sum(v) / len(v) for step, v in sorted(by_step.items())}


def start_and_end(lengths: dict[int, float]) -> tuple[float, float]:
    steps = sorted(lengths)
    first, last = steps[:WINDOW], steps[-WINDOW:]
    return sum(lengths[s] for s in first) / len(first), sum(lengths[s] for s in last) / len(last)


def grpo(root: Path, name: str, seed: int, reward: list[str]) -> dict[int, float]:
    """A short GRPO run from the cold-start SFT model cached under ``root``; its think lengths per step."""
    result = run_cli(
        "r1.run", "phase=grpo", f"phase.max_steps={STEPS}", "phase.val_prompts=0", "phase.prompts_per_step=8", "phase.group_size=8",
        f"phase.temperature={TEMPERATURE}", "phase.log_completions_every=1", "phase.checkpoint_every=1000", "phase.progress_bar=false", "logger=none", f"seed={seed}",
        *reward, f"paths.output_root={root}", f"paths.run_dir={root / name}",
        timeout=1800,  # the first run trains the cold-start SFT model too: over 10 minutes on a busy 2-core machine
    )
    assert result.returncode == 0, result.stderr
    return think_lengths_by_step(root / name)


def hybrid_with(folder: Path) -> list[str]:
    """``reward=hybrid`` of accuracy and the reward model (sigmoid of its score)."""
    return [
        "reward=hybrid", "~reward.weights.format", "~reward.weights.language", "~reward.components.format", "~reward.components.language",
        f"+reward.weights.reward_model={RM_WEIGHT}",
        f"+reward.components.reward_model={{path: {folder}, batch_size: 64, max_length: 128, normalize: sigmoid}}",
    ]  # fmt: skip


@pytest.fixture(scope="module")
def reward_model_folder(tmp_path_factory) -> Path:
    tool = load_tool("train_reward_model")
    model, tokenizer, accuracy = tool.train(tool.SHAPE)
    assert accuracy["length"] > 0.9, accuracy
    return tool.save(model, tokenizer, tmp_path_factory.mktemp("rm") / "hf")


@pytest.mark.parametrize("seed", [0, 1])
def test_a_reward_model_that_prefers_short_thinking_shortens_the_policys_thinking(reward_model_folder, tmp_path, seed):
    accuracy_only = grpo(tmp_path, "accuracy", seed, ["reward=accuracy"])  # trains the cold-start SFT model, cached for the next run
    with_rm = grpo(tmp_path, "reward_model", seed, hybrid_with(reward_model_folder))
    (rm_start, rm_end), (acc_start, acc_end) = start_and_end(with_rm), start_and_end(accuracy_only)
    print(f"seed {seed}: think length with the reward model {rm_start:.1f} -> {rm_end:.1f}; accuracy only {acc_start:.1f} -> {acc_end:.1f}")
    assert rm_end < 0.7 * rm_start, (rm_start, rm_end)
    assert rm_end < 0.7 * acc_end, (rm_end, acc_end)
