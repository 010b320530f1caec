"""``reward_model``: a learned reward, the score of a Hugging Face sequence classifier.

DeepSeek-R1's last RL stage scores general prompts, where no rule can check an answer,
with reward models; this reward reads any ``AutoModelForSequenceClassification`` with
one label (a scalar head), from a saved folder or a Hub id. ``tools/train_reward_model.py``
trains a tiny one with the Bradley–Terry loss.

The reward model sees the prompt and the completion as one conversation: its
tokenizer's chat template with a user and an assistant turn when it has one (reward
models are trained on their chat format), else ``prompt + completion``. The prompt is the
sample's ``prompt`` field, the user message that GRPO passes with every completion.

The path and the model's kind are checked when the reward is built (one line, before
any training starts); the weights are loaded on the first call, so building the reward
(a config check, a plugin listing) costs no model load.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from r1.errors import ConfigError, DataError
from r1.rewards.scoring import as_text, column

NORMALIZATIONS = ("none", "sigmoid", "standard")
"""``none``: the raw score; ``sigmoid``: ``1 / (1 + e^-s)`` in (0, 1); ``standard``: ``(s - mean) / std``."""

CLASSIFIER_SUFFIX = "ForSequenceClassification"
"""The architecture name every transformers sequence classifier ends with."""


def normalize_scores(scores: Sequence[float], how: str, mean: float | None, std: float | None) -> list[float]:
    """Raw reward-model scores mapped as ``how`` says.

    ``standard`` uses a fixed ``mean`` and ``std`` (measured once on the reward model's
    scores), never the batch's own: GRPO's advantage already normalises within each
    group, and a per-batch statistic would make a sample's reward depend on which
    samples share its batch (and differ between the batch call and the per-sample
    retry of :func:`r1.rewards.scoring.safe_call`, or between ranks).
    """
    if how == "none":
        return [float(s) for s in scores]
    if how == "sigmoid":
        return [sigmoid(float(s)) for s in scores]
    if how == "standard":
        return [(float(s) - float(mean)) / float(std) for s in scores]  # type: ignore[arg-type]
    raise ConfigError(f"reward.normalize '{how}' is not one of: {', '.join(NORMALIZATIONS)}")


def sigmoid(x: float) -> float:
    """``1 / (1 + e^-x)``, without overflow for large negative ``x``."""
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    z = math.exp(x)
    return z / (1.0 + z)


def check_classifier_config(config: Any, path: str) -> None:
    """A one-line :class:`ConfigError` unless ``config`` is a sequence classifier with one label."""
    architectures = list(getattr(config, "architectures", None) or [])
    if not any(name.endswith(CLASSIFIER_SUFFIX) for name in architectures):
        kind = ", ".join(architectures) or f"a {getattr(config, 'model_type', 'model')} without a saved architecture"
        raise ConfigError(
            f"reward model '{path}' is {kind}, not a sequence classifier (…{CLASSIFIER_SUFFIX} with num_labels=1); "
            "give a reward model (tools/train_reward_model.py trains a small one)"
        )
    if int(config.num_labels) != 1:
        raise ConfigError(f"reward model '{path}' has {config.num_labels} labels; a reward model has one scalar head (num_labels=1)")


class RewardModelReward:
    """The score a sequence-classification reward model gives (prompt, completion).

    Args:
        path: A saved Hugging Face folder or a Hub id of an ``AutoModelForSequenceClassification``
            with ``num_labels=1``.
        batch_size: Completions per forward pass.
        max_length: Tokens kept per (prompt, completion), cut from the end beyond it.
        device: ``auto`` (cuda when available, else cpu), ``cpu``, ``cuda``, ``cuda:1``, ...
        dtype: ``auto`` (as saved) or a torch dtype name (``float32``, ``bfloat16``, ...).
        normalize: ``none``, ``sigmoid`` or ``standard`` (see :func:`normalize_scores`).
        mean: The score mean subtracted by ``standard``.
        std: The score spread divided by ``standard``; must be positive.
        prompt_field: The sample field holding the user message.

    Every completion of a batch gets a score; a sample without a prompt is a
    :class:`DataError` (the reward model cannot score a response without its question).
    """

    name = "reward_model"

    def __init__(
        self,
        path: str,
        *,
        batch_size: int,
        max_length: int,
        device: str = "auto",
        dtype: str = "auto",
        normalize: str = "none",
        mean: float | None = None,
        std: float | None = None,
        prompt_field: str = "prompt",
    ) -> None:
        if not path or str(path) == "???":
            raise ConfigError("reward.path is required for reward=reward_model: a saved reward-model folder or a Hub id")
        if int(batch_size) < 1 or int(max_length) < 1:
            raise ConfigError(f"reward.batch_size and reward.max_length must be at least 1, not {batch_size} and {max_length}")
        if normalize not in NORMALIZATIONS:
            raise ConfigError(f"reward.normalize '{normalize}' is not one of: {', '.join(NORMALIZATIONS)}")
        if normalize == "standard" and (mean is None or std is None or not float(std) > 0):
            raise ConfigError(f"reward.normalize=standard needs reward.mean and a positive reward.std, not mean={mean} std={std}")
        self.path, self.batch_size, self.max_length = str(path), int(batch_size), int(max_length)
        self.device, self.dtype, self.normalize = str(device), str(dtype), normalize
        self.mean, self.std, self.prompt_field = mean, std, prompt_field
        self.check_source()
        self.model: Any = None
        self.tokenizer: Any = None

    def check_source(self) -> None:
        """One line now, at build time, for a missing or broken folder or a model that is no reward model."""
        from transformers import AutoConfig

        from r1.models.loading import check_model_folder, check_reachable  # here: importing r1.rewards stays free of torch

        check_reachable(self.path, "reward model")
        if Path(self.path).expanduser().exists():
            check_model_folder(self.path)
        try:
            config = AutoConfig.from_pretrained(self.path)
        except (OSError, ValueError) as error:
            raise DataError(f"could not load reward model '{self.path}': {str(error).strip().splitlines()[0]}") from error
        check_classifier_config(config, self.path)

    def load(self) -> None:
        """Load the model and tokenizer onto the device, once, in eval mode."""
        import torch
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        from r1.scale import DTYPES

        if self.dtype != "auto" and self.dtype not in DTYPES:
            raise ConfigError(f"reward.dtype '{self.dtype}' is not one of: auto, {', '.join(DTYPES)}")
        device = ("cuda" if torch.cuda.is_available() else "cpu") if self.device == "auto" else self.device
        kwargs = {} if self.dtype == "auto" else {"dtype": DTYPES[self.dtype]}
        try:
            tokenizer = AutoTokenizer.from_pretrained(self.path)
            model = AutoModelForSequenceClassification.from_pretrained(self.path, **kwargs)
        except (OSError, ValueError) as error:
            raise DataError(f"could not load reward model '{self.path}': {str(error).strip().splitlines()[0]}") from error
        if tokenizer.pad_token is None:
            tokenizer.pad_token = tokenizer.eos_token
        # Right padding: the real tokens keep positions 0..n-1 whatever the batch, so a batch
        # scores as its samples one by one; the classifier reads the last token that is not pad.
        tokenizer.padding_side = "right"
        if model.config.pad_token_id is None:
            model.config.pad_token_id = tokenizer.pad_token_id
        self.model, self.tokenizer = model.to(device).eval(), tokenizer

    def __call__(self, completions: list[str], **fields: Any) -> list[float | None]:
        n = len(completions)
        prompts = prompt_column(fields, self.prompt_field, n)
        if not n:
            return []
        if self.model is None:
            self.load()
        texts = conversation_texts(self.tokenizer, prompts, [as_text(c) for c in completions])
        raw = score_texts(self.model, self.tokenizer, texts, batch_size=self.batch_size, max_length=self.max_length)
        return list(normalize_scores(raw, self.normalize, self.mean, self.std))  # list[float] as list[float | None]


def conversation_texts(tokenizer: Any, prompts: Sequence[Any], completions: Sequence[str]) -> list[str]:
    """What a reward model reads: each (prompt, completion) in the tokenizer's chat template, else joined.

    A prompt is a user message, or a list of chat messages that the completion answers.
    Training (``tools/train_reward_model.py``) and scoring both build their texts here, so
    a reward model is scored on the format it learned.
    """
    if not getattr(tokenizer, "chat_template", None):
        return [as_text(p) + c for p, c in zip(prompts, completions)]
    out = []
    for prompt, completion in zip(prompts, completions):
        turns = list(prompt) if isinstance(prompt, list) else [{"role": "user", "content": as_text(prompt)}]
        out.append(tokenizer.apply_chat_template([*turns, {"role": "assistant", "content": completion}], tokenize=False))
    return out


def score_texts(model: Any, tokenizer: Any, texts: Sequence[str], *, batch_size: int, max_length: int) -> list[float]:
    """The classifier's scalar for each text, ``batch_size`` at a time, without gradients.

    The texts carry their special tokens already (the chat template wrote them), so none
    are added. Pass a right-padding tokenizer (:meth:`RewardModelReward.load` sets it), so
    the real tokens keep their positions whatever else is in the batch.
    """
    import torch

    scores: list[float] = []
    device = next(model.parameters()).device
    with torch.inference_mode():
        for start in range(0, len(texts), batch_size):
            batch = tokenizer(
                list(texts[start : start + batch_size]), padding=True, truncation=True,
                max_length=max_length, add_special_tokens=False, return_tensors="pt",
            )  # fmt: skip
            logits = model(input_ids=batch["input_ids"].to(device), attention_mask=batch["attention_mask"].to(device)).logits
            scores.extend(logits[:, 0].float().cpu().tolist())
    return scores


def prompt_column(fields: Mapping[str, Any], key: str, n: int) -> list[Any]:
    """The prompts aligned with the completions; a one-line :class:`DataError` when there are none."""
    prompts = column(fields, key, n)
    if prompts is None:
        raise DataError(f"reward_model needs the '{key}' field (the user message) beside the completions; pass {key}=[...] aligned with them")
    missing = [i for i, p in enumerate(prompts) if p is None]
    if missing:
        raise DataError(f"reward_model: sample {missing[0]} has no '{key}' (the user message); give every sample its prompt")
    return prompts
