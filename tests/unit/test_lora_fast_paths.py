"""The fast DeepSeek-V3 paths compute a LoRA policy's numbers (r1/models/fast/adapters.py).

A peft LoRA model is compared with its own forward (fast paths off): the fused scorer's
logits and the adapters' gradients, the fast decoder's greedy generation, the reference
policy inside ``disable_adapter()``, merged adapters, and each case the fast paths step
aside for. ``init_lora_weights=False`` makes ``B`` non-zero, so an adapter the fast paths
dropped would change every number.
"""

from __future__ import annotations

import copy
from contextlib import nullcontext
from unittest import mock

import peft.utils.transformers_weight_conversion as peft_conversion
import pytest
import torch
from peft import LoHaConfig, LoraConfig, get_peft_model
from torch import nn

import r1.models.fast as fast
import r1.models.fast.deepseek_v3_scoring as scoring
from r1.models import load_tiny_tokenizer
from r1.models.completion_logits import completion_logits
from r1.models.fast.adapters import folds_exactly, projection_weight
from r1.scale import peft_inner
from r1.models.fast.deepseek_v3_decoder import DeepseekV3Decoder
from r1.runtime import forced_fast_paths
from r1.samplers.decoding import HFCacheDecoder, decoder_for
from r1.samplers.hf import HFSampler
from tests.unit.test_decoders import deepseek
from tests.unit.test_deepseek_v3_scoring import batch

# peft reads transformers' old checkpointing flag name when it wraps a model (r1.models.lora silences it the same way)
pytestmark = pytest.mark.filterwarnings("ignore:.*is_gradient_checkpointing.*:FutureWarning")

# Every projection the folding reads; a model without query LoRA has q_proj, one with it q_a_proj / q_b_proj.
PROJECTIONS = {"q_proj", "q_a_proj", "q_b_proj", "kv_a_proj_with_mqa", "kv_b_proj", "o_proj", "gate_proj", "up_proj", "down_proj"}


def projections(model: nn.Module) -> list[str]:
    """Full names of the projection ``nn.Linear`` modules, as ``model.lora`` targets them."""
    return [name for name, module in model.named_modules() if isinstance(module, nn.Linear) and name.rsplit(".", 1)[-1] in PROJECTIONS]


def keeping_mlp_targets():
    """peft's transformers-v4 compatibility remap switched off for the block.

    For MoE models whose experts transformers v5 fused (DeepSeek-V3 among them), peft
    0.21 rewrites every target ending in ``gate_proj`` / ``up_proj`` / ``down_proj``, fully
    named dense-MLP and shared-expert ones included, into the routed experts' 3-D
    parameters. These tests need LoRA on the dense MLP and the shared experts, which the
    fast paths fold.
    """
    convert = getattr(peft_conversion, "convert_peft_config_for_transformers", None)
    return nullcontext() if convert is None else mock.patch.object(peft_conversion, "convert_peft_config_for_transformers", lambda *a, **k: None)


def lora(model: nn.Module, targets=None, **options):
    """``model`` wrapped in a peft LoRA model with random (non-zero) adapters on ``targets`` (every projection)."""
    torch.manual_seed(3)
    targets = projections(model) if targets is None else targets
    with keeping_mlp_targets():
        return get_peft_model(model, LoraConfig(r=4, lora_alpha=8, target_modules=targets, init_lora_weights=False, **options))


def scored(model, fast_paths: bool, grad: bool = True, groups=None, seed: int = 0):
    """Logits through the seam (fast paths on) or the model's forward (off), and every gradient of the summed log-probs.

    ``seed`` seeds the forward (LoRA dropout); ``groups`` replaces the batch's groups of shared prompts.
    """
    prompt_ids, prompt_mask, completion_ids, completion_mask, shared = batch()
    groups = shared if groups is None else groups
    torch.manual_seed(seed)
    model.zero_grad()
    with forced_fast_paths(fast_paths), torch.set_grad_enabled(grad):
        logits = completion_logits(model, prompt_ids, prompt_mask, completion_ids, completion_mask, groups)
        if grad:
            logprobs = logits.log_softmax(-1).gather(-1, completion_ids[..., None])[..., 0]
            (logprobs * completion_mask).sum().backward()
    grads = {name: p.grad.clone() for name, p in model.named_parameters() if p.grad is not None}
    return logits.detach(), completion_mask.bool(), grads


@pytest.fixture
def fused_calls(monkeypatch):
    """How many times the fused scorer ran."""
    calls = []
    original = scoring.completion_logits
    monkeypatch.setattr(scoring, "completion_logits", lambda *a: calls.append(1) or original(*a))
    return calls


