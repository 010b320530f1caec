"""How evenly a Mixture-of-Experts model spreads its tokens: numbers and a table from expert counts.

A router that sends most tokens to a few experts wastes the others (they get no
gradient and stop learning) and, at scale, overloads the devices holding the busy
ones; DeepSeek-V3 balances with a per-expert bias for that reason (:mod:`r1.models.moe`).
The functions here turn the per-layer token counts a
:class:`r1.models.moe.RoutingRecorder` keeps into what to watch: each expert's share,
max/mean and min/mean load, the experts that get (almost) nothing, and the entropy of
the shares. They are pure (counts in, numbers out) and so tested without a model;
:func:`measure_expert_load` is the one function that runs a model, to get the counts.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import torch
from torch import nn

from r1.errors import DataError
from r1.models.moe import RoutingRecorder, has_score_bias, routers

DEAD_FRACTION = 0.1
"""An expert is *dead* when its load is below this fraction of the layer's mean load: it
receives so few tokens that it hardly trains (a uniform router gives every expert 1.0)."""

SHARE_COLUMNS = 16
"""Experts per line in :func:`load_table`'s share block (a model with more experts wraps)."""

Counts = torch.Tensor | Sequence[int] | Sequence[float]
"""One layer's tokens per expert: a ``(E,)`` tensor or a list."""


def _as_floats(counts: Counts) -> list[float]:
    values = counts.detach().flatten().tolist() if isinstance(counts, torch.Tensor) else list(counts)
    return [float(v) for v in values]


def load_shares(counts: Counts) -> list[float]:
    """Each expert's share of the layer's routed tokens (sums to 1; all 0 when the layer routed none)."""
    values = _as_floats(counts)
    total = sum(values)
    return [v / total if total > 0 else 0.0 for v in values]


def layer_summary(counts: Counts, bias: Counts | None = None) -> dict[str, float]:
    """One layer's balance: ``max_mean``, ``min_mean``, ``dead``, ``entropy`` (and the bias spread when given).

    * ``max_mean``: the busiest expert's load over the mean load (1 = perfectly even; E = one expert takes all);
    * ``min_mean``: the idlest expert's load over the mean load (1 = even; 0 = an expert gets nothing);
    * ``dead``: experts whose load is below :data:`DEAD_FRACTION` of the mean;
    * ``entropy``: the entropy of the shares over ``log E`` (1 = uniform, 0 = one expert takes all);
    * ``bias_min``, ``bias_max``, ``bias_range``: DeepSeek-V3's ``e_score_correction_bias``, when
      ``bias`` is given: how far auxiliary-loss-free balancing has had to push the experts apart.

    A layer that routed no token reports ratios and entropy of 0 and every expert dead.
    """
    values = _as_floats(counts)
    experts = len(values)
    if experts == 0:
        raise ValueError("a layer needs at least one expert to summarise")
    mean = sum(values) / experts
    if mean > 0:
        shares = load_shares(values)
        entropy = -sum(s * math.log(s) for s in shares if s > 0)
        summary = {
            "max_mean": max(values) / mean,
            "min_mean": min(values) / mean,
            "dead": float(sum(v < DEAD_FRACTION * mean for v in values)),
            "entropy": entropy / math.log(experts) if experts > 1 else 1.0,
        }
    else:
        summary = {"max_mean": 0.0, "min_mean": 0.0, "dead": float(experts), "entropy": 0.0}
    if bias is not None:
        offsets = _as_floats(bias)
        summary.update(bias_min=min(offsets), bias_max=max(offsets), bias_range=max(offsets) - min(offsets))
    return summary


def routing_metrics(
    counts_by_layer: Mapping[int, Counts],
    biases_by_layer: Mapping[int, Counts] | None = None,
    prefix: str = "moe",
) -> dict[str, float]:
    """Flat metrics for ``history.jsonl`` and the logger, one group per MoE layer plus the worst of them.

    Keys: ``{prefix}/layer{i}/max_mean``, ``.../min_mean``, ``.../dead``, ``.../entropy``,
    ``.../bias_range`` (layers with a bias), ``.../share/e{j}`` per expert; then
    ``{prefix}/max_mean`` (the most unbalanced layer's) and ``{prefix}/dead`` (summed over layers).
    Empty for a model without MoE layers.
    """
    biases = biases_by_layer or {}
    metrics: dict[str, float] = {}
    worst, dead = 0.0, 0.0
    for layer in sorted(counts_by_layer):
        counts = counts_by_layer[layer]
        summary = layer_summary(counts, biases.get(layer))
        key = f"{prefix}/layer{layer}"
        for name in ("max_mean", "min_mean", "dead", "entropy", "bias_range"):
            if name in summary:
                metrics[f"{key}/{name}"] = summary[name]
        for expert, share in enumerate(load_shares(counts)):
            metrics[f"{key}/share/e{expert}"] = share
        worst, dead = max(worst, summary["max_mean"]), dead + summary["dead"]
    if counts_by_layer:
        metrics[f"{prefix}/max_mean"] = worst
        metrics[f"{prefix}/dead"] = dead
    return metrics


