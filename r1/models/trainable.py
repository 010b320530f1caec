"""What SFT, GRPO and distillation do to a loaded model before training it: one call, one place.

``model.gradient_checkpointing`` and ``model.lora`` (``conf/_model/training.yaml``) apply to
the model a training phase trains, never to a model it only reads (a teacher, a model
under evaluation): :func:`prepare_for_training` is called by the phases that train.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from torch import nn

from r1.errors import ConfigError
from r1.models.lora import add_lora, lora_settings


def prepare_for_training(model: nn.Module, model_node: Mapping[str, Any] | None, trainer_node: Mapping[str, Any] | None = None) -> nn.Module:
    """``model`` with activation checkpointing and LoRA applied as ``model_node`` asks; returns the model to train.

    Checkpointing goes on first, non-reentrant, so a LoRA model needs no input that
    requires gradients (the reentrant variant would see none through frozen embeddings).
    Under ``trainer=fsdp`` FSDP checkpoints each decoder layer itself
    (``trainer.strategy.activation_checkpointing``); asking for both would recompute twice.
    """
    node = model_node or {}
    if bool(node.get("gradient_checkpointing", False)):
        if _fsdp_checkpoints(trainer_node):
            raise ConfigError(
                "model.gradient_checkpointing=true and trainer.strategy.activation_checkpointing=true both recompute the decoder layers; turn one off"
            )
        if not getattr(model, "supports_gradient_checkpointing", False):
            raise ConfigError(f"{type(model).__name__} does not support gradient checkpointing; set model.gradient_checkpointing=false")
        # transformers >= 5.x names it activation_checkpointing_enable (the old name still warns)
        if hasattr(model, "activation_checkpointing_enable"):
            model.activation_checkpointing_enable(activation_checkpointing_kwargs={"use_reentrant": False})
        else:
            model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    settings = lora_settings(node)
    return add_lora(model, settings) if settings is not None else model


def _fsdp_checkpoints(trainer_node: Mapping[str, Any] | None) -> bool:
    strategy = (trainer_node or {}).get("strategy")
    return isinstance(strategy, Mapping) and strategy.get("name") == "fsdp" and bool(strategy.get("activation_checkpointing", True))
