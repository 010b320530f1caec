"""``dedup``: drop near-duplicate responses to the same prompt.

Many samples of one prompt are often the same text; keeping them all weights
that prompt's one solution k times in the distillation data. Two responses are
near-duplicates when the Jaccard similarity of their word ``n``-gram sets
reaches ``threshold``; the first one (in sample order) is kept. Samples are
grouped by their ``id`` (else their ``prompt``), so a batch may mix prompts.
"""

from __future__ import annotations

from r1.errors import ConfigError
from r1.filters.text import group_key, jaccard, shingles, tokens
from r1.protocols import Sample


class DedupFilter:
    """Keep the first of each group of near-duplicate responses within a prompt.

    Args:
        threshold: Jaccard similarity at which two responses are duplicates
            (1.0 = only identical n-gram sets).
        n: The n-gram length.
    """

    name = "dedup"

    def __init__(self, threshold: float = 0.9, n: int = 3) -> None:
        if not 0.0 < float(threshold) <= 1.0:
            raise ConfigError(f"dedup filter: threshold must be in (0, 1], got {threshold}")
        self.threshold = float(threshold)
        self.n = int(n)

    def __call__(self, samples: list[Sample]) -> list[bool]:
        kept_by_group: dict[str, list[set]] = {}
        keep = []
        for sample in samples:
            grams = shingles(tokens(sample["response"]), self.n)
            kept = kept_by_group.setdefault(group_key(sample), [])
            duplicate = any(jaccard(grams, other) >= self.threshold for other in kept)
            if not duplicate:
                kept.append(grams)
            keep.append(not duplicate)
        return keep
