"""Cold-start SFT (``phase=sft``): teach the policy the ``<think>…</think><answer>…</answer>`` template.

DeepSeek-R1 fine-tunes the base model on a few thousand long chain-of-thought
examples before RL, so that RL starts from a model that already writes readable,
well-formed reasoning. Here the examples come from the task's reference solutions
by default, or from any dataset (``data.path``; see :mod:`r1.data.datasets`).

The pieces, each a function or a small class so the distillation phase reuses them
without inheriting anything (docs/DESIGN.md):

* :class:`SFTSettings`: every key of ``conf/phase/sft.yaml``, typed and checked before any work;
* :func:`token_cross_entropy` / :func:`sft_loss`: the loss on response tokens only;
* :func:`r1.phases.validation.score_greedy`: greedy decoding of held-out prompts, scored with the shared verifier
  (``val/accuracy``) and the template check ``heldout/format_rate`` uses too (``val/format_rate``);
* :class:`SFTDataModule`: the examples, their deterministic order and its position (exact resume);
* :class:`SFTModule`: a thin LightningModule around any causal LM and a loss function;
* :func:`train` : trainer, checkpoints, final validation, Hugging Face export and ``summary.json``.

Running the same command again resumes an interrupted run from its newest checkpoint
(:func:`r1.phases.common.resume_state`); ``ckpt_path=<file>`` resumes from another one.

**Padding-free batches** (``data.packing=true``): each batch's examples are concatenated
into rows of at most ``data.max_length`` tokens instead of being padded to the longest one
(:mod:`r1.data.packing`). Position ids restart at 0 for every example and the attention
mask is left out, so transformers' forward builds a block-diagonal causal mask from the
restarts; labels are ``-100`` at each example's first token, so nothing is predicted across
a boundary. The loss (the mean over the batch's response tokens) is the padded batch's, so
a run learns the same thing with less padding. The batch goes through transformers' plain
forward (:func:`causal_lm_logits`), the path that honours the boundaries; a model whose
forward does not (:func:`r1.data.packing.packing_honoured`, checked once before training)
trains on padded batches instead, with one warning line. The MoE routing counters and the
sequence-wise balance loss see each example as its own sequence (``sequence_ids``).
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lightning
import torch
from omegaconf import DictConfig

from r1.data.chat import PromptFormat
from r1.data.datasets import DataSettings
from r1.data.packing import PackingCollator, is_packed, packing_honoured
from r1.data.sft import (
    IGNORE_INDEX,
    Collator,
    ResumableBatchSampler,
    TokenizedExamples,
    tokenize_examples,
)
from r1.errors import ConfigError
from r1.models.lora import merge_on_export
from r1.models.moe import set_flat_sequences
from r1.phases.balance import ExpertBalance, balance_settings, progress_text
from r1.phases.common import ResumeState, check_learning_rate
from r1.phases.prompting import read_prompt_settings
from r1.phases.validation import score_greedy
from r1.protocols import Sample
from r1.settings import bounded

LossFn = Callable[[torch.nn.Module, dict[str, torch.Tensor]], tuple[torch.Tensor, dict[str, torch.Tensor]]]

PREVIEW_CHARS = 80
"""Characters of the first held-out completion shown in each validation line."""


# ----------------------------------------------------------------------------- settings


@dataclass
class CheckpointSettings:
    """``phase.checkpoint``: how often the training state is saved, and how many saves are kept."""

    every_n_steps: int | None = bounded(ge=1)
    """Save a Lightning checkpoint (model, optimizer, schedule, data position) this often; null = none."""
    keep: int = bounded(ge=-1)
    """How many of the newest to keep (-1 = all); ``last.ckpt`` is always written too."""


@dataclass
class SFTSettings:
    """``conf/phase/sft.yaml``: the cold-start SFT phase (the distillation phase reads the same keys and more)."""

    name: str
    """The phase (``sft``); names the resume state and the log lines."""
    max_steps: int = bounded(ge=1)
    """Optimizer steps (the data stream is endless; epochs follow from the data size)."""
    batch_size: int = bounded(ge=1)
    """Examples per micro-batch per device."""
    val_every_steps: int | None = bounded(ge=1)
    """Decode the held-out prompts every this many optimizer steps; null = never."""
    val_at_start: bool
    """Also score the untrained model at step 0, so the curve starts from there."""
    val_batch_size: int = bounded(ge=1)
    """Held-out prompts decoded together."""
    val_max_new_tokens: int = bounded(ge=1)
    """Generation budget of each validation completion."""
    optimizer: dict[str, Any]
    """A ``_partial_`` optimizer node, called with the trained parameters."""
    scheduler: dict[str, Any] | None
    """A ``_partial_`` schedule node, called with the optimizer and stepped every optimizer step; null = none."""
    trainer: dict[str, Any]
    """Extra ``lightning.Trainer`` arguments for this phase (gradient clipping, accumulation, logging)."""
    checkpoint: CheckpointSettings
    """How often the training state is saved (:class:`CheckpointSettings`)."""

    def __post_init__(self) -> None:
        check_learning_rate(self.optimizer, "phase.optimizer")


# ----------------------------------------------------------------------------- loss


def causal_lm_logits(model: torch.nn.Module, batch: Mapping[str, torch.Tensor]) -> torch.Tensor:
    """``(B, T, V)`` next-token logits of a causal LM for a padded or a packed batch.

    A packed batch (:mod:`r1.data.packing`) passes its ``position_ids`` and no attention
    mask, so transformers' forward keeps its examples apart (a block-diagonal causal mask).
    """
    if is_packed(batch):
        return model(input_ids=batch["input_ids"], position_ids=batch["position_ids"], use_cache=False).logits
    return model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], use_cache=False).logits


def routed_loss(loss_fn: LossFn, model: torch.nn.Module, batch: dict[str, torch.Tensor], balance: ExpertBalance | None) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """``loss_fn(model, batch)``, with the MoE routing counters told which token belongs to which example.

    A padded batch's rows are its examples (its attention mask leaves padding out); a packed
    row holds several, so its ``sequence_ids`` go to the counters for this forward only.
    """
    if balance is None:
        return loss_fn(model, batch)
    packed = is_packed(batch)
    balance.set_token_mask(None if packed else batch["attention_mask"])
    if not packed:
        return loss_fn(model, batch)
    set_flat_sequences(batch["sequence_ids"].reshape(-1))
    try:
        return loss_fn(model, batch)
    finally:
        set_flat_sequences(None)


def examples_in(batch: Mapping[str, torch.Tensor]) -> int:
    """How many examples ``batch`` holds (a packed batch has fewer rows than examples); no device sync."""
    return batch["lengths"].shape[0] if is_packed(batch) else batch["input_ids"].shape[0]


def token_cross_entropy(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy over labelled tokens (labels ``-100`` are skipped).

    Args:
        logits: ``(B, T, V)``; position ``t`` predicts token ``t + 1``.
        labels: ``(B, T)`` aligned with the inputs (the shift happens here).
    """
    predicted = logits[:, :-1].float()  # (B, T-1, V)
    targets = labels[:, 1:]  # (B, T-1)
    return torch.nn.functional.cross_entropy(predicted.reshape(-1, predicted.shape[-1]), targets.reshape(-1), ignore_index=IGNORE_INDEX)