@pytest.fixture
def shared_prompt_results(monkeypatch):
    """What each call of the shared-prompt path returned (None: it handed over to the full sequences)."""
    results = []
    original = fast.shared_prompt.shared_prompt_logits
    monkeypatch.setattr(fast.shared_prompt, "shared_prompt_logits", lambda *a: results.append(original(*a)) or results[-1])
    return results


def assert_close_grads(grads, expected):
    assert grads.keys() == expected.keys()
    for name, grad in grads.items():
        scale = expected[name].abs().max().item()  # float32 rounding of differently ordered sums
        assert (grad - expected[name]).abs().max().item() <= 1e-4 * scale + 1e-7, name


@pytest.mark.parametrize("changes", [pytest.param({}, id="default"), pytest.param({"q_lora_rank": 24, "attention_bias": True}, id="query-lora-and-biases")])
def test_fused_scoring_of_a_lora_policy_matches_its_forward_in_logits_and_adapter_gradients(changes, fused_calls):
    model = deepseek(**changes)
    targets = projections(model)
    policy = lora(model).train()
    assert all(hasattr(module, "lora_A") for name, module in peft_inner(policy).named_modules() if name in targets)  # MLPs included
    expected, real, expected_grads = scored(policy, fast_paths=False)
    assert fused_calls == []
    got, _, grads = scored(policy, fast_paths=True)
    assert fused_calls == [1]
    torch.testing.assert_close(got[real], expected[real], atol=2e-5, rtol=2e-5)
    assert grads and all("lora_" in name for name in grads)  # only the adapters train
    assert_close_grads(grads, expected_grads)
    with policy.disable_adapter():
        base, _, _ = scored(policy, fast_paths=False, grad=False)
    assert (got[real] - base[real]).abs().max() > 0.1, "the adapter must change the logits"


def test_inside_disable_adapter_the_fused_scorer_gives_the_base_models_logits(fused_calls):
    model = deepseek()
    plain = copy.deepcopy(model)
    policy = lora(model).train()
    with policy.disable_adapter():
        got, real, _ = scored(policy, fast_paths=True, grad=False)
    assert fused_calls == [1]
    expected, _, _ = scored(plain.train(), fast_paths=False, grad=False)
    torch.testing.assert_close(got[real], expected[real], atol=2e-5, rtol=2e-5)


def test_merged_adapters_fold_as_the_base_weight_they_were_merged_into(fused_calls):
    policy = lora(deepseek()).eval()
    expected, real, _ = scored(policy, fast_paths=False, grad=False)
    policy.merge_adapter()
    assert folds_exactly(peft_inner(policy))
    got, _, _ = scored(policy, fast_paths=True, grad=False)
    assert fused_calls == [1]
    torch.testing.assert_close(got[real], expected[real], atol=2e-5, rtol=2e-5)
    with policy.disable_adapter():  # merged, then switched off: the forward unmerges first
        assert not folds_exactly(peft_inner(policy))


def test_fast_decoder_generates_what_the_lora_policys_forward_generates():
    tokenizer = load_tiny_tokenizer()
    policy = lora(deepseek(vocab_size=len(tokenizer), pad_token_id=tokenizer.pad_token_id))
    prompts = ["12+34", "5678+9", "1+2"]  # different lengths: left padding
    with forced_fast_paths(True):
        assert isinstance(decoder_for(policy), DeepseekV3Decoder)
        fast_out = HFSampler().generate(policy, tokenizer, prompts, num_samples=2, max_new_tokens=12, temperature=0.0, return_logprobs=True)
    with forced_fast_paths(False):
        assert isinstance(decoder_for(policy), HFCacheDecoder)
        plain_out = HFSampler().generate(policy, tokenizer, prompts, num_samples=2, max_new_tokens=12, temperature=0.0, return_logprobs=True)
        with policy.disable_adapter():
            base_out = HFSampler().generate(policy, tokenizer, prompts, num_samples=2, max_new_tokens=12, temperature=0.0, return_logprobs=True)
    assert torch.equal(fast_out.completion_ids, plain_out.completion_ids)
    torch.testing.assert_close(fast_out.logprobs, plain_out.logprobs, atol=1e-4, rtol=1e-4)
    assert not torch.equal(fast_out.completion_ids, base_out.completion_ids), "the adapter must change what is generated"


