"""Mixture-of-Experts routing, seen from outside the model: where the routers are, and what they chose.

transformers' MoE families (DeepSeek-V3, Qwen3-MoE, Mixtral, ...) route with a router
module that returns ``(router_logits, top_k_weights, top_k_indices)``. :func:`routers`
finds them; :class:`RoutingRecorder` watches them through forward hooks (and through
r1's fused DeepSeek-V3 paths, which route without calling the module: they report to
:func:`observe`), keeping per layer how many tokens each expert received and, when
asked, the routing scores with their gradient for a balance loss.

DeepSeek-V3's auxiliary-loss-free balancing (:func:`update_bias`) and the
complementary sequence-wise balance loss (:func:`sequence_balance_loss`) are pure
functions over what was recorded, so they are tested without a model.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

_ACTIVE: list[RoutingRecorder] = []
"""Recorders open in this process (innermost last); the fused paths report to them through :func:`observe`."""


def is_router(module: nn.Module) -> bool:
    """A transformers MoE router: a module named ``*TopkRouter`` / ``*TopKRouter`` with a weight per expert."""
    return type(module).__name__.lower().endswith("topkrouter") and hasattr(module, "weight")


def routers(model: nn.Module) -> list[tuple[int, nn.Module]]:
    """``(decoder layer index, router)`` for each MoE layer of ``model``, in layer order; empty for a dense model."""
    found = []
    for name, module in model.named_modules():
        if is_router(module):
            parts = name.split(".")
            index = next((int(p) for p in reversed(parts) if p.isdigit()), len(found))
            found.append((index, module))
    return found


def expert_count(router: nn.Module) -> int:
    """Routed experts behind a router (its weight has one row per expert)."""
    return int(router.weight.shape[0])


def has_score_bias(router: nn.Module) -> bool:
    """Whether a router selects with DeepSeek-V3's ``e_score_correction_bias`` (auxiliary-loss-free balancing)."""
    return isinstance(getattr(router, "e_score_correction_bias", None), torch.Tensor)


@dataclass
class LayerRouting:
    """What one MoE layer chose in the forwards seen so far."""

    counts: torch.Tensor
    """``(E,)`` int64: tokens routed to each expert (a token counts once for each of its top-k experts)."""
    scores: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]] = field(default_factory=list)
    """``(affinities (T, E), top-k indices (T, K), sequence id (T,) or None)`` per forward, kept only when scores are recorded."""


