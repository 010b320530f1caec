"""Keeping a Mixture-of-Experts policy balanced while it trains, and showing how balanced it is.

DeepSeek-V3 (§2.1.2) balances its experts without an auxiliary loss in the gradient:
after each optimizer step, each routed expert's router bias moves by
``γ · sign(mean load − its load)``, where load is the tokens routed to it in that step;
the bias enters only the top-k choice, never the gating weights. A complementary
sequence-wise balance loss with a tiny weight α keeps single sequences from
collapsing onto few experts. Other MoE families (Qwen3-MoE, Mixtral) train with their
router's auxiliary loss instead, when their config asks for it (``output_router_logits``,
weighted by ``router_aux_loss_coef``).

:class:`ExpertBalance` does all three for SFT, GRPO and distillation, on any strategy:

* load is counted in the *training* forwards only (GRPO's policy update, not its sampler
  or its reference), padding left out (:class:`r1.models.moe.RoutingRecorder`);
* before a bias update the counts are summed over ranks, so every rank applies the same
  bias (it is a buffer, so it is saved in checkpoints and survives a resume);
* the balance loss is added to the phase's loss by the module, through :meth:`ExpertBalance.loss`;
* the load of each window (a GRPO step, an SFT validation interval) is summarised per
  layer (:func:`r1.models.moe_stats.routing_metrics`) for history.jsonl and the logger.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import lightning
import torch

from r1.models import moe
from r1.settings import bounded, build_settings


@dataclass
class BalanceSettings:
    """The ``model.balance`` node: how a DeepSeek-V3 MoE policy is kept balanced (ignored by dense models)."""

    bias_update_speed: float = bounded(ge=0)
    """γ: the router-bias step after each optimizer step; 0 = no bias updates."""
    seq_aux_weight: float = bounded(ge=0)
    """α: weight of the complementary sequence-wise balance loss; 0 = none."""


def balance_settings(model_node: Any) -> BalanceSettings | None:
    """``model.balance`` read into :class:`BalanceSettings`; None when the model config has no such node."""
    node = model_node.get("balance") if model_node is not None else None
    return None if node is None else build_settings(BalanceSettings, node, prefix="model.balance")


class ExpertBalance(lightning.Callback):
    """Router-bias updates, balance losses and expert-load metrics for one trained MoE model.

    Args:
        model: the model being trained (unwrapped; its routers are found by module type).
        settings: ``model.balance``; None = no bias updates and no sequence-wise loss
            (a Qwen3-MoE / Mixtral config's own auxiliary loss still applies).
    """

    def __init__(self, model: torch.nn.Module, settings: BalanceSettings | None) -> None:
        self.settings = settings or BalanceSettings(bias_update_speed=0.0, seq_aux_weight=0.0)
        self.routers = moe.routers(model)
        self.biased = {index: router for index, router in self.routers if moe.has_score_bias(router)}
        config = getattr(model, "config", None)
        self.router_aux_weight = float(getattr(config, "router_aux_loss_coef", 0.0) or 0.0) if getattr(config, "output_router_logits", False) else 0.0
        self.seq_aux_weight = self.settings.seq_aux_weight if self.biased else 0.0
        self.recorder = moe.RoutingRecorder(model, grad_only=True, keep_scores=bool(self.seq_aux_weight or self.router_aux_weight))
        self.window: dict[int, torch.Tensor] = {index: torch.zeros_like(c) for index, c in self.recorder.counts().items()}
        self.updates = 0

    @property
    def active(self) -> bool:
        """Whether the model has routers to watch."""
        return bool(self.routers)

    def start(self) -> ExpertBalance:
        """Begin counting (idempotent): the recorder's hooks go on the routers."""
        if self.active and not self.recorder.is_open:
            self.recorder.__enter__()
        return self

    def stop(self) -> None:
        self.recorder.__exit__(None, None, None)

    def set_token_mask(self, mask: torch.Tensor | None) -> None:
        """The attention mask of the coming training forward: padding is not counted, and rows are sequences."""
        self.recorder.token_mask = mask

    def loss(self) -> torch.Tensor | None:
        """The balance losses of the training forwards since the last call, weighted, or None when there are none.

        DeepSeek-V3 routers: α × the sequence-wise loss. Other routers whose config asks for it:
        ``router_aux_loss_coef`` × K × the same quantity over the batch, which is transformers'
        load-balancing loss (``E · Σ_i f_i P_i`` with ``f_i`` the share of routed slots).
        """
        total = None
        top_k_of = {index: int(router.top_k) for index, router in self.routers}
        for index, layer in self.recorder.layers.items():
            if not layer.scores:
                continue
            top_k = top_k_of[index]
            for scores, indices, sequence in layer.scores:
                if index in self.biased:
                    term = self.seq_aux_weight * moe.sequence_balance_loss(scores, indices, sequence, top_k)
                else:
                    batch = None if sequence is None else torch.where(sequence >= 0, 0, -1)
                    term = self.router_aux_weight * top_k * moe.sequence_balance_loss(scores, indices, batch, top_k)
                total = term if total is None else total + term
            layer.scores.clear()
        if total is None:
            return None
        return total / max(len(self.routers), 1)

    # ----- after each optimizer step -------------------------------------------------------

    def on_before_optimizer_step(self, trainer, pl_module, optimizer) -> None:
        # The counts of every forward behind this step (all micro-batches), summed over ranks first.
        counts = self.recorder.counts()
        if trainer.world_size > 1:
            stacked = torch.stack([counts[i].float() for i in sorted(counts)])
            stacked = trainer.strategy.reduce(stacked, reduce_op="sum")
            counts = {i: stacked[n].round().long() for n, i in enumerate(sorted(counts))}
        speed = self.settings.bias_update_speed
        for index, router in self.biased.items():
            if speed > 0:
                moe.update_bias(router, counts[index], speed)
        for index in self.window:
            self.window[index] += counts[index].to(self.window[index].device)
        self.updates += 1
        self.recorder.reset()

    def on_train_end(self, trainer, pl_module) -> None:
        self.stop()

    # ----- what it shows --------------------------------------------------------------------

    def report(self) -> dict[str, float]:
        """Expert-load metrics of the window since the last report (then a new window starts); {} before any step."""
        from r1.models.moe_stats import biases_of, routing_metrics

        if not self.active or all(int(c.sum()) == 0 for c in self.window.values()):
            return {}
        metrics = routing_metrics({i: c.clone() for i, c in self.window.items()}, biases_of(self.routers) or None)
        for counts in self.window.values():
            counts.zero_()
        return metrics


def progress_text(metrics: dict[str, float]) -> str:
    """`` | moe max/mean 1.42, dead 0`` for a progress line, or ``""`` for a dense model."""
    if "moe/max_mean" not in metrics:
        return ""
    return f" | moe max/mean {metrics['moe/max_mean']:.2f}, dead {int(metrics['moe/dead'])}"


# ----------------------------------------------------------------------------- measuring a saved model
# ``python -m r1.moe`` and the pipeline report's expert-load plot both measure here.


def held_out_arithmetic(n: int, seed: int) -> list[dict[str, Any]]:
    """``n`` problems (prompt and reference response) of the arithmetic task's held-out split, as
    ``conf/task/arithmetic.yaml`` sets the task up; ``ValueError`` when the split has too few."""
    from omegaconf import OmegaConf

    from r1.paths import conf_dir
    from r1.tasks.arithmetic import ArithmeticTask

    node = OmegaConf.to_container(OmegaConf.load(conf_dir() / "task" / "arithmetic.yaml"))
    return ArithmeticTask(**{key: value for key, value in node.items() if key != "name"}).samples("test", n, seed=seed)


def load_saved(folder: str) -> tuple[torch.nn.Module, Any]:
    """``(model, tokenizer)`` of a saved Hugging Face folder, in float32."""
    from r1.models import load_model

    return load_model(
        {"name_or_path": str(folder), "tokenizer": None, "dtype": "float32", "attn_implementation": "sdpa", "trust_remote_code": False, "architecture": None}
    )


def teacher_forced_load(model, tokenizer, samples: list[dict[str, Any]], batch_size: int, max_length: int) -> tuple[dict[int, torch.Tensor], int, int] | None:
    """``(tokens per expert per layer, sequences run, tokens run)`` over each sample's prompt (chat template applied) and reference
    ``response``, teacher-forced (:func:`r1.models.moe_stats.measure_expert_load`); None when no sample fits ``max_length``."""
    from r1.data.sft import tokenize_examples
    from r1.models.moe_stats import measure_expert_load

    examples = tokenize_examples(tokenizer, [s["prompt"] for s in samples], [s.get("response") or "" for s in samples], max_length)
    if len(examples) == 0:
        return None
    counts = measure_expert_load(model, [examples[i][0] for i in range(len(examples))], batch_size)
    return counts, len(examples), int(examples.lengths().sum())
