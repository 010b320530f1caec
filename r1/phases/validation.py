"""Held-out scoring during training: greedy decoding, scored by a verifier.

SFT, distillation and GRPO all report the same two numbers while they train:
accuracy (the task's checker, the shared verifier by default) and the format rate.
Greedy decoding makes them a property of the weights alone, so curves are comparable
across steps, phases and seeds.

``val/format_rate`` means what ``heldout/format_rate`` (``phase=eval``), the strict
``format`` reward and the ``format`` filter mean: the share of completions that are
exactly ``<think>…</think><answer>…</answer>`` (each tag once, both parts non-empty,
whitespace around them allowed), as :func:`r1.template.matches_strict_template` decides.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from r1.data.chat import PromptFormat, chat_format
from r1.protocols import Sample
from r1.template import matches_strict_template


@torch.no_grad()
def score_greedy(
    model: torch.nn.Module,
    tokenizer,
    sampler,
    samples: Sequence[Sample],
    max_new_tokens: int,
    prompt_format: PromptFormat | None = None,
    verify: Callable[[str, str], bool] | None = None,
) -> dict[str, list]:
    """Decode each sample's prompt greedily and score the completion.

    Returns:
        ``completions`` (the full responses: a prompt's think prefill, then the generated
        text), ``correct`` (verifier against ``answer``), ``formatted``
        (:func:`r1.template.matches_strict_template`) and ``truncated`` (hit
        ``max_new_tokens``), one entry per sample.
    """
    if verify is None:
        from r1.math import verify
    prompt_format = prompt_format or chat_format(tokenizer)
    prompts = prompt_format.render_many([s["prompt"] for s in samples])
    rollout = sampler.generate(model, tokenizer, prompts, num_samples=1, max_new_tokens=max_new_tokens, temperature=0.0)
    texts = [prompt_format.full_response(text) for text in rollout.texts]
    return {
        "completions": texts,
        "correct": [bool(verify(text, str(s["answer"]))) for text, s in zip(texts, samples)],
        "formatted": [matches_strict_template(text) for text in texts],
        "truncated": [bool(t) for t in rollout.truncated.tolist()],
    }


def evaluate_greedy(
    model,
    tokenizer,
    sampler,
    samples: Sequence[Sample],
    max_new_tokens: int,
    batch_size: int | None = None,
    prompt_format: PromptFormat | None = None,
    verify: Callable[[str, str], bool] | None = None,
) -> dict[str, float]:
    """Accuracy and format rate of greedy completions on ``samples``, ``batch_size`` prompts at a time (None: all at once)."""
    correct, formatted = [], []
    batch_size = batch_size or max(len(samples), 1)
    for start in range(0, len(samples), batch_size):
        scores = score_greedy(model, tokenizer, sampler, samples[start : start + batch_size], max_new_tokens, prompt_format, verify)
        correct += scores["correct"]
        formatted += scores["formatted"]
    n = max(len(correct), 1)
    return {"accuracy": sum(correct) / n, "format_rate": sum(formatted) / n}


