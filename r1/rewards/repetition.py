"""``repetition_penalty``: punishes repeated n-grams, the loop that RL on small models falls into."""

from __future__ import annotations

from typing import Any


def repeated_share(text: str, ngram_size: int) -> float:
    """``1 − unique/total`` over the word n-grams of ``text`` (lower-cased); 0 when too short."""
    words = text.lower().split()
    ngrams = [tuple(words[i : i + ngram_size]) for i in range(len(words) - ngram_size + 1)]
    if not ngrams:
        return 0.0
    return 1.0 - len(set(ngrams)) / len(ngrams)


class RepetitionPenaltyReward:
    """``max_penalty × (1 − unique n-grams / n-grams)``, a value in ``[max_penalty, 0]``.

    Args:
        ngram_size: Words per n-gram.
        max_penalty: The penalty of a text made of one repeated n-gram; must be ≤ 0.
    """

    name = "repetition_penalty"

    def __init__(self, ngram_size: int = 3, max_penalty: float = -1.0) -> None:
        if max_penalty > 0:
            raise ValueError(f"max_penalty must be <= 0, got {max_penalty}")
        if ngram_size < 1:
            raise ValueError("ngram_size must be at least 1")
        self.ngram_size, self.max_penalty = int(ngram_size), float(max_penalty)

    def __call__(self, completions: list[str], **fields: Any) -> list[float | None]:
        """One penalty per completion; 0.0 for text without repeats (or shorter than one n-gram)."""
        return [self.max_penalty * repeated_share(c, self.ngram_size) + 0.0 for c in completions]  # + 0.0: no -0.0
