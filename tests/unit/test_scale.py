"""Trainer options from one CPU to a GPU cluster (r1/scale.py): composition, strategies, FSDP wrapping.

FSDP itself runs here on CPU processes with the gloo backend (PyTorch allows it, and so does
r1's strategy, unlike Lightning's own), which is how sharded generation and gradients are
checked without a GPU.
"""

from __future__ import annotations

import importlib.util
import os
import socket

import lightning
import pytest
import torch
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf
from torch import nn

from r1.errors import ConfigError
from r1.models import build_tiny_dense, build_tiny_moe, load_tiny_tokenizer
from r1.overrides import group_options
from r1.paths import conf_dir
from r1.scale import (
    ModelShardedFSDPStrategy,
    build_strategy,
    clip_gradients,
    decoder_layer_classes,
    fsdp_strategy,
    fsdp_units,
    generation_context,
    shard_models,
    unwrap,
)

TRAINERS = group_options([conf_dir()])["trainer"]
NEEDS_GPU = {"gpu", "fsdp", "deepspeed"}


def compose_trainer(option: str, *overrides: str):
    with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
        return compose("config", overrides=[f"trainer={option}", *overrides]).trainer


@pytest.fixture(scope="module")
def tokenizer():
    return load_tiny_tokenizer()


def tiny_moe(tokenizer, **changes):
    return build_tiny_moe(len(tokenizer), tokenizer.pad_token_id, tokenizer.bos_token_id, tokenizer.eos_token_id, **changes)


# ----- gradient clipping with a fused optimizer --------------------------------------------------


def _module_with_precision(scaler):
    from types import SimpleNamespace

    module = nn.Linear(4, 3)
    module._trainer = SimpleNamespace(precision_plugin=SimpleNamespace(scaler=scaler))
    return module


def test_clipping_works_with_a_fused_optimizer_outside_fp16_loss_scaling():
    """GRPO's default AdamW is fused; Lightning's clip_gradients refuses those under bf16-mixed, r1 clips itself."""
    module = _module_with_precision(scaler=None)
    optimizer = torch.optim.AdamW(module.parameters(), fused=True)
    module(torch.ones(2, 4)).sum().mul(100).backward()
    norm = clip_gradients(module, optimizer, max_norm=1.0)
    assert norm > 1.0
    clipped = torch.cat([p.grad.flatten() for p in module.parameters()]).norm()
    assert clipped == pytest.approx(1.0, rel=1e-4)


def test_fp16_loss_scaling_with_a_fused_optimizer_is_one_config_error(monkeypatch):
    module = _module_with_precision(scaler=object())

    def lightning_clip(*_, **__):
        raise RuntimeError("The current optimizer, AdamW, does not allow for gradient clipping ... HINT: Are you using a 'fused' optimizer?")

    module.clip_gradients = lightning_clip
    with pytest.raises(ConfigError, match="phase.optimizer.fused=false"):
        clip_gradients(module, None, max_norm=1.0)


# ----- every option composes and builds -------------------------------------------------------


def test_the_five_trainer_options_ship():
    assert {"cpu", "gpu", "ddp", "fsdp", "deepspeed"} <= set(TRAINERS)


@pytest.mark.parametrize("option", TRAINERS)
def test_every_trainer_option_composes_to_trainer_kwargs(option):
    node = OmegaConf.to_container(compose_trainer(option), resolve=True)
    assert {"accelerator", "devices", "num_nodes", "strategy", "precision"} <= set(node)
    strategy = node["strategy"]
    assert isinstance(strategy, str) or strategy.get("name") == "fsdp"


@pytest.mark.parametrize("option", sorted(set(TRAINERS) - NEEDS_GPU))
def test_cpu_options_build_a_trainer(option, tmp_path):
    node = OmegaConf.to_container(compose_trainer(option), resolve=True)
    node["strategy"] = build_strategy(node)
    trainer = lightning.Trainer(**node, logger=False, default_root_dir=str(tmp_path), enable_progress_bar=False)
    assert trainer.strategy is not None


def test_fsdp_on_cpu_processes_builds_a_trainer(tokenizer, tmp_path):
    node = OmegaConf.to_container(compose_trainer("fsdp", "trainer.accelerator=cpu", "trainer.precision=32-true", "trainer.devices=2"), resolve=True)
    node["strategy"] = build_strategy(node, tiny_moe(tokenizer))
    trainer = lightning.Trainer(**node, logger=False, default_root_dir=str(tmp_path), enable_progress_bar=False)
    assert isinstance(trainer.strategy, ModelShardedFSDPStrategy) and trainer.num_devices == 2


