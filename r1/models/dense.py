"""A small dense student (Qwen3 architecture) for distillation, built from plain arguments."""

from __future__ import annotations

from transformers import Qwen3Config, Qwen3ForCausalLM

from r1.models.seeding import seeded


def build_tiny_dense(
    vocab_size: int,
    pad_token_id: int,
    bos_token_id: int,
    eos_token_id: int,
    hidden_size: int = 96,
    num_layers: int = 3,
    num_heads: int = 4,
    num_kv_heads: int = 2,
    head_dim: int = 24,
    intermediate_size: int = 256,
    max_position_embeddings: int = 512,
    attn_implementation: str = "sdpa",
    seed: int = 0,
) -> Qwen3ForCausalLM:
    """A randomly initialised dense Qwen3 decoder (grouped-query attention, no experts).

    Distillation in DeepSeek-R1 targets dense Qwen and Llama models; this is the
    same family at a size that trains on a CPU.
    """
    config = Qwen3Config(
        vocab_size=vocab_size,
        hidden_size=hidden_size,
        intermediate_size=intermediate_size,
        num_hidden_layers=num_layers,
        num_attention_heads=num_heads,
        num_key_value_heads=num_kv_heads,
        head_dim=head_dim,
        max_position_embeddings=max_position_embeddings,
        pad_token_id=pad_token_id,
        bos_token_id=bos_token_id,
        eos_token_id=eos_token_id,
        tie_word_embeddings=True,
    )
    config._attn_implementation = attn_implementation
    return seeded(lambda: Qwen3ForCausalLM(config), seed)
