"""Held-out scoring during training: greedy decoding, scored by a verifier.

SFT, distillation and GRPO all report the same two numbers while they train:
accuracy (the task's checker, the shared verifier by default) and the strict
format rate. Greedy decoding makes them a property of the weights alone, so curves
are comparable across steps, phases and seeds.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from r1.protocols import Sample
from r1.template import matches_strict_template


def is_formatted(completion: str) -> bool:
    """Whether the completion is exactly ``<think>…</think><answer>…</answer>`` (each tag once).

    The reward's strict check, with no whitespace around it either: what a model that learned
    the template emits.
    """
    return completion == completion.strip() and matches_strict_template(completion)


@torch.no_grad()
def score_greedy(
    model: torch.nn.Module,
    tokenizer,
    sampler,
    samples: Sequence[Sample],
    max_new_tokens: int = 64,
    system_prompt: str | None = None,
    verify: Callable[[str, str], bool] | None = None,
) -> dict[str, list]:
    """Decode each sample's prompt greedily and score the completion.

    Returns:
        ``completions``, ``correct`` (verifier against ``answer``), ``formatted``
        (strict template) and ``truncated`` (hit ``max_new_tokens``), one entry per sample.
    """
    from r1.data.chat import format_prompt

    if verify is None:
        from r1.math import verify
    prompts = [format_prompt(tokenizer, s["prompt"], system_prompt) for s in samples]
    rollout = sampler.generate(model, tokenizer, prompts, num_samples=1, max_new_tokens=max_new_tokens, temperature=0.0)
    texts = list(rollout.texts)
    return {
        "completions": texts,
        "correct": [bool(verify(text, str(s["answer"]))) for text, s in zip(texts, samples)],
        "formatted": [is_formatted(text) for text in texts],
        "truncated": [bool(t) for t in rollout.truncated.tolist()],
    }


def evaluate_greedy(
    model,
    tokenizer,
    sampler,
    samples: Sequence[Sample],
    max_new_tokens: int = 64,
    batch_size: int = 128,
    system_prompt: str | None = None,
    verify: Callable[[str, str], bool] | None = None,
) -> dict[str, float]:
    """Accuracy and format rate of greedy completions on ``samples``, in batches."""
    correct, formatted = [], []
    for start in range(0, len(samples), batch_size):
        scores = score_greedy(model, tokenizer, sampler, samples[start : start + batch_size], max_new_tokens, system_prompt, verify)
        correct += scores["correct"]
        formatted += scores["formatted"]
    n = max(len(correct), 1)
    return {"accuracy": sum(correct) / n, "format_rate": sum(formatted) / n}


# ----------------------------------------------------------------------------- learning-rate schedule


