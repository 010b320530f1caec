"""Running a transformers causal LM's own ``forward`` over prompts, keeping its KV cache.

The sampler's generic decoder and the shared-prompt scoring path both encode a
batch of left-padded prompts once and continue from the cache it fills; this is
that one call, with the keyword differences between transformers versions hidden.
"""

from __future__ import annotations

import inspect
from functools import cache

import torch
from transformers import DynamicCache

from r1.scale import peft_inner


def cache_argument(model) -> str:
    """The keyword ``model``'s forward takes its KV cache by (``cache`` in transformers ≥ 5.x).

    A peft (LoRA) model passes keywords through to the transformers model inside it,
    whose signature decides.
    """
    return _cache_argument_of(type(peft_inner(model)))


@cache
def _cache_argument_of(model_class: type) -> str:
    return "cache" if "cache" in inspect.signature(model_class.forward).parameters else "past_key_values"


@cache
def _takes_logits_to_keep(model_class: type) -> bool:
    """Whether forward can skip the LM head for all but the last position (saves a (B, P, V) matmul)."""
    return "logits_to_keep" in inspect.signature(model_class.forward).parameters


def prefill_with_cache(model, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> tuple[torch.Tensor, DynamicCache]:
    """Run left-padded prompts through ``model.forward`` once; return last-position logits and the filled cache."""
    kv = DynamicCache(config=model.config)
    positions = (attention_mask.cumsum(dim=1) - 1).clamp(min=0)
    extra = {"logits_to_keep": 1} if _takes_logits_to_keep(type(peft_inner(model))) else {}
    out = model(
        input_ids=input_ids, attention_mask=attention_mask, position_ids=positions, use_cache=True,
        **{cache_argument(model): kv}, **extra,
    )
    return out.logits[:, -1], kv