class RoutingRecorder:
    """Counts the tokens each expert receives in the forwards run while it is open.

    Args:
        model: the model whose routers to watch.
        grad_only: count only forwards that build a graph (a training forward), not the
            sampler's or validation's (GRPO balances the experts of what it trains on).
        keep_scores: also keep each forward's routing affinities, with their gradient, for
            :func:`sequence_balance_loss`.
    """

    def __init__(self, model: nn.Module, grad_only: bool = False, keep_scores: bool = False) -> None:
        self.grad_only, self.keep_scores = grad_only, keep_scores
        self.routers = routers(model)
        self.layer_of = {id(router): index for index, router in self.routers}
        self.layers: dict[int, LayerRouting] = {
            index: LayerRouting(torch.zeros(expert_count(router), dtype=torch.long, device=router.weight.device)) for index, router in self.routers
        }
        self.token_mask: torch.Tensor | None = None
        """``(B, T)`` the next forwards' attention mask, set by the caller: padding is not counted, and rows are sequences."""
        self.flat_sequences: torch.Tensor | None = None
        """``(N,)`` the sequence of each token of a forward over a flat token list (-1 = padding), set by the fused paths."""
        self.flat_weights: torch.Tensor | None = None
        """``(N,)`` how many sequences each flat token stands for (a prompt computed once for its G completions counts G times)."""
        self._handles: list = []

    def __enter__(self) -> RoutingRecorder:
        self._handles = [router.register_forward_hook(self._hook) for _, router in self.routers]
        _ACTIVE.append(self)
        return self

    def __exit__(self, *exc) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles = []
        if self in _ACTIVE:
            _ACTIVE.remove(self)

    @property
    def is_open(self) -> bool:
        """Whether the hooks are on the routers (between ``__enter__`` and ``__exit__``)."""
        return bool(self._handles)

    def reset(self) -> None:
        """Forget the forwards seen so far (call after each optimizer step)."""
        for layer in self.layers.values():
            layer.counts.zero_()
            layer.scores.clear()

    def counts(self) -> dict[int, torch.Tensor]:
        """``{layer: (E,) tokens per expert}`` since the last :meth:`reset`."""
        return {index: layer.counts for index, layer in self.layers.items()}

    def _hook(self, router: nn.Module, inputs, outputs) -> None:
        logits, indices = outputs[0], outputs[-1]
        self.record(router, logits, indices)

    def sequences(self, tokens: int, device: torch.device) -> torch.Tensor | None:
        """``(tokens,)`` the sequence of each routed token (-1 = padding), when the caller said; else None."""
        if self.flat_sequences is not None and self.flat_sequences.numel() == tokens:
            return self.flat_sequences.to(device)
        mask = self.token_mask
        if mask is not None and mask.numel() == tokens:
            rows = torch.arange(mask.shape[0], device=device).repeat_interleave(mask.shape[1])
            return rows.masked_fill(~mask.reshape(-1).to(device).bool(), -1)
        return None

    def record(self, router: nn.Module, logits: torch.Tensor, indices: torch.Tensor) -> None:
        """One forward's routing of a router: ``logits (T, E)`` and the chosen ``indices (T, K)``."""
        index = self.layer_of.get(id(router))
        if index is None or (self.grad_only and not torch.is_grad_enabled()):
            return
        if in_backward():  # checkpointing recomputes this forward: the same ops (it checks the saved tensors), nothing kept
            if self.keep_scores and torch.is_grad_enabled():
                affinities(router, logits.reshape(-1, logits.shape[-1]))
            return
        indices = indices.reshape(-1, indices.shape[-1])
        logits = logits.reshape(-1, logits.shape[-1])
        sequence = self.sequences(indices.shape[0], indices.device)
        weights = self.flat_weights if sequence is not None and self.flat_weights is not None and self.flat_weights.numel() == indices.shape[0] else None
        real = torch.ones(indices.shape[0], dtype=torch.bool, device=indices.device) if sequence is None else sequence >= 0
        layer = self.layers[index]
        if weights is None:
            counted = torch.bincount(indices[real].reshape(-1), minlength=layer.counts.numel())
        else:
            per_slot = weights.to(indices.device)[real, None].expand(-1, indices.shape[-1]).reshape(-1).double()
            counted = torch.bincount(indices[real].reshape(-1), weights=per_slot, minlength=layer.counts.numel()).round().long()
        layer.counts += counted.to(layer.counts.device)
        if self.keep_scores and torch.is_grad_enabled():
            layer.scores.append((affinities(router, logits), indices, sequence))


def in_backward() -> bool:
    """Whether this forward runs inside a backward pass: activation checkpointing recomputing a layer.

    The recomputed routing repeats the forward's, so it is neither counted again nor added
    to a balance loss a second time (``model.gradient_checkpointing``, FSDP's checkpointing).
    """
    return torch._C._current_graph_task_id() != -1


def observe(router: nn.Module, logits: torch.Tensor, indices: torch.Tensor) -> None:
    """Report a routing done without calling the router module (r1's fused paths) to the open recorders."""
    for recorder in _ACTIVE:
        recorder.record(router, logits, indices)


def recording() -> bool:
    """Whether a recorder is open (the fused paths skip :func:`observe`'s arguments otherwise)."""
    return bool(_ACTIVE)


