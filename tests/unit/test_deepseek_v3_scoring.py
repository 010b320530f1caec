"""The fused DeepSeek-V3 scoring forward (r1/models/fast/deepseek_v3_scoring.py) gives the model's own logits and gradients.

Each architecture variant the fused forward folds differently (rotary layout, query
LoRA, biases, routing options, shared-expert count) is checked against a full-sequence
forward through ``model(...)``, on left-padded prompts shared by groups of rows and
completions of every length from empty to the full width.
"""

from __future__ import annotations

import pytest
import torch

import r1.models.fast.deepseek_v3_scoring as scoring
from r1.models.completion_logits import completion_logits, full_sequence_logits
from r1.runtime import forced_fast_paths
from tests.unit.test_decoders import VARIANTS, VOCAB, deepseek, prompts

GROUP = 3


@pytest.fixture(autouse=True)
def fast_paths_on():
    """Whatever the shipped config says, these tests are about the fast path."""
    with forced_fast_paths(True):
        yield


def batch():
    """Three prompts x GROUP completions, right-padded; lengths 0, 1, 2 and up to the width 6."""
    prompt_ids, prompt_mask = prompts()
    prompt_ids, prompt_mask = prompt_ids.repeat_interleave(GROUP, 0), prompt_mask.repeat_interleave(GROUP, 0)
    generator = torch.Generator().manual_seed(2)
    completion_ids = torch.randint(1, VOCAB, (prompt_ids.shape[0], 6), generator=generator)
    lengths = torch.tensor([6, 0, 1, 2, 6, 4, 5, 3, 6])
    completion_mask = (torch.arange(6)[None] < lengths[:, None]).long()
    groups = torch.arange(prompt_ids.shape[0]) // GROUP
    return prompt_ids, prompt_mask, completion_ids.masked_fill(completion_mask == 0, 0), completion_mask, groups


def scored(model, fast: bool, groups, rows=None):
    """Logits and every parameter's gradient of the completions' summed log-probs."""
    prompt_ids, prompt_mask, completion_ids, completion_mask, _ = batch()
    pick = (lambda t: t) if rows is None else (lambda t: t[rows])
    completion_ids, completion_mask = pick(completion_ids), pick(completion_mask)
    model.zero_grad()
    if fast:
        logits = completion_logits(model, pick(prompt_ids), pick(prompt_mask), completion_ids, completion_mask, groups)
    else:
        logits = full_sequence_logits(model, pick(prompt_ids), pick(prompt_mask), completion_ids, completion_mask)
    logprobs = logits.log_softmax(-1).gather(-1, completion_ids[..., None])[..., 0]
    (logprobs * completion_mask).sum().backward()
    grads = {name: p.grad.clone() for name, p in model.named_parameters() if p.grad is not None}
    return logits.detach(), completion_mask.bool(), grads


def assert_same(model, groups, rows=None):
    assert scoring.supports(model, grad=True)
    expected, real, expected_grads = scored(model, fast=False, groups=groups, rows=rows)
    got, _, grads = scored(model, fast=True, groups=groups, rows=rows)
    assert got.shape == expected.shape
    torch.testing.assert_close(got[real], expected[real], atol=2e-5, rtol=2e-5)
    assert grads.keys() == expected_grads.keys()
    for name, grad in grads.items():
        # float32 rounding of differently ordered sums: small against each gradient's own scale
        scale = expected_grads[name].abs().max().item()
        assert (grad - expected_grads[name]).abs().max().item() <= 1e-4 * scale + 1e-7, name


@pytest.mark.parametrize("changes", VARIANTS)
def test_fused_scoring_matches_the_model_forward_in_logits_and_gradients(changes):
    model = deepseek(**changes).train()
    assert_same(model, groups=batch()[4])


