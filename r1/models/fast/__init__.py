"""r1's fast paths: the one seam between transformers' own forward and r1's faster arrangements of it.

The plain reading path is transformers' forward, everywhere: the sampler decodes
through the model's ``forward`` with a KV cache (:mod:`r1.samplers.decoding`), and
completions are scored by one forward over prompt + completion
(:func:`r1.models.completion_logits.full_sequence_logits`). Everything in this package
computes the same numbers with fewer, larger ops, because at rollout sizes on a CPU a
step costs per-op overhead more than arithmetic:

* **Decoding** (:mod:`r1.models.fast.deepseek_v3_decoder`): for DeepSeek-V3 models (the tiny default
  included), prefill and one-token decode steps as a few dozen tensor ops over the
  model's weights folded once per batch (weight-absorbed latent attention, a
  preallocated latent cache, small experts as two matmuls).
* **Fused scoring** (:mod:`r1.models.fast.deepseek_v3_scoring`): for DeepSeek-V3 models on CPU,
  GRPO's policy and reference forwards (and the backward) over one flat token list:
  each group's prompt once, completion padding not at all, the same folded attention.
* **Shared-prompt scoring** (:mod:`r1.models.fast.shared_prompt`): for any model, each
  group's prompt prefilled once and its KV cache repeated for the group's completions.
* **CPU experts** (:mod:`r1.models.fast.experts`): transformers' grouped expert
  matmuls with ``index_select`` gathers and scatters, selected when a model loads.

:mod:`r1.models.fast.deepseek_v3` holds the DeepSeek-V3 folding maths the decoder and the
scorer share. Each path checks that it applies (architecture, device, FSDP, activation
checkpointing, batch size, LoRA adapters) and otherwise hands over to transformers'
forward, so a result never depends on which path ran.

**LoRA policies** (``model.lora``): the seam receives the policy as the phase holds it,
a peft wrapper included. The fused decoder and scorer run on the transformers model
inside it (:func:`r1.scale.peft_inner`) and fold each LoRA projection as
its base weight plus the active adapter's ``B @ A`` (base weight alone inside
``disable_adapter()``, GRPO's reference); they step aside where that is not exact: LoRA
dropout while training, several active adapters, DoRA and other variants, any other
peft layer (:mod:`r1.models.fast.adapters`). Shared-prompt scoring calls the wrapper's
own forward and needs nothing of the kind. Tests compare every path with transformers'
forward, variant by variant: ``tests/unit/test_decoders.py`` (each decode step),
``tests/unit/test_deepseek_v3_scoring.py`` (logits and gradients),
``tests/unit/test_completion_logits.py`` (shared prompts) and
``tests/unit/test_models.py`` (experts, bit for bit).

What each saves is measured in ``docs/FINDINGS.md`` (speed).

**The switch.** ``runtime.fast_paths`` in ``conf/config.yaml`` (default ``true``);
``python -m r1.run runtime.fast_paths=false`` runs transformers' forward everywhere.
``r1.run`` applies it through :func:`r1.runtime.apply`; :func:`enabled` is the only
place it is read, and :func:`r1.runtime.forced_fast_paths` sets it for one block.
"""

from __future__ import annotations

import torch
from torch import nn

from r1.models.fast import deepseek_v3_scoring, shared_prompt
from r1.models.fast.deepseek_v3_decoder import DeepseekV3Decoder
from r1.models.fast.experts import select_sorted_experts
from r1.models.fast.deepseek_v3 import foldable
from r1.runtime import fast_paths_enabled
from r1.scale import peft_inner


def enabled() -> bool:
    """Whether the fast paths may run (``runtime.fast_paths``)."""
    return fast_paths_enabled()


def decoder(model: nn.Module) -> DeepseekV3Decoder | None:
    """A fast decoder for ``model`` (the sampler's ``Decoder`` protocol), or None: decode with the model's forward.

    A peft (LoRA) model is decoded through the transformers model inside it.
    """
    if not enabled():
        return None
    inner = peft_inner(model)
    return DeepseekV3Decoder(inner) if foldable(inner) else None


def completion_logits(
    model: nn.Module,
    prompt_ids: torch.Tensor,
    prompt_mask: torch.Tensor,
    completion_ids: torch.Tensor,
    completion_mask: torch.Tensor,
    groups: torch.Tensor,
) -> torch.Tensor | None:
    """Completion logits from the fused or the shared-prompt path, or None: score with the full-sequence forward.

    Arguments as :func:`r1.models.completion_logits.completion_logits`. The fused
    forward is preferred where it applies; it also covers rows that share no prompt. It
    runs on the transformers model inside a peft (LoRA) wrapper; shared prompts go
    through ``model`` as given.
    """
    if not enabled():
        return None
    grad = torch.is_grad_enabled()
    shared = shared_prompt.prompt_groups(groups, prompt_ids, prompt_mask) if shared_prompt.can_share_prompts(model, grad) else None
    every_row = torch.arange(prompt_ids.shape[0], device=prompt_ids.device)
    first, row_prompt = shared if shared is not None else (every_row, every_row)
    inner = peft_inner(model)
    if deepseek_v3_scoring.usable(inner, grad, first.shape[0], prompt_ids.shape[1], *completion_ids.shape):
        return deepseek_v3_scoring.completion_logits(inner, prompt_ids[first], prompt_mask[first], completion_ids, completion_mask, row_prompt)
    if shared is None:
        return None
    return shared_prompt.shared_prompt_logits(model, prompt_ids, prompt_mask, completion_ids, completion_mask, *shared)


def use_fast_experts(model: nn.Module) -> nn.Module:
    """``model`` with r1's CPU experts selected when the fast paths are on (call it when a model loads)."""
    return select_sorted_experts(model) if enabled() else model
