"""The contracts between r1's core and its plugins, as ``typing.Protocol`` classes.

Nothing here is a base class to inherit from: any object with these methods
works (DESIGN principle 8). Sample fields are plain ``dict``s so that datasets,
JSONL files and generated tasks all flow through the same code.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

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

    def samples(self, split: str, n: int, seed: int = 0) -> list[Sample]:
        """``n`` samples of ``split`` (``"train"`` or ``"test"``), the same for the same seed.

        Each sample has ``id``, ``prompt``, ``answer`` and a reference ``response``
        in the ``<think>…</think><answer>…</answer>`` template.
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


@runtime_checkable
class Sampler(Protocol):
    """Generates completions for prompts with a policy; GRPO, rejection sampling and eval share it."""

    def generate(self, model: Any, tokenizer: Any, prompts: list[str], **options: Any) -> Any: ...

    def update_weights(self, model: Any) -> None:
        """Called after each policy update, so an out-of-process engine (vLLM) can reload weights."""
        ...
