"""The fast DeepSeek-V3 prefill and decode step (r1/models/fast/deepseek_v3_decoder.py) compute what the model's own forward computes.

Each variant of the architecture the fast path folds differently (rotary layout,
query LoRA, biases, routing options, shared-expert count, the large-expert loop)
is checked step by step against ``HFCacheDecoder``, which calls ``forward``.
"""

from __future__ import annotations

import pytest
import torch
from transformers import DeepseekV3Config, DeepseekV3ForCausalLM, Qwen3Config, Qwen3ForCausalLM

import r1.models.fast.deepseek_v3_decoder as fast_decoder
from r1.models.fast.deepseek_v3_decoder import DeepseekV3Decoder
from r1.runtime import forced_fast_paths
from r1.samplers.decoding import HFCacheDecoder, decoder_for

VOCAB = 96


def deepseek(**changes) -> DeepseekV3ForCausalLM:
    """A small random DeepSeek-V3 with weights far from their init, so that every term matters."""
    options = dict(
        vocab_size=VOCAB, hidden_size=64, intermediate_size=96, moe_intermediate_size=32, num_hidden_layers=3,
        num_attention_heads=4, num_key_value_heads=4, n_shared_experts=1, n_routed_experts=8, num_experts_per_tok=2,
        n_group=1, topk_group=1, first_k_dense_replace=1, kv_lora_rank=16, q_lora_rank=None, qk_rope_head_dim=8,
        qk_nope_head_dim=8, v_head_dim=16, max_position_embeddings=128, pad_token_id=0, tie_word_embeddings=False,
    )
    options.update(changes)
    config = DeepseekV3Config(**options)
    config._attn_implementation = "sdpa"
    torch.manual_seed(0)
    model = DeepseekV3ForCausalLM(config).eval()
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if parameter.dim() == 1:  # norms and biases
                parameter.copy_(1.0 + 0.2 * torch.randn_like(parameter) if "norm" in name else 0.1 * torch.randn_like(parameter))
            else:
                parameter.normal_(0.0, 0.15)
        for module in model.modules():
            if hasattr(module, "e_score_correction_bias"):
                module.e_score_correction_bias.copy_(0.1 * torch.randn_like(module.e_score_correction_bias))
    return model


# The architecture's variants that the fused paths fold differently (also used by test_deepseek_v3_scoring.py).
VARIANTS = [
    pytest.param({}, id="default"),
    pytest.param({"rope_interleave": False}, id="split-halves-rope"),
    pytest.param({"q_lora_rank": 24, "attention_bias": True}, id="query-lora-and-biases"),
    pytest.param({"n_group": 2, "topk_group": 1, "norm_topk_prob": False, "routed_scaling_factor": 2.5}, id="group-limited-routing"),
    pytest.param({"n_shared_experts": 2, "num_experts_per_tok": 3}, id="two-shared-experts-top3"),
    pytest.param({"first_k_dense_replace": 0}, id="no-dense-layer"),
]


def prompts() -> tuple[torch.Tensor, torch.Tensor]:
    """Three left-padded prompts of different lengths."""
    torch.manual_seed(1)
    ids = torch.randint(1, VOCAB, (3, 7))
    mask = torch.ones_like(ids)
    mask[0, :3] = 0
    mask[1, :1] = 0
    return ids.masked_fill(mask == 0, 0), mask


def assert_same_logits(model, num_samples: int = 2, steps: int = 10, drop_at: int = 4) -> None:
    ids, mask = prompts()
    reference, fast = HFCacheDecoder(model), DeepseekV3Decoder(model)
    expected = reference.prefill(ids, mask, num_samples, steps)
    got = fast.prefill(ids, mask, num_samples, steps)
    torch.testing.assert_close(got, expected, atol=1e-4, rtol=1e-4)
    generator = torch.Generator().manual_seed(0)
    for step in range(steps):
        tokens = torch.multinomial(expected.softmax(-1), 1, generator=generator).squeeze(-1)
        if step == drop_at:  # rows finish: both decoders drop them
            keep = torch.arange(0, tokens.shape[0], 2)
            reference.keep(keep)
            fast.keep(keep)
            tokens = tokens[keep]
        expected, got = reference.step(tokens), fast.step(tokens)
        torch.testing.assert_close(got, expected, atol=1e-4, rtol=1e-4, msg=lambda m: f"step {step}: {m}")


@pytest.mark.parametrize("changes", VARIANTS)
def test_fast_decode_step_matches_the_model_forward(changes):
    assert_same_logits(deepseek(**changes))


def test_large_experts_take_the_per_expert_loop_and_still_match(monkeypatch):
    monkeypatch.setattr(fast_decoder, "DENSE_EXPERTS_MAX_MACS", 0)
    model = deepseek()
    decoder = DeepseekV3Decoder(model)
    assert all(feed_forward.up is None for _, feed_forward in decoder.layers[1:])
    assert_same_logits(model)


def test_decoder_choice_follows_the_fast_paths_switch():
    model = deepseek()
    config = Qwen3Config(vocab_size=VOCAB, hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=2, num_key_value_heads=1, head_dim=16)
    with forced_fast_paths(True):
        assert isinstance(decoder_for(model), DeepseekV3Decoder)
        assert isinstance(decoder_for(Qwen3ForCausalLM(config)), HFCacheDecoder)  # no fast path: the model's own forward
    with forced_fast_paths(False):
        assert isinstance(decoder_for(model), HFCacheDecoder)


def test_decoder_sees_weights_changed_between_batches():
    """Weights are folded per batch, so a policy update reaches the next rollout."""
    model = deepseek()
    ids, mask = prompts()
    first = DeepseekV3Decoder(model)
    tokens = first.prefill(ids, mask, 1, 2).argmax(-1)
    old_step = first.step(tokens)
    with torch.no_grad():
        model.model.layers[1].mlp.experts.gate_up_proj.mul_(1.5)
        model.model.layers[0].self_attn.kv_b_proj.weight.mul_(0.5)
    second = DeepseekV3Decoder(model)
    second.prefill(ids, mask, 1, 2)
    new_step = second.step(tokens)
    reference = HFCacheDecoder(model)
    reference.prefill(ids, mask, 1, 2)
    torch.testing.assert_close(new_step, reference.step(tokens), atol=1e-4, rtol=1e-4)
    assert not torch.allclose(new_step, old_step, atol=1e-3)


def test_long_prompt_batches_prefill_through_the_model_forward_and_still_match(monkeypatch):
    monkeypatch.setattr(fast_decoder, "FUSED_PREFILL_MAX_TOKENS", 0)
    assert_same_logits(deepseek(q_lora_rank=24))


def test_in_bfloat16_the_fused_path_is_as_close_to_float32_as_the_models_own_forward():
    """Folding changes the order of roundings; in bf16 that must not cost accuracy."""
    ids, mask = prompts()
    exact = HFCacheDecoder(deepseek())
    low = deepseek().to(torch.bfloat16)
    own, fused = HFCacheDecoder(low), DeepseekV3Decoder(low)
    expected = exact.prefill(ids, mask, 2, 8)
    errors = {"own": [], "fused": []}
    got = {"own": own.prefill(ids, mask, 2, 8), "fused": fused.prefill(ids, mask, 2, 8)}
    for step in range(6):
        for name in errors:
            errors[name].append((got[name].float() - expected).abs().max().item())
        tokens = expected.argmax(-1)
        expected, got = exact.step(tokens), {"own": own.step(tokens), "fused": fused.step(tokens)}
    assert max(errors["fused"]) <= 1.5 * max(errors["own"]) + 0.02, errors
