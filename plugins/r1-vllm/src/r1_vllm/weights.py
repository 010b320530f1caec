"""The training policy's weights as vLLM's loaders read them, and as bytes for another process.

vLLM loads weights under the names of the saved Hugging Face checkpoint. transformers 5
keeps some weights in a fused in-memory layout (all experts of an MoE layer in one
tensor) and converts back only when saving; :func:`checkpoint_weights` applies the same
reverse conversion, so what the engine receives is what it would read from disk.
"""

from __future__ import annotations

from typing import Any

import torch


def checkpoint_weights(model: Any) -> list[tuple[str, torch.Tensor]]:
    """The model's weights under the names its saved checkpoint uses (a tied ``lm_head`` left out, as in the file)."""
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


def weights_to_bytes(weights: list[tuple[str, torch.Tensor]]) -> bytes:
    """Safetensors bytes of the weights (CPU, contiguous): a format that needs no pickle to read back."""
    from safetensors.torch import save

    return save({name: tensor.detach().to("cpu").contiguous() for name, tensor in weights})


def weights_from_bytes(data: bytes) -> list[tuple[str, torch.Tensor]]:
    """The inverse of :func:`weights_to_bytes`."""
    from safetensors.torch import load

    return list(load(data).items())
