"""Text helpers the filters share: word tokens, n-grams, and grouping samples by prompt."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

_TOKEN = re.compile(r"\w+|[^\w\s]")
_WORD = re.compile(r"\w+")


def tokens(text: str) -> list[str]:
    """Lower-cased words and single punctuation marks (``7+5=12`` -> ``7 + 5 = 12``)."""
    return _TOKEN.findall(text.lower())


def words(text: str) -> list[str]:
    """Lower-cased words only: punctuation and spacing differences do not matter."""
    return _WORD.findall(text.lower())


def ngrams(items: Sequence[str], n: int) -> list[tuple[str, ...]]:
    """The ``n``-grams of ``items`` in order (none when there are fewer than ``n`` items)."""
    return [tuple(items[i : i + n]) for i in range(len(items) - n + 1)]


def shingles(items: Sequence[str], n: int) -> set[tuple[str, ...]]:
    """The set of ``n``-grams, or the whole sequence as one shingle when it is shorter than ``n``."""
    grams = ngrams(items, n)
    return set(grams) if grams else ({tuple(items)} if items else set())


def jaccard(a: set[Any], b: set[Any]) -> float:
    """``|a & b| / |a | b|``; two empty sets are identical (1.0)."""
    if not a and not b:
        return 1.0
    return len(a & b) / len(a | b)


def group_key(sample: dict[str, Any]) -> str:
    """Which prompt a sample answers: its ``id``, else its ``prompt`` text."""
    key = sample.get("id")
    return str(key) if key is not None else str(sample.get("prompt", ""))
