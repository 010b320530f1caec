"""The vllm sampler without vLLM: the install hint, the Rollout conversion, weight names, and the flow with a stand-in engine."""

from __future__ import annotations

import importlib.util
import os
import sys
import tempfile
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
import yaml

if importlib.util.find_spec("r1_vllm") is None:  # run from a checkout without installing the plugin
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from r1_vllm import plugin
from r1_vllm import sampler as sampler_module
from r1_vllm.rollout import Completion, build_rollout, completions_of
from r1_vllm.sampler import VLLMSampler, checkpoint_weights

from r1.errors import ConfigError
from r1.models import build_tiny_moe, load_tiny_tokenizer
from r1.plugins import Registry, create_plugin_manager

CONF = Path(plugin.r1_config_dir()) / "sampler" / "vllm.yaml"


@pytest.fixture(scope="module")
def tokenizer():
    return load_tiny_tokenizer()


def _registry() -> Registry:
    pm = create_plugin_manager(autoload=False)
    pm.register(plugin, name="vllm")
    return Registry(pm)


def test_the_plugin_offers_the_sampler_and_its_config_option():
    registry = _registry()
    assert "vllm" in registry.names("sampler")
    options = yaml.safe_load(CONF.read_text())
    assert options["name"] == "vllm" and 0 < options["gpu_memory_utilization"] < 1


def test_without_vllm_building_the_sampler_is_one_line_saying_how_to_install(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "vllm" else real(name, *a))
    with pytest.raises(ConfigError, match="pip install") as caught:
        _registry().build("sampler", yaml.safe_load(CONF.read_text()))
    assert "\n" not in str(caught.value)


def _output(index, tokens, logprob, finish):
    steps = [{t: SimpleNamespace(logprob=logprob)} for t in tokens]
    return SimpleNamespace(index=index, token_ids=tokens, logprobs=steps, finish_reason=finish)


def test_rollout_from_vllm_outputs_is_padded_and_masked_like_the_hf_sampler(tokenizer):
    a, b, eos = tokenizer.convert_tokens_to_ids(["1", "2"]) + [tokenizer.eos_token_id]
    outputs = [  # two prompts, two samples each; vLLM may list samples out of order
        SimpleNamespace(outputs=[_output(1, [b], -0.5, "length"), _output(0, [a, b, eos], -0.25, "stop")]),
        SimpleNamespace(outputs=[_output(0, [a], -1.0, "stop"), _output(1, [b, a], -2.0, "length")]),
    ]
    prompts = [[a, a, a], [b]]
    rollout = build_rollout(prompts, completions_of(outputs), tokenizer, tokenizer.pad_token_id, return_logprobs=True, seconds=2.0)
    pad = tokenizer.pad_token_id
    assert rollout.num_samples == 2
    assert rollout.prompt_ids.tolist() == [[a, a, a], [a, a, a], [pad, pad, b], [pad, pad, b]]
    assert rollout.prompt_mask.tolist() == [[1, 1, 1], [1, 1, 1], [0, 0, 1], [0, 0, 1]]
    assert rollout.completion_ids.tolist() == [[a, b, eos], [b, pad, pad], [a, pad, pad], [b, a, pad]]
    assert rollout.completion_mask.tolist() == [[1, 1, 1], [1, 0, 0], [1, 0, 0], [1, 1, 0]]
    assert rollout.truncated.tolist() == [False, True, False, True]
    assert rollout.logprobs.tolist() == [[-0.25] * 3, [-0.5, 0, 0], [-1.0, 0, 0], [-2.0, -2.0, 0]]
    assert rollout.texts == ["12", "2", "1", "21"]
    assert rollout.stats["generated_tokens"] == 7 and rollout.stats["tokens_per_s"] == 3.5
    assert build_rollout(prompts, completions_of(outputs), tokenizer, pad, False, 1.0).logprobs is None


def test_uneven_groups_are_refused(tokenizer):
    with pytest.raises(ValueError, match="same number"):
        build_rollout([[1], [2]], [[Completion([1], None, "stop")], []], tokenizer, 0, False, 1.0)


def test_pushed_weights_carry_the_checkpoint_names_vllm_loads(tokenizer):
    model = build_tiny_moe(len(tokenizer), tokenizer.pad_token_id, tokenizer.bos_token_id, tokenizer.eos_token_id)
    from safetensors.torch import load_file

    with tempfile.TemporaryDirectory() as folder:
        model.save_pretrained(folder)
        saved = load_file(os.path.join(folder, "model.safetensors"))
    weights = dict(checkpoint_weights(model))
    assert set(weights) == set(saved)  # e.g. per-expert names, although transformers fuses experts in memory
    assert all(torch.equal(weights[name], saved[name]) for name in saved)


class _FakeLLM:
    """Stands in for ``vllm.LLM``: records what the sampler asks, answers with fixed outputs."""

    def __init__(self, model, tokenizer, seed, **options):
        self.options, self.loaded, self.resets = options, [], 0
        self.engine_model = SimpleNamespace(load_weights=lambda weights: self.loaded.append(dict(weights)))
        assert Path(model, "config.json").is_file()

    def apply_model(self, func):
        return [func(self.engine_model)]

    def reset_prefix_cache(self):
        self.resets += 1

    def generate(self, prompts, params, use_tqdm):
        self.params = params
        return [SimpleNamespace(outputs=[_output(j, [7, 8], -0.1, "length") for j in range(params["n"])]) for _ in prompts]


def test_the_engine_follows_policy_updates(monkeypatch, tokenizer):
    fake = SimpleNamespace(LLM=_FakeLLM, SamplingParams=lambda **kw: kw)
    monkeypatch.setitem(sys.modules, "vllm", fake)
    monkeypatch.setattr(sampler_module, "require_vllm", lambda: None)
    monkeypatch.delenv("VLLM_ENABLE_V1_MULTIPROCESSING", raising=False)
    model = build_tiny_moe(len(tokenizer), tokenizer.pad_token_id, tokenizer.bos_token_id, tokenizer.eos_token_id, num_layers=2)
    sampler = VLLMSampler(gpu_memory_utilization=0.2, engine_options={"logprobs_mode": "processed_logprobs"})

    rollout = sampler.generate(model, tokenizer, ["1+1=", "2+2="], num_samples=3, max_new_tokens=2, return_logprobs=True, seed=5)
    llm = sampler._llm
    assert os.environ["VLLM_ENABLE_V1_MULTIPROCESSING"] == "0"
    assert llm.options["gpu_memory_utilization"] == 0.2 and llm.options["logprobs_mode"] == "processed_logprobs"
    assert llm.params["n"] == 3 and llm.params["seed"] == 5 and llm.params["logprobs"] == 0
    assert tokenizer.eos_token_id in llm.params["stop_token_ids"]
    assert rollout.completion_ids.shape == (6, 2) and rollout.truncated.all()
    assert llm.loaded == []  # the engine was built from these very weights

    with torch.no_grad():
        model.lm_head.weight.add_(1.0)
    sampler.update_weights(model)
    sampler.generate(model, tokenizer, ["1+1="], num_samples=1, max_new_tokens=2)
    assert len(llm.loaded) == 1 and llm.resets == 1
    assert torch.equal(llm.loaded[0]["lm_head.weight"], model.lm_head.weight)
    sampler.generate(model, tokenizer, ["1+1="], num_samples=1, max_new_tokens=2)
    assert len(llm.loaded) == 1  # no update since: nothing pushed
