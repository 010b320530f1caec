"""The default policy: a tiny DeepSeek-V3 Mixture-of-Experts, built with transformers' own class.

Same architecture as DeepSeek-V3/R1 (multi-head latent attention, one shared
expert plus routed experts with top-k routing, dense first layers), scaled down
to ~1.7 M parameters so the whole recipe runs on two CPU cores. Because it is
``DeepseekV3ForCausalLM``, checkpoints are ordinary Hugging Face folders that
``AutoModelForCausalLM`` (and vLLM) load unchanged.

Builders take flat arguments and know nothing of training or config
(``docs/DESIGN.md``, principle 6).
"""

from __future__ import annotations

from transformers import DeepseekV3Config, DeepseekV3ForCausalLM

from r1.models.seeding import seeded


def build_tiny_moe(
    vocab_size: int,
    pad_token_id: int,
    bos_token_id: int,
    eos_token_id: int,
    hidden_size: int = 128,
    num_layers: int = 4,
    num_heads: int = 4,
    dense_intermediate_size: int = 384,
    expert_intermediate_size: int = 64,
    n_routed_experts: int = 16,
    n_shared_experts: int = 1,
    experts_per_token: int = 2,
    first_dense_layers: int = 1,
    kv_lora_rank: int = 32,
    q_lora_rank: int | None = None,
    rope_head_dim: int = 16,
    nope_head_dim: int = 16,
    v_head_dim: int = 32,
    max_position_embeddings: int = 512,
    routed_scaling_factor: float = 1.0,
    attn_implementation: str = "sdpa",
    seed: int = 0,
) -> DeepseekV3ForCausalLM:
    """A randomly initialised DeepSeek-V3 MoE.

    Args:
        vocab_size, pad_token_id, bos_token_id, eos_token_id: from the tokenizer.
        hidden_size, num_layers, num_heads: the transformer's size.
        dense_intermediate_size: MLP width of the first ``first_dense_layers`` layers (DeepSeek-V3
            keeps its first three layers dense; one is enough at this size).
        expert_intermediate_size: MLP width of each routed and shared expert.
        n_routed_experts, experts_per_token, n_shared_experts: the MoE (16 routed, top-2, 1 shared).
        kv_lora_rank, q_lora_rank, rope_head_dim, nope_head_dim, v_head_dim: multi-head latent
            attention; ``q_lora_rank=None`` projects queries directly, as V2-Lite does.
        routed_scaling_factor: DeepSeek-V3 uses 2.5 with 256 experts; 1.0 keeps the tiny model's
            activations at unit scale.
        seed: initialisation seed, so the same arguments give the same weights.
    """
    config = DeepseekV3Config(
        vocab_size=vocab_size,
        hidden_size=hidden_size,
        intermediate_size=dense_intermediate_size,
        moe_intermediate_size=expert_intermediate_size,
        num_hidden_layers=num_layers,
        num_attention_heads=num_heads,
        num_key_value_heads=num_heads,
        n_shared_experts=n_shared_experts,
        n_routed_experts=n_routed_experts,
        num_experts_per_tok=experts_per_token,
        n_group=1,
        topk_group=1,
        first_k_dense_replace=first_dense_layers,
        kv_lora_rank=kv_lora_rank,
        q_lora_rank=q_lora_rank,
        qk_rope_head_dim=rope_head_dim,
        qk_nope_head_dim=nope_head_dim,
        v_head_dim=v_head_dim,
        max_position_embeddings=max_position_embeddings,
        routed_scaling_factor=routed_scaling_factor,
        pad_token_id=pad_token_id,
        bos_token_id=bos_token_id,
        eos_token_id=eos_token_id,
        tie_word_embeddings=False,
    )
    config._attn_implementation = attn_implementation
    return seeded(lambda: DeepseekV3ForCausalLM(config), seed)
