"""Distillation (``phase=distill``): fine-tune a smaller student on the teacher's responses.

DeepSeek-R1 distils its reasoning into dense Qwen and Llama models by plain SFT on
~800k samples: 600k reasoning traces from rejection sampling mixed with 200k
general ones (``data.mixture``). That is the default here: the SFT phase's data,
module and trainer (:mod:`r1.phases.sft`), with the student from ``phase.student``.

When teacher and student share a tokenizer, ``phase.kd.weight > 0`` adds a
logit-level term, the forward KL from the teacher's next-token distribution
(:func:`r1.algorithms.distillation.distillation_loss`); the teacher is loaded
frozen and never enters the checkpoints. The summary compares the student's
held-out accuracy with the teacher's on the same prompts.

With ``data.packing=true`` the student trains on packed batches as in SFT, and the
teacher's forward for the KD term reads the same packed batch (same position-id
restarts, no attention mask, :func:`r1.phases.sft.causal_lm_logits`); the KL is masked by
the same labels, so neither term crosses an example's boundary.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import torch
from omegaconf import DictConfig, OmegaConf

from r1.algorithms.distillation import distillation_loss
from r1.data.chat import PromptFormat, PromptSettings
from r1.data.datasets import DataSettings
from r1.data.sft import IGNORE_INDEX
from r1.errors import ConfigError
from r1.models.lora import merge_on_export
from r1.phases.sft import (
    SFTSettings,
    build_datamodule,
    build_module,
    build_sampler,
    build_task,
    causal_lm_logits,
    check_packing,
    check_scheduler,
    validation_checker,
    finish,
    load_data,
    sft_loss,
    token_cross_entropy,
    train,
)
from r1.phases.balance import ExpertBalance, balance_settings
from r1.phases.prompting import read_prompt_settings
from r1.phases.validation import evaluate_greedy
from r1.settings import bounded


@dataclass
class KDSettings:
    """``phase.kd``: the logit-level distillation term."""

    weight: float = bounded(ge=0, le=1)
    """loss = (1 - weight) * cross-entropy + weight * KL(teacher || student); 0 = plain SFT on the teacher's responses."""
    temperature: float = bounded(gt=0)
    """Softening of both distributions in the KL term (which is scaled by temperature squared)."""


