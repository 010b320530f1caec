"""The logits that score sampled completions, with each shared prompt run once.

GRPO scores G completions of every prompt, twice per step: the frozen reference's
forward, and the policy's forward and backward. A full-sequence forward runs each
prompt G times. :func:`completion_logits` runs it once per group instead, repeats its
KV cache for the group's rows, and runs the completions on top of it: the same causal
computation (every real token sees the same positions and keys), with the prompt's share of the work divided
by G. At the GRPO benchmark's lengths (prompts of ~20 tokens, completions of ~30) that
is a quarter fewer tokens through every layer, in the forward and in the backward.

For DeepSeek-V3 models on CPU (the tiny default) one fused forward does better still:
prompts once and completions without their padding in a single token list, with
weight-absorbed attention (:mod:`r1.models.deepseek_v3_scoring`).

The full-sequence forward remains for the cases where a cache cannot carry gradients
safely: FSDP-wrapped models and activation checkpointing (recomputation would run the
layers, and append to the cache, a second time), and rollouts whose rows of one group do
not share a prompt.
"""

from __future__ import annotations

import torch
from torch import nn

from r1.models import deepseek_v3_scoring
from r1.samplers.decoding import cache_argument, prefill_with_cache
from r1.scale import fsdp_units, recomputes_activations


def full_sequence_logits(model: nn.Module, prompt_ids: torch.Tensor, prompt_mask: torch.Tensor, completion_ids: torch.Tensor, completion_mask: torch.Tensor) -> torch.Tensor:
    """``(B, C, V)`` logits predicting each completion token, from one forward over prompt + completion."""
    ids = torch.cat([prompt_ids, completion_ids], dim=1)
    attention = torch.cat([prompt_mask, completion_mask], dim=1)
    positions = (attention.cumsum(dim=1) - 1).clamp(min=0)
    logits = model(input_ids=ids, attention_mask=attention, position_ids=positions, use_cache=False).logits
    return logits[:, prompt_ids.shape[1] - 1 : -1]  # position t predicts completion token t


def can_share_prompts(model: nn.Module, grad: bool) -> bool:
    """Whether a KV cache may carry this forward (see the module docstring)."""
    if fsdp_units(model):
        return False
    return not (grad and recomputes_activations(model))


def completion_logits(
    model: nn.Module,
    prompt_ids: torch.Tensor,
    prompt_mask: torch.Tensor,
    completion_ids: torch.Tensor,
    completion_mask: torch.Tensor,
    groups: torch.Tensor | None = None,
    fast: bool = True,
) -> torch.Tensor:
    """``(B, C, V)`` logits predicting each completion token (``logits[:, t]`` → ``completion_ids[:, t]``).

    Args:
        prompt_ids, prompt_mask: ``(B, P)`` left-padded prompts, one row per completion.
        completion_ids, completion_mask: ``(B, C)`` right-padded completions.
        groups: ``(B,)`` the prompt group of each row (rows of a group share one prompt);
            None runs every row's full sequence, and so does a model a cache cannot carry
            (:func:`can_share_prompts`).
        fast: use an architecture's fused forward where r1 has one and it applies
            (:mod:`r1.models.deepseek_v3_scoring`: DeepSeek-V3 on CPU).

    Rows whose group's prompts differ, or a model whose forward fills no cache, fall
    back to the full-sequence forward, so the result never depends on the shortcut.
    Logits at padding positions (``completion_mask == 0``) are not defined.
    """
    shared = _shared_prompts(groups, prompt_ids, prompt_mask) if can_share_prompts(model, torch.is_grad_enabled()) else None
    if fast:
        every_row = torch.arange(prompt_ids.shape[0], device=prompt_ids.device)
        first, row_prompt = shared if shared is not None else (every_row, every_row)
        if deepseek_v3_scoring.usable(model, torch.is_grad_enabled(), first.shape[0], prompt_ids.shape[1], *completion_ids.shape):
            return deepseek_v3_scoring.completion_logits(model, prompt_ids[first], prompt_mask[first], completion_ids, completion_mask, row_prompt)
    if shared is None:
        return full_sequence_logits(model, prompt_ids, prompt_mask, completion_ids, completion_mask)
    first, row_group = shared
    first_logits, cache = prefill_with_cache(model, prompt_ids[first], prompt_mask[first])
    if cache.get_seq_length() != prompt_ids.shape[1]:  # the model ran without its cache (e.g. gradient checkpointing)
        return full_sequence_logits(model, prompt_ids, prompt_mask, completion_ids, completion_mask)
    first_logits = first_logits[row_group, None]  # (B, 1, V): the last prompt position predicts completion token 0
    width = completion_ids.shape[1]
    if width == 1:
        return first_logits
    cache.batch_select_indices(row_group)  # the group's prompt cache for each of its rows
    attention = torch.cat([prompt_mask, completion_mask[:, :-1]], dim=1)
    positions = prompt_mask.sum(dim=1, keepdim=True) + torch.arange(width - 1, device=prompt_ids.device)
    out = model(
        input_ids=completion_ids[:, :-1], attention_mask=attention, position_ids=positions, use_cache=True,
        **{cache_argument(type(model)): cache},
    )
    return torch.cat([first_logits, out.logits], dim=1)


def _shared_prompts(groups: torch.Tensor | None, prompt_ids: torch.Tensor, prompt_mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor] | None:
    """``(first row of each group, group of each row)`` when every group shares one prompt and some group has two rows; else None."""
    if groups is None:
        return None
    unique, row_group = torch.unique(groups, return_inverse=True)
    rows = torch.arange(groups.shape[0], device=groups.device)
    first = torch.full((unique.shape[0],), groups.shape[0], dtype=torch.long, device=groups.device).scatter_reduce_(0, row_group, rows, reduce="amin")
    if unique.shape[0] == groups.shape[0] or not (torch.equal(prompt_ids, prompt_ids[first][row_group]) and torch.equal(prompt_mask, prompt_mask[first][row_group])):
        return None
    return first, row_group