def test_projection_weight_is_the_weight_peft_would_merge_and_carries_gradients_to_the_adapter():
    policy = lora(deepseek())
    layer = peft_inner(policy).model.layers[0].self_attn.kv_b_proj
    plain = peft_inner(policy).model.layers[1].mlp.gate  # a router: never targeted
    assert projection_weight(plain) is plain.weight
    weight = projection_weight(layer)
    torch.testing.assert_close(weight, layer.base_layer.weight + layer.get_delta_weight("default"))
    weight.sum().backward()
    assert layer.lora_A["default"].weight.grad.abs().sum() > 0 and layer.lora_B["default"].weight.grad.abs().sum() > 0
    with policy.disable_adapter():
        assert projection_weight(layer) is layer.base_layer.weight


def dora(model):
    return lora(model, use_dora=True)


def two_adapters(model):
    policy = lora(model)
    policy.add_adapter("second", LoraConfig(r=2, lora_alpha=4, target_modules=["o_proj"], init_lora_weights=False))
    policy.base_model.set_adapter(["default", "second"])
    return policy


def lora_on_the_output_head(model):
    return lora(model, targets=["kv_b_proj", "lm_head"])


def lora_on_the_routed_experts(model):
    return lora(model, targets=["kv_b_proj"], target_parameters=["mlp.experts.down_proj"])


def loha(model):
    torch.manual_seed(3)
    return get_peft_model(model, LoHaConfig(r=4, alpha=8, target_modules=["kv_b_proj", "o_proj"], init_weights=False))


@pytest.mark.parametrize("wrap", [dora, two_adapters, lora_on_the_output_head, lora_on_the_routed_experts, loha], ids=lambda f: f.__name__)
def test_adapters_that_do_not_fold_hand_over_to_the_forward_and_still_match(wrap, fused_calls, shared_prompt_results):
    policy = wrap(deepseek()).eval()
    assert not folds_exactly(peft_inner(policy))
    with forced_fast_paths(True):
        assert fast.decoder(policy) is None
    got, real, _ = scored(policy, fast_paths=True, grad=False)
    assert fused_calls == []
    assert len(shared_prompt_results) == 1 and shared_prompt_results[0] is not None  # through the peft wrapper
    expected, _, _ = scored(policy, fast_paths=False, grad=False)
    torch.testing.assert_close(got[real], expected[real], atol=2e-5, rtol=2e-5)


def test_lora_dropout_turns_the_fast_paths_down_only_while_training(fused_calls):
    policy = lora(deepseek(), lora_dropout=0.1).train()
    inner = peft_inner(policy)
    assert not folds_exactly(inner) and not scoring.supports(inner, grad=True)
    with forced_fast_paths(True):
        assert fast.decoder(policy) is None
    # Rows of their own prompts share nothing: the seam hands over to the full-sequence
    # forward, which draws the same dropout masks as with the fast paths off.
    own_prompts = torch.arange(batch()[0].shape[0])
    got, real, grads = scored(policy, fast_paths=True, groups=own_prompts, seed=5)
    expected, _, expected_grads = scored(policy, fast_paths=False, groups=own_prompts, seed=5)
    assert fused_calls == []
    assert torch.equal(got, expected) and all(torch.equal(grads[name], expected_grads[name]) for name in expected_grads)
    assert not torch.equal(scored(policy, fast_paths=False, groups=own_prompts, seed=6)[0], expected)  # dropout is on
    policy.eval()  # sampling and evaluation: dropout is off, the adapter folds
    with forced_fast_paths(True):
        assert isinstance(fast.decoder(policy), DeepseekV3Decoder)
    expected, real, _ = scored(policy, fast_paths=False, grad=False)
    got, _, _ = scored(policy, fast_paths=True, grad=False)
    assert fused_calls == [1]
    torch.testing.assert_close(got[real], expected[real], atol=2e-5, rtol=2e-5)


def test_in_bfloat16_with_float32_adapters_the_fused_path_is_as_close_to_float32_as_the_forward(fused_calls):
    """peft keeps adapters in float32 on a bf16 model; the folded weight is rounded once to bf16."""
    exact = lora(deepseek()).eval()
    low = lora(deepseek().to(torch.bfloat16)).eval()
    assert {p.dtype for name, p in low.named_parameters() if "lora_" in name} == {torch.float32}
    expected, real, _ = scored(exact, fast_paths=False, grad=False)
    own, _, _ = scored(low, fast_paths=False, grad=False)
    fused, _, _ = scored(low, fast_paths=True, grad=False)
    assert fused_calls == [1]
    # Mean, not max: a bf16 rounding can flip one token's top-k experts on either path.
    own_error = (own[real].float() - expected[real]).abs().mean().item()
    fused_error = (fused[real].float() - expected[real]).abs().mean().item()
    assert fused_error <= 2 * own_error + 1e-2, (fused_error, own_error)
