"""The result of sampling: what every consumer of completions (GRPO, eval, rejection) receives."""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace

import torch


@dataclass
class Rollout:
    """Completions for a batch of prompts, ``num_samples`` per prompt, grouped by prompt.

    Row ``i * num_samples + j`` is sample ``j`` of prompt ``i``. Completion tensors are
    right-padded; the mask covers every generated token up to and including the stop
    token (EOS or a stop string's last token), so it is exactly what a loss should see.
    """

    prompt_ids: torch.Tensor  # (N, P) left-padded, N = prompts * num_samples
    prompt_mask: torch.Tensor  # (N, P)
    completion_ids: torch.Tensor  # (N, C) right-padded with pad_token_id
    completion_mask: torch.Tensor  # (N, C)
    texts: list[str]  # decoded completions (special tokens dropped, template tags kept)
    truncated: torch.Tensor  # (N,) bool: hit max_new_tokens without stopping
    num_samples: int
    logprobs: torch.Tensor | None = None  # (N, C) log-prob of each sampled token, if asked for
    stats: dict[str, float] = field(default_factory=dict)  # timing and throughput

    @property
    def completion_lengths(self) -> torch.Tensor:  # (N,)
        return self.completion_mask.sum(dim=1)

    def detached_copy(self) -> Rollout:
        """The same rollout with fresh tensors, usable by autograd even if sampled under ``torch.inference_mode``."""
        tensors = {f.name: getattr(self, f.name).clone() for f in fields(self) if isinstance(getattr(self, f.name), torch.Tensor)}
        return replace(self, **tensors)
