"""LoRA adapters (peft) as the fast paths see them: a projection's effective weight, and when folding it is exact.

A LoRA policy (``model.lora``, :mod:`r1.models.lora`) is a peft model whose targeted
``nn.Linear`` projections became ``peft.tuners.lora.Linear`` layers: the base layer plus,
for the active adapter, ``B(A(dropout(x))) * scaling``. Without dropout that is the
linear map of ``W + scaling * B @ A``, so the fast paths, which read projection weights
instead of calling the modules, read that sum (:func:`projection_weight`) wherever they
read ``W``; it is plain tensor ops, so the fused scorer's gradients reach ``A`` and ``B``
as the model's own forward's do. Biases are the base layer's: LoRA leaves them alone.

Folding is exact only where a layer's forward is that linear map. :func:`folds_exactly`
turns the fast paths down (transformers' forward runs instead) when some peft layer is
not one:

* LoRA dropout > 0 while the layer trains (a random mask on the adapter's input);
* more than one active adapter (peft's adapter mixing is left to peft's forward);
* DoRA and the other LoRA variants (``lora_variant``), or an adapter bias (``lora_bias``);
* adapters merged into the base weights and then switched off (the forward unmerges
  them first, changing the weights);
* any other peft layer: another tuner, a LoRA layer on a module the folding does not
  read as a projection (router, routed experts, embeddings, output head), a base layer
  that is not an ``nn.Linear``.

Switched-off adapters (inside ``PeftModel.disable_adapter()``, how GRPO scores its
reference) and merged ones fold as the base weight alone. peft is never imported here
unless it already is: a model can only hold peft layers once peft has been imported.
"""

from __future__ import annotations

import sys

import torch
from torch import nn

# The projections whose weights the DeepSeek-V3 folding reads (through projection_weight):
# the attention's (latent) projections and the dense MLPs' / shared experts' gate, up, down.
PROJECTIONS = frozenset({"q_proj", "q_a_proj", "q_b_proj", "kv_a_proj_with_mqa", "kv_b_proj", "o_proj", "gate_proj", "up_proj", "down_proj"})


def _lora_linear_class() -> type | None:
    """peft's LoRA ``Linear``, or None when peft was never imported (then no peft layer exists)."""
    if "peft" not in sys.modules:
        return None
    from peft.tuners.lora import Linear

    return Linear


def _is_peft(module: nn.Module) -> bool:
    return type(module).__module__.split(".")[0] == "peft"


def _active_adapters(linear: nn.Module) -> list[str]:
    """The adapters whose deltas the layer's forward adds: none when switched off or merged into the base weight."""
    if linear.disable_adapters or linear.merged:
        return []
    return [name for name in linear.active_adapters if name in linear.lora_A]


def projection_weight(linear: nn.Module) -> torch.Tensor:
    """The ``(out, in)`` weight a projection's forward applies: ``weight``, or for a peft LoRA layer base + ``scaling * B @ A``.

    Differentiable in ``A`` and ``B``. The product is formed in float32 and rounded once
    to the base weight's dtype; ``fan_in_fan_out`` transposes the delta as peft's merge
    does. Only layers that :func:`folds_exactly` accepts fold to their forward.
    """
    base = getattr(linear, "base_layer", None)
    if base is None:
        return linear.weight
    weight = base.weight
    adapters = _active_adapters(linear)
    if not adapters:
        return weight
    merged = weight.float()
    for name in adapters:
        delta = torch.mm(linear.lora_B[name].weight.float(), linear.lora_A[name].weight.float()) * linear.scaling[name]
        merged = merged + (delta.t() if linear.fan_in_fan_out else delta)
    return merged.to(weight.dtype)


def _lora_folds(linear: nn.Module) -> bool:
    """Whether a LoRA layer's forward is the linear map of :func:`projection_weight` (see the module docstring)."""
    if not isinstance(linear.base_layer, nn.Linear):
        return False
    if linear.disable_adapters:
        return not linear.merged
    adapters = _active_adapters(linear)
    if len(adapters) > 1:
        return False
    for name in adapters:
        if name in linear.lora_variant or linear.use_dora.get(name, False) or getattr(linear, "lora_bias", {}).get(name, False):
            return False
        dropout = linear.lora_dropout[name]
        if not (isinstance(dropout, nn.Identity) or (isinstance(dropout, nn.Dropout) and (dropout.p == 0 or not dropout.training))):
            return False
    return True


def folds_exactly(model: nn.Module) -> bool:
    """Whether every peft layer in ``model`` is a LoRA projection whose forward :func:`projection_weight` folds exactly."""
    lora_linear = _lora_linear_class()
    if lora_linear is None:
        return True
    for name, module in model.named_modules():
        if not _is_peft(module):
            continue
        if type(module) is not lora_linear or name.rsplit(".", 1)[-1] not in PROJECTIONS or not _lora_folds(module):
            return False
    return True