@dataclass
class DistillSettings(SFTSettings):
    """``conf/phase/distill.yaml``: the SFT phase's keys (same meaning) plus the student, the teacher and the KD term."""

    teacher: str | dict[str, Any] | None
    """A saved folder or Hub id, or a ``model``-shaped node; null = none (plain SFT, no teacher score)."""
    kd: KDSettings
    """The logit-level distillation term (:class:`KDSettings`)."""
    student: dict[str, Any]
    """The student, shaped like a ``model`` option (``model@phase.student=hf`` picks another)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.kd.weight > 0 and self.teacher is None:
            raise ConfigError("phase.kd.weight > 0 needs a teacher: set phase.teacher=<saved folder or Hub id>")


class DistillLoss:
    """``(1 - weight) * cross-entropy + weight * KL(teacher || student)`` on response tokens.

    Args:
        teacher: a frozen causal LM with the student's tokenizer.
        weight: share of the distillation term, in [0, 1] (0 = plain SFT).
        temperature: softening of both distributions in the KL term.
        vocab_size: the shared tokenizer's size; logits are cut to it, since one model may
            pad its embedding matrix beyond the vocabulary.
    """

    def __init__(self, teacher: torch.nn.Module, weight: float, temperature: float, vocab_size: int) -> None:
        self.teacher = teacher  # a plain attribute, not a submodule: never trained, never checkpointed
        self.weight = float(weight)
        self.temperature = float(temperature)
        self.vocab_size = int(vocab_size)

    def to(self, device: torch.device | str) -> DistillLoss:
        self.teacher.to(device)
        return self

    def __call__(self, model: torch.nn.Module, batch: Mapping[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        student_logits = causal_lm_logits(model, batch)[..., : self.vocab_size]  # (B, T, V)
        with torch.no_grad():
            teacher_logits = causal_lm_logits(self.teacher, batch)[..., : self.vocab_size]  # (B, T, V)
        ce = token_cross_entropy(student_logits, batch["labels"])
        # position t predicts token t+1: the KL counts where the next token is a response token
        mask = batch["labels"][:, 1:] != IGNORE_INDEX  # (B, T-1)
        kd = distillation_loss(student_logits[:, :-1], teacher_logits[:, :-1], mask, self.temperature)
        loss = (1.0 - self.weight) * ce + self.weight * kd
        return loss, {"train/ce": ce.detach(), "train/kd": kd.detach()}


def teacher_node(spec: str | Mapping[str, Any] | None) -> dict[str, Any] | None:
    """``phase.teacher`` as a ``model``-shaped dict: a saved folder / Hub id, or a model node; None when unset."""
    if spec is None:
        return None
    if isinstance(spec, str):
        return {"name_or_path": spec}
    return dict(spec)


def load_teacher(node: Mapping[str, Any]):
    """``(model, tokenizer)`` of the teacher, frozen (eval mode, no gradients)."""
    from r1.models import load_model

    model, tokenizer = load_model(node)
    model.eval()
    model.requires_grad_(False)
    return model, tokenizer


def check_same_tokenizer(teacher_tokenizer, student_tokenizer) -> None:
    """Raise a one-line :class:`ConfigError` unless both tokenizers map the same strings to the same ids."""
    teacher_vocab, student_vocab = teacher_tokenizer.get_vocab(), student_tokenizer.get_vocab()
    if teacher_vocab == student_vocab:
        return
    differing = len(set(teacher_vocab.items()) ^ set(student_vocab.items())) // 2 or 1
    raise ConfigError(
        f"logit distillation needs one tokenizer, but the teacher's ({len(teacher_vocab)} tokens) and the student's "
        f"({len(student_vocab)} tokens) differ in about {differing} token ids; set phase.kd.weight=0 (SFT on the teacher's responses) "
        f"or give the student the teacher's tokenizer (phase.student.tokenizer=<teacher folder>)"
    )


def eval_device(cfg: DictConfig) -> str:
    """Where to score the teacher before training: the GPU when the trainer will use one."""
    accelerator = str(OmegaConf.select(cfg, "trainer.accelerator", default="cpu"))
    return "cuda" if accelerator in ("gpu", "cuda", "auto") and torch.cuda.is_available() else "cpu"


def score_teacher(
    cfg: DictConfig, settings: DistillSettings, teacher, sampler, val_samples, prompt: PromptSettings, verify: Callable[[str, str], bool] | None = None,
) -> dict[str, float]:
    """The teacher's greedy accuracy and format rate on the held-out prompts the student is scored on (its own tokenizer's prompts)."""
    model, tokenizer = teacher
    model.to(eval_device(cfg))
    scores = evaluate_greedy(
        model, tokenizer, sampler, val_samples, settings.val_max_new_tokens, settings.val_batch_size, PromptFormat(tokenizer, prompt), verify,
    )
    model.to("cpu")  # the trainer moves it again if the KD loss needs it
    print(f"[distill] teacher | val/accuracy {scores['accuracy']:.3f} | val/format_rate {scores['format_rate']:.3f}", flush=True)
    return scores


def run(cfg: DictConfig) -> dict[str, Any]:
    """``python -m r1.run phase=distill data.path=<teacher responses>``; returns the summary.

    The summary holds the student's ``val/accuracy`` (also as ``student/accuracy``) and,
    when a teacher is configured, ``teacher/accuracy`` on the same held-out prompts.
    Like SFT, the same command resumes an interrupted run.
    """
    from r1.models import load_model, load_tokenizer
    from r1.models.trainable import prepare_for_training
    from r1.phases.common import read_settings, resume_state, run_dir

    settings = read_settings(DistillSettings, cfg.phase)
    check_scheduler(settings.scheduler)
    data = read_settings(DataSettings, cfg.get("data"), prefix="data")
    prompt = read_prompt_settings(cfg)
    state = resume_state(cfg, settings.name, run_dir(cfg))
    node = teacher_node(settings.teacher)
    weight = settings.kd.weight

    task = build_task(cfg)
    table, val_samples, skipped = load_data(data, task, int(cfg.seed))  # before any model: a bad path fails in a second
    student, tokenizer = load_model(settings.student)
    student = prepare_for_training(student, settings.student, cfg.get("trainer"))
    if weight > 0:
        # compare vocabularies before loading the teacher's weights, so a mismatch fails fast
        check_same_tokenizer(load_tokenizer(node.get("tokenizer") or node.get("name_or_path")), tokenizer)
    teacher = load_teacher(node) if node is not None else None
    loss_fn = DistillLoss(teacher[0], weight, settings.kd.temperature, len(tokenizer)) if weight > 0 else sft_loss
    data = check_packing(data, student, *([teacher[0]] if weight > 0 else []))  # the KD term runs the teacher on the same batch

    sampler = build_sampler(cfg)
    verify = validation_checker(data, task)  # the student and the teacher are scored alike
    teacher_scores = score_teacher(cfg, settings, teacher, sampler, val_samples, prompt, verify) if teacher is not None and val_samples else None
    prompt_format = PromptFormat(tokenizer, prompt)
    datamodule = build_datamodule(settings, data, tokenizer, table, val_samples, int(cfg.seed), prompt_format)
    module = build_module(settings, student, tokenizer, sampler, loss_fn, prompt_format, verify)
    module.balance = ExpertBalance(student, balance_settings(settings.student))
    module.merge_on_export = merge_on_export(settings.student)
    summary = train(cfg, settings, module, datamodule, state)

    summary["student/parameters"] = sum(p.numel() for p in student.parameters())
    summary["data/skipped"] = skipped
    if "val/accuracy" in summary:
        summary["student/accuracy"], summary["student/format_rate"] = summary["val/accuracy"], summary["val/format_rate"]
    if teacher is not None:
        summary["teacher/parameters"] = sum(p.numel() for p in teacher[0].parameters())
    if teacher_scores is not None:
        summary["teacher/accuracy"], summary["teacher/format_rate"] = teacher_scores["accuracy"], teacher_scores["format_rate"]
    return finish(cfg, state, summary)
