"""Decoders: the model-specific half of sampling (prefill, one decode step, dropping rows).

:class:`r1.samplers.hf.HFSampler` owns the sampling loop (temperature, top-p, stop
tokens, log-probs) and asks a decoder for next-token logits. Two kinds exist:

* :class:`HFCacheDecoder` works with any transformers causal LM: it calls the
  model's own ``forward`` with a ``DynamicCache``.
* Architecture-specific decoders (:mod:`r1.samplers.deepseek_v3`) re-implement
  only the one-token decode step with plain tensor ops over the model's own weights
  and a preallocated cache. At the batch sizes of CPU rollouts a decode step is
  dominated by per-module Python overhead, not arithmetic, so fewer, larger ops
  are what make it fast. Prefill still runs the model's ``forward``, so prompts are
  encoded exactly as in training.

:func:`decoder_for` picks the fast decoder when one exists for the model (and it
passes its own structural checks), and the generic one otherwise, so any Hugging
Face model keeps working.
"""

from __future__ import annotations

import inspect
from functools import cache
from typing import Protocol

import torch
from transformers import DynamicCache


class Decoder(Protocol):
    """What the sampling loop needs from a model."""

    def prefill(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, num_samples: int, max_new_tokens: int) -> torch.Tensor:
        """Encode left-padded prompts once; return next-token logits ``(prompts * num_samples, vocab)``."""

    def step(self, tokens: torch.Tensor) -> torch.Tensor:
        """Append one token per live row; return the next-token logits ``(rows, vocab)``."""

    def keep(self, rows: torch.Tensor) -> None:
        """Keep only these rows (indices into the current live rows) from now on."""


@cache
def cache_argument(model_class: type) -> str:
    """The keyword a model's forward takes its KV cache by (``cache`` in transformers ≥ 5.x)."""
    return "cache" if "cache" in inspect.signature(model_class.forward).parameters else "past_key_values"


@cache
def _takes_logits_to_keep(model_class: type) -> bool:
    """Whether forward can skip the LM head for all but the last position (saves a (B, P, V) matmul)."""
    return "logits_to_keep" in inspect.signature(model_class.forward).parameters


def prefill_with_cache(model, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> tuple[torch.Tensor, DynamicCache]:
    """Run the prompts through ``model.forward`` once; return last-position logits and the filled cache."""
    cache = DynamicCache(config=model.config)
    positions = (attention_mask.cumsum(dim=1) - 1).clamp(min=0)
    extra = {"logits_to_keep": 1} if _takes_logits_to_keep(type(model)) else {}
    out = model(
        input_ids=input_ids, attention_mask=attention_mask, position_ids=positions, use_cache=True,
        **{cache_argument(type(model)): cache}, **extra,
    )
    return out.logits[:, -1], cache


class HFCacheDecoder:
    """Any transformers causal LM: its own ``forward`` and a ``DynamicCache``."""

    def __init__(self, model) -> None:
        self.model = model
        self.cache_kw = cache_argument(type(model))

    def prefill(self, input_ids, attention_mask, num_samples, max_new_tokens):
        logits, self.cache = prefill_with_cache(self.model, input_ids, attention_mask)
        if num_samples > 1:
            # Prefill each distinct prompt once, then copy its cache for the samples.
            self.cache.batch_repeat_interleave(num_samples)
            logits = logits.repeat_interleave(num_samples, dim=0)
            attention_mask = attention_mask.repeat_interleave(num_samples, dim=0)
        self.attention = attention_mask
        self.position = attention_mask.sum(dim=1)
        return logits

    def step(self, tokens):
        self.attention = torch.cat([self.attention, self.attention.new_ones(tokens.shape[0], 1)], dim=1)
        out = self.model(
            input_ids=tokens[:, None], attention_mask=self.attention, position_ids=self.position[:, None],
            use_cache=True, **{self.cache_kw: self.cache},
        )
        self.position = self.position + 1
        return out.logits[:, -1]

    def keep(self, rows):
        self.attention, self.position = self.attention[rows], self.position[rows]
        self.cache.batch_select_indices(rows)


def decoder_for(model, fast: str | bool = "auto") -> Decoder:
    """The fastest decoder that supports ``model``.

    Args:
        fast: ``auto`` (or True) uses an architecture-specific decoder when there is one;
            ``off`` (or False) always uses the model's own ``forward``.
    """
    if fast not in ("off", False, None):
        from r1.samplers.deepseek_v3 import DeepseekV3Decoder

        if DeepseekV3Decoder.supports(model):
            return DeepseekV3Decoder(model)
    return HFCacheDecoder(model)
