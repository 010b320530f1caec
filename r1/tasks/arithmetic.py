"""Multi-digit addition with a worked chain of thought: the default verifiable task.

A problem is two addends of ``d`` digits (the difficulty level). The reference
response writes out each column from the right with its carry-in, then the sum::

    prompt:   47+85
    response: <think>7+5+0=12 4+8+1=13</think><answer>132</answer>

This is small enough for a 2 M-parameter model to learn on a CPU in minutes, yet
every step is checkable and the answer is verified exactly, as R1's rule-based
rewards require.

Train and test are disjoint by construction: a problem's split is decided by a
hash of the problem itself, not by the sampling seed, so no seed can leak a test
problem into training.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Sequence

from r1.protocols import Sample

SPLITS = ("train", "test")


def worked_sum(a: int, b: int) -> str:
    """The column-by-column chain of thought for ``a + b`` (least significant column first)."""
    steps, carry = [], 0
    width = max(len(str(a)), len(str(b)))
    for column in range(width):
        x, y = (a // 10**column) % 10, (b // 10**column) % 10
        total = x + y + carry
        steps.append(f"{x}+{y}+{carry}={total}")
        carry = total // 10
    return " ".join(steps)


def problem_split(a: int, b: int, test_percent: int) -> str:
    """``"test"`` for a fixed ``test_percent`` % of all problems, chosen by hashing the problem."""
    digest = hashlib.sha256(f"{a}+{b}".encode()).digest()
    return "test" if int.from_bytes(digest[:4], "big") % 100 < test_percent else "train"


class ArithmeticTask:
    """Addition problems at one or more difficulty levels (number of digits per addend).

    Args:
        digits: difficulty levels to draw from, uniformly (e.g. ``[2, 3]``).
        test_percent: share of all problems reserved for the held-out split.
        prompt_template: the user message; ``{a}`` and ``{b}`` are the addends.
    """

    name = "arithmetic"

    def __init__(self, digits: Sequence[int] = (2, 3), test_percent: int = 10, prompt_template: str = "{a}+{b}") -> None:
        if not digits or any(int(d) < 1 for d in digits):
            raise ValueError(f"digits must be a non-empty list of positive integers, got {list(digits)}")
        if not 0 < test_percent < 100:
            raise ValueError(f"test_percent must be between 1 and 99, got {test_percent}")
        self.digits = [int(d) for d in digits]
        self.test_percent = int(test_percent)
        self.prompt_template = prompt_template

    def samples(self, split: str, n: int | None, seed: int = 0) -> list[Sample]:
        """``n`` distinct problems of ``split``; the same ``(split, n, seed)`` gives the same list."""
        if split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, got '{split}'")
        if n is None:
            raise ValueError("the arithmetic task makes problems on demand and has no 'all rows'; give a number of prompts")
        capacity = sum(self._approx_split_size(d, split) for d in set(self.digits))
        if n > 0.9 * capacity:
            raise ValueError(f"asked for {n} {split} problems but digits={self.digits} have only about {capacity}; add a level or lower n")
        rng = random.Random(f"arithmetic-{split}-{seed}")
        seen: set[tuple[int, int]] = set()
        out: list[Sample] = []
        while len(out) < n:
            d = rng.choice(self.digits)
            a, b = rng.randrange(10 ** (d - 1), 10**d), rng.randrange(10 ** (d - 1), 10**d)
            if (a, b) in seen or problem_split(a, b, self.test_percent) != split:
                continue
            seen.add((a, b))
            out.append(self.make_sample(a, b, level=d))
        return out

    def make_sample(self, a: int, b: int, level: int) -> Sample:
        answer = str(a + b)
        return {
            "id": f"add-{a}-{b}",
            "prompt": self.prompt_template.format(a=a, b=b),
            "answer": answer,
            "response": f"<think>{worked_sum(a, b)}</think><answer>{answer}</answer>",
            "level": level,
            "task": self.name,
        }

    def check(self, response: str, answer: str) -> bool:
        from r1.math import verify

        return verify(response, answer)

    def _approx_split_size(self, d: int, split: str) -> int:
        share = self.test_percent / 100 if split == "test" else 1 - self.test_percent / 100
        return int((9 * 10 ** (d - 1)) ** 2 * share)