def test_ddp_looks_for_experts_without_gradient():
    node = compose_trainer("ddp")
    assert build_strategy(node) == "ddp_find_unused_parameters_true"


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
@pytest.mark.parametrize("option", ["gpu", "fsdp"])
def test_gpu_options_fail_in_one_line_without_a_gpu(option, tokenizer):
    with pytest.raises(ConfigError, match="needs a CUDA GPU") as caught:
        build_strategy(compose_trainer(option), tiny_moe(tokenizer))
    assert "\n" not in str(caught.value)


@pytest.mark.skipif(importlib.util.find_spec("deepspeed") is not None, reason="deepspeed is installed")
def test_deepspeed_without_the_package_says_how_to_install_it():
    node = compose_trainer("deepspeed")
    assert node.strategy == "deepspeed_stage_2" and node.precision == "bf16-mixed"
    with pytest.raises(ConfigError, match="pip install deepspeed") as caught:
        build_strategy(node)
    assert "\n" not in str(caught.value)


def test_an_unknown_strategy_mapping_is_a_config_error():
    with pytest.raises(ConfigError, match="unknown trainer.strategy.name"):
        build_strategy({"accelerator": "cpu", "strategy": {"name": "megatron"}})


# ----- FSDP: the options come from YAML, the wrapping unit from the model ------------------------


def test_fsdp_strategy_takes_every_number_from_yaml(tokenizer):
    from torch.distributed.fsdp import ShardingStrategy

    node = compose_trainer("fsdp", "trainer.accelerator=cpu", "trainer.strategy.sharding_strategy=SHARD_GRAD_OP", "trainer.strategy.cpu_offload=true")
    model = tiny_moe(tokenizer)
    strategy = build_strategy({**OmegaConf.to_container(node), "accelerator": "cpu"}, model)
    assert isinstance(strategy, ModelShardedFSDPStrategy) and strategy.model_classes == {type(model)}
    assert strategy.sharding_strategy == ShardingStrategy.SHARD_GRAD_OP
    assert strategy.cpu_offload.offload_params is True
    assert strategy._state_dict_type == "sharded"
    mp = strategy.mixed_precision
    assert (mp.param_dtype, mp.reduce_dtype, mp.buffer_dtype) == (torch.bfloat16, torch.float32, torch.float32)
    layer = type(model.model.layers[0])
    assert strategy.kwargs["auto_wrap_policy"]._module_classes == {layer}
    assert strategy._activation_checkpointing_kwargs["auto_wrap_policy"]._module_classes == {layer}
    assert strategy.kwargs["limit_all_gathers"] is True


def test_fsdp_switches_follow_yaml(tokenizer):
    model = tiny_moe(tokenizer)
    strategy = fsdp_strategy(model, activation_checkpointing=False, state_dict_type="full", mixed_precision=None)
    assert strategy._activation_checkpointing_kwargs == {}
    assert strategy._state_dict_type == "full" and strategy.mixed_precision is None
    with pytest.raises(ConfigError, match="sharding_strategy"):
        fsdp_strategy(model, sharding_strategy="ZERO_INFINITY")
    with pytest.raises(ConfigError, match="dtype"):
        fsdp_strategy(model, mixed_precision={"param_dtype": "float8"})


def qwen3_moe_model():
    """A two-layer Qwen3-MoE from config: every MLP is routed experts behind a router."""
    from transformers import Qwen3MoeConfig, Qwen3MoeForCausalLM

    config = Qwen3MoeConfig(vocab_size=64, hidden_size=32, intermediate_size=64, moe_intermediate_size=16, num_hidden_layers=2,
                            num_attention_heads=4, num_key_value_heads=2, head_dim=8, num_experts=4, num_experts_per_tok=2)
    return Qwen3MoeForCausalLM(config)


def llama_model():
    """A two-layer Llama from config."""
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(vocab_size=64, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2)
    return LlamaForCausalLM(config)