def set_flat_sequences(sequences: torch.Tensor | None, weights: torch.Tensor | None = None) -> None:
    """Tell the open recorders the sequence of each token of the coming flat-token forward, and how many sequences
    each token stands for (None = forget both).

    Load counts every token of every sequence the batch logically holds, so they do not depend on
    whether a fast path computed a shared prompt once or once per completion.
    """
    for recorder in _ACTIVE:
        recorder.flat_sequences, recorder.flat_weights = sequences, weights


def affinities(router: nn.Module, logits: torch.Tensor) -> torch.Tensor:
    """``(T, E)`` each token's affinity to each expert: sigmoid scores for DeepSeek-V3, softmax probabilities otherwise."""
    return torch.sigmoid(logits.float()) if has_score_bias(router) else torch.softmax(logits.float(), dim=-1)


# ----------------------------------------------------------------------------- balancing


def bias_step(counts: torch.Tensor, speed: float) -> torch.Tensor:
    """DeepSeek-V3's bias update for one layer: ``speed * sign(mean load - load)`` per expert (§2.1.2).

    An overloaded expert's bias goes down and an underloaded one's up, by the same step,
    so only the top-k choice shifts; the gating weights never read the bias.
    """
    load = counts.float()
    return speed * torch.sign(load.mean() - load)


@torch.no_grad()
def update_bias(router: nn.Module, counts: torch.Tensor, speed: float) -> None:
    """Apply :func:`bias_step` to a DeepSeek-V3 router's ``e_score_correction_bias`` (a buffer: saved in checkpoints)."""
    if counts.sum() == 0:
        return
    bias = router.e_score_correction_bias
    bias.add_(bias_step(counts.to(bias.device), speed).to(bias.dtype))


def sequence_balance_loss(scores: torch.Tensor, indices: torch.Tensor, sequence: torch.Tensor | None, top_k: int) -> torch.Tensor:
    """DeepSeek-V3's complementary sequence-wise balance loss for one layer and forward, before its weight α.

    ``L = mean over sequences of sum_i f_i * P_i``, with, over a sequence's T tokens,
    ``f_i = E / (K * T) * (tokens choosing expert i)`` and ``P_i`` the mean normalised
    affinity ``s_i / sum_j s_j``. It is 1 when every sequence spreads evenly.

    Args:
        scores: ``(T, E)`` affinities (with their gradient).
        indices: ``(T, K)`` the chosen experts.
        sequence: ``(T,)`` the sequence of each token (-1 = padding, left out); None = one sequence.
        top_k: K, experts per token.
    """
    experts = scores.shape[-1]
    if sequence is None:
        sequence = torch.zeros(scores.shape[0], dtype=torch.long, device=scores.device)
    keep = sequence >= 0
    scores, indices, sequence = scores[keep], indices[keep], sequence[keep]
    if sequence.numel() == 0:
        return scores.sum() * 0.0
    _, sequence = torch.unique(sequence, return_inverse=True)
    groups = int(sequence.max()) + 1
    tokens = torch.bincount(sequence, minlength=groups).float().clamp(min=1)  # (S,)
    chosen = torch.zeros(groups, experts, device=scores.device)
    chosen.index_put_((sequence[:, None].expand_as(indices), indices), torch.ones_like(indices, dtype=chosen.dtype), accumulate=True)
    f = chosen * experts / (top_k * tokens[:, None])  # (S, E)
    normalised = scores / scores.sum(dim=-1, keepdim=True).clamp(min=1e-20)
    p = torch.zeros(groups, experts, device=scores.device, dtype=normalised.dtype).index_add(0, sequence, normalised) / tokens[:, None]
    return (f.detach() * p).sum(dim=-1).mean()


def recorded_balance_loss(recorder: RoutingRecorder) -> torch.Tensor | None:
    """The mean of :func:`sequence_balance_loss` over the layers and forwards recorded, or None when none were."""
    losses = []
    top_k = {index: router.top_k for index, router in recorder.routers}
    for index, layer in recorder.layers.items():
        for scores, indices, sequence in layer.scores:
            losses.append(sequence_balance_loss(scores, indices, sequence, int(top_k[index])))
    return torch.stack(losses).mean() if losses else None