def test_rows_without_groups_and_partial_groups_in_any_order():
    model = deepseek().train()
    assert_same(model, groups=torch.arange(batch()[0].shape[0]))  # every row its own prompt
    rows = torch.tensor([7, 0, 2, 6, 4])
    assert_same(model, groups=rows // GROUP, rows=rows)


def test_one_token_completions_need_only_the_prompts():
    model = deepseek().eval()
    prompt_ids, prompt_mask, completion_ids, completion_mask, groups = batch()
    with torch.no_grad():
        got = completion_logits(model, prompt_ids, prompt_mask, completion_ids[:, :1], completion_mask[:, :1], groups)
        expected = full_sequence_logits(model, prompt_ids, prompt_mask, completion_ids[:, :1], completion_mask[:, :1])
    torch.testing.assert_close(got, expected, atol=2e-5, rtol=2e-5)


def test_the_default_tiny_model_takes_the_fused_path(monkeypatch):
    from r1.models import build_tiny_moe, load_tiny_tokenizer
    from r1.models.fast import use_fast_experts

    tokenizer = load_tiny_tokenizer()
    model = use_fast_experts(build_tiny_moe(len(tokenizer), tokenizer.pad_token_id, tokenizer.bos_token_id, tokenizer.eos_token_id, seed=4))
    assert scoring.supports(model.train(), grad=True)
    calls = []
    original = scoring.completion_logits
    monkeypatch.setattr(scoring, "completion_logits", lambda *a: calls.append(1) or original(*a))
    prompt_ids, prompt_mask, completion_ids, completion_mask, groups = batch()
    completion_logits(model, prompt_ids, prompt_mask, completion_ids, completion_mask, groups)
    assert calls == [1]


def test_cases_it_turns_down_fall_back_to_the_model_forward(monkeypatch):
    model = deepseek().train()
    monkeypatch.setattr(scoring, "completion_logits", lambda *a: pytest.fail("the fused forward must not run"))
    prompt_ids, prompt_mask, completion_ids, completion_mask, groups = batch()

    def run():
        with torch.no_grad():
            return completion_logits(model, prompt_ids, prompt_mask, completion_ids, completion_mask, groups)

    with forced_fast_paths(False):  # switched off (runtime.fast_paths=false)
        run()
    with monkeypatch.context() as patch:
        patch.setattr(scoring, "SCORES_MAX_ELEMENTS", 10)  # attention scores too large to materialise
        run()
    model.config.attention_dropout = 0.1  # dropout while training: the model's forward applies it
    assert not scoring.supports(model, grad=False)
    assert scoring.supports(model.eval(), grad=False)
    model.config.attention_dropout = 0.0
    enable = getattr(model, "activation_checkpointing_enable", None) or model.gradient_checkpointing_enable
    enable()
    assert not scoring.supports(model.train(), grad=True)  # nothing here recomputes activations
    assert scoring.supports(model, grad=False)


def test_dense_models_are_not_supported():
    from transformers import Qwen3Config, Qwen3ForCausalLM

    config = Qwen3Config(vocab_size=VOCAB, hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=2, num_key_value_heads=1, head_dim=16)
    assert not scoring.supports(Qwen3ForCausalLM(config), grad=True)


def test_in_bfloat16_it_is_as_close_to_float32_as_the_models_own_forward():
    model = deepseek().eval()
    prompt_ids, prompt_mask, completion_ids, completion_mask, groups = batch()
    real = completion_mask.bool()
    with torch.no_grad():
        exact = full_sequence_logits(model, prompt_ids, prompt_mask, completion_ids, completion_mask)[real]
        half = model.to(torch.bfloat16)
        own = full_sequence_logits(half, prompt_ids, prompt_mask, completion_ids, completion_mask)[real].float()
        fused = completion_logits(half, prompt_ids, prompt_mask, completion_ids, completion_mask, groups)[real].float()
    # Mean, not max: a bf16 rounding can flip one token's top-k experts on either path,
    # which moves that position's logits by a lot and says nothing about the arithmetic.
    own_error, fused_error = (own - exact).abs().mean().item(), (fused - exact).abs().mean().item()
    assert fused_error <= 2 * own_error + 1e-2, (fused_error, own_error)
