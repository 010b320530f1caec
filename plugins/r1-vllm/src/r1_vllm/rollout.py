"""From vLLM's request outputs to r1's :class:`~r1.protocols.Rollout`: pure functions, no vLLM import.

Kept apart from the engine so the conversion (padding, masks, truncation, log-probs) is
tested on any machine with plain stand-ins for vLLM's output objects.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from r1.protocols import Rollout


@dataclass(frozen=True)
class Completion:
    """One generated sequence: its tokens, the log-prob of each (when asked for), and why it ended."""

    token_ids: list[int]
    logprobs: list[float] | None
    finish_reason: str | None  # "stop" (EOS / stop token or string), "length" (hit max tokens), ...


def completions_of(outputs: Iterable[Any]) -> list[list[Completion]]:
    """Read ``vllm.RequestOutput`` objects (one per prompt, ``n`` completions each) into plain data.

    vLLM reports a log-prob dict per generated token (``{token_id: Logprob}``, holding the
    sampled token when ``SamplingParams(logprobs=0)``); only the sampled token's is kept.
    """
    groups = []
    for request in outputs:
        group = []
        for out in sorted(request.outputs, key=lambda o: o.index):
            tokens = list(out.token_ids)
            logprobs = None
            if out.logprobs is not None:
                logprobs = [float(step[t].logprob) if t in step else float("nan") for t, step in zip(tokens, out.logprobs)]
            group.append(Completion(tokens, logprobs, out.finish_reason))
        groups.append(group)
    return groups


def build_rollout(
    prompt_ids: Sequence[Sequence[int]],
    groups: Sequence[Sequence[Completion]],
    tokenizer: Any,
    pad_id: int,
    return_logprobs: bool,
    seconds: float,
) -> Rollout:
    """Pad and stack completions the way the ``hf`` sampler does, so every consumer sees the same Rollout.

    Prompts are left-padded and repeated once per sample; completions are right-padded
    with ``pad_id`` and masked up to and including their last generated token (the stop
    token, when there is one). A completion is truncated when vLLM stopped it for length.

    Args:
        prompt_ids: the token ids of each prompt, unpadded.
        groups: for each prompt, its completions in sample order (all groups the same size).
        tokenizer: decodes the completions' texts.
        pad_id: padding token id.
        return_logprobs: fill ``Rollout.logprobs`` from the completions' log-probs.
        seconds: generation time, for the throughput statistics.
    """
    if len(prompt_ids) != len(groups):
        raise ValueError(f"{len(groups)} completion groups for {len(prompt_ids)} prompts")
    num_samples = len(groups[0]) if groups else 0
    if any(len(g) != num_samples for g in groups):
        raise ValueError("every prompt needs the same number of completions")
    rows = [(prompt, c) for prompt, group in zip(prompt_ids, groups) for c in group]
    n = len(rows)
    prompt_width = max((len(p) for p in prompt_ids), default=0)
    width = max((len(c.token_ids) for _, c in rows), default=0)

    prompt_tensor = torch.full((n, prompt_width), pad_id, dtype=torch.long)
    prompt_mask = torch.zeros((n, prompt_width), dtype=torch.long)
    completion_ids = torch.full((n, width), pad_id, dtype=torch.long)
    completion_mask = torch.zeros((n, width), dtype=torch.long)
    logprobs = torch.zeros((n, width), dtype=torch.float32)
    truncated = torch.zeros(n, dtype=torch.bool)
    for i, (prompt, c) in enumerate(rows):
        if prompt:
            prompt_tensor[i, prompt_width - len(prompt):] = torch.tensor(prompt)
            prompt_mask[i, prompt_width - len(prompt):] = 1
        length = len(c.token_ids)
        if length:
            completion_ids[i, :length] = torch.tensor(c.token_ids)
            completion_mask[i, :length] = 1
            if c.logprobs is not None:
                logprobs[i, :length] = torch.tensor(c.logprobs, dtype=torch.float32).nan_to_num(0.0)
        truncated[i] = c.finish_reason == "length"
    texts = tokenizer.batch_decode(completion_ids.masked_fill(completion_mask == 0, pad_id), skip_special_tokens=True)
    generated = float(sum(len(c.token_ids) for _, c in rows))
    return Rollout(
        prompt_ids=prompt_tensor,
        prompt_mask=prompt_mask,
        completion_ids=completion_ids,
        completion_mask=completion_mask,
        texts=texts,
        truncated=truncated,
        num_samples=num_samples,
        logprobs=logprobs * completion_mask if return_logprobs else None,
        stats={"generate_s": seconds, "generated_tokens": generated, "tokens_per_s": generated / max(seconds, 1e-9)},
    )
