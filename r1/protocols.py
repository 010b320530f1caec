"""The contracts between r1's core and its plugins, as ``typing.Protocol`` classes.

Nothing here is a base class to inherit from: any object with these methods
works (``docs/DESIGN.md``, principle 8). Sample fields are plain ``dict``s so that
datasets, JSONL files and generated tasks all flow through the same code. The one
concrete class, :class:`Rollout`, is a plain record of what a sampler returns.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, fields, replace
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:  # tensors only in annotations: importing the contracts does not import torch
    import torch

Sample = dict[str, Any]
"""One example. Keys used across r1: ``prompt`` (the user message, without chat
template), ``answer`` (the gold final answer, a string), ``response`` (a reference
or generated response), ``id`` (a stable identifier)."""


@runtime_checkable
class Reward(Protocol):
    """A batch reward: ``reward(completions, **fields) -> list[float | None]``.

    ``fields`` hold one list per sample column, aligned with ``completions``.
    ``None`` marks a completion the reward does not apply to.
    """

    def __call__(self, completions: list[str], **fields: list[Any]) -> list[float | None]: ...


@runtime_checkable
class Task(Protocol):
    """A source of verifiable problems for training and held-out evaluation."""

    name: str

    def samples(self, split: str, n: int | None, seed: int = 0) -> Sequence[Sample]:
        """``n`` samples of ``split`` (``"train"`` or ``"test"``), the same for the same seed.

        Each sample has ``id``, ``prompt`` and ``answer``; a generated task also gives a
        reference ``response`` in the ``<think>…</think><answer>…</answer>`` template. A task
        read from a dataset may return a lazy sequence (rows read when indexed), accept
        ``n=None`` for all its rows, and give ``answer: None`` (or ``prompt: None``) for rows
        that lack one: callers skip and count those. A task that cannot give ``n`` raises
        ``ValueError`` with the reason.
        """
        ...

    def check(self, response: str, answer: str) -> bool:
        """Whether ``response``'s final answer is correct for gold ``answer``."""
        ...


@runtime_checkable
class Filter(Protocol):
    """A rejection-sampling filter over a batch of samples (``prompt``, ``response``, ``answer``)."""

    name: str

    def __call__(self, samples: list[Sample]) -> list[bool]: ...


@runtime_checkable
class Benchmark(Protocol):
    """An evaluation suite: problems with gold answers and a scorer.

    Optional members the eval phase uses when present: ``title`` (name in the results
    table), ``extract(response) -> str | None`` and ``same_answer(a, b) -> bool`` (maj@k),
    ``follows_format(response) -> bool`` (format rate). Benchmark config keys ``k``,
    ``limit`` and ``max_new_tokens`` are applied by the eval phase, never passed to the factory.
    """

    name: str
    default_k: int

    def load(self) -> list[Sample]:
        """The problems, each with ``id``, ``prompt`` (user message) and ``answer``."""
        ...

    def score(self, responses: list[str], samples: list[Sample]) -> list[float]:
        """Correctness in [0, 1] of each response for the aligned sample."""
        ...


@dataclass
class Rollout:
    """What a :class:`Sampler` returns: completions for a batch of prompts, ``num_samples`` per prompt.

    Rows are grouped by prompt: row ``i * num_samples + j`` is sample ``j`` of prompt ``i``
    (GRPO's advantages rely on it). Completion tensors are right-padded; the mask covers
    every generated token up to and including the stop token (EOS or a stop string's
    last token), so it is exactly what a loss should see. Tensors live on the model's
    device and must be usable by autograd (not inference-mode tensors: see
    :meth:`detached_copy`).

    Every field is read by some caller: GRPO scores ``prompt_ids``/``prompt_mask`` +
    ``completion_ids``/``completion_mask`` under the policy and reference, rewards
    ``texts``, masks ``truncated`` rows when asked, and groups rows by ``num_samples``;
    evaluation and rejection sampling read ``texts``, ``completion_lengths`` and
    ``truncated``. ``stats`` is free-form: a caller logs the keys it knows
    (``tokens_per_s``, ``generate_s``, ``generated_tokens``) only when present.
    """

    prompt_ids: torch.Tensor
    """``(N, P)`` prompt token ids, left-padded; ``N = prompts * num_samples`` (each prompt repeated per sample)."""
    prompt_mask: torch.Tensor
    """``(N, P)`` 1 on prompt tokens, 0 on left padding."""
    completion_ids: torch.Tensor
    """``(N, C)`` generated token ids, right-padded with the tokenizer's pad id."""
    completion_mask: torch.Tensor
    """``(N, C)`` 1 on generated tokens up to and including the stop token, 0 after."""
    texts: list[str]
    """The ``N`` decoded completions (special tokens dropped, template tags such as ``<think>`` kept)."""
    truncated: torch.Tensor
    """``(N,)`` bool: the completion hit ``max_new_tokens`` without stopping."""
    num_samples: int
    """Completions per prompt (the ``num_samples`` the caller asked for)."""
    logprobs: torch.Tensor | None = None
    """``(N, C)`` the sampler's log-prob of each sampled token (0 on padding), or None unless ``return_logprobs`` was asked."""
    stats: dict[str, float] = field(default_factory=dict)
    """Timing and throughput, e.g. ``generate_s``, ``generated_tokens``, ``tokens_per_s``; every key is optional."""

    @property
    def completion_lengths(self) -> torch.Tensor:
        """``(N,)`` generated tokens per completion (the mask's row sums)."""
        return self.completion_mask.sum(dim=1)

    def detached_copy(self) -> Rollout:
        """The same rollout with fresh tensors, usable by autograd even if sampled under ``torch.inference_mode``."""
        import torch

        tensors = {f.name: getattr(self, f.name).clone() for f in fields(self) if isinstance(getattr(self, f.name), torch.Tensor)}
        return replace(self, **tensors)


