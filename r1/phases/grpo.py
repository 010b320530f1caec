"""GRPO (``phase=grpo``): group sampling, group-normalised advantages, clipped surrogate, KL to a reference.

One training step is a chain of small named steps, each a plugin or a pure function::

    generate   → the sampler plugin: P prompts × G completions
    score      → the reward plugin: one reward per completion (+ its components)
    advantages → r1.algorithms.advantages: normalise within each group
    update     → r1.algorithms.policy_loss: μ passes over mini-batches of the rollout

A user changes one of them by subclassing nothing: swap the plugin in config, or
replace the method on an instance. Rollouts are indexed by step (``batch_idx``), so
a resumed run sees exactly the prompts and sampling seeds it would have seen.
"""

from __future__ import annotations

import copy
import json
import math
import random
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import lightning
import torch
from omegaconf import DictConfig
from torch.utils.data import DataLoader

from r1.algorithms.advantages import compute_advantages, tied_groups
from r1.algorithms.logprobs import token_entropy, token_logprobs
from r1.algorithms.policy_loss import grpo_loss
from r1.data.chat import format_prompt
from r1.errors import ConfigError
from r1.math import warm_up as warm_up_verifier
from r1.models.completion_logits import completion_logits
from r1.phases.validation import evaluate_greedy
from r1.samplers.rollout import Rollout
from r1.scale import clip_gradients, fsdp_units, generation_context


@dataclass
class GRPOSettings:
    """The numbers of one GRPO run (``conf/phase/grpo.yaml`` documents each)."""

    prompts_per_step: int = 16
    group_size: int = 16
    max_new_tokens: int = 48
    temperature: float = 1.0
    top_p: float = 1.0
    beta: float = 0.01
    kl_estimator: str = "k3"
    eps_low: float = 0.2
    eps_high: float = 0.2
    estimator: str = "grpo"
    scale: str = "group"
    advantage_eps: float = 1e-4
    aggregation: str = "grpo"
    updates_per_rollout: int = 1
    mini_batch_size: int | None = None
    mask_truncated: bool = False
    drop_tied_groups: bool = False
    max_grad_norm: float | None = 1.0
    shared_prompt: bool = True
    fused_forward: bool = True
    log_completions_every: int = 10
    progress_bar: bool = True
    seed: int = 0


