"""Length-shaped rewards: ``length`` (Kimi 1.5), ``cosine`` (open-r1) and ``soft_overlong`` (DAPO).

Length is measured in tokens when the trainer passes them — a
``completion_length`` field (ints) or ``completion_ids`` (token id lists) —
else in whitespace-separated words, so the rewards also work outside a
trainer. Pass tokens in training: the limits are meant in tokens.
"""

from __future__ import annotations

import math
from collections.abc import Hashable
from typing import Any

from r1.math import time_budget, verify
from r1.rewards.scoring import column, judge_golds


def completion_lengths(completions: list[str], fields: dict[str, Any]) -> list[int]:
    """Length of each completion: ``completion_length``, else ``len(completion_ids)``, else word count."""
    n = len(completions)
    given = column(fields, "completion_length", n)
    if given is not None:
        return [int(x) for x in given]
    ids = column(fields, "completion_ids", n)
    if ids is not None:
        return [len(x) for x in ids]
    return [len(c.split()) for c in completions]


def correctness(completions: list[str], fields: dict[str, Any], timeout: float | None) -> list[bool | None]:
    """Whether each completion is correct; ``None`` when the sample has no gold ``answer``."""
    return judge_golds(completions, fields, "answer", lambda text, gold: verify(text, gold, timeout=timeout))


def _group_key(prompt: Any) -> Hashable:
    """Prompts may be chat message lists (unhashable); their text identifies the group."""
    return prompt if isinstance(prompt, (str, int, float, tuple)) else repr(prompt)


class LengthReward:
    """Kimi 1.5's length reward: within a group of responses to one prompt, shorter is better.

    ``λ = 0.5 − (len − min) / (max − min)`` over the group; a correct response
    gets ``λ``, a wrong one ``min(0, λ)`` (long wrong answers are penalised,
    short wrong ones are not rewarded). A group whose lengths are all equal
    scores 0. Groups are formed by the ``prompt`` field (the whole batch when
    there is none); samples without a gold answer score ``None``.

    Args:
        timeout: Verifier budget per comparison (``None``: its default).
    """

    name = "length"

    def __init__(self, timeout: float | None = None) -> None:
        time_budget(timeout)  # a bad budget (or R1_MATH_TIMEOUT) is one line now, not at the first comparison
        self.timeout = timeout

    def __call__(self, completions: list[str], **fields: Any) -> list[float | None]:
        n = len(completions)
        lengths = completion_lengths(completions, fields)
        correct = correctness(completions, fields, self.timeout)
        prompts = column(fields, "prompt", n) or [None] * n
        groups: dict[Hashable, list[int]] = {}
        for i, p in enumerate(prompts):
            groups.setdefault(_group_key(p), []).append(i)
        out: list[float | None] = [None] * n
        for members in groups.values():
            scored = [i for i in members if correct[i] is not None]
            if not scored:
                continue
            lo, hi = min(lengths[i] for i in scored), max(lengths[i] for i in scored)
            for i in scored:
                lam = 0.0 if hi == lo else 0.5 - (lengths[i] - lo) / (hi - lo)
                out[i] = lam if correct[i] else min(0.0, lam)
        return out


class CosineReward:
    """open-r1's cosine-scaled reward: correctness scaled by length along a half cosine.

    A correct answer earns ``max_value_correct`` at length 0, falling to
    ``min_value_correct`` at ``max_len``: short correct answers are best. A wrong
    answer gets ``min_value_wrong`` (the harshest) at length 0, rising to
    ``max_value_wrong`` at ``max_len``: if wrong, thinking longer is better.
    Lengths beyond ``max_len`` count as ``max_len``. In between,
    ``r = end + (start − end) · (1 + cos(π · len / max_len)) / 2``.

    Args:
        min_value_wrong: Reward of an empty wrong answer.
        max_value_wrong: Reward of a wrong answer at ``max_len``.
        min_value_correct: Reward of a correct answer at ``max_len``.
        max_value_correct: Reward of an empty correct answer.
        max_len: Length at which the scaling ends.
        timeout: Verifier budget per comparison.
    """

    name = "cosine"

    def __init__(
        self,
        min_value_wrong: float = -1.0,
        max_value_wrong: float = -0.5,
        min_value_correct: float = 0.5,
        max_value_correct: float = 1.0,
        max_len: int = 1000,
        timeout: float | None = None,
    ) -> None:
        if max_len <= 0:
            raise ValueError("max_len must be positive")
        self.min_value_wrong, self.max_value_wrong = float(min_value_wrong), float(max_value_wrong)
        self.min_value_correct, self.max_value_correct = float(min_value_correct), float(max_value_correct)
        self.max_len = int(max_len)
        time_budget(timeout)  # a bad budget (or R1_MATH_TIMEOUT) is one line now, not at the first comparison
        self.timeout = timeout

    def __call__(self, completions: list[str], **fields: Any) -> list[float | None]:
        lengths = completion_lengths(completions, fields)
        correct = correctness(completions, fields, self.timeout)
        return [None if ok is None else self.value(length, ok) for length, ok in zip(lengths, correct)]

    def value(self, length: int, correct: bool) -> float:
        """The reward of one completion of ``length`` that is (or is not) ``correct``."""
        if correct:
            start, end = self.max_value_correct, self.min_value_correct
        else:
            start, end = self.min_value_wrong, self.max_value_wrong
        progress = min(1.0, length / self.max_len)
        return end + (start - end) * (1.0 + math.cos(math.pi * progress)) / 2.0


class SoftOverlongReward:
    """DAPO's soft overlong punishment: a linear penalty as the length nears the limit.

    ``0`` up to ``max_len − cache``; then ``(max_len − cache − len) / cache``,
    falling linearly to ``−1`` at ``max_len``; ``−1`` beyond.

    Args:
        max_len: The generation limit (DAPO's ``L_max``).
        cache: Width of the penalty ramp before the limit (DAPO's ``L_cache``).
    """

    name = "soft_overlong"

    def __init__(self, max_len: int = 1024, cache: int = 256) -> None:
        if not 0 < cache <= max_len:
            raise ValueError("need 0 < cache <= max_len")
        self.max_len, self.cache = int(max_len), int(cache)

    def __call__(self, completions: list[str], **fields: Any) -> list[float | None]:
        return [self.value(length) for length in completion_lengths(completions, fields)]

    def value(self, length: int) -> float:
        """The penalty for one completion of ``length``."""
        start = self.max_len - self.cache
        if length <= start:
            return 0.0
        if length > self.max_len:
            return -1.0
        return (start - length) / self.cache
