"""LoRA (``model.lora``): adapter targets per architecture, the adapter-disabled reference, export and reload, settings."""

from __future__ import annotations

import copy
from types import SimpleNamespace

import pytest
import torch

from r1.errors import ConfigError, DataError
from r1.models import build_tiny_dense, build_tiny_moe, load_model
from r1.models.lora import LoraSettings, add_lora, default_targets, has_lora, lora_settings, merge_on_export
from r1.models.tokenizer import load_tiny_tokenizer
from r1.models.trainable import prepare_for_training
from r1.samplers.hf import HFSampler
from tests.unit.test_scale import SMALL, llama_model, qwen3_moe_model

PROMPTS = ["1+2=", "7*3="]


def settings(**changes) -> LoraSettings:
    values = {"enabled": True, "r": 4, "alpha": 8.0, "dropout": 0.0, "target_modules": None, "merge_on_export": True}
    return LoraSettings(**{**values, **changes})


@pytest.fixture(scope="module")
def tokenizer():
    return load_tiny_tokenizer()


def tiny_moe(tokenizer):
    return build_tiny_moe(len(tokenizer), tokenizer.pad_token_id, tokenizer.bos_token_id, tokenizer.eos_token_id, seed=3, **SMALL)


def with_trained_adapter(model, s: LoraSettings | None = None):
    """``model`` with a LoRA adapter whose B is non-zero (a fresh adapter is the identity), as after some training."""
    peft_model = add_lora(model, s or settings())
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for name, parameter in peft_model.named_parameters():
            if "lora_B" in name:
                parameter.copy_(torch.randn(parameter.shape, generator=generator) * 0.2)
    return peft_model.eval()


# ----- what gets adapters ----------------------------------------------------------------------


def _leaves(names: list[str]) -> set[str]:
    return {name.rsplit(".", 1)[-1] for name in names}


def test_deepseek_v3_adapts_latent_attention_the_dense_mlp_and_shared_experts_not_routers_or_routed_experts(tokenizer):
    targets = default_targets(tiny_moe(tokenizer))
    assert _leaves(targets) == {"q_proj", "kv_a_proj_with_mqa", "kv_b_proj", "o_proj", "gate_proj", "up_proj", "down_proj"}
    assert any(".mlp.shared_experts." in name for name in targets) and any(name.startswith("model.layers.0.mlp.") for name in targets)
    assert not any(name.endswith("mlp.gate") or ".experts." in name.replace("shared_experts", "") for name in targets)
    assert all(name.startswith("model.layers.") for name in targets)  # no lm_head, no embeddings
    adapted = {name.removeprefix("base_model.model.").rsplit(".lora_A", 1)[0] for name, _ in add_lora(tiny_moe(tokenizer), settings()).named_parameters() if ".lora_A." in name}
    assert adapted == set(targets)  # exactly these: peft's own renaming of MLP names to routed experts is kept out


@pytest.mark.parametrize("family", ["qwen3_dense", "qwen3_moe", "llama"])
def test_other_families_adapt_attention_and_mlp_projections(family, tokenizer):
    if family == "qwen3_dense":
        model = build_tiny_dense(len(tokenizer), tokenizer.pad_token_id, tokenizer.bos_token_id, tokenizer.eos_token_id)
    else:
        model = qwen3_moe_model() if family == "qwen3_moe" else llama_model()
    targets = default_targets(model)
    attention = {"q_proj", "k_proj", "v_proj", "o_proj"}
    if family == "qwen3_moe":  # every MLP is routed experts (3-D weights) behind a router: attention only
        assert _leaves(targets) == attention
    else:
        assert _leaves(targets) == attention | {"gate_proj", "up_proj", "down_proj"}
    wrapped = add_lora(model, settings())
    trainable = {name for name, p in wrapped.named_parameters() if p.requires_grad}
    assert trainable and all("lora_" in name for name in trainable)  # everything else is frozen
    assert {name.removeprefix("base_model.model.").rsplit(".lora_A", 1)[0] for name in trainable if ".lora_A." in name} == set(targets)


