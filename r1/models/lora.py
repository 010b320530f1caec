"""Low-rank adapters (LoRA, through ``peft``): fine-tune a few million parameters instead of all of them.

``model.lora.enabled=true`` wraps the loaded policy in a ``peft`` model before SFT, GRPO
or distillation trains it (:func:`add_lora`). Three things follow from that choice:

* **What gets adapters.** By default every ``nn.Linear`` inside the decoder layers, found
  from the model itself (:func:`default_targets`), as ``r1.scale`` finds the layers, so
  any architecture works without a table: attention projections (DeepSeek-V3's latent
  ones included), dense MLPs and MoE *shared* experts. Left out on purpose: MoE routers
  (an adapter on the router would move the routing that the balancer keeps even) and
  *routed* experts (transformers stores them as 3-D parameters, not ``nn.Linear``; an
  adapter per expert multiplies the adapter count by the expert count while each expert
  sees only its share of the tokens), embeddings and the output head.
* **The GRPO reference for free.** The frozen reference policy is the same model with
  the adapter switched off (:func:`adapter_disabled`), so no second copy of the weights
  is held.
* **Export.** ``adapter/`` (the adapter alone, loadable with ``peft``) is always written;
  with ``merge_on_export`` the ``hf/`` folder holds a plain transformers model with the
  adapter merged in (:func:`merged_copy`), which every later phase loads unchanged.
  A folder holding only an adapter loads too (:func:`load_adapter_folder`): its base
  model, then the adapter merged in.
"""

from __future__ import annotations

import copy
import json
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from torch import nn

from r1.errors import ConfigError, DataError
from r1.models import moe
from r1.scale import decoder_layer_classes, unwrap
from r1.settings import bounded, build_settings

ADAPTER_CONFIG = "adapter_config.json"
"""The file that marks a folder as a peft adapter (next to ``adapter_model.safetensors``)."""


@dataclass
class LoraSettings:
    """The ``model.lora`` node (``conf/_model/training.yaml`` documents each key)."""

    enabled: bool
    r: int = bounded(ge=1)
    alpha: float = bounded(gt=0)
    dropout: float = bounded(ge=0, lt=1)
    target_modules: list[str] | None
    merge_on_export: bool


def lora_settings(model_node: Any) -> LoraSettings | None:
    """``model.lora`` read and checked; None when it is absent or not enabled."""
    node = model_node.get("lora") if model_node is not None else None
    if node is None:
        return None
    settings = build_settings(LoraSettings, node, prefix="model.lora")
    return settings if settings.enabled else None


def merge_on_export(model_node: Any) -> bool:
    """Whether the exported ``hf/`` folder holds the merged model (always, without LoRA)."""
    settings = lora_settings(model_node)
    return settings is None or settings.merge_on_export


def default_targets(model: nn.Module) -> list[str]:
    """Full names of the ``nn.Linear`` modules inside the decoder layers, routers and routed experts left out.

    Full names (``model.layers.0.self_attn.q_proj``) rather than leaf names, because peft
    matches a leaf name everywhere: ``gate_proj`` would also catch the routed experts of an
    MoE that stores them as a list of ``nn.Linear``.
    """
    layer_classes = tuple(decoder_layer_classes(model))
    inside_layers: set[str] = set()
    excluded: list[str] = []
    for name, module in model.named_modules():
        if isinstance(unwrap(module), layer_classes):
            inside_layers.add(name + ".")
        if moe.is_router(module) or name.rsplit(".", 1)[-1] == "experts":
            excluded.append(name + ".")
    found = []
    for name, module in model.named_modules():
        if not isinstance(module, nn.Linear) or moe.is_router(module):
            continue
        if any(name.startswith(prefix) for prefix in inside_layers) and not any(name.startswith(prefix) for prefix in excluded):
            found.append(name)
    return found


def add_lora(model: nn.Module, settings: LoraSettings) -> nn.Module:
    """``model`` wrapped in a peft LoRA model: only the adapters train, everything else is frozen."""
    try:
        from peft import LoraConfig, get_peft_model
    except ImportError as error:  # peft is a dependency of r1; a broken environment gets one line
        raise ConfigError(f"model.lora.enabled=true needs peft, which does not import ({error}); pip install peft") from error
    targets = settings.target_modules or default_targets(model)
    if not targets:
        raise ConfigError(f"model.lora found no nn.Linear inside the decoder layers of {type(model).__name__}; name them with model.lora.target_modules=[...]")
    config = LoraConfig(
        r=settings.r, lora_alpha=settings.alpha, lora_dropout=settings.dropout, target_modules=list(targets), bias="none", task_type="CAUSAL_LM",
    )
    try:
        with peft_as_named():
            return get_peft_model(model, config)
    except ValueError as error:  # peft: "Target modules {...} not found in the base model"
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ConfigError(f"model.lora.target_modules {settings.target_modules} do not fit {type(model).__name__}: {first}") from error