@runtime_checkable
class Sampler(Protocol):
    """Generates completions for prompts with a policy; GRPO, rejection sampling and eval share it."""

    def generate(
        self,
        model: Any,
        tokenizer: Any,
        prompts: Sequence[str],
        *,
        num_samples: int,
        max_new_tokens: int,
        temperature: float,
        top_p: float = ...,
        seed: int | None = ...,
        return_logprobs: bool = ...,
    ) -> Rollout:
        """``num_samples`` completions of each prompt, as a :class:`Rollout` grouped by prompt.

        Args:
            model: the policy as it is now (a transformers causal LM; under FSDP its full
                weights are gathered for the call). Generation must not change its
                train/eval mode or its weights.
            tokenizer: the policy's tokenizer.
            prompts: prompt texts, already chat-templated (``r1.data.chat.format_prompt``:
                the tokenizer's chat template with the generation prompt, so a prompt
                ends where the assistant's response begins). Encode them without adding
                special tokens again.
            num_samples: completions per prompt.
            max_new_tokens: the cap on each completion's length.
            temperature: sampling temperature; ``0.0`` means greedy.
            top_p: nucleus sampling mass; callers that omit it mean ``1.0`` (no cut).
            seed: makes the draw repeatable; callers that omit it mean unseeded.
            return_logprobs: also fill :attr:`Rollout.logprobs`; callers that omit it mean no.

        Stop at EOS and at the sampler's own stop strings (``</answer>`` for r1's samplers).
        """
        ...

    def update_weights(self, model: Any) -> None:
        """Called after each policy update, so an out-of-process engine (vLLM) can reload weights."""
        ...


@runtime_checkable
class AdvantageEstimator(Protocol):
    """Turns a batch's rewards into per-completion advantages (``phase.advantage``).

    A pure function of the rewards: ``rewards[i * G + j]`` is response ``j`` of prompt ``i``.
    """

    min_group_size: int
    """The smallest group size the estimator is defined for; GRPO refuses a smaller ``phase.group_size``."""

    def __call__(self, rewards: torch.Tensor, group_size: int) -> torch.Tensor:
        """``(N,)`` advantages from ``(N,)`` rewards grouped by prompt, ``N = prompts * group_size``."""
        ...


@runtime_checkable
class PolicyLoss(Protocol):
    """The per-token policy-gradient loss (``phase.policy_loss``), before the KL term and aggregation."""

    def __call__(
        self, logprobs: torch.Tensor, old_logprobs: torch.Tensor, advantages: torch.Tensor, mask: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``(per_token_loss, clipped)``, both ``(B, T)``.

        ``logprobs`` (with gradient) and ``old_logprobs`` (the policy that sampled) are
        ``(B, T)`` over completion tokens, ``advantages`` is ``(B,)``, ``mask`` ``(B, T)``
        marks the tokens that count. ``clipped`` is a bool of tokens whose clip was active
        (the ``train/clip_fraction`` metric).
        """
        ...


@runtime_checkable
class KLEstimator(Protocol):
    """A per-token estimate of KL(policy ‖ reference) from samples of the policy (``phase.kl_estimator``)."""

    def __call__(self, logprobs: torch.Tensor, ref_logprobs: torch.Tensor) -> torch.Tensor:
        """``(B, T)`` from the policy's and the reference's ``(B, T)`` log-probs of the sampled tokens."""
        ...


@runtime_checkable
class LossAggregation(Protocol):
    """Reduces a per-token loss to the scalar that is minimised (``phase.aggregation``)."""

    def __call__(self, per_token: torch.Tensor, mask: torch.Tensor, max_length: int) -> torch.Tensor:
        """A scalar from ``(B, T)`` ``per_token`` over the tokens ``mask`` marks; ``max_length`` is the completion cap."""
        ...
