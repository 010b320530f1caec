"""GRPO (``phase=grpo``): group sampling, group-relative advantages, a clipped policy loss, KL to a reference.

One training step is a chain of small named steps, each a plugin or a pure function::

    generate   → the sampler plugin: P prompts × G completions
    score      → the reward plugin: one reward per completion (+ its components)
    advantages → the advantage plugin (``phase.advantage``): e.g. normalise within each group
    update     → the policy-loss, KL and aggregation plugins: μ passes over mini-batches of the rollout

A user changes one of them by subclassing nothing: swap the plugin in config, or
replace the method on an instance. A step's prompts (:class:`PromptSchedule`) and
sampling seeds (:func:`r1.seeds.derive_seed`) are pure functions of the run seed and
the step, so a resumed run sees exactly what it would have seen.

Lightning's ``Trainer`` runs the loop because it already gives GRPO what it needs
through public hooks: DDP and FSDP, precision, loggers, the progress bar, validation
and atomic checkpoints that the same command resumes. What it does not give is a count
of rollout steps (its ``global_step`` counts optimizer steps, and a rollout takes a
varying number of them with mini-batches, μ and dropped groups), so the module counts
them itself (:attr:`GRPOModule.rollout_step`, saved in every checkpoint) and
:class:`RolloutCheckpoint` saves on that count.
"""

from __future__ import annotations

import copy
import json
import math
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import lightning
import torch
from omegaconf import DictConfig
from torch.utils.data import DataLoader

from r1.algorithms.advantages import tied_groups
from r1.algorithms.logprobs import token_entropy, token_logprobs
from r1.algorithms.objective import grpo_loss
from r1.algorithms.rollout_correction import mismatch_stats, truncated_importance_weights
from r1.data.chat import PromptFormat
from r1.errors import ConfigError, DataError, PluginError
from r1.math import warm_up as warm_up_verifier
from r1.models.completion_logits import completion_logits
from r1.models.lora import adapter_disabled, has_lora, merge_on_export, trainable_parameters
from r1.phases.balance import ExpertBalance, balance_settings, progress_text
from r1.phases.prompting import PromptScreen, read_prompt_settings, take_usable
from r1.phases.validation import evaluate_greedy
from r1.protocols import AdvantageEstimator, KLEstimator, LossAggregation, PolicyLoss, Reward, Rollout, Sample, Sampler, Task
from r1.scale import clip_gradients, fsdp_units, generation_context
from r1.seeds import derive_seed
from r1.settings import bounded, build_settings

if TYPE_CHECKING:
    from r1.plugins import Registry

HELD_OUT_SEED = 0
"""The held-out prompts are drawn with this seed whatever the run's seed, so runs with different seeds score the same set."""

TABLE_PROMPTS = 4
"""Prompts (each with all G completions) in the completions table sent to a logger that draws tables (W&B)."""

ALGORITHM_PARTS = ("advantage", "policy_loss", "kl_estimator", "aggregation")
"""The settings that name an algorithm plugin; each is also the plugin kind the registry builds it as."""


# ----------------------------------------------------------------------------- settings


@dataclass(frozen=True)
class GRPOSettings:
    """Every key of ``conf/phase/grpo.yaml``, typed and checked before any model is loaded (the YAML holds the values)."""

    name: str
    """The phase (``grpo``); names the resume state and the log lines."""
    init_from: str
    """The starting policy: ``auto`` | ``sft`` | ``model`` | a saved Hugging Face folder (:mod:`r1.phases.start`)."""
    sft: list[str]
    """Overrides for the cold-start SFT that ``init_from=auto`` or ``sft`` runs."""
    max_steps: int = bounded(ge=1)
    """Rollout steps: one generate → score → update each."""
    prompts_per_step: int = bounded(ge=1)
    """P: distinct prompts per step, over all ranks together."""
    group_size: int = bounded(ge=2)
    """G: completions per prompt; at least the advantage estimator's ``min_group_size``."""
    max_new_tokens: int = bounded(ge=1)
    """The completion length cap (also the ``dr_grpo`` aggregation's constant length)."""
    temperature: float = bounded(gt=0)
    """Sampling temperature; the loss scores tokens at the same temperature."""
    top_p: float = bounded(gt=0, le=1)
    """Nucleus sampling mass (1 = no cut)."""
    beta: float = bounded(ge=0)
    """Weight of the KL term; 0 builds no reference model at all."""
    advantage: str | dict[str, Any]
    """The advantage estimator: ``name`` and that plugin's options, or a bare name (``python -m r1.plugins`` lists them)."""
    policy_loss: str | dict[str, Any]
    """The per-token policy loss: ``name`` and that plugin's options, or a bare name."""
    kl_estimator: str | dict[str, Any]
    """The per-token KL estimator: a plugin name, or ``name`` and its options."""
    aggregation: str | dict[str, Any]
    """How per-token losses become the scalar minimised: a plugin name, or ``name`` and its options."""
    updates_per_rollout: int = bounded(ge=1)
    """μ: passes over each rollout; more than 1 reuses it with importance ratios."""
    mini_batch_size: int | None = bounded(ge=1)
    """Completions per optimizer step on each rank; null = the rank's whole rollout in one step."""
    mask_truncated: bool
    """Completions that hit ``max_new_tokens`` get no gradient (DAPO's overlong filtering)."""
    drop_tied_groups: bool
    """Groups whose rewards all tie are left out of the update (dynamic sampling)."""
    max_grad_norm: float | None = bounded(gt=0)
    """Gradient clipping by global norm; null = off."""
    rollout_correction: Literal["none", "tis"]
    """``tis``: weight each token's policy term by ``min(π_trainer / π_sampler, cap)`` (truncated importance sampling), for samplers whose numbers differ from the trainer's."""
    rollout_correction_cap: float = bounded(gt=0)
    """The TIS truncation cap C."""
    train_prompts: int | None = bounded(ge=1)
    """Training prompts drawn from the task's train split; null = every row a dataset task has."""
    val_prompts: int = bounded(ge=0)
    """Held-out prompts scored greedily; 0 = no validation."""
    val_every: int = bounded(ge=1)
    """Validate every this many rollout steps."""
    checkpoint_every: int = bounded(ge=1)
    """Save a resumable checkpoint every this many rollout steps."""
    log_completions_every: int = bounded(ge=0)
    """Append a step's completions to ``completions.jsonl`` (and a logger table) every this many steps; 0 = never."""
    progress_bar: bool
    """A rich progress bar with the step, the reward and the ETA."""
    optimizer: dict[str, Any]
    """A ``_partial_`` optimizer node (Hydra ``_target_``), called with the policy's trainable parameters."""
    seed: int
    """The run's seed (the root ``seed``): the prompt order and every rollout's sampling derive from it."""

    def __post_init__(self) -> None:
        lr = self.optimizer.get("lr")
        if lr is not None and (isinstance(lr, bool) or not isinstance(lr, (int, float)) or lr <= 0):
            raise ConfigError(f"phase.optimizer.lr must be a number more than 0, not {lr!r}")


