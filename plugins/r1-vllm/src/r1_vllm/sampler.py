"""The ``vllm`` sampler: rollouts from a vLLM engine that follows the training policy's weights.

Written against vLLM 0.11 (the V1 engine): ``vllm.LLM``, ``SamplingParams(n, seed,
logprobs=0, stop_token_ids, stop, include_stop_str_in_output)``, token-id prompts
(``{"prompt_token_ids": [...]}``), ``LLM.apply_model`` to reach the engine's
``nn.Module`` and ``LLM.reset_prefix_cache``. Older V0 engines are reached through
``llm.llm_engine.model_executor.driver_worker.model_runner.model`` instead.

How the weights follow training: the engine is built on the first ``generate`` from
the policy as it is then (saved to a temporary Hugging Face folder). ``update_weights``
only marks the engine stale; the next ``generate`` pushes the policy it is given into
the engine with the model's own ``load_weights`` (the loader vLLM uses for checkpoint
files, so names are the checkpoint's) and drops cached prefixes computed with the old
weights. Pushing lazily costs one copy per rollout however many optimizer steps ran,
and under FSDP it happens inside ``generation_context``, where the weights are whole.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import tempfile
import time
import weakref
from collections.abc import Sequence
from typing import Any

import torch

from r1.data.chat import encode_prompts
from r1.errors import ConfigError
from r1.samplers.hf import stop_token_ids
from r1.protocols import Rollout
from r1_vllm.rollout import build_rollout, completions_of

INSTALL_HINT = "sampler=vllm needs vLLM, which is not installed: pip install 'r1-vllm[vllm]' (or pip install vllm) on a CUDA machine"


def require_vllm() -> None:
    """Fail in one line, before any model is loaded, when vLLM is missing."""
    if importlib.util.find_spec("vllm") is None:
        raise ConfigError(INSTALL_HINT)


def checkpoint_weights(model: Any) -> list[tuple[str, torch.Tensor]]:
    """The model's weights under the names its saved checkpoint uses, which vLLM's loaders expect.

    transformers 5 keeps some weights in a fused in-memory layout (e.g. all experts of an
    MoE layer in one tensor) and converts back when saving; the same reverse conversion
    is applied here. A tied ``lm_head`` is left out, as in the saved file.
    """
    state = model.state_dict()
    try:
        from transformers.core_model_loading import revert_weight_conversion
    except ImportError:  # transformers 4: in-memory names are the checkpoint's
        pass
    else:
        state = revert_weight_conversion(model, state)
    if getattr(getattr(model, "config", None), "tie_word_embeddings", False):
        state.pop("lm_head.weight", None)
    return [(name, tensor.detach()) for name, tensor in state.items()]


def push_weights(llm: Any, model: Any) -> int:
    """Copy ``model``'s current weights into the engine; returns how many tensors were sent."""
    weights = checkpoint_weights(model)
    if hasattr(llm, "apply_model"):  # vLLM >= 0.9
        llm.apply_model(lambda engine_model: engine_model.load_weights(weights))
    else:  # the V0 engine
        llm.llm_engine.model_executor.driver_worker.model_runner.model.load_weights(weights)
    if hasattr(llm, "reset_prefix_cache"):
        llm.reset_prefix_cache()  # cached KV blocks were computed with the old weights
    return len(weights)


class VLLMSampler:
    """Batched sampling with vLLM (paged attention, continuous batching, prefix caching); CUDA only.

    Args:
        stop_strings: generation also stops after these (single-token ones as stop tokens).
        gpu_memory_utilization: share of GPU memory the engine takes (weights + KV cache);
            the training model needs the rest.
        dtype: the engine's weight dtype.
        enforce_eager: no CUDA graphs.
        enable_prefix_caching: share a prompt's KV blocks across its group's samples.
        max_model_len: context length; ``None`` = the model's.
        in_process: run vLLM's engine core in this process (``VLLM_ENABLE_V1_MULTIPROCESSING=0``),
            so pushing weights is a device copy rather than a pickled transfer.
        engine_options: further ``vllm.LLM`` arguments, passed as they are.
    """

    def __init__(
        self,
        stop_strings: Sequence[str] = ("</answer>",),
        gpu_memory_utilization: float = 0.3,
        dtype: str = "bfloat16",
        enforce_eager: bool = True,
        enable_prefix_caching: bool = True,
        max_model_len: int | None = None,
        in_process: bool = True,
        engine_options: dict[str, Any] | None = None,
    ) -> None:
        require_vllm()
        self.stop_strings = tuple(stop_strings)
        self.engine_options = {
            "gpu_memory_utilization": gpu_memory_utilization,
            "dtype": dtype,
            "enforce_eager": enforce_eager,
            "enable_prefix_caching": enable_prefix_caching,
            "max_model_len": max_model_len,
            **(engine_options or {}),
        }
        self.in_process = in_process
        self._llm: Any = None
        self._stale = False

    def update_weights(self, model: Any) -> None:
        """Mark the engine stale; the next ``generate`` pushes the policy it is given."""
        self._stale = self._llm is not None

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
        import vllm

        start = time.perf_counter()
        llm = self._engine(model, tokenizer)
        if self._stale:
            push_weights(llm, model)
            self._stale = False
        # the same tokenisation as the hf sampler: special tokens exactly once
        prompt_ids = encode_prompts(tokenizer, prompts)
        text_stops = [s for s in self.stop_strings if len(tokenizer(s, add_special_tokens=False)["input_ids"]) > 1]
        params = vllm.SamplingParams(
            n=num_samples, temperature=temperature, top_p=top_p, max_tokens=max_new_tokens, seed=seed,
            logprobs=0 if return_logprobs else None, stop_token_ids=stop_token_ids(tokenizer, self.stop_strings, model),
            stop=text_stops or None, include_stop_str_in_output=True, skip_special_tokens=True,
        )
        outputs = llm.generate([{"prompt_token_ids": ids} for ids in prompt_ids], params, use_tqdm=False)
        pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
        rollout = build_rollout(prompt_ids, completions_of(outputs), tokenizer, pad_id, return_logprobs, time.perf_counter() - start)
        return _to(rollout, next(model.parameters()).device)

    def _engine(self, model: Any, tokenizer: Any) -> Any:
        """The engine, built on first use from the policy as it is now."""
        if self._llm is None:
            import vllm

            if self.in_process:
                os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")
            folder = tempfile.mkdtemp(prefix="r1-vllm-")
            weakref.finalize(self, shutil.rmtree, folder, ignore_errors=True)
            model.save_pretrained(folder)
            tokenizer.save_pretrained(folder)
            options = {k: v for k, v in self.engine_options.items() if v is not None}
            self._llm = vllm.LLM(model=folder, tokenizer=folder, seed=0, **options)
        return self._llm


def _to(rollout: Rollout, device: torch.device) -> Rollout:
    """The rollout's tensors on the training model's device, as the hf sampler returns them."""
    for name in ("prompt_ids", "prompt_mask", "completion_ids", "completion_mask", "truncated", "logprobs"):
        value = getattr(rollout, name)
        if value is not None:
            setattr(rollout, name, value.to(device))
    return rollout