@pytest.mark.parametrize("family", ["deepseek_v3_moe", "qwen3_dense", "qwen3_moe", "llama"])
def test_the_wrap_and_checkpoint_unit_is_the_decoder_layer(family, tokenizer):
    if family == "deepseek_v3_moe":
        model, expected = tiny_moe(tokenizer), "DeepseekV3DecoderLayer"
    elif family == "qwen3_dense":
        model = build_tiny_dense(len(tokenizer), tokenizer.pad_token_id, tokenizer.bos_token_id, tokenizer.eos_token_id)
        expected = "Qwen3DecoderLayer"
    else:
        model, expected = (qwen3_moe_model(), "Qwen3MoeDecoderLayer") if family == "qwen3_moe" else (llama_model(), "LlamaDecoderLayer")
    classes = decoder_layer_classes(model)
    assert [c.__name__ for c in classes] == [expected]
    assert classes == {type(layer) for layer in model.model.layers}
    strategy = fsdp_strategy(model)
    assert strategy._activation_checkpointing_kwargs["auto_wrap_policy"]._module_classes == classes


def test_a_model_without_no_split_modules_falls_back_to_its_layers(tokenizer):
    model = tiny_moe(tokenizer)
    model._no_split_modules = None
    assert decoder_layer_classes(model) == {type(model.model.layers[0])}
    with pytest.raises(ConfigError, match="decoder-layer class"):
        decoder_layer_classes(nn.Linear(2, 2))


def test_student_and_teacher_both_contribute_their_layer_class(tokenizer):
    student = build_tiny_dense(len(tokenizer), tokenizer.pad_token_id, tokenizer.bos_token_id, tokenizer.eos_token_id)
    teacher = tiny_moe(tokenizer)
    assert {c.__name__ for c in decoder_layer_classes([student, teacher])} == {"Qwen3DecoderLayer", "DeepseekV3DecoderLayer"}


# ----- generation under FSDP -------------------------------------------------------------------


def test_generation_context_leaves_an_unwrapped_model_alone(tokenizer):
    model = tiny_moe(tokenizer)
    with generation_context(model, strategy=None) as plain:
        assert plain is model
    assert unwrap(model) is model and fsdp_units(model) == []


SMALL = {"num_layers": 2, "hidden_size": 64, "dense_intermediate_size": 128, "n_routed_experts": 4}  # one dense layer, one MoE layer


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _Step(nn.Module):
    """GRPO's shape of a step: zero the grads, generate, two mini-batch forward/backward passes."""

    def __init__(self, policy: nn.Module, reference: nn.Module) -> None:
        super().__init__()
        self.policy, self.reference = policy, reference

    def forward(self, tokenizer, prompts):
        from r1.samplers.hf import HFSampler

        for p in self.policy.parameters():
            p.grad = None
        with generation_context(self.policy) as plain:
            assert not fsdp_units(plain) and unwrap(plain) is plain
            rollout = HFSampler(stop_strings=()).generate(plain, tokenizer, prompts, num_samples=2, max_new_tokens=6, temperature=0.0)
        ids = torch.cat([rollout.prompt_ids, rollout.completion_ids], dim=1)
        for rows in (slice(0, 2), slice(2, 4)):
            with torch.no_grad():
                reference = self.reference(input_ids=ids[rows], use_cache=False).logits
            logits = self.policy(input_ids=ids[rows], use_cache=False).logits  # a cache would grow again in recomputation
            (logits - reference * 0.5).float().logsumexp(-1).mean().backward()
        return rollout.texts, clip_gradients(self, None, max_norm=1e9)


def _fsdp_worker(rank: int, world: int, port: int, expected: tuple[list[str], float]) -> None:
    """One rank: shard the tiny MoE as ``trainer=fsdp`` does, then run ``_Step`` twice."""
    import copy

    import torch.distributed as dist
    from torch.distributed.fsdp import FullyShardedDataParallel as FSDP

    # Run in pytest's own process for world == 1: put the environment back afterwards, or every
    # later subprocess (the DDP tests' launchers) inherits a rendezvous port this process still holds.
    previous = {key: os.environ.get(key) for key in ("MASTER_ADDR", "MASTER_PORT")}
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=world)
    try:
        tokenizer = load_tiny_tokenizer()
        policy = tiny_moe(tokenizer, **SMALL)
        strategy = fsdp_strategy(policy, mixed_precision=None)
        step = _Step(policy, copy.deepcopy(policy).requires_grad_(False))
        roots = shard_models(step, strategy.model_classes, device=torch.device("cpu"), sharding_strategy=strategy.sharding_strategy,
                             checkpoint_policy=strategy._activation_checkpointing_kwargs["auto_wrap_policy"], **strategy.kwargs)
        assert roots == [step.policy, step.reference] or roots == [step.reference, step.policy]
        assert isinstance(unwrap(step.policy).model.layers[0], FSDP)
        for _ in range(2):  # the second step starts from resharded weights and finalised gradients
            texts, norm = step(tokenizer, ["1+2=", "7*3="])
            assert texts == expected[0], (texts, expected[0])
            assert norm == pytest.approx(expected[1], rel=1e-4)
        assert isinstance(step.policy, FSDP) and isinstance(unwrap(step.policy).model.layers[0], FSDP)  # wrappers are back
        with generation_context(step.policy) as plain:  # outside any step, as after fit
            assert plain.model.embed_tokens.weight.shape == (len(tokenizer), plain.config.hidden_size)
        # Leave together: a rank that tears gloo down while its peer still reads from the pair
        # aborts the peer ("terminate called without an active exception"), seen on a loaded CI box.
        dist.barrier()
    finally:
        dist.destroy_process_group()
        for key, value in previous.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@pytest.mark.filterwarnings("ignore:FSDP is switching to use `NO_SHARD`")
