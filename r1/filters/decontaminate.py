"""``decontaminate``: drop samples whose problem overlaps a benchmark problem.

Training on a benchmark's problems inflates its score. As open-r1 does, a
sample is contaminated when its prompt shares any word 8-gram with a problem of
the listed benchmarks (lower-cased words; punctuation and spacing ignored). A
prompt shorter than ``n`` words is contaminated only when it equals a benchmark
problem as a whole. Benchmark problems are taken from each benchmark's ``load()``
(its ``problem`` field when present, so the instruction appended to prompts,
shared by every problem, is not counted), built by the plugin registry that builds
the filter: any installed benchmark can be listed, and a blocked one cannot.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from r1.errors import ConfigError
from r1.filters.text import ngrams, words
from r1.protocols import Sample

if TYPE_CHECKING:
    from r1.plugins import Registry

DEFAULT_BENCHMARKS = ("math500", "aime24", "amc23", "gsm8k")


@lru_cache(maxsize=8)
def _index(registry: Registry, benchmarks_json: str, n: int) -> tuple[frozenset[tuple[str, ...]], frozenset[tuple[str, ...]]]:
    """(n-grams of every benchmark problem, whole problems shorter than n words)."""
    grams: set[tuple[str, ...]] = set()
    short: set[tuple[str, ...]] = set()
    for spec in json.loads(benchmarks_json):
        for sample in registry.build("benchmark", spec).load():
            problem = words(str(sample.get("problem") or sample["prompt"]))
            found = ngrams(problem, n)
            grams.update(found)
            if not found and problem:
                short.add(tuple(problem))
    return frozenset(grams), frozenset(short)


def benchmark_ngrams(registry: Registry, benchmarks: Sequence[str | Mapping[str, Any]], n: int) -> tuple[frozenset, frozenset]:
    """The index a :class:`DecontaminateFilter` checks against (cached per registry and benchmark list)."""
    return _index(registry, json.dumps(list(benchmarks), sort_keys=True), int(n))


class DecontaminateFilter:
    """Keep samples whose ``field`` shares no word ``n``-gram with the benchmarks' problems.

    Args:
        benchmarks: Benchmark names (or config nodes with ``name`` and options).
        n: The n-gram length (8, as open-r1).
        field: The sample field checked, normally the ``prompt``.
        registry: The plugin registry that builds the benchmarks (r1's registry passes
            itself when it builds this filter).
    """

    name = "decontaminate"

    def __init__(self, benchmarks: Sequence[str | Mapping[str, Any]] = DEFAULT_BENCHMARKS, n: int = 8, field: str = "prompt", *, registry: Registry) -> None:
        if int(n) < 1:
            raise ConfigError(f"decontaminate filter: n must be at least 1, got {n}")
        self.benchmarks = list(benchmarks)
        self.n = int(n)
        self.field = field
        self.registry = registry

    def contaminated(self, text: str) -> bool:
        """Whether ``text`` overlaps a benchmark problem."""
        grams, short = benchmark_ngrams(self.registry, self.benchmarks, self.n)
        tokens = words(text)
        found = ngrams(tokens, self.n)
        if not found:
            return tuple(tokens) in short
        return any(gram in grams for gram in found)

    def __call__(self, samples: list[Sample]) -> list[bool]:
        return [not self.contaminated(str(s.get(self.field, ""))) for s in samples]