def load_table(counts_by_layer: Mapping[int, Counts], biases_by_layer: Mapping[int, Counts] | None = None) -> str:
    """A plain-text table of the expert load: one row of summaries per layer, then each expert's share in %.

    ``routed`` counts token-to-expert assignments (tokens × top-k); ``bias range`` is
    DeepSeek-V3's ``e_score_correction_bias`` spread (``-`` for routers without one).
    """
    biases = biases_by_layer or {}
    layers = sorted(counts_by_layer)
    header = f"{'layer':>5}  {'routed':>9}  {'max/mean':>8}  {'min/mean':>8}  {'dead':>4}  {'entropy':>7}  {'bias range':>10}"
    lines = [header]
    for layer in layers:
        counts = counts_by_layer[layer]
        s = layer_summary(counts, biases.get(layer))
        bias = f"{s['bias_range']:10.4f}" if "bias_range" in s else f"{'-':>10}"
        routed = f"{int(sum(_as_floats(counts))):,}"
        lines.append(f"{layer:>5}  {routed:>9}  {s['max_mean']:8.2f}  {s['min_mean']:8.2f}  {int(s['dead']):>4}  {s['entropy']:7.3f}  {bias}")
    experts = max((len(_as_floats(counts_by_layer[layer])) for layer in layers), default=0)
    if experts:
        lines += ["", f"expert shares (% of the layer's routed tokens; uniform = {100 / experts:.1f})"]
        for start in range(0, experts, SHARE_COLUMNS):
            columns = range(start, min(start + SHARE_COLUMNS, experts))
            lines.append(f"{'layer':>5}  " + " ".join(f"{'e' + str(j):>5}" for j in columns))
            for layer in layers:
                shares = load_shares(counts_by_layer[layer])
                lines.append(f"{layer:>5}  " + " ".join(f"{100 * shares[j]:5.1f}" if j < len(shares) else f"{'':>5}" for j in columns))
    return "\n".join(lines)


def router_biases(model: nn.Module) -> dict[int, torch.Tensor]:
    """``{layer: (E,) e_score_correction_bias}`` for each DeepSeek-V3 router of ``model`` (empty for other routers)."""
    return biases_of(routers(model))


def biases_of(found: Iterable[tuple[int, nn.Module]]) -> dict[int, torch.Tensor]:
    """:func:`router_biases` of routers already found (``(layer, router)`` pairs, as :func:`r1.models.moe.routers` gives)."""
    return {layer: router.e_score_correction_bias.detach().float().cpu() for layer, router in found if has_score_bias(router)}


def saved_moe_layers(folder: str | Path, trust_remote_code: bool = False) -> list[int]:
    """The MoE layers of the model saved in ``folder``, read from its ``config.json`` without loading a weight.

    The architecture is built on PyTorch's ``meta`` device (no memory, no initialisation),
    so asking whether a multi-billion-parameter dense model has experts costs milliseconds.
    """
    from transformers import AutoConfig, AutoModelForCausalLM

    try:
        config = AutoConfig.from_pretrained(str(folder), trust_remote_code=trust_remote_code)
        with torch.device("meta"):
            skeleton = AutoModelForCausalLM.from_config(config, trust_remote_code=trust_remote_code)
    except (OSError, ValueError, KeyError) as error:
        first = (str(error).strip().splitlines() or [type(error).__name__])[0]
        raise DataError(f"could not read the model config in '{folder}': {first}") from error
    return [layer for layer, _ in routers(skeleton)]


@torch.no_grad()
def measure_expert_load(model: nn.Module, sequences: Sequence[Sequence[int] | torch.Tensor], batch_size: int) -> dict[int, torch.Tensor]:
    """``{layer: (E,) tokens per expert}`` over teacher-forced forwards of ``sequences`` (token ids), in batches.

    Each batch is right-padded under an attention mask, and padding is left out of the
    counts, so every MoE layer counts exactly ``tokens × top-k``. The model runs in eval
    mode on its own device; empty for a dense model.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    device = next(model.parameters()).device
    training = model.training
    model.eval()
    try:
        with RoutingRecorder(model) as recorder:
            for start in range(0, len(sequences), batch_size):
                batch = [torch.as_tensor(ids, dtype=torch.long).flatten() for ids in sequences[start : start + batch_size]]
                width = max(ids.numel() for ids in batch)
                if width == 0:
                    continue
                input_ids = torch.zeros(len(batch), width, dtype=torch.long)
                mask = torch.zeros(len(batch), width, dtype=torch.long)
                for row, ids in enumerate(batch):
                    input_ids[row, : ids.numel()] = ids
                    mask[row, : ids.numel()] = 1
                recorder.token_mask = mask.to(device)  # padding is routed too, but not counted
                model(input_ids=input_ids.to(device), attention_mask=mask.to(device), use_cache=False)
            return {layer: counts.detach().cpu().clone() for layer, counts in recorder.counts().items()}
    finally:
        model.train(training)
