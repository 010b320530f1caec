"""``degenerate``: drop responses that loop or run away.

Sampling at high temperature, or from a policy mid-RL, produces text that
repeats itself ("so so so so", a step copied fifty times) or never stops. Both
teach the student to loop. A response is degenerate when

* it was cut off at the token budget (``truncated``, set by the sampler) and
  ``drop_truncated`` is on: a runaway, not an answer;
* it is longer than ``max_chars``;
* among its word ``n``-grams, the share that repeat an earlier one exceeds
  ``max_repeat_share`` (only judged once there are ``min_ngrams`` of them, so short
  answers are never called repetitive).
"""

from __future__ import annotations

from r1.errors import ConfigError
from r1.filters.text import ngrams, tokens
from r1.protocols import Sample


def repeat_share(text: str, n: int = 4) -> tuple[float, int]:
    """Share of ``n``-grams that repeat an earlier one, and how many ``n``-grams there are."""
    grams = ngrams(tokens(text), n)
    if not grams:
        return 0.0, 0
    return 1.0 - len(set(grams)) / len(grams), len(grams)


class DegenerateFilter:
    """Keep samples that neither loop nor run away.

    Args:
        n: The n-gram length for repetition.
        max_repeat_share: Largest share of repeated n-grams a kept response may have.
        min_ngrams: Responses with fewer n-grams are not judged for repetition.
        max_chars: Longest response kept, in characters; ``None`` = no limit.
        drop_truncated: Drop responses the sampler cut off at its token budget.
    """

    name = "degenerate"

    def __init__(self, n: int = 4, max_repeat_share: float = 0.5, min_ngrams: int = 20, max_chars: int | None = None, drop_truncated: bool = True) -> None:
        if int(n) < 1:
            raise ConfigError(f"degenerate filter: n must be at least 1, got {n}")
        if not 0.0 <= float(max_repeat_share) <= 1.0:
            raise ConfigError(f"degenerate filter: max_repeat_share must be in [0, 1], got {max_repeat_share}")
        self.n = int(n)
        self.max_repeat_share = float(max_repeat_share)
        self.min_ngrams = int(min_ngrams)
        self.max_chars = None if max_chars is None else int(max_chars)
        self.drop_truncated = bool(drop_truncated)

    def keep(self, sample: Sample) -> bool:
        response = sample["response"]
        if self.drop_truncated and sample.get("truncated"):
            return False
        if self.max_chars is not None and len(response) > self.max_chars:
            return False
        share, count = repeat_share(response, self.n)
        return count < self.min_ngrams or share <= self.max_repeat_share

    def __call__(self, samples: list[Sample]) -> list[bool]:
        return [self.keep(s) for s in samples]
