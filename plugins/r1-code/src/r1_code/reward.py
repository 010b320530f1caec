"""The ``code`` reward: run the completion's code against the sample's tests.

Why the share of tests rather than all-or-nothing by default: a partly right program then
gets partial credit, so a GRPO group whose members all fail some test still has a learning
signal. ``binary: true`` gives DeepSeek-R1's all-or-nothing reward.
"""

from __future__ import annotations

from typing import Any

from r1_code.judge import SAMPLE_FIELDS, score_responses


class CodeReward:
    """``reward(completions, **fields) -> list[float | None]`` (:class:`r1.protocols.Reward`).

    Fields read (each a list aligned with ``completions``): ``tests`` (statements, one test
    case each, e.g. asserts) with optional ``setup_code``; or ``test`` defining
    ``check(candidate)`` with ``entry_point`` (HumanEval), where each top-level asserting
    statement of ``check`` counts as one case; optional ``preamble`` (code run before the
    candidate). A sample with none of these scores ``None``; a completion without code, 0.
    """

    name = "code"

    def __init__(
        self,
        binary: bool = False,
        timeout_s: float = 5.0,
        memory_mb: int = 1024,
        max_workers: int | None = None,
        max_output_bytes: int = 1 << 20,
    ) -> None:
        """
        Args:
            binary: 1.0 only when every test passes, else 0.0.
            timeout_s: wall-clock limit per completion (all of its tests).
            memory_mb: address-space limit per sandboxed process.
            max_workers: programs run at once (default: the number of CPUs).
            max_output_bytes: stdout/stderr kept per program; more kills it.
        """
        self.binary = binary
        self.sandbox_options = {
            "timeout_s": timeout_s,
            "memory_mb": memory_mb,
            "max_workers": max_workers,
            "max_output_bytes": max_output_bytes,
        }

    def __call__(self, completions: list[str], **fields: Any) -> list[float | None]:
        n = len(completions)
        columns = {k: [None] * n if fields.get(k) is None else list(fields[k]) for k in SAMPLE_FIELDS}
        samples = [{k: columns[k][i] for k in SAMPLE_FIELDS} for i in range(n)]
        return score_responses(completions, samples, binary=self.binary, **self.sandbox_options)