@pytest.mark.parametrize("world", [1, 2], ids=["no_shard", "full_shard"])
def test_generation_and_gradients_under_fsdp_match_the_unsharded_model(world, tokenizer):
    import copy

    policy = tiny_moe(tokenizer, **SMALL)
    expected = _Step(policy, copy.deepcopy(policy).requires_grad_(False))(tokenizer, ["1+2=", "7*3="])
    if world == 1:
        _fsdp_worker(0, 1, _free_port(), expected)
    else:
        torch.multiprocessing.spawn(_fsdp_worker, args=(world, _free_port(), expected), nprocs=world, join=True)


# ----- the GRPO phase under FSDP, end to end --------------------------------------------------


def _phase_takes_the_model() -> bool:
    import inspect

    from r1.phases.common import build_trainer

    return "model" in inspect.signature(build_trainer).parameters


@pytest.mark.slow
@pytest.mark.skipif(not _phase_takes_the_model(), reason="build_trainer does not pass the model to build_strategy yet")
# LoRA: one rollout (two optimizer steps). The fused DeepSeek-V3 paths fold each adapter into its weight under DDP
# and step aside under FSDP; a second rollout, sampled at temperature 1 from weights that differ by that rounding,
# can flip a token (it did), after which the runs rightly part.
@pytest.mark.parametrize("policy", [["phase.max_steps=2"], ["phase.max_steps=1", "model.lora.enabled=true", "model.lora.r=4"]], ids=["full", "lora"])
def test_grpo_under_fsdp_on_two_cpu_processes_trains_exactly_like_ddp(policy, tmp_path):
    """GRPO steps of two mini-batches each, gradient clipping: FULL_SHARD FSDP and DDP end at the same weights (LoRA: the same adapter)."""
    from safetensors.torch import load_file

    from tests.conftest import run_cli

    common = [
        "r1.run", "phase=grpo", "phase.init_from=model", "logger=none", "phase.progress_bar=false", "phase.val_prompts=0",
        "phase.prompts_per_step=2", "phase.group_size=4", "phase.max_new_tokens=12", "phase.mini_batch_size=2",
        "phase.optimizer._target_=torch.optim.SGD", "~phase.optimizer.betas", "phase.optimizer.lr=0.3", "phase.train_prompts=64", *policy,
    ]
    runs = {
        "fsdp": ["trainer=fsdp", "trainer.accelerator=cpu", "trainer.precision=32-true", "trainer.devices=2"],
        "ddp": ["trainer=ddp"],
    }
    weights = {}
    for name, trainer in runs.items():
        result = run_cli(*common, *trainer, f"paths.output_root={tmp_path / name}", timeout=600)
        assert result.returncode == 0, result.stderr[-2000:]
        # a LoRA run's trained weights are its adapter (the merged hf/ adds each B·A to a frozen weight)
        (saved,) = (tmp_path / name).glob("grpo/*/*/adapter/adapter_model.safetensors" if len(policy) > 1 else "grpo/*/*/hf/model.safetensors")
        weights[name] = load_file(str(saved))
    for key, ddp in weights["ddp"].items():
        torch.testing.assert_close(weights["fsdp"][key], ddp, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("precision", ["16-mixed", "16-true"])
def test_float16_precision_on_the_cpu_is_one_config_error_naming_what_works(precision):
    from r1.scale import check_accelerator

    with pytest.raises(ConfigError, match=f"trainer.precision={precision} .*on CPU use 32-true, bf16-mixed or bf16-true"):
        check_accelerator({"accelerator": "cpu", "precision": precision})
    check_accelerator({"accelerator": "cpu", "precision": "bf16-mixed"})