class PromptSchedule:
    """Which prompts step ``s`` trains on: a fixed shuffle per epoch, a pure function of (seed, step).

    Under DDP every rank computes the same global batch and takes its own slice of
    whole prompts, so each group of G completions stays on one rank.
    """

    def __init__(self, samples: list[dict], prompts_per_step: int, seed: int) -> None:
        if not samples:
            raise ConfigError("GRPO has no training prompts; check the task or dataset")
        self.samples, self.per_step, self.seed = samples, prompts_per_step, seed
        self._orders: dict[int, list[int]] = {}

    def _order(self, epoch: int) -> list[int]:
        if epoch not in self._orders:
            order = list(range(len(self.samples)))
            random.Random(f"{self.seed}-{epoch}").shuffle(order)
            self._orders[epoch] = order
        return self._orders[epoch]

    def step(self, step: int, rank: int = 0, world_size: int = 1) -> list[dict]:
        first = step * self.per_step
        positions = range(first, first + self.per_step)
        chosen = [self.samples[self._order(p // len(self.samples))[p % len(self.samples)]] for p in positions]
        share = math.ceil(len(chosen) / world_size)
        return chosen[rank * share : (rank + 1) * share]


@dataclass
class Scores:
    total: torch.Tensor  # (N,)
    components: dict[str, list[float | None]] = field(default_factory=dict)
    errors: int = 0


class GRPOModule(lightning.LightningModule):
    """Thin Lightning wrapper: owns the models and the optimizer, calls the named steps."""

    def __init__(
        self,
        policy,
        tokenizer,
        reward,
        sampler,
        schedule: PromptSchedule,
        settings: GRPOSettings,
        optimizer: Any,
        val_samples: list[dict],
        check,
        run_dir: Path,
        system_prompt: str | None = None,
    ) -> None:
        super().__init__()
        self.automatic_optimization = False
        self.policy = policy
        self.tokenizer = tokenizer
        # A frozen copy of the starting policy; not even built when beta == 0 (saves the memory).
        self.reference = None
        if settings.beta != 0.0:
            self.reference = copy.deepcopy(policy).eval().requires_grad_(False)
        self.reward, self.sampler, self.schedule, self.settings = reward, sampler, schedule, settings
        self.optimizer_factory = optimizer
        self.val_samples, self.check, self.run_dir, self.system_prompt = val_samples, check, run_dir, system_prompt
        self.history: list[dict[str, float]] = []
        self.resumed_from_step: int | None = None

    # ----- Lightning plumbing -------------------------------------------------------------

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        # The metrics so far travel with the weights, so a resumed run's history.jsonl is whole.
        checkpoint["r1_history"] = self.history

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        self.history = list(checkpoint.get("r1_history", []))
        self.resumed_from_step = max((int(row["step"]) for row in self.history), default=0)

    def configure_optimizers(self):
        return self.optimizer_factory(params=[p for p in self.policy.parameters() if p.requires_grad])

    def training_step(self, batch, batch_idx: int):
        s = self.settings
        start = time.perf_counter()
        samples = self.schedule.step(batch_idx, self.global_rank, self.trainer.world_size)
        rollout = self.generate(samples, seed=s.seed * 1_000_003 + batch_idx * 97 + self.global_rank)
        generated = time.perf_counter()
        scores = self.score(rollout, samples)
        scored = time.perf_counter()
        advantages = self.advantages(scores.total)
        keep = self.select_rows(scores.total, rollout)
        stats = self.update(rollout, advantages, keep)
        trained = time.perf_counter()
        metrics = self.step_metrics(rollout, scores, advantages, stats)
        metrics.update({
            "time/generate_s": generated - start,
            "time/score_s": scored - generated,
            "time/train_s": trained - scored,
            "time/step_s": trained - start,
            "perf/tokens_per_s": rollout.stats["tokens_per_s"],
        })
        metrics = self.reduce_across_ranks(metrics, summed={"groups/count"})
        # Lightning's logging costs milliseconds per step: pay it only when someone reads it
        # (a logger, a progress bar). history.jsonl below always has every metric.
        if self.logger is not None:
            self.log_dict(metrics, on_step=True, prog_bar=False, batch_size=len(samples))
        if s.progress_bar:
            self.log("reward", metrics["reward/mean"], prog_bar=True, on_step=True, logger=False, batch_size=len(samples))
        self.history.append({"step": batch_idx + 1, **{k: float(v) for k, v in metrics.items()}})
        if s.log_completions_every and batch_idx % s.log_completions_every == 0 and self.global_rank == 0:
            self.log_completions(batch_idx, samples, rollout, scores, advantages)

    def on_train_batch_end(self, outputs, batch, batch_idx: int) -> None:
        # Wall-clock between consecutive steps: everything, Lightning's loop and checkpoints included.
        now = time.perf_counter()
        last = getattr(self, "_last_batch_end", None)
        if last is not None and self.history and "time/step_s" in self.history[-1]:
            self.history[-1]["time/wall_step_s"] = now - last
        self._last_batch_end = now

    def validation_step(self, batch, batch_idx: int):
        # Validation runs once per check, over the whole held-out set, in on_validation_epoch_end.
        return None

    def on_validation_epoch_end(self) -> None:
        if not self.val_samples:
            return
        with generation_context(self.policy, self.trainer.strategy) as policy:
            result = evaluate_greedy(
                policy, self.tokenizer, self.sampler, self.val_samples,
                max_new_tokens=self.settings.max_new_tokens, system_prompt=self.system_prompt, verify=self.check,
            )
        # every rank scores the same held-out set, so the numbers agree without a reduction
        self.log("val/accuracy", result["accuracy"], prog_bar=True)
        self.log("val/format_rate", result["format_rate"])
        if self.global_rank == 0:
            step = self.current_rollout_step()
            self.history.append({"step": step, "val/accuracy": result["accuracy"], "val/format_rate": result["format_rate"]})
            print(f"[grpo] step {step}: held-out accuracy {result['accuracy']:.3f}, format rate {result['format_rate']:.3f}", flush=True)

    def current_rollout_step(self) -> int:
        return int(self.trainer.fit_loop.epoch_loop.batch_progress.current.completed) if self.trainer.training or self.trainer.validating else 0

    # ----- the named steps -----------------------------------------------------------------

    def generate(self, samples: list[dict], seed: int) -> Rollout:
        """P prompts × G completions from the sampler plugin, with their log-probs."""
        s = self.settings
        prompts = [format_prompt(self.tokenizer, x["prompt"], self.system_prompt) for x in samples]
        # Under FSDP: the full weights, gathered once for the whole rollout (r1/scale.py).
        with generation_context(self.policy, self._trainer.strategy if self._trainer else None) as policy:
            return self.sampler.generate(
                policy, self.tokenizer, prompts,
                num_samples=s.group_size, max_new_tokens=s.max_new_tokens,
                temperature=s.temperature, top_p=s.top_p, return_logprobs=True, seed=seed,
            )

    def score(self, rollout: Rollout, samples: list[dict]) -> Scores:
        """One reward per completion from the reward plugin; a failing sample scores 0 and is counted."""
        from r1.rewards import score_batch

        g = self.settings.group_size
        fields = {key: [x.get(key) for x in samples for _ in range(g)] for key in samples[0]}
        fields["completion_length"] = rollout.completion_lengths.tolist()
        result = score_batch(self.reward, rollout.texts, fields)
        total = torch.tensor([0.0 if r is None else float(r) for r in result.total])
        return Scores(total=total, components=dict(result.components), errors=int(result.errors))

    def advantages(self, rewards: torch.Tensor) -> torch.Tensor:
        """Group-normalised advantages (a pure function of the rewards)."""
        s = self.settings
        return compute_advantages(rewards, s.group_size, estimator=s.estimator, scale=s.scale, eps=s.advantage_eps)

    def select_rows(self, rewards: torch.Tensor, rollout: Rollout) -> torch.Tensor:
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
        if rows.numel() == 0:
            return {"loss": 0.0, "kl": 0.0, "clip_fraction": 0.0, "entropy": 0.0, "rows_trained": 0.0}
        mask = rollout.completion_mask.clone()
        if s.mask_truncated:
            mask[rollout.truncated] = 0
        ref_logprobs = self.sequence_logprobs(self.reference, rollout)[0] if self.reference is not None else None
        needs_old = s.updates_per_rollout > 1 or (s.mini_batch_size and s.mini_batch_size < rows.numel())
        old_logprobs = self.sequence_logprobs(self.policy, rollout)[0] if needs_old else None
        size = s.mini_batch_size or rows.numel()
        totals = {"loss": 0.0, "kl": 0.0, "clip_fraction": 0.0, "entropy": 0.0}
        passes = 0
        self.policy.train()
        for _ in range(s.updates_per_rollout):
            for chunk in rows.split(size):
                logprobs, entropy = self.sequence_logprobs(self.policy, rollout, chunk, grad=True)
                old = old_logprobs[chunk] if old_logprobs is not None else logprobs.detach()
                ref = ref_logprobs[chunk] if ref_logprobs is not None else None
                loss, stats = grpo_loss(
                    logprobs, old, advantages[chunk].to(logprobs.dtype), mask[chunk], ref_logprobs=ref,
                    beta=s.beta, eps_low=s.eps_low, eps_high=s.eps_high, kl_estimator=s.kl_estimator,
                    aggregation=s.aggregation, max_length=s.max_new_tokens,
                )
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
        result["rows_trained"] = float(rows.numel())
        return result

    def sequence_logprobs(self, model, rollout: Rollout, rows: torch.Tensor | None = None, grad: bool = False):
        """``(B, C)`` log-probs of the completion tokens of ``rows`` (default: all), at the sampling temperature, and their entropy.

        With ``shared_prompt`` each group's prompt runs once; with ``fused_forward`` a DeepSeek-V3
        model on CPU runs r1's fused forward (both in r1/models/completion_logits.py).
        """
        picked = (lambda t: t) if rows is None else (lambda t: t[rows])  # noqa: E731
        completion_ids = picked(rollout.completion_ids)
        groups = None
        if self.settings.shared_prompt:
            index = torch.arange(rollout.completion_ids.shape[0], device=completion_ids.device)
            groups = picked(index) // rollout.num_samples
        # A forward without gradients runs in inference mode (less autograd bookkeeping per op), except
        # under FSDP, whose unsharded parameters must not be first allocated there.
        mode = torch.enable_grad() if grad else torch.no_grad() if fsdp_units(model) else torch.inference_mode()
        with mode:
            logits = completion_logits(
                model, picked(rollout.prompt_ids), picked(rollout.prompt_mask), completion_ids, picked(rollout.completion_mask), groups,
                fast=self.settings.fused_forward,
            )
            logprobs = token_logprobs(logits, completion_ids, self.settings.temperature or 1.0)
        if not grad:
            return logprobs.clone(), torch.zeros_like(logprobs)  # clone: a normal tensor the loss can use
        with torch.no_grad():
            entropy = token_entropy(logits.detach())
        return logprobs, entropy

    # ----- observability -------------------------------------------------------------------

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
        for name, values in sorted(scores.components.items()):
            # None = not applicable; every key is logged on every rank so reductions line up
            present = torch.tensor([float(v) for v in values if v is not None], dtype=torch.float32)
            metrics[f"reward/{name}_mean"] = present.mean().item() if present.numel() else 0.0
            metrics[f"reward/{name}_std"] = present.std().item() if present.numel() > 1 else 0.0
        return metrics

    def log_completions(self, step: int, samples: list[dict], rollout: Rollout, scores: Scores, advantages: torch.Tensor) -> None:
        """Append a table of prompts, completions, rewards and advantages (JSONL, and W&B when on)."""
        g = self.settings.group_size
        rows = []
        for i, text in enumerate(rollout.texts):
            sample = samples[i // g]
            rows.append({
                "step": step, "prompt": sample["prompt"], "answer": sample.get("answer"), "completion": text,
                "reward": float(scores.total[i]), "advantage": float(advantages[i]),
                **{f"reward_{k}": v[i] for k, v in scores.components.items()},
            })
        with open(self.run_dir / "completions.jsonl", "a", encoding="utf-8") as out:
            out.writelines(json.dumps(row) + "\n" for row in rows)
        logger = self.logger
        if logger is not None and hasattr(logger, "log_table"):
            columns = list(rows[0])
            logger.log_table(key="completions", columns=columns, data=[[r[c] for c in columns] for r in rows[: 4 * g]])


class _StepIndices(torch.utils.data.Dataset):
    """The dataloader yields step numbers only; prompts come from :class:`PromptSchedule`."""

    def __init__(self, steps: int) -> None:
        self.steps = steps

    def __len__(self) -> int:
        return self.steps

    def __getitem__(self, index: int) -> int:
        return index


def settings_from(cfg: DictConfig) -> GRPOSettings:
    phase = cfg.phase
    known = GRPOSettings.__dataclass_fields__
    values = {key: phase[key] for key in known if key in phase}
    for key, spec in known.items():
        # A switch given as a word (phase.fused_forward=off reaches here as the string "off") would read as true.
        if spec.type in ("bool", bool) and key in values and not isinstance(values[key], bool):
            raise ConfigError(f"phase.{key} must be true or false, not {values[key]!r}")
    values["seed"] = int(cfg.seed)
    return GRPOSettings(**values)


def run(cfg: DictConfig) -> dict[str, Any]:
    """Run GRPO from the configured starting policy; returns the summary it also writes."""
    from hydra.utils import instantiate

    from r1.models import load_model
    from r1.phases.common import build_trainer, run_dir, save_hf
    from r1.phases.start import starting_policy
    from r1.plugins import get_registry

    phase = cfg.phase
    folder = run_dir(cfg)
    settings = settings_from(cfg)
    # Rewards and held-out checks share the verifier: start its sympy worker while the
    # model loads, not in the middle of a timed step.
    warm_up_verifier(wait=False)
    registry = get_registry(cfg.plugins.blocked)
    task = registry.build("task", cfg.task)
    reward = registry.build("reward", cfg.reward)
    sampler = registry.build("sampler", cfg.sampler)

    model_cfg = starting_policy(cfg)
    policy, tokenizer = load_model(model_cfg)
    train_samples = task.samples("train", int(phase.train_prompts), seed=int(cfg.seed))
    val_samples = task.samples("test", int(phase.val_prompts), seed=0) if phase.val_prompts else []
    module = GRPOModule(
        policy, tokenizer, reward, sampler,
        PromptSchedule(train_samples, settings.prompts_per_step, int(cfg.seed)),
        settings, instantiate(phase.optimizer), val_samples, task.check, folder,
        system_prompt=phase.get("system_prompt"),
    )
    state = resume_state(cfg, folder)
    steps = int(phase.max_steps)
    loader = DataLoader(_StepIndices(steps), batch_size=None, shuffle=False)
    updates_per_step = settings.updates_per_rollout * max(1, math.ceil(settings.prompts_per_step * settings.group_size / (settings.mini_batch_size or 10**9)))
    callbacks = [
        lightning.pytorch.callbacks.ModelCheckpoint(
            dirpath=str(state["checkpoints"]), filename="step{step}", every_n_train_steps=int(phase.checkpoint_every) * updates_per_step,
            save_top_k=1, save_last=True,
        )
    ]
    if phase.progress_bar:
        callbacks.append(lightning.pytorch.callbacks.RichProgressBar())
    trainer = build_trainer(
        cfg, model=policy, max_epochs=1, max_steps=-1, callbacks=callbacks, val_check_interval=min(int(phase.val_every), steps) if val_samples else None,
        limit_val_batches=1 if val_samples else 0, num_sanity_val_steps=0, enable_progress_bar=bool(phase.progress_bar),
        use_distributed_sampler=False, log_every_n_steps=1,
    )
    module._val_loader = DataLoader(_StepIndices(1), batch_size=None)
    initial = None
    if state["ckpt_path"] is None and val_samples and trainer.is_global_zero:
        initial = evaluate_greedy(policy, tokenizer, sampler, val_samples, max_new_tokens=settings.max_new_tokens, system_prompt=module.system_prompt, verify=task.check)
        print(f"[grpo] step 0: held-out accuracy {initial['accuracy']:.3f}, format rate {initial['format_rate']:.3f}", flush=True)
        module.history.append({"step": 0, "val/accuracy": initial["accuracy"], "val/format_rate": initial["format_rate"]})
    started = time.perf_counter()
    trainer.fit(module, train_dataloaders=loader, val_dataloaders=module._val_loader if val_samples else None, ckpt_path=state["ckpt_path"])
    seconds = time.perf_counter() - started
    summary: dict[str, Any] = {
        "phase": "grpo", "run_dir": str(folder), "steps": steps, "seconds": seconds,
        "start_model": str(model_cfg.get("name_or_path")), "world_size": trainer.world_size,
        "resumed_from_step": module.resumed_from_step,
    }
    # Every rank enters (gathering sharded weights is a collective); rank 0 evaluates and saves.
    with generation_context(module.policy, trainer.strategy) as policy:
        if trainer.global_rank == 0:
            final = evaluate_greedy(policy, tokenizer, sampler, val_samples, max_new_tokens=settings.max_new_tokens, system_prompt=module.system_prompt, verify=task.check) if val_samples else None
            hf_dir = save_hf(policy, tokenizer, folder / "hf")
    if trainer.global_rank == 0:
        summary.update({
            "hf_dir": str(hf_dir),
            "initial/accuracy": initial["accuracy"] if initial else None,
            "final/accuracy": final["accuracy"] if final else None,
            "final/format_rate": final["format_rate"] if final else None,
        })
        with open(folder / "history.jsonl", "w", encoding="utf-8") as out:
            out.writelines(json.dumps(row) + "\n" for row in module.history)
        (folder / "summary.json").write_text(json.dumps(summary, indent=2))
        (state["dir"] / "done.json").write_text(json.dumps(summary, indent=2))
        print(f"[grpo] done in {seconds:.0f} s: held-out accuracy {summary['initial/accuracy']} -> {summary['final/accuracy']}; model saved to {hf_dir}", flush=True)
    return summary


def resume_state(cfg: DictConfig, folder: Path) -> dict[str, Any]:
    """Where checkpoints live, and which one to resume from.

    Checkpoints are kept under ``<output_root>/state/grpo-<config hash>/`` so that the
    same command, run again after a crash, finds and resumes them; ``ckpt_path=``
    resumes from an explicit file instead.
    """
    from r1.phases.common import config_hash

    state_dir = Path(cfg.paths.output_root) / "state" / f"grpo-{config_hash(cfg)}"
    checkpoints = state_dir / "checkpoints"
    checkpoints.mkdir(parents=True, exist_ok=True)
    ckpt_path = cfg.get("ckpt_path")
    if ckpt_path:
        if not Path(ckpt_path).exists():  # a sharded FSDP checkpoint is a folder
            raise ConfigError(f"ckpt_path '{ckpt_path}' does not exist; give a .ckpt file from an earlier run's checkpoints folder")
    elif list(checkpoints.glob("*.ckpt")) and not (state_dir / "done.json").is_file():
        # The newest file, not always last.ckpt: a run killed between writing step<N>.ckpt
        # and refreshing last.ckpt has its latest state only in the former.
        ckpt_path = str(max(checkpoints.glob("*.ckpt"), key=lambda path: path.stat().st_mtime_ns))
        print(f"[grpo] resuming the unfinished run from {ckpt_path}", flush=True)
    elif (state_dir / "done.json").is_file():
        # A finished run with the same config: start afresh, replacing its checkpoints.
        (state_dir / "done.json").unlink()
        for old in checkpoints.glob("*.ckpt"):
            shutil.rmtree(old) if old.is_dir() else old.unlink()
    (state_dir / "run_dir.txt").write_text(str(folder))
    return {"dir": state_dir, "checkpoints": checkpoints, "ckpt_path": ckpt_path}

