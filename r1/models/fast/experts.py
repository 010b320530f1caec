"""A CPU-friendlier gather and scatter around transformers' grouped expert matmuls.

transformers' default MoE path (``grouped_mm``) sorts the (token, expert) pairs by
expert, runs one grouped matmul per projection, and restores the order with advanced
indexing (``x[index]``). On CPU that indexing and its backward (an accumulating
``index_put``) cost about 0.8 ms per MoE layer at a GRPO batch of the tiny model, six
times what ``index_select`` and its backward cost for the same copy. This implementation
is the same computation with ``index_select`` in both directions; everything else (the
grouped matmuls, gating, biases) is transformers' own, and on other devices, or with
expert parallelism or post-expert norms, it hands over to transformers' function
unchanged. Results are bit-identical (``tests/unit/test_models.py``).

It registers under the name ``r1_grouped`` and :func:`select_sorted_experts` selects it
for a model that would use ``grouped_mm`` (the seam, :func:`r1.models.fast.use_fast_experts`,
calls it when a model is loaded with the fast paths on); nothing about it is saved with
the model.
"""

from __future__ import annotations

import torch
from torch import nn

try:  # transformers' experts internals; without them models keep transformers' own path
    from transformers.integrations.moe import ExpertsInterface, _grouped_linear, grouped_mm_experts_forward
except ImportError:
    ExpertsInterface = None

NAME = "r1_grouped"


def sorted_experts_forward(self, hidden_states: torch.Tensor, top_k_index: torch.Tensor, top_k_weights: torch.Tensor) -> torch.Tensor:
    """Routed experts' output ``(tokens, hidden)``; ``self`` is a transformers experts module."""
    # has_post_expert_norm: transformers >= 5.2x only (older experts modules have no such norm)
    if hidden_states.device.type != "cpu" or self._is_expert_parallel or getattr(self, "has_post_expert_norm", False):
        return grouped_mm_experts_forward(self, hidden_states, top_k_index, top_k_weights)
    tokens, top_k = top_k_index.shape
    expert_of_pair = top_k_index.reshape(-1)
    sorted_experts, order = torch.sort(expert_of_pair)  # pairs grouped by expert
    offsets = torch.bincount(expert_of_pair, minlength=self.num_experts).cumsum(0, dtype=torch.int32)
    x = hidden_states.index_select(0, order // top_k)
    up, up_bias = (self.gate_up_proj, "gate_up_proj_bias") if self.has_gate else (self.up_proj, "up_proj_bias")
    bias = getattr(self, up_bias).index_select(0, sorted_experts) if self.has_bias else None
    h = _grouped_linear(x, up, offsets, bias=bias, is_transposed=self.is_transposed)
    h = self._apply_gate(h) if self.has_gate else self.act_fn(h)
    bias = self.down_proj_bias.index_select(0, sorted_experts) if self.has_bias else None
    h = _grouped_linear(h, self.down_proj, offsets, bias=bias, is_transposed=self.is_transposed)
    h = h * top_k_weights.reshape(-1).index_select(0, order).unsqueeze(-1).to(h.dtype)
    # back to (token, k) order, then the sum over each token's k experts
    return h.index_select(0, order.argsort()).view(tokens, top_k, -1).sum(dim=1).to(hidden_states.dtype)


def select_sorted_experts(model: nn.Module) -> nn.Module:
    """Switch ``model`` from transformers' ``grouped_mm`` experts to :func:`sorted_experts_forward`.

    Models without selectable experts (dense models, other implementations a user chose)
    are returned untouched.
    """
    config = getattr(model, "config", None)
    if ExpertsInterface is None or getattr(config, "_experts_implementation", None) != "grouped_mm" or not hasattr(model, "set_experts_implementation"):
        return model
    if NAME not in ExpertsInterface._global_mapping:
        ExpertsInterface.register(NAME, sorted_experts_forward)
    model.set_experts_implementation(NAME)
    return model