def test_named_targets_that_match_nothing_are_one_config_error(tokenizer):
    with pytest.raises(ConfigError, match=r"model.lora.target_modules \['c_attn'\] do not fit DeepseekV3ForCausalLM"):
        add_lora(tiny_moe(tokenizer), settings(target_modules=["c_attn"]))


def test_lora_settings_are_read_and_checked_from_the_model_node():
    node = {"lora": {"enabled": True, "r": 8, "alpha": 16, "dropout": 0.05, "target_modules": ["q_proj"], "merge_on_export": False}}
    read = lora_settings(node)
    assert read is not None and read.r == 8 and read.target_modules == ["q_proj"] and not merge_on_export(node)
    assert lora_settings({"lora": {**node["lora"], "enabled": False}}) is None and merge_on_export({})
    with pytest.raises(ConfigError, match="model.lora.r"):
        lora_settings({"lora": {**node["lora"], "r": 0}})
    with pytest.raises(ConfigError, match="unknown setting model.lora.rank"):
        lora_settings({"lora": {**node["lora"], "rank": 8}})


# ----- the reference is the policy with its adapter off ----------------------------------------


def _rollout(model, tokenizer):
    return HFSampler(stop_strings=()).generate(model, tokenizer, PROMPTS, num_samples=3, max_new_tokens=8, temperature=1.0, seed=1)


def _module(policy, reference):
    from r1.phases.grpo import GRPOModule

    fake = SimpleNamespace(settings=SimpleNamespace(beta=0.01, temperature=1.0), reference=reference, policy=policy)
    fake.sequence_logprobs = lambda model, rollout, rows=None, grad=False: GRPOModule.sequence_logprobs(fake, model, rollout, rows, grad)
    return fake


def test_the_reference_log_probs_of_a_lora_policy_equal_a_frozen_copy_of_its_base(tokenizer):
    from r1.phases.grpo import GRPOModule

    base = tiny_moe(tokenizer).eval()
    frozen = copy.deepcopy(base).requires_grad_(False)
    policy = with_trained_adapter(base)
    rollout = _rollout(policy, tokenizer)
    module = _module(policy, reference=None)
    reference = GRPOModule.reference_logprobs(module, rollout)
    with torch.no_grad():
        expected = GRPOModule.sequence_logprobs(module, frozen, rollout)[0]
        adapted = GRPOModule.sequence_logprobs(module, policy, rollout)[0]
    mask = rollout.completion_mask.bool()
    torch.testing.assert_close(reference[mask], expected[mask], rtol=1e-5, atol=1e-5)
    assert (adapted[mask] - expected[mask]).abs().max() > 1e-2  # the adapter matters: the check could fail
    assert has_lora(policy)


def test_a_grpo_module_builds_no_reference_copy_for_a_lora_policy(tokenizer, monkeypatch):
    from r1.phases import grpo

    built = []
    monkeypatch.setattr(grpo, "copy", SimpleNamespace(deepcopy=lambda model: built.append(model) or model))
    policy = with_trained_adapter(tiny_moe(tokenizer))
    parts = SimpleNamespace(algorithm=None, reward=None, sampler=None, schedule=SimpleNamespace(), optimizer=None, task=SimpleNamespace(check=None))
    monkeypatch.setattr(grpo, "held_out_samples", lambda parts, s, fmt: ([], None))
    module = grpo.GRPOModule(policy, tokenizer, SimpleNamespace(beta=0.04), parts, run_dir=None, prompt_format=None)
    assert module.reference is None and not built


# ----- export: the adapter, and a merged folder that generates the same text ----------------------