def sft_loss(model: torch.nn.Module, batch: Mapping[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Cross-entropy of the response tokens; returns ``(loss, metrics to log)``."""
    loss = token_cross_entropy(causal_lm_logits(model, batch), batch["labels"])
    return loss, {}


# ----------------------------------------------------------------------------- learning-rate schedule


def warmup_schedule(
    optimizer: torch.optim.Optimizer,
    warmup_steps: int,
    decay: str,
    total_steps: int | None,
    min_lr_ratio: float,
) -> torch.optim.lr_scheduler.LambdaLR:
    """Linear warm-up to the optimizer's lr, then ``constant``, ``cosine`` or ``linear`` decay.

    Constant is r1's default for SFT: GRPO only improves an SFT model whose learning
    rate did not decay (docs/FINDINGS.md). The multiplier is a pure function of the
    step, so a resumed run continues the same curve. The numbers come from the phase's
    ``scheduler`` node.

    Args:
        optimizer: the optimizer whose learning rate is scheduled (one step = one optimizer step).
        warmup_steps: steps of linear warm-up from ``lr / warmup_steps`` to ``lr``.
        decay: what happens after warm-up.
        total_steps: the step where cosine / linear decay reaches ``min_lr_ratio`` (required for them).
        min_lr_ratio: the final multiplier of a decaying schedule.
    """
    if decay not in ("constant", "cosine", "linear"):
        raise ConfigError(f"phase.scheduler.decay '{decay}' is not one of: constant, cosine, linear")
    if decay != "constant" and not total_steps:
        raise ConfigError(f"a {decay} schedule needs phase.scheduler.total_steps (e.g. ${{phase.max_steps}})")
    if warmup_steps < 0 or not 0.0 <= min_lr_ratio <= 1.0:
        raise ConfigError(f"phase.scheduler needs warmup_steps >= 0 and min_lr_ratio in [0, 1], not {warmup_steps} and {min_lr_ratio}")
    return torch.optim.lr_scheduler.LambdaLR(optimizer, _WarmupMultiplier(warmup_steps, decay, total_steps, min_lr_ratio))


class _WarmupMultiplier:
    """The lr multiplier of :func:`warmup_schedule` at a step (a class so LambdaLR can checkpoint it)."""

    def __init__(self, warmup_steps: int, decay: str, total_steps: int | None, min_lr_ratio: float) -> None:
        self.warmup_steps, self.decay, self.total_steps, self.min_lr_ratio = int(warmup_steps), decay, total_steps, float(min_lr_ratio)

    def __call__(self, step: int) -> float:
        if step < self.warmup_steps:
            return (step + 1) / self.warmup_steps
        if self.decay == "constant":
            return 1.0
        span = max(int(self.total_steps) - self.warmup_steps, 1)
        progress = min((step - self.warmup_steps) / span, 1.0)
        shape = 0.5 * (1 + math.cos(math.pi * progress)) if self.decay == "cosine" else 1.0 - progress
        return self.min_lr_ratio + (1 - self.min_lr_ratio) * shape


# ----------------------------------------------------------------------------- data


def _as_list(samples: list[Sample]) -> list[Sample]:
    return samples


class SFTDataModule(lightning.LightningDataModule):
    """Training examples in a deterministic, resumable order, plus held-out prompts for validation.

    The position in the stream (micro-batches consumed) is saved in every checkpoint,
    so a resumed run starts at the next batch it would have seen, mid-epoch or not.

    Args:
        train: tokenised training examples.
        val_samples: held-out samples with ``prompt`` and ``answer`` (decoded greedily).
        batch_size: examples per micro-batch on each device.
        val_batch_size: prompts decoded together during validation.
        seed: the data order is a function of this seed and the epoch.
        pad_token_id: padding for the batches.
        mask_prompt: labels ``-100`` on prompt tokens (``data.mask_prompt``; off only for experiments).
        pack_capacity: tokens per row of a packed batch (:mod:`r1.data.packing`); None = padded batches.
    """

    def __init__(
        self,
        train: TokenizedExamples,
        val_samples: Sequence[Sample],
        batch_size: int,
        val_batch_size: int,
        seed: int,
        pad_token_id: int,
        mask_prompt: bool,
        pack_capacity: int | None = None,
    ) -> None:
        super().__init__()
        self.train = train
        self.val_samples = list(val_samples)
        self.batch_size = batch_size
        self.val_batch_size = val_batch_size
        self.seed = seed
        self.collator = Collator(pad_token_id, mask_prompt) if pack_capacity is None else PackingCollator(pad_token_id, mask_prompt, pack_capacity)
        self.batches_seen = 0  # micro-batches consumed by training, restored on resume

    def train_dataloader(self) -> torch.utils.data.DataLoader:
        rank, world = self._rank_and_world()
        sampler = ResumableBatchSampler(len(self.train), self.batch_size, self.seed, start_batch=self.batches_seen, rank=rank, world_size=world)
        return torch.utils.data.DataLoader(self.train, batch_sampler=sampler, collate_fn=self.collator)

    def val_dataloader(self) -> torch.utils.data.DataLoader:
        rank, world = self._rank_and_world()
        shard = self.val_samples[rank::world]  # (the trainer does not shard: use_distributed_sampler=False)
        return torch.utils.data.DataLoader(shard, batch_size=self.val_batch_size, shuffle=False, collate_fn=_as_list)

    def on_before_batch_transfer(self, batch: Any, dataloader_idx: int) -> Any:
        # Called once per batch the training loop consumes (after Lightning's prefetch), so the count is exact.
        if self.trainer is not None and self.trainer.training:
            self.batches_seen += 1
        return batch

    @property
    def epochs_seen(self) -> float:
        """Training examples consumed, in passes over the dataset (all devices together)."""
        world = self._rank_and_world()[1]
        return self.batches_seen * self.batch_size * world / max(len(self.train), 1)

    def state_dict(self) -> dict[str, Any]:
        return {"batches_seen": self.batches_seen, "seed": self.seed, "num_examples": len(self.train)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state.get("num_examples") not in (None, len(self.train)):
            print(
                f"[data] warning: resuming with {len(self.train)} training examples, but the checkpoint was trained on "
                f"{state['num_examples']}: the data order differs from the interrupted run",
                flush=True,
            )
        self.batches_seen = int(state.get("batches_seen", 0))

    def _rank_and_world(self) -> tuple[int, int]:
        if self.trainer is None:
            return 0, 1
        return self.trainer.global_rank, self.trainer.world_size


# ----------------------------------------------------------------------------- module


class SFTModule(lightning.LightningModule):
    """A thin LightningModule: any causal LM, a loss function, an optimizer, greedy validation.

    Args:
        model: the policy (a transformers causal LM); it is the only registered submodule,
            so checkpoints hold it and nothing else (no teacher).
        tokenizer: the policy's tokenizer, for decoding during validation.
        optimizer: ``params -> Optimizer`` (a ``_partial_: true`` config node, instantiated).
        scheduler: ``optimizer -> LRScheduler`` stepped every optimizer step, or None.
        sampler: generates validation completions (``temperature=0``: greedy).
        loss_fn: ``(model, batch) -> (loss, metrics)``; :func:`sft_loss` by default, a
            distillation loss in ``phase=distill``. An object with a ``to(device)`` method
            is moved with the model (a frozen teacher).
        val_max_new_tokens: generation budget for each validation completion.
        prompt_format: how a user message becomes the prompt (the ``prompt`` config group).
        name: the phase name, printed in the validation summary line.
        verify: ``(response, gold) -> correct`` for ``val/accuracy``; None = the shared verifier
            (:func:`validation_checker` passes the task's own checker for the task's held-out split).
    """

    def __init__(
        self,
        model: torch.nn.Module,
        tokenizer,
        optimizer: Callable[..., torch.optim.Optimizer],
        scheduler: Callable[..., Any] | None,
        sampler,
        loss_fn: LossFn,
        val_max_new_tokens: int,
        prompt_format: PromptFormat,
        name: str,
        verify: Callable[[str, str], bool] | None = None,
    ) -> None:
        super().__init__()
        self.model = model
        self.verify = verify
        self.tokenizer = tokenizer
        self.optimizer_factory = optimizer
        self.scheduler_factory = scheduler
        self.sampler = sampler
        self.loss_fn = loss_fn
        self.val_max_new_tokens = val_max_new_tokens
        self.prompt_format = prompt_format
        self.name = name
        self.balance: ExpertBalance | None = None
        self.merge_on_export = True
        """Whether a LoRA model's exported ``hf/`` folder holds the merged model (``model.lora.merge_on_export``)."""
        """Router-bias updates, balance loss and expert-load metrics when the model is an MoE (:mod:`r1.phases.balance`)."""
        self.history: list[dict[str, float]] = []  # one entry per validation: the learning curve
        self._last_loss: torch.Tensor | None = None
        self._val_scores: dict[str, list] = {}
        self._first_completion = ("", "")
        self.started_at = time.perf_counter()

    @property
    def last_loss(self) -> float | None:
        """The most recent training loss."""
        return None if self._last_loss is None else float(self._last_loss)

    # -- training
    def on_fit_start(self) -> None:
        self.started_at = time.perf_counter()
        if hasattr(self.loss_fn, "to"):
            self.loss_fn.to(self.device)

    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        balance = self.balance
        loss, metrics = routed_loss(self.loss_fn, self.model, batch, balance)
        batch_size = examples_in(batch)
        extra = balance.loss() if balance is not None else None
        if extra is not None:  # the MoE balance loss (r1/phases/balance.py): logged apart, trained together
            self.log("train/balance_loss", extra.detach(), batch_size=batch_size)
            loss = loss + extra
        self.log("train/loss", loss, prog_bar=True, batch_size=batch_size)
        for key, value in metrics.items():
            self.log(key, value, batch_size=batch_size)
        self.log("train/lr", self.trainer.optimizers[0].param_groups[0]["lr"], batch_size=batch_size)
        self.log("train/tokens", (batch["labels"] != IGNORE_INDEX).sum().float(), reduce_fx="sum", batch_size=batch_size)
        datamodule = getattr(self.trainer, "datamodule", None)
        if isinstance(datamodule, SFTDataModule):
            self.log("train/epoch", datamodule.epochs_seen, batch_size=batch_size)
        self._last_loss = loss.detach()  # kept as a tensor: reading it every step would sync a GPU
        return loss

    def configure_optimizers(self) -> Any:
        optimizer = self.optimizer_factory([p for p in self.model.parameters() if p.requires_grad])
        if self.scheduler_factory is None:
            return optimizer
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": self.scheduler_factory(optimizer), "interval": "step"}}

    # -- validation: greedy decoding of held-out prompts
    def on_validation_epoch_start(self) -> None:
        self._val_scores = {"correct": [], "formatted": [], "truncated": []}
        if hasattr(self.sampler, "update_weights"):
            self.sampler.update_weights(self.model)  # an out-of-process engine (vLLM) must decode the current weights

    def validation_step(self, batch: list[Sample], batch_idx: int) -> None:
        scores = score_greedy(self.model, self.tokenizer, self.sampler, batch, self.val_max_new_tokens, self.prompt_format, self.verify)
        for key in self._val_scores:
            self._val_scores[key] += scores[key]
        if batch_idx == 0 and self.trainer.is_global_zero:
            self._first_completion = (batch[0]["prompt"], scores["completions"][0])

    def on_validation_epoch_end(self) -> None:
        n = max(len(self._val_scores["correct"]), 1)
        metrics = {f"val/{key}": sum(self._val_scores[raw]) / n for key, raw in (("accuracy", "correct"), ("format_rate", "formatted"), ("truncated_rate", "truncated"))}
        for key, value in metrics.items():
            self.log(key, value, sync_dist=True)
        point = {"step": int(self.trainer.global_step), "seconds": round(time.perf_counter() - self.started_at, 1), **{k: round(v, 4) for k, v in metrics.items()}}
        routing = self.balance.report() if self.balance is not None else {}
        if routing:  # expert load since the last validation
            self.log_dict({k: v for k, v in routing.items() if "/share/" not in k}, sync_dist=False)
            point.update({k: round(v, 5) for k, v in routing.items()})
        last_loss = self.last_loss
        if last_loss is not None:
            point["train/loss"] = round(last_loss, 4)
        if not self.history or self.history[-1]["step"] != point["step"]:
            self.history.append(point)
        loss = f" | train/loss {last_loss:.4f}" if last_loss is not None else ""
        prompt, completion = self._first_completion
        self.print(
            f"[{self.name}] step {point['step']:>5} | {point['seconds']:>6.1f}s | val/accuracy {metrics['val/accuracy']:.3f} "
            f"| val/format_rate {metrics['val/format_rate']:.3f}{loss}{progress_text(routing)} | e.g. {prompt} -> {completion[:PREVIEW_CHARS]!r}",
            flush=True,
        )


# ----------------------------------------------------------------------------- runner pieces


def build_task(cfg: DictConfig):
    """The configured task (the default data source and held-out set), or None when there is none."""
    if not cfg.get("task"):
        return None
    from r1.plugins import get_registry

    return get_registry(cfg.plugins.blocked).build("task", cfg.task)


def build_sampler(cfg: DictConfig):
    """The configured sampler, used here for greedy validation."""
    from r1.plugins import get_registry

    return get_registry(cfg.plugins.blocked).build("sampler", cfg.sampler)




def read_sft_settings(cfg: DictConfig) -> tuple[SFTSettings, DataSettings]:
    """The phase's and the ``data`` node's settings, checked (one line per mistake) before any work."""
    from r1.phases.common import read_settings

    settings = read_settings(SFTSettings, cfg.phase)
    check_scheduler(settings.scheduler)
    return settings, read_settings(DataSettings, cfg.get("data"), prefix="data")


def check_packing(data: DataSettings, *models: torch.nn.Module) -> DataSettings:
    """``data`` as it is, or with packing off (one warning line) when one of ``models`` would let packed examples see each other."""
    if not data.packing:
        return data
    for model in models:
        if not packing_honoured(model):
            print(
                f"[data] warning: data.packing=true, but {type(model).__name__}'s forward does not keep packed examples apart "
                f"(position-id restarts); training on padded batches instead",
                flush=True,
            )
            return dataclasses.replace(data, packing=False)
    return data


def check_scheduler(node: Mapping[str, Any] | None) -> None:
    """Build the schedule once on a throw-away optimizer, so a bad option fails before the model loads."""
    if node is None:
        return
    from hydra.errors import InstantiationException
    from hydra.utils import instantiate

    probe = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    try:
        instantiate(node)(probe)
    except (InstantiationException, TypeError, ValueError) as error:
        raise ConfigError(f"phase.scheduler cannot be built: {' '.join(str(error).split())}") from error


def load_data(data: DataSettings, task, seed: int) -> tuple[Any, list[Sample], int]:
    """``(training table, held-out samples, source rows skipped)`` the ``data`` node describes; fails fast on a bad path or field.

    Rows that cannot become an example (no usable answer, no user or assistant turn) are
    skipped and counted; the phases report the count as ``data/skipped`` in their summary.
    """
    from r1.data.datasets import load_eval_samples, load_training_set

    spec = dataclasses.asdict(data)
    loaded = load_training_set(spec, task, seed=seed)
    val_samples = load_eval_samples(spec, task, data.val_size, seed=seed) if data.val_size > 0 else []
    return loaded.table, val_samples, loaded.skipped


def build_datamodule(
    settings: SFTSettings, data: DataSettings, tokenizer, table, val_samples: Sequence[Sample], seed: int, prompt_format: PromptFormat,
) -> SFTDataModule:
    """Tokenise ``table`` with ``tokenizer`` (prompts rendered by ``prompt_format``) and wrap it with the held-out samples."""
    train = tokenize_examples(tokenizer, list(table["prompt"]), list(table["response"]), max_length=data.max_length, prompt_format=prompt_format)
    if len(train) == 0:
        raise ConfigError(f"no training example fits data.max_length={data.max_length}; raise it")
    return SFTDataModule(
        train,
        val_samples,
        batch_size=settings.batch_size,
        val_batch_size=settings.val_batch_size,
        seed=seed,
        pad_token_id=tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id,
        mask_prompt=data.mask_prompt,
        pack_capacity=data.max_length if data.packing else None,
    )


def validation_checker(data: DataSettings, task) -> Callable[[str, str], bool] | None:
    """The task's own checker when the held-out prompts are the task's (``data.val_path`` null), else None (the shared verifier).

    A task decides what a correct answer is: ``task=general`` compares strings exactly, where
    the symbolic verifier would take ``dog`` for ``DOG``.
    """
    return task.check if data.val_path is None and task is not None else None


def build_module(
    settings: SFTSettings, model, tokenizer, sampler, loss_fn: LossFn, prompt_format: PromptFormat, verify: Callable[[str, str], bool] | None = None,
) -> SFTModule:
    """An :class:`SFTModule` with the optimizer and schedule of the phase's settings."""
    from hydra.utils import instantiate

    return SFTModule(
        model,
        tokenizer,
        optimizer=instantiate(settings.optimizer),
        scheduler=instantiate(settings.scheduler) if settings.scheduler is not None else None,
        sampler=sampler,
        loss_fn=loss_fn,
        val_max_new_tokens=settings.val_max_new_tokens,
        prompt_format=prompt_format,
        name=settings.name,
        verify=verify,
    )


def checkpoint_callback(folder: Path, settings: CheckpointSettings):
    """A ``ModelCheckpoint`` saving every ``settings.every_n_steps`` steps into ``folder``, or None.

    Files are ``step000100.ckpt`` (no ``=`` in the name, so ``ckpt_path=...`` needs no
    quoting on the command line) plus ``last.ckpt``; the newest ``settings.keep`` are kept.
    """
    if settings.every_n_steps is None:
        return None
    from lightning.pytorch.callbacks import ModelCheckpoint

    return ModelCheckpoint(
        dirpath=str(folder),
        filename="step{step:06d}",
        auto_insert_metric_name=False,
        every_n_train_steps=settings.every_n_steps,
        monitor="step",  # "keep the newest k": Lightning allows k > 1 only with a monitor
        mode="max",
        save_top_k=settings.keep,
        save_last=True,
    )


def build_phase_trainer(cfg: DictConfig, settings: SFTSettings, validate: bool, callbacks: list):
    """The Lightning trainer for a step-based phase: endless data, validation every ``val_every_steps``."""
    from r1.phases.common import build_trainer

    options = dict(settings.trainer)
    accumulate = int(options.get("accumulate_grad_batches", 1))
    return build_trainer(
        cfg,
        max_steps=settings.max_steps,
        max_epochs=-1,  # the data stream is endless; max_steps ends training
        val_check_interval=settings.val_every_steps * accumulate if validate else None,  # counted in micro-batches
        check_val_every_n_epoch=None,
        limit_val_batches=None if validate else 0,
        num_sanity_val_steps=-1 if validate and settings.val_at_start else 0,  # -1: the whole set at step 0
        use_distributed_sampler=False,  # the batch sampler shards by rank itself (exact resume)
        callbacks=callbacks,
        **options,
    )


def train(cfg: DictConfig, settings: SFTSettings, module: SFTModule, datamodule: SFTDataModule, state: ResumeState) -> dict[str, Any]:
    """Fit (resuming from ``state.ckpt_path`` if any), validate at the end, export; returns the summary.

    Returns:
        The summary: ``hf_dir`` (on the rank that exported), final ``val/accuracy`` and
        ``val/format_rate``, ``steps``, ``seconds``, the last ``train/loss``, the learning
        ``curve`` (one point per validation) and ``resumed_from``.
    """
    from r1.phases.common import run_dir, save_hf

    out = run_dir(cfg)
    validate = bool(datamodule.val_samples) and settings.val_every_steps is not None
    checkpoint = checkpoint_callback(state.checkpoints, settings.checkpoint)
    callbacks: list[Any] = [checkpoint] if checkpoint else []
    if module.balance is not None and module.balance.active:
        callbacks.append(module.balance.start())
    trainer = build_phase_trainer(cfg, settings, validate, callbacks)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*does not have many workers.*")
        warnings.filterwarnings("ignore", message=".*dirpath has changed.*")  # resuming from another folder's checkpoint
        warnings.filterwarnings("ignore", message=".*exists and is not empty.*")  # the state folder of a resumed run
        trainer.fit(module, datamodule=datamodule, ckpt_path=state.ckpt_path)
        if checkpoint:
            trainer.save_checkpoint(state.checkpoints / "last.ckpt")  # the final state, whatever the step
        if validate and (not module.history or module.history[-1]["step"] != trainer.global_step):
            trainer.validate(module, datamodule=datamodule, verbose=False)
    summary: dict[str, Any] = {"phase": settings.name, "steps": int(trainer.global_step), "seconds": round(time.perf_counter() - module.started_at, 1)}
    if module.history:
        summary.update({k: v for k, v in module.history[-1].items() if k.startswith("val/")})
    summary.update({"train/loss": module.last_loss, "train/examples": len(datamodule.train), "curve": module.history, "resumed_from": state.ckpt_path})
    if trainer.is_global_zero:
        summary["hf_dir"] = str(save_hf(module.model, module.tokenizer, out / "hf", merge_adapter=module.merge_on_export))
        if checkpoint:
            summary["checkpoint_dir"] = str(state.checkpoints)
    return summary


def finish(cfg: DictConfig, state: ResumeState, summary: dict[str, Any]) -> dict[str, Any]:
    """On the rank that exported: ``summary.json`` in the run folder, then the resume state marked done."""
    from r1.phases.common import mark_done, run_dir

    if "hf_dir" in summary:
        write_summary(run_dir(cfg), summary)
        mark_done(state.dir, summary)
    return summary


def write_summary(folder: Path, summary: Mapping[str, Any]) -> Path:
    """``summary.json`` in the run folder: what the runner returns, for scripts and the next phase."""
    path = Path(folder) / "summary.json"
    path.write_text(json.dumps(summary, indent=2, default=str) + "\n")
    return path


def run(cfg: DictConfig) -> dict[str, Any]:
    """``python -m r1.run phase=sft``: cold-start SFT of ``model`` on ``data``; returns the summary."""
    from r1.models import load_model
    from r1.models.trainable import prepare_for_training
    from r1.phases.common import resume_state, run_dir

    settings, data = read_sft_settings(cfg)
    prompt = read_prompt_settings(cfg)
    state = resume_state(cfg, settings.name, run_dir(cfg))
    task = build_task(cfg)
    table, val_samples, skipped = load_data(data, task, int(cfg.seed))  # before the model: a bad path fails in a second
    model, tokenizer = load_model(cfg.model)
    model = prepare_for_training(model, cfg.model, cfg.get("trainer"))
    data = check_packing(data, model)
    prompt_format = PromptFormat(tokenizer, prompt)
    datamodule = build_datamodule(settings, data, tokenizer, table, val_samples, int(cfg.seed), prompt_format)
    module = build_module(settings, model, tokenizer, build_sampler(cfg), sft_loss, prompt_format, validation_checker(data, task))
    module.balance = ExpertBalance(model, balance_settings(cfg.model))
    module.merge_on_export = merge_on_export(cfg.model)
    summary = train(cfg, settings, module, datamodule, state)
    summary["data/skipped"] = skipped
    return finish(cfg, state, summary)