@contextmanager
def peft_as_named() -> Iterator[None]:
    """peft adapting exactly the modules it is given, quietly.

    For MoE families whose layout changed in transformers 5 (DeepSeek-V3 and Qwen-MoE map
    to Qwen2-MoE's, Mixtral), peft rewrites every target named ``gate_proj``, ``up_proj``
    or ``down_proj`` into the *routed* experts' fused 3-D weights, a shim for adapters
    trained on transformers 4. r1 names the modules it means (the dense MLPs and shared
    experts of :func:`default_targets`) and never wrote a transformers-4 adapter, so the
    shim is off while r1 wraps a model or loads one of its adapters. (peft's own loader
    applies the shim, so the portable export of such a model is the merged ``hf/`` folder.)
    Also silenced: the warning that follows from the shim's patterns, and peft reading
    transformers' old checkpointing flag name.
    """
    try:
        from peft.utils import transformers_weight_conversion as conversion
    except ImportError:  # a peft without the shim: nothing to turn off
        conversion = None
    original = getattr(conversion, "convert_peft_config_for_transformers", None)
    if original is not None:
        conversion.convert_peft_config_for_transformers = lambda *args, **kwargs: None
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*_pattern keys did not match any targeted module.*")
            warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*")
            yield
    finally:
        if original is not None:
            conversion.convert_peft_config_for_transformers = original


def has_lora(model: nn.Module) -> bool:
    """Whether ``model`` (or the module inside its FSDP / checkpoint wrappers) is a peft model."""
    return hasattr(unwrap(model), "peft_config") and hasattr(unwrap(model), "disable_adapter")


@contextmanager
def adapter_disabled(model: nn.Module) -> Iterator[nn.Module]:
    """The base model's view of a LoRA model for the block: its forwards skip every adapter."""
    with unwrap(model).disable_adapter():
        yield model


def trainable_parameters(model: nn.Module) -> int:
    """How many parameters training updates (all of them, or a LoRA model's adapters)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def merged_copy(model: nn.Module) -> nn.Module:
    """A plain transformers model with the adapter merged into its weights; ``model`` is left as it was.

    A copy, merged exactly once: merging in place and unmerging afterwards would leave the
    base weights changed by rounding (in bf16, by a visible amount) after every export.
    """
    return copy.deepcopy(unwrap(model)).merge_and_unload()


def save_adapter(model: nn.Module, tokenizer, folder: str | Path) -> Path:
    """Write the adapter alone (``adapter_config.json``, ``adapter_model.safetensors``) and the tokenizer."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    unwrap(model).save_pretrained(str(folder))
    tokenizer.save_pretrained(str(folder))
    return folder


def is_adapter_folder(path: str | Path) -> bool:
    """A local folder holding a peft adapter and no full model."""
    folder = Path(path).expanduser()
    return (folder / ADAPTER_CONFIG).is_file() and not (folder / "config.json").is_file()


def adapter_base(folder: str | Path) -> str:
    """The base model an adapter folder was trained on (``base_model_name_or_path``), or a one-line :class:`DataError`."""
    path = Path(folder).expanduser() / ADAPTER_CONFIG
    try:
        base = json.loads(path.read_text(encoding="utf-8")).get("base_model_name_or_path")
    except (OSError, ValueError) as error:
        raise DataError(f"{path} does not parse ({error}); save the adapter again") from error
    if not base:
        raise DataError(f"the adapter at {folder} names no base model; export with model.lora.merge_on_export=true, or load its base model and the adapter yourself")
    return str(base)


def load_adapter_folder(base_model: nn.Module, folder: str | Path) -> nn.Module:
    """``base_model`` with the adapter at ``folder`` merged in: a plain transformers model."""
    from peft import PeftModel

    try:
        with peft_as_named():
            return PeftModel.from_pretrained(base_model, str(folder)).merge_and_unload()
    except (OSError, ValueError, KeyError) as error:
        raise DataError(f"could not apply the adapter at {folder} to {type(base_model).__name__}: {str(error).strip().splitlines()[0]}") from error
