"""Decoders: the model-specific half of sampling (prefill, one decode step, dropping rows).

:class:`r1.samplers.hf.HFSampler` owns the sampling loop (temperature, top-p, stop
tokens, log-probs) and asks a decoder for next-token logits. :class:`HFCacheDecoder`
works with any transformers causal LM: it calls the model's own ``forward`` with a
``DynamicCache``. With ``runtime.fast_paths`` on, :func:`decoder_for` takes a fast
decoder from :mod:`r1.models.fast` instead when there is one for the model
(DeepSeek-V3, the tiny default included), so any Hugging Face model keeps working.
"""

from __future__ import annotations

from typing import Protocol

import torch

from r1.models import fast
from r1.models.kv_cache import cache_argument, prefill_with_cache


class Decoder(Protocol):
    """What the sampling loop needs from a model."""

    def prefill(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, num_samples: int, max_new_tokens: int) -> torch.Tensor:
        """Encode left-padded prompts once; return next-token logits ``(prompts * num_samples, vocab)``."""

    def step(self, tokens: torch.Tensor) -> torch.Tensor:
        """Append one token per live row; return the next-token logits ``(rows, vocab)``."""

    def keep(self, rows: torch.Tensor) -> None:
        """Keep only these rows (indices into the current live rows) from now on."""


class HFCacheDecoder:
    """Any transformers causal LM: its own ``forward`` and a ``DynamicCache``."""

    def __init__(self, model) -> None:
        self.model = model
        self.cache_kw = cache_argument(model)

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


def decoder_for(model) -> Decoder:
    """A fast decoder for ``model`` when the fast paths are on and one exists; the model's own forward otherwise."""
    return fast.decoder(model) or HFCacheDecoder(model)
