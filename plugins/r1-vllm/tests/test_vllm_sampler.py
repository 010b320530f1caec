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
from r1_vllm.sampler import VLLMSampler
from r1_vllm.weights import checkpoint_weights

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


class _FakeEngine:
    """Stands in for :class:`r1_vllm.engine.LocalEngine`: records what the sampler asks, answers with fixed completions."""

    built: list[_FakeEngine] = []

    def __init__(self, folder, options, in_process, kv_cache_gib, cpu_kv_cache_gib):
        assert Path(folder, "config.json").is_file()
        self.options, self.in_process, self.kv = options, in_process, (kv_cache_gib, cpu_kv_cache_gib)
        self.loaded, self.params = [], None
        _FakeEngine.built.append(self)

    def generate(self, prompt_ids, params):
        self.params = params
        return [[Completion([7, 8], [-0.1, -0.2], "length") for _ in range(params["n"])] for _ in prompt_ids]

    def load_weights(self, weights):
        self.loaded.append(dict(weights))
        return len(weights)

    def score(self, prompt_ids, completion_ids):
        return [[-1.0] * len(c) for c in completion_ids]

    def close(self):
        pass


@pytest.fixture
def fake_engine(monkeypatch):
    from r1_vllm import engine

    monkeypatch.setattr(sampler_module, "require_vllm", lambda: None)
    monkeypatch.setattr(engine, "LocalEngine", _FakeEngine)
    _FakeEngine.built = []
    return _FakeEngine


def _options(**changes):
    options = yaml.safe_load(CONF.read_text())
    options.pop("name")
    return {**options, **changes}


def test_the_engine_follows_policy_updates(fake_engine, tokenizer):
    model = build_tiny_moe(len(tokenizer), tokenizer.pad_token_id, tokenizer.bos_token_id, tokenizer.eos_token_id, num_layers=2)
    sampler = VLLMSampler(**_options(gpu_memory_utilization=0.2))

    rollout = sampler.generate(model, tokenizer, ["1+1=", "2+2="], num_samples=3, max_new_tokens=2, return_logprobs=True, seed=5)
    (engine,) = fake_engine.built
    assert engine.options["gpu_memory_utilization"] == 0.2 and engine.options["logprobs_mode"] == "processed_logprobs"
    assert engine.in_process and engine.kv == (None, 1.0)
    assert engine.params["n"] == 3 and engine.params["seed"] == 5 and engine.params["logprobs"] == 0
    assert tokenizer.eos_token_id in engine.params["stop_token_ids"]
    assert rollout.completion_ids.shape == (6, 2) and rollout.truncated.all() and rollout.logprobs[0].tolist() == pytest.approx([-0.1, -0.2])
    assert engine.loaded == []  # the engine was built from these very weights

    with torch.no_grad():
        model.lm_head.weight.add_(1.0)
    sampler.update_weights(model)
    sampler.generate(model, tokenizer, ["1+1="], num_samples=1, max_new_tokens=2)
    assert len(engine.loaded) == 1 and sampler.weight_pushes == 1
    assert torch.equal(engine.loaded[0]["lm_head.weight"], model.lm_head.weight)
    sampler.generate(model, tokenizer, ["1+1="], num_samples=1, max_new_tokens=2)
    assert len(engine.loaded) == 1  # no update since: nothing pushed
    # greedy with several samples: one draw, repeated (vLLM refuses n > 1 when greedy)
    greedy = sampler.generate(model, tokenizer, ["1+1="], num_samples=4, max_new_tokens=2, temperature=0.0)
    assert engine.params["n"] == 1 and greedy.completion_ids.shape == (4, 2)


def test_deepseek_v3_gets_the_routing_keys_vllm_reads():
    from r1_vllm.engine import engine_config_overrides

    assert engine_config_overrides({"model_type": "deepseek_v3"}) == {"topk_method": "noaux_tc", "scoring_func": "sigmoid"}
    assert engine_config_overrides({"model_type": "deepseek_v3", "topk_method": "greedy", "scoring_func": "softmax"}) == {}
    assert engine_config_overrides({"model_type": "llama"}) == {}


def test_mode_and_server_address_mistakes_are_one_line():
    with pytest.raises(ConfigError, match="sampler.mode must be one of colocate, server"):
        VLLMSampler(**_options(mode="remote"))
    with pytest.raises(ConfigError, match=r"sampler.server: a server address is host:port"):
        VLLMSampler(**_options(mode="server", server="localhost"))
    with pytest.raises(ConfigError, match=r"sampler.cpu_kv_cache_gib must be a positive number of GiB, not 0"):
        VLLMSampler(**_options(mode="server", cpu_kv_cache_gib=0))


def test_weights_cross_the_wire_unchanged(tokenizer):
    from r1_vllm.weights import weights_from_bytes, weights_to_bytes

    model = build_tiny_moe(len(tokenizer), tokenizer.pad_token_id, tokenizer.bos_token_id, tokenizer.eos_token_id, num_layers=2)
    weights = checkpoint_weights(model)
    back = dict(weights_from_bytes(weights_to_bytes(weights)))
    assert set(back) == {name for name, _ in weights} and all(torch.equal(back[name], tensor) for name, tensor in weights)


def _free_port() -> int:
    """A TCP port on loopback that nothing listens on now."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_server_mode_serves_a_trainer_over_a_socket(fake_engine, tokenizer, monkeypatch):
    import threading

    from r1_vllm import server

    port = _free_port()
    monkeypatch.setenv(server.KEY_VARIABLE, "test-key")
    thread = threading.Thread(target=server.serve, args=("127.0.0.1", port, 1), daemon=True)
    thread.start()
    model = build_tiny_moe(len(tokenizer), tokenizer.pad_token_id, tokenizer.bos_token_id, tokenizer.eos_token_id, num_layers=2)
    sampler = VLLMSampler(**_options(mode="server", server=f"127.0.0.1:{port}"))
    for _ in range(50):  # the listener may take a moment to open
        try:
            rollout = sampler.generate(model, tokenizer, ["1+1="], num_samples=2, max_new_tokens=2, return_logprobs=True)
            break
        except ConfigError:
            import time

            time.sleep(0.1)
    (engine,) = fake_engine.built  # built in the server, from the folder the trainer sent
    assert rollout.completion_ids.shape == (2, 2) and engine.params["n"] == 2
    with torch.no_grad():
        model.lm_head.weight.add_(1.0)
    sampler.update_weights(model)
    assert sampler.engine_logprobs(model, tokenizer, [[5, 6]], [[7, 8, 9]]) == [[-1.0, -1.0, -1.0]]
    assert torch.equal(engine.loaded[0]["lm_head.weight"], model.lm_head.weight)  # sent as bytes, equal on arrival
    sampler.engine.close()
    thread.join(timeout=10)
    assert not thread.is_alive()


def test_a_server_mode_run_without_a_server_is_one_line(tokenizer):
    port = _free_port()
    model = build_tiny_moe(len(tokenizer), tokenizer.pad_token_id, tokenizer.bos_token_id, tokenizer.eos_token_id, num_layers=2)
    sampler = VLLMSampler(**_options(mode="server", server=f"127.0.0.1:{port}"))
    with pytest.raises(ConfigError, match=f"no vLLM server at 127.0.0.1:{port}: start one with"):
        sampler.generate(model, tokenizer, ["1+1="], num_samples=1, max_new_tokens=2)
