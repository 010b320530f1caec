"""Model builders and loaders. No training code lives here (``docs/DESIGN.md``, principle 6)."""

from __future__ import annotations

from r1.models.dense import build_tiny_dense
from r1.models.loading import load_model, load_pretrained, load_tokenizer
from r1.models.tiny_moe import build_tiny_moe
from r1.models.tokenizer import build_tiny_tokenizer, load_tiny_tokenizer

__all__ = [
    "build_tiny_dense",
    "build_tiny_moe",
    "build_tiny_tokenizer",
    "load_model",
    "load_pretrained",
    "load_tiny_tokenizer",
    "load_tokenizer",
]
