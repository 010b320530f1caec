"""The logits that score sampled completions: what GRPO's policy and reference forwards compute.

The plain path is one forward of the model over prompt + completion
(:func:`full_sequence_logits`). With ``runtime.fast_paths`` on, :mod:`r1.models.fast`
computes the same logits faster where it can: each group's prompt run once, and for
DeepSeek-V3 models on CPU a fused forward over prompts and completions without their
padding. Either way the result is the same to float rounding.
"""

from __future__ import annotations

import torch
from torch import nn

from r1.models import fast


def full_sequence_logits(model: nn.Module, prompt_ids: torch.Tensor, prompt_mask: torch.Tensor, completion_ids: torch.Tensor, completion_mask: torch.Tensor) -> torch.Tensor:
    """``(B, C, V)`` logits predicting each completion token, from one forward over prompt + completion."""
    ids = torch.cat([prompt_ids, completion_ids], dim=1)
    attention = torch.cat([prompt_mask, completion_mask], dim=1)
    positions = (attention.cumsum(dim=1) - 1).clamp(min=0)
    logits = model(input_ids=ids, attention_mask=attention, position_ids=positions, use_cache=False).logits
    return logits[:, prompt_ids.shape[1] - 1 : -1]  # position t predicts completion token t


def completion_logits(
    model: nn.Module,
    prompt_ids: torch.Tensor,
    prompt_mask: torch.Tensor,
    completion_ids: torch.Tensor,
    completion_mask: torch.Tensor,
    groups: torch.Tensor,
) -> torch.Tensor:
    """``(B, C, V)`` logits predicting each completion token (``logits[:, t]`` → ``completion_ids[:, t]``).

    Args:
        prompt_ids, prompt_mask: ``(B, P)`` left-padded prompts, one row per completion.
        completion_ids, completion_mask: ``(B, C)`` right-padded completions.
        groups: ``(B,)`` the prompt group of each row (GRPO's G samples of one prompt). The
            fast paths run a group's prompt once when its rows do share it, and check that
            they do.

    Logits at padding positions (``completion_mask == 0``) are not defined.
    """
    logits = fast.completion_logits(model, prompt_ids, prompt_mask, completion_ids, completion_mask, groups)
    return logits if logits is not None else full_sequence_logits(model, prompt_ids, prompt_mask, completion_ids, completion_mask)