def test_export_writes_the_adapter_and_a_merged_folder_that_transformers_reloads_with_the_same_greedy_text(tokenizer, tmp_path):
    from transformers import AutoModelForCausalLM

    from r1.phases.common import save_hf

    policy = with_trained_adapter(tiny_moe(tokenizer))
    hf = save_hf(policy, tokenizer, tmp_path / "hf")
    assert (tmp_path / "adapter" / "adapter_config.json").is_file() and (tmp_path / "adapter" / "adapter_model.safetensors").is_file()
    merged = AutoModelForCausalLM.from_pretrained(hf).eval()
    assert not has_lora(merged)
    greedy = {"num_samples": 1, "max_new_tokens": 12, "temperature": 0.0}
    assert HFSampler(stop_strings=()).generate(merged, tokenizer, PROMPTS, **greedy).texts == HFSampler(stop_strings=()).generate(policy, tokenizer, PROMPTS, **greedy).texts
    ids = tokenizer(PROMPTS, return_tensors="pt", padding=True)
    with torch.no_grad():
        torch.testing.assert_close(merged(**ids).logits, policy(**ids).logits, rtol=1e-4, atol=1e-4)
    assert has_lora(policy)  # the training model keeps its adapter: the merge was on a copy


def test_an_adapter_exported_without_merging_loads_on_its_base_model(tokenizer, tmp_path):
    from r1.phases.common import save_hf

    base_folder = save_hf(tiny_moe(tokenizer), tokenizer, tmp_path / "base" / "hf")  # a saved base: the adapter records its path
    node = {"name_or_path": str(base_folder), "dtype": "float32"}
    base, _ = load_model(node)
    policy = with_trained_adapter(base)
    adapter = save_hf(policy, tokenizer, tmp_path / "run" / "hf", merge_adapter=False)
    assert adapter == tmp_path / "run" / "adapter" and not (tmp_path / "run" / "hf").exists()
    loaded, _ = load_model({"name_or_path": str(adapter), "dtype": "float32"})
    ids = tokenizer(PROMPTS, return_tensors="pt", padding=True)
    with torch.no_grad():
        torch.testing.assert_close(loaded(**ids).logits, policy(**ids).logits, rtol=1e-4, atol=1e-4)


def test_an_adapter_without_a_base_model_is_one_data_error(tokenizer, tmp_path):
    from r1.phases.common import save_hf

    adapter = save_hf(with_trained_adapter(tiny_moe(tokenizer)), tokenizer, tmp_path / "hf", merge_adapter=False)  # built, never saved: no base path
    with pytest.raises(DataError, match="names no base model; export with model.lora.merge_on_export=true"):
        load_model({"name_or_path": str(adapter)})


# ----- prepare_for_training ---------------------------------------------------------------------


def test_prepare_for_training_applies_checkpointing_and_lora_and_refuses_double_checkpointing(tokenizer):
    from r1.scale import recomputes_activations

    lora = {"enabled": True, "r": 4, "alpha": 8, "dropout": 0.0, "target_modules": None, "merge_on_export": True}
    model = prepare_for_training(tiny_moe(tokenizer), {"gradient_checkpointing": True, "lora": lora})
    assert has_lora(model) and recomputes_activations(model)
    plain = prepare_for_training(tiny_moe(tokenizer), {"gradient_checkpointing": False, "lora": {**lora, "enabled": False}})
    assert not has_lora(plain) and not recomputes_activations(plain)
    fsdp = {"strategy": {"name": "fsdp", "activation_checkpointing": True}}
    with pytest.raises(ConfigError, match="both recompute the decoder layers; turn one off"):
        prepare_for_training(tiny_moe(tokenizer), {"gradient_checkpointing": True}, fsdp)


def test_gradient_checkpointing_gives_the_same_gradients(tokenizer):
    base = tiny_moe(tokenizer)
    checkpointed = prepare_for_training(copy.deepcopy(base), {"gradient_checkpointing": True})
    ids = tokenizer(PROMPTS, return_tensors="pt", padding=True)
    for model in (base, checkpointed):
        model.train()
        model(**ids, labels=ids["input_ids"]).loss.backward()
    for (name, a), (_, b) in zip(base.named_parameters(), checkpointed.named_parameters(), strict=True):
        if a.grad is not None:
            torch.testing.assert_close(a.grad, b.grad, rtol=1e-4, atol=1e-6, msg=name)