def settings_from(cfg: DictConfig) -> GRPOSettings:
    """``cfg.phase`` read into :class:`GRPOSettings`, or one :class:`~r1.errors.ConfigError` line."""
    return build_settings(GRPOSettings, cfg.phase, extra={"seed": cfg.seed})


# ----------------------------------------------------------------------------- prompts per step


class PromptSchedule:
    """Which prompts step ``s`` trains on: a fixed shuffle per epoch, a pure function of (seed, step).

    Prompts a :class:`~r1.phases.prompting.PromptScreen` refuses (no gold answer, over the
    token cap) are passed over and counted, and the step takes the next ones in the shuffle,
    so every step has ``prompts_per_step`` usable prompts. Where each step starts in the
    shuffled stream is remembered, so stepping in order costs only that step's prompts and a
    resumed run finds its place by walking the steps before it (a tokenizer call per prompt).

    Under DDP every rank computes the same global batch and takes its own slice of
    whole prompts, so each group of G completions stays on one rank.

    Args:
        samples: the task's training prompts (a list, or a lazy view of a dataset's rows).
        prompts_per_step: P, prompts per step (global, before the split across ranks).
        seed: the run's seed; the shuffle of each epoch derives from it.
        screen: decides which samples are usable; None = all are (set it once the tokenizer is known).
    """

    def __init__(self, samples: Sequence[Sample], prompts_per_step: int, seed: int, screen: PromptScreen | None = None) -> None:
        if not len(samples):
            raise ConfigError("GRPO has no training prompts; check the task or dataset")
        self.samples, self.per_step, self.seed, self.screen = samples, prompts_per_step, seed, screen
        self._orders: dict[int, list[int]] = {}
        self._starts: list[int] = [0]  # _starts[s] = position in the shuffled stream where step s begins

    def _order(self, epoch: int) -> list[int]:
        if epoch not in self._orders:
            order = list(range(len(self.samples)))
            random.Random(derive_seed(self.seed, "grpo/prompts", epoch)).shuffle(order)
            self._orders = {epoch: order}  # one epoch's order at a time: a big dataset's orders add up
        return self._orders[epoch]

    def _at(self, position: int) -> Sample:
        n = len(self.samples)
        return self.samples[self._order(position // n)[position % n]]

    def _take(self, start: int) -> tuple[list[Sample], int]:
        """P usable prompts from stream position ``start``, and the position after the last one looked at."""
        chosen: list[Sample] = []
        position, passed = start, 0
        while len(chosen) < self.per_step:
            sample = self._at(position)
            position += 1
            if self.screen is None or self.screen.usable(sample):
                chosen.append(sample)
                passed = 0
            else:
                passed += 1
                if passed >= len(self.samples):  # a whole epoch without a usable prompt
                    counts = ", ".join(f"{n} {why.replace('_', ' ')}" for why, n in sorted(self.screen.skipped.items()))
                    raise DataError(f"none of the {len(self.samples)} training prompts can be used ({counts}); check the task's columns and prompt.max_tokens")
        return chosen, position

    def step(self, step: int, rank: int = 0, world_size: int = 1) -> list[Sample]:
        """This rank's share of step ``step``'s prompts."""
        while len(self._starts) <= step:  # walk the steps before it once (a resumed run)
            self._starts.append(self._take(self._starts[-1])[1])
        chosen, end = self._take(self._starts[step])
        if len(self._starts) == step + 1:
            self._starts.append(end)
        share = math.ceil(len(chosen) / world_size)
        return chosen[rank * share : (rank + 1) * share]


@dataclass
class Scores:
    """A rollout's rewards: the total per completion, each component's values, and how many samples failed."""

    total: torch.Tensor  # (N,)
    components: dict[str, list[float | None]] = field(default_factory=dict)
    errors: int = 0


# ----------------------------------------------------------------------------- what GRPO builds from config


@dataclass(frozen=True)
class Algorithm:
    """The four parts of the objective, each built by the plugin registry from its setting."""

    advantage: AdvantageEstimator
    policy_loss: PolicyLoss
    kl_estimator: KLEstimator
    aggregation: LossAggregation
    names: dict[str, str]
    """Each part's plugin name (``{"advantage": "grpo", ...}``), recorded in the summary."""


def plugin_name(spec: str | dict[str, Any]) -> str:
    """The plugin a setting names: a bare name, or the ``name`` key of a mapping."""
    return spec if isinstance(spec, str) else str(spec.get("name"))


def build_algorithm(registry: Registry, settings: GRPOSettings) -> Algorithm:
    """The advantage estimator, policy loss, KL estimator and aggregation, built and checked against the group size."""
    built = {part: registry.build(part, getattr(settings, part)) for part in ALGORITHM_PARTS}
    names = {part: plugin_name(getattr(settings, part)) for part in ALGORITHM_PARTS}
    needed = getattr(built["advantage"], "min_group_size", None)
    if isinstance(needed, bool) or not isinstance(needed, int):
        raise PluginError(
            f"advantage '{names['advantage']}' has no integer min_group_size; an estimator must state the smallest group "
            f"it is defined for (r1.protocols.AdvantageEstimator)"
        )
    if settings.group_size < needed:
        raise ConfigError(
            f"phase.group_size={settings.group_size} is too small for advantage '{names['advantage']}', "
            f"which needs at least {needed} completions per prompt"
        )
    return Algorithm(**built, names=names)


def build_optimizer(node: dict[str, Any]) -> Callable[..., torch.optim.Optimizer]:
    """The optimizer factory of a ``_partial_`` node; a node Hydra cannot build is one error line."""
    from hydra.errors import InstantiationException
    from hydra.utils import instantiate

    try:
        factory = instantiate(node)
    except InstantiationException as error:
        raise ConfigError(f"phase.optimizer could not be built: {' '.join(str(error).split())}") from error
    if not callable(factory):
        raise ConfigError("phase.optimizer must build a callable; give it `_partial_: true` so the policy's parameters are passed later")
    return factory


@dataclass(frozen=True)
class Parts:
    """Everything GRPO builds from config before it loads a model, so a mistake costs a second, not a cold-start SFT."""

    task: Task
    reward: Reward
    sampler: Sampler
    algorithm: Algorithm
    optimizer: Callable[..., torch.optim.Optimizer]
    schedule: PromptSchedule
    val_pool: Sequence[Sample]
    """Held-out prompts to choose the validation set from, once the tokenizer can screen them (:func:`held_out_samples`)."""


def build_parts(cfg: DictConfig, settings: GRPOSettings) -> Parts:
    """The task, reward, sampler and algorithm plugins, the optimizer factory and the prompts (no model needed)."""
    from r1.plugins import get_registry

    registry = get_registry(cfg.plugins.blocked)
    task = registry.build("task", cfg.task)
    reward = registry.build("reward", cfg.reward)
    sampler = registry.build("sampler", cfg.sampler)
    algorithm = build_algorithm(registry, settings)
    optimizer = build_optimizer(settings.optimizer)
    try:
        train = task.samples("train", settings.train_prompts, seed=settings.seed)
    except ValueError as error:
        raise ConfigError(f"task '{task.name}' cannot give phase.train_prompts={settings.train_prompts} prompts: {error}") from error
    schedule = PromptSchedule(train, settings.prompts_per_step, settings.seed)
    val_pool = task.samples("test", settings.val_prompts, seed=HELD_OUT_SEED) if settings.val_prompts else []
    return Parts(task, reward, sampler, algorithm, optimizer, schedule, val_pool)


def held_out_samples(parts: Parts, settings: GRPOSettings, prompt_format: PromptFormat) -> tuple[list[Sample], PromptScreen]:
    """The validation prompts: the held-out pool's usable ones (with an answer, within the token cap), and what was skipped."""
    screen = PromptScreen(prompt_format)
    return take_usable(parts.val_pool, settings.val_prompts, screen), screen


# ----------------------------------------------------------------------------- the LightningModule


class GRPOModule(lightning.LightningModule):
    """Thin Lightning wrapper: owns the models and the optimizer, calls the named steps."""

    def __init__(self, policy, tokenizer, settings: GRPOSettings, parts: Parts, run_dir: Path, prompt_format: PromptFormat) -> None:
        super().__init__()
        self.automatic_optimization = False
        self.policy = policy
        self.tokenizer = tokenizer
        # A frozen copy of the starting policy; not built when beta == 0 (saves the memory), nor for a
        # LoRA policy, whose reference is itself with the adapter switched off (reference_logprobs).
        self.reference = None
        if settings.beta != 0.0 and not has_lora(policy):
            self.reference = copy.deepcopy(policy).eval().requires_grad_(False)
        self.merge_on_export = True
        """Whether a LoRA policy's exported ``hf/`` folder holds the merged model (``model.lora.merge_on_export``)."""
        self.settings, self.algorithm = settings, parts.algorithm
        self.reward, self.sampler, self.schedule = parts.reward, parts.sampler, parts.schedule
        self.optimizer_factory = parts.optimizer
        self.prompt_format = prompt_format
        self.schedule.screen = PromptScreen(prompt_format)
        self.val_samples, self.val_screen = held_out_samples(parts, settings, prompt_format)
        self.check, self.run_dir = parts.task.check, run_dir
        self.balance: ExpertBalance | None = None
        """Router-bias updates, balance loss and expert-load metrics when the policy is an MoE (:mod:`r1.phases.balance`)."""
        self.history: list[dict[str, float]] = []
        self.rollout_step = 0
        """Rollout steps completed (the next step's index); saved in checkpoints, so a resumed run continues it."""
        self.resumed_from_step: int | None = None
        self._last_batch_end: float | None = None

    # ----- Lightning plumbing -------------------------------------------------------------

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        # The step count and the metrics so far travel with the weights, so a resumed run's history.jsonl is whole.
        checkpoint["r1_rollout_step"] = self.rollout_step
        checkpoint["r1_history"] = self.history

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        self.history = list(checkpoint["r1_history"])
        self.rollout_step = self.resumed_from_step = int(checkpoint["r1_rollout_step"])

    def configure_optimizers(self):
        return self.optimizer_factory(params=[p for p in self.policy.parameters() if p.requires_grad])

    def training_step(self, batch: int, batch_idx: int) -> None:
        s = self.settings
        step = self.rollout_step
        start = time.perf_counter()
        samples = self.schedule.step(step, self.global_rank, self.trainer.world_size)
        rollout = self.generate(samples, seed=derive_seed(s.seed, "grpo/rollout", step, self.global_rank))
        generated = time.perf_counter()
        scores = self.score(rollout, samples)
        scored = time.perf_counter()
        advantages = self.algorithm.advantage(scores.total, s.group_size)
        keep = self.select_rows(scores.total)
        stats = self.update(rollout, advantages, keep)
        trained = time.perf_counter()
        self.rollout_step = step + 1
        metrics = self.step_metrics(rollout, scores, advantages, stats)
        if self.balance is not None:
            metrics.update(self.balance.report())  # this step's expert load (identical on every rank: counts are summed)
        metrics.update({
            "time/generate_s": generated - start,
            "time/score_s": scored - generated,
            "time/train_s": trained - scored,
            "time/step_s": trained - start,
        })
        if "tokens_per_s" in rollout.stats:  # optional in the Rollout contract: logged when the sampler measures it
            metrics["perf/tokens_per_s"] = float(rollout.stats["tokens_per_s"])
        metrics = self.reduce_across_ranks(metrics, summed={"groups/count"})
        self.record(metrics, batch_size=len(samples))
        if s.log_completions_every and step % s.log_completions_every == 0 and self.global_rank == 0:
            self.log_completions(self.rollout_step, samples, rollout, scores, advantages)

    def on_train_batch_end(self, outputs, batch, batch_idx: int) -> None:
        # Wall-clock between consecutive steps: everything, Lightning's loop and checkpoints included.
        now = time.perf_counter()
        if self._last_batch_end is not None and self.history and "time/step_s" in self.history[-1]:
            self.history[-1]["time/wall_step_s"] = now - self._last_batch_end
        self._last_batch_end = now

    def validation_step(self, batch, batch_idx: int):
        # Validation runs once per check, over the whole held-out set, in on_validation_epoch_end.
        return None

    def on_validation_epoch_end(self) -> None:
        if not self.val_samples:
            return
        with generation_context(self.policy, self.trainer.strategy) as policy:
            result = self.held_out(policy)
        # every rank scores the same held-out set, so the numbers agree without a reduction
        self.log("val/accuracy", result["accuracy"], prog_bar=True)
        self.log("val/format_rate", result["format_rate"])
        if self.global_rank == 0:
            self.record_held_out(result)

    # ----- the named steps -----------------------------------------------------------------

    def generate(self, samples: list[Sample], seed: int) -> Rollout:
        """P prompts × G completions from the sampler plugin."""
        s = self.settings
        prompts = self.prompt_format.render_many([x["prompt"] for x in samples])
        # Under FSDP: the full weights, gathered once for the whole rollout (r1/scale.py).
        with generation_context(self.policy, self.trainer.strategy) as policy:
            return self.sampler.generate(
                policy, self.tokenizer, prompts,
                num_samples=s.group_size, max_new_tokens=s.max_new_tokens, temperature=s.temperature, top_p=s.top_p, seed=seed,
                return_logprobs=True,  # the sampler's own numbers: the mismatch metric and TIS compare them with the trainer's
            )

    def score(self, rollout: Rollout, samples: list[Sample]) -> Scores:
        """One reward per completion from the reward plugin; a failing sample scores 0 and is counted."""
        from r1.rewards import score_batch

        g = self.settings.group_size
        fields = {key: [x.get(key) for x in samples for _ in range(g)] for key in samples[0]}
        fields["completion_length"] = rollout.completion_lengths.tolist()
        texts = [self.prompt_format.full_response(text) for text in rollout.texts]  # the prefilled <think> included
        result = score_batch(self.reward, texts, fields)
        total = torch.tensor([0.0 if r is None else float(r) for r in result.total])
        return Scores(total=total, components=dict(result.components), errors=int(result.errors))

    def select_rows(self, rewards: torch.Tensor) -> torch.Tensor:
        """Rows that take part in the update: all, less tied groups when dynamic sampling is on."""
        keep = torch.ones_like(rewards, dtype=torch.bool)
        if self.settings.drop_tied_groups:
            keep &= ~tied_groups(rewards, self.settings.group_size).repeat_interleave(self.settings.group_size)
        return keep

    def update(self, rollout: Rollout, advantages: torch.Tensor, keep: torch.Tensor) -> dict[str, float]:
        """μ passes over mini-batches of the rollout, one optimizer step per mini-batch."""
        s = self.settings
        optimizer = self.optimizers()
        rows = keep.nonzero().squeeze(-1)
        sampler_logprobs = self.sampler_logprobs(rollout)
        correct = s.rollout_correction == "tis"
        if rows.numel() == 0:
            result = {"loss": 0.0, "kl": 0.0, "clip_fraction": 0.0, "entropy": 0.0, "rows_trained": 0.0, "time/reference_s": 0.0}
            if sampler_logprobs is not None:  # every rank logs the same keys: the statistics of no tokens
                none = sampler_logprobs[:0]
                result.update({f"mismatch/{k}": v for k, v in mismatch_stats(none, none, rollout.completion_mask[:0]).items()})
            return result
        mask = rollout.completion_mask.clone()
        if s.mask_truncated:
            mask[rollout.truncated] = 0
        reference_started = time.perf_counter()
        ref_logprobs = self.reference_logprobs(rollout)
        reference_s = time.perf_counter() - reference_started
        size = s.mini_batch_size or rows.numel()
        # The sampling policy's log-probs are needed only once the policy has moved within this rollout.
        needs_old = s.updates_per_rollout > 1 or size < rows.numel()
        old_logprobs = self.sequence_logprobs(self.policy, rollout)[0] if needs_old else None
        totals = {"loss": 0.0, "kl": 0.0, "clip_fraction": 0.0, "entropy": 0.0}
        passes = 0
        sampling_policy_logprobs = []  # the trainer's log-probs under the weights that sampled, chunk by chunk
        self.policy.train()
        for pass_index in range(s.updates_per_rollout):
            for chunk in rows.split(size):
                if self.balance is not None:  # expert load counts the real input tokens of this training forward
                    self.balance.set_token_mask(scored_inputs(rollout.prompt_mask[chunk], rollout.completion_mask[chunk]))
                logprobs, entropy = self.sequence_logprobs(self.policy, rollout, chunk, grad=True)
                old = old_logprobs[chunk] if old_logprobs is not None else logprobs.detach()
                if pass_index == 0 and sampler_logprobs is not None:
                    sampling_policy_logprobs.append(old)
                weights = None
                if correct:
                    weights = truncated_importance_weights(old, sampler_logprobs[chunk], s.rollout_correction_cap)
                loss, stats = grpo_loss(
                    logprobs, old, advantages[chunk].to(logprobs.dtype), mask[chunk],
                    policy_loss=self.algorithm.policy_loss, aggregation=self.algorithm.aggregation, max_length=s.max_new_tokens,
                    beta=s.beta, kl_estimator=self.algorithm.kl_estimator,
                    ref_logprobs=ref_logprobs[chunk] if ref_logprobs is not None else None, token_weights=weights,
                )
                extra = self.balance.loss() if self.balance is not None else None
                if extra is not None:
                    loss = loss + extra
                    totals["balance_loss"] = totals.get("balance_loss", 0.0) + float(extra.detach())
                optimizer.zero_grad()
                self.manual_backward(loss)
                if s.max_grad_norm:
                    clip_gradients(self, optimizer, s.max_grad_norm)  # FSDP needs a collective for the global norm
                optimizer.step()
                m = mask[chunk].float()
                totals["loss"] += loss.item()
                totals["kl"] += float(stats.get("kl", torch.tensor(0.0)))
                totals["clip_fraction"] += float(stats["clip_fraction"])
                totals["entropy"] += float((entropy * m).sum() / m.sum().clamp(min=1))
                passes += 1
        # An out-of-process engine (vLLM) reloads the new weights before the next rollout.
        self.sampler.update_weights(self.policy)
        result = {k: v / passes for k, v in totals.items()}
        if "balance_loss" in result:
            result["train/balance_loss"] = result.pop("balance_loss")
        result["rows_trained"] = float(rows.numel())
        result["time/reference_s"] = reference_s  # part of time/train_s: the reference model's forward
        if sampler_logprobs is not None:
            mismatch = mismatch_stats(
                torch.cat(sampling_policy_logprobs), sampler_logprobs[rows], rollout.completion_mask[rows],
                cap=s.rollout_correction_cap if correct else None,
            )
            result.update({f"mismatch/{k}": v for k, v in mismatch.items()})
        return result

    def sampler_logprobs(self, rollout: Rollout) -> torch.Tensor | None:
        """The sampler's ``(B, C)`` log-probs of its tokens, or None when it returns none (allowed, unless TIS is on)."""
        if rollout.logprobs is None:
            if self.settings.rollout_correction == "tis":
                raise ConfigError(
                    f"phase.rollout_correction=tis needs the sampler's log-probs, and sampler {type(self.sampler).__name__} "
                    "returned none: use a sampler that fills Rollout.logprobs, or set phase.rollout_correction=none"
                )
            return None
        return rollout.logprobs.to(rollout.completion_ids.device)

    def reference_logprobs(self, rollout: Rollout) -> torch.Tensor | None:
        """``(B, C)`` log-probs of the completions under the frozen reference; None when beta is 0.

        The reference is the starting policy: a frozen copy, or for a LoRA policy the policy
        itself with its adapter switched off (the adapter is all that training changes).
        """
        if self.settings.beta == 0.0:
            return None
        if self.reference is not None:
            return self.sequence_logprobs(self.reference, rollout)[0]
        with adapter_disabled(self.policy) as base:
            return self.sequence_logprobs(base, rollout)[0]

    def sequence_logprobs(self, model, rollout: Rollout, rows: torch.Tensor | None = None, grad: bool = False):
        """``(B, C)`` log-probs of the completion tokens of ``rows`` (default: all), at the sampling temperature, and their entropy.

        Rows are tagged with their prompt group, so a fast path may run each group's prompt once
        (r1/models/completion_logits.py decides when it can).
        """
        picked = (lambda t: t) if rows is None else (lambda t: t[rows])  # noqa: E731
        completion_ids = picked(rollout.completion_ids)
        groups = picked(torch.arange(rollout.completion_ids.shape[0], device=completion_ids.device)) // rollout.num_samples
        # A forward without gradients runs in inference mode (less autograd bookkeeping per op), except
        # under FSDP, whose unsharded parameters must not be first allocated there.
        mode = torch.enable_grad() if grad else torch.no_grad() if fsdp_units(model) else torch.inference_mode()
        with mode:
            logits = completion_logits(
                model, picked(rollout.prompt_ids), picked(rollout.prompt_mask), completion_ids, picked(rollout.completion_mask), groups,
            )
            logprobs = token_logprobs(logits, completion_ids, self.settings.temperature)
        if not grad:
            return logprobs.clone(), torch.zeros_like(logprobs)  # clone: a normal tensor the loss can use
        with torch.no_grad():
            entropy = token_entropy(logits.detach())
        return logprobs, entropy

    def held_out(self, policy) -> dict[str, float]:
        """Greedy accuracy and format rate of ``policy`` on the held-out prompts."""
        s = self.settings
        return evaluate_greedy(
            policy, self.tokenizer, self.sampler, self.val_samples,
            max_new_tokens=s.max_new_tokens, prompt_format=self.prompt_format, verify=self.check,
        )

    # ----- observability -------------------------------------------------------------------

    def record(self, metrics: dict[str, float], batch_size: int) -> None:
        """Log a step's metrics where someone reads them, and always append them to the history."""
        # Lightning's logging costs milliseconds per step: pay it only when someone reads it
        # (a logger, a progress bar). history.jsonl always has every metric.
        if self.logger is not None:
            self.log_dict(metrics, on_step=True, prog_bar=False, batch_size=batch_size)
        if self.settings.progress_bar:
            self.log("reward", metrics["reward/mean"], prog_bar=True, on_step=True, logger=False, batch_size=batch_size)
        self.history.append({"step": self.rollout_step, **{k: float(v) for k, v in metrics.items()}})

    def record_held_out(self, result: dict[str, float]) -> None:
        """Append a held-out score at the current rollout step to the history, and print it."""
        step = self.rollout_step
        self.history.append({"step": step, "val/accuracy": result["accuracy"], "val/format_rate": result["format_rate"]})
        routing = next((row for row in reversed(self.history) if "moe/max_mean" in row), {})
        print(f"[grpo] step {step}: held-out accuracy {result['accuracy']:.3f}, format rate {result['format_rate']:.3f}{progress_text(routing)}", flush=True)

    def reduce_across_ranks(self, metrics: dict[str, float], summed: set[str]) -> dict[str, float]:
        """Means over ranks (sums for counts), so every rank logs the statistics of the whole batch."""
        if self.trainer.world_size == 1:
            return metrics
        keys = sorted(metrics)
        values = torch.tensor([float(metrics[k]) for k in keys], dtype=torch.float64)
        total = self.trainer.strategy.reduce(values, reduce_op="sum")
        world = self.trainer.world_size
        return {k: float(v) if k in summed else float(v) / world for k, v in zip(keys, total)}

    def step_metrics(self, rollout: Rollout, scores: Scores, advantages: torch.Tensor, stats: dict[str, float]) -> dict[str, float]:
        g = self.settings.group_size
        lengths = rollout.completion_lengths.float()
        metrics = {
            "groups/count": float(scores.total.numel() // g),
            "reward/mean": scores.total.mean().item(),
            "reward/std": scores.total.std().item() if scores.total.numel() > 1 else 0.0,
            "reward/errors": float(scores.errors),
            "advantage/mean": advantages.mean().item(),
            "advantage/std": advantages.std().item() if advantages.numel() > 1 else 0.0,
            "advantage/abs_max": advantages.abs().max().item(),
            "groups/tied_share": tied_groups(scores.total, g).float().mean().item(),
            "completion/length_mean": lengths.mean().item(),
            "completion/length_max": lengths.max().item(),
            "completion/truncated_share": rollout.truncated.float().mean().item(),
            "train/loss": stats["loss"],
            "train/kl": stats["kl"],
            "train/clip_fraction": stats["clip_fraction"],
            "train/entropy": stats["entropy"],
            "train/rows": stats["rows_trained"],
        }
        if "train/balance_loss" in stats:
            metrics["train/balance_loss"] = stats["train/balance_loss"]
        metrics.update({k: v for k, v in stats.items() if k.startswith(("mismatch/", "time/"))})
        for name, values in sorted(scores.components.items()):
            # None = not applicable; every key is logged on every rank so reductions line up
            present = torch.tensor([float(v) for v in values if v is not None], dtype=torch.float32)
            metrics[f"reward/{name}_mean"] = present.mean().item() if present.numel() else 0.0
            metrics[f"reward/{name}_std"] = present.std().item() if present.numel() > 1 else 0.0
        return metrics

    def log_completions(self, step: int, samples: list[Sample], rollout: Rollout, scores: Scores, advantages: torch.Tensor) -> None:
        """Append a table of prompts, completions, rewards and advantages (JSONL, and W&B when on)."""
        g = self.settings.group_size
        rows = []
        for i, text in enumerate(rollout.texts):
            sample = samples[i // g]
            rows.append({
                "step": step, "prompt": sample["prompt"], "answer": sample.get("answer"), "completion": self.prompt_format.full_response(text),
                "reward": float(scores.total[i]), "advantage": float(advantages[i]),
                **{f"reward_{k}": v[i] for k, v in scores.components.items()},
            })
        with open(self.run_dir / "completions.jsonl", "a", encoding="utf-8") as out:
            out.writelines(json.dumps(row) + "\n" for row in rows)
        logger = self.logger
        if logger is not None and hasattr(logger, "log_table"):
            columns = list(rows[0])
            logger.log_table(key="completions", columns=columns, data=[[r[c] for c in columns] for r in rows[: TABLE_PROMPTS * g]])


# ----------------------------------------------------------------------------- the loop around it


def scored_inputs(prompt_mask: torch.Tensor, completion_mask: torch.Tensor) -> torch.Tensor:
    """``(B, P + C)``: the tokens whose outputs the loss reads, i.e. every real token but each row's last.

    The last completion token is an input to no scored prediction; the fused scoring path
    never runs it, so expert load leaves it out on every path and the router biases move
    the same whichever path ran.
    """
    inputs = torch.zeros_like(completion_mask)
    inputs[:, :-1] = completion_mask[:, 1:]
    return torch.cat([prompt_mask, inputs], dim=1)


def checkpoint_name(step: int) -> str:
    """``step-000120.ckpt``: the rollout step, zero-padded so names sort in step order."""
    return f"step-{step:06d}.ckpt"


KEPT_CHECKPOINTS = 2
"""Checkpoints kept on disk: the newest, and one to fall back to should the newest be unreadable."""


class RolloutCheckpoint(lightning.pytorch.callbacks.Checkpoint):
    """Saves the training state every ``every`` rollout steps as :func:`checkpoint_name`, keeping the newest two.

    ``ModelCheckpoint`` counts optimizer steps (``trainer.global_step``), of which a GRPO
    rollout takes a varying number, so this counts :attr:`GRPOModule.rollout_step`
    instead. Every rank calls ``trainer.save_checkpoint`` (a collective under FSDP); the
    strategy writes once, atomically, and the same command resumes from the newest
    intact file (:func:`r1.phases.common.resume_state`).
    """

    def __init__(self, folder: Path, every: int) -> None:
        self.folder, self.every = Path(folder), every

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx: int) -> None:
        step = pl_module.rollout_step
        if step % self.every:
            return
        path = self.folder / checkpoint_name(step)
        trainer.save_checkpoint(path)
        # Older saves go only once the new one is complete, and the one before it stays: a run killed
        # in between resumes from the newest, and a newest that is corrupt on disk falls back to it.
        for old in sorted(self.folder.glob("step-*.ckpt"))[:-KEPT_CHECKPOINTS]:
            trainer.strategy.remove_checkpoint(old)


class _StepIndices(torch.utils.data.Dataset):
    """Paces Lightning's loop, one item per rollout step; the module counts steps and picks prompts itself."""

    def __init__(self, steps: int) -> None:
        self.steps = steps

    def __len__(self) -> int:
        return self.steps

    def __getitem__(self, index: int) -> int:
        return index


def step_loader(steps: int) -> DataLoader:
    """A loader of ``steps`` step indices, one per batch."""
    return DataLoader(_StepIndices(steps), batch_size=None, shuffle=False)


def build_grpo_trainer(cfg: DictConfig, settings: GRPOSettings, policy, checkpoints: Path, validate: bool, balance: ExpertBalance | None = None):
    """The Trainer for one epoch of ``max_steps`` rollout steps, validating every ``val_every`` of them."""
    from r1.phases.common import build_trainer

    callbacks: list[Any] = [RolloutCheckpoint(checkpoints, settings.checkpoint_every)]
    if balance is not None and balance.active:
        callbacks.append(balance.start())
    if settings.progress_bar:
        callbacks.append(lightning.pytorch.callbacks.RichProgressBar())
    return build_trainer(
        cfg, model=policy, max_epochs=1, max_steps=-1, callbacks=callbacks,
        val_check_interval=min(settings.val_every, settings.max_steps) if validate else None,
        limit_val_batches=1 if validate else 0, num_sanity_val_steps=0, enable_progress_bar=settings.progress_bar,
        use_distributed_sampler=False, log_every_n_steps=1,
    )


def run(cfg: DictConfig) -> dict[str, Any]:
    """Run GRPO from the configured starting policy; returns the summary it also writes.

    Settings, plugins and the resume state are all checked before the starting policy is
    resolved, which may mean training the cold-start SFT model first.
    """
    from r1.models import load_model
    from r1.models.trainable import prepare_for_training
    from r1.phases.common import resume_state, run_dir
    from r1.phases.start import starting_policy

    settings = settings_from(cfg)
    prompt = read_prompt_settings(cfg)
    parts = build_parts(cfg, settings)
    folder = run_dir(cfg)
    state = resume_state(cfg, "grpo", folder)
    # Rewards and held-out checks share the verifier: start its sympy worker while the
    # model loads, not in the middle of a timed step.
    warm_up_verifier(wait=False)
    model_cfg = starting_policy(cfg)
    policy, tokenizer = load_model(model_cfg)
    policy = prepare_for_training(policy, cfg.model, cfg.get("trainer"))
    module = GRPOModule(policy, tokenizer, settings, parts, folder, PromptFormat(tokenizer, prompt))
    module.balance = ExpertBalance(policy, balance_settings(cfg.model))  # after the reference copy: its routers are not watched
    module.merge_on_export = merge_on_export(cfg.model)
    trainer = build_grpo_trainer(cfg, settings, policy, state.checkpoints, validate=bool(module.val_samples), balance=module.balance)
    initial = None
    if state.ckpt_path is None and module.val_samples and trainer.is_global_zero:
        initial = module.held_out(policy)
        module.record_held_out(initial)
    started = time.perf_counter()
    # One validation "batch" per check (on_validation_epoch_end scores the whole held-out set); none at all when
    # limit_val_batches is 0, but the loader is always given so that Lightning does not warn that it is missing.
    trainer.fit(module, train_dataloaders=step_loader(settings.max_steps), val_dataloaders=step_loader(1), ckpt_path=state.ckpt_path)
    summary: dict[str, Any] = {
        "phase": "grpo", "run_dir": str(folder), "steps": settings.max_steps, "seconds": time.perf_counter() - started,
        "start_model": str(model_cfg.get("name_or_path")), "world_size": trainer.world_size,
        "model/trainable_parameters": trainable_parameters(policy), "model/lora": has_lora(policy),
        "resumed_from_step": module.resumed_from_step, "algorithm": parts.algorithm.names,
        "initial/accuracy": initial["accuracy"] if initial else None,
        "prompt/style": prompt.style, "prompt/prefill": module.prompt_format.prefill,
        **module.schedule.screen.summary(),
        **{f"held_out/{key}": n for key, n in module.val_screen.summary().items()},
    }
    module.schedule.screen.report("grpo")
    return finish(module, trainer, summary, folder, state.dir)


def finish(module: GRPOModule, trainer, summary: dict[str, Any], folder: Path, state_dir: Path) -> dict[str, Any]:
    """Score the final policy, save it as a Hugging Face folder, write the history and summary, mark the run done."""
    from r1.phases.common import mark_done, save_hf

    # Every rank enters (gathering sharded weights is a collective); rank 0 evaluates and saves.
    with generation_context(module.policy, trainer.strategy) as policy:
        if trainer.global_rank == 0:
            final = module.held_out(policy) if module.val_samples else None
            hf_dir = save_hf(policy, module.tokenizer, folder / "hf", merge_adapter=module.merge_on_export)
    if trainer.global_rank == 0:
        summary.update({
            "hf_dir": str(hf_dir),
            "final/accuracy": final["accuracy"] if final else None,
            "final/format_rate": final["format_rate"] if final else None,
        })
        with open(folder / "history.jsonl", "w", encoding="utf-8") as out:
            out.writelines(json.dumps(row) + "\n" for row in module.history)
        (folder / "summary.json").write_text(json.dumps(summary, indent=2))
        mark_done(state_dir, summary)
        print(
            f"[grpo] done in {summary['seconds']:.0f} s: held-out accuracy {summary['initial/accuracy']} -> {summary['final/accuracy']}; "
            f"model saved to {hf_dir}",
            flush=True,
        )
    return summary
