"""Held-out accuracy during training: greedy decoding, scored by the task's own checker."""

from __future__ import annotations

import re
from collections.abc import Callable

import torch

from r1.data.chat import format_prompt

TEMPLATE = re.compile(r"^\s*<think>.*?</think>\s*<answer>.*?</answer>\s*$", re.DOTALL)


def follows_template(completion: str) -> bool:
    """Strictly ``<think>…</think><answer>…</answer>`` and nothing else."""
    return bool(TEMPLATE.match(completion))


@torch.no_grad()
def greedy_accuracy(
    model,
    tokenizer,
    sampler,
    samples: list[dict],
    check: Callable[[str, str], bool],
    max_new_tokens: int = 64,
    system_prompt: str | None = None,
    batch_size: int = 256,
) -> dict[str, float]:
    """Share of ``samples`` answered correctly (and in the template) with greedy decoding.

    Greedy decoding makes the number a property of the weights alone, so curves are
    comparable across steps and seeds.
    """
    correct = formatted = 0
    for start in range(0, len(samples), batch_size):
        chunk = samples[start : start + batch_size]
        prompts = [format_prompt(tokenizer, s["prompt"], system_prompt) for s in chunk]
        rollout = sampler.generate(model, tokenizer, prompts, num_samples=1, max_new_tokens=max_new_tokens, temperature=0.0)
        for sample, text in zip(chunk, rollout.texts):
            correct += bool(check(text, sample["answer"]))
            formatted += follows_template(text)
    n = max(len(samples), 1)
    return {"accuracy": correct / n, "format_rate": formatted / n, "n": float(len(samples))}
