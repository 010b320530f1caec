"""Memo caches for the verifier, bounded by bytes rather than by entry count alone.

Rewards and benchmarks ask the same question many times (a group of samples
that agree, the same gold answer every epoch), so verdicts are memoised. An
entry-count bound says nothing about memory when the keys are model output:
65,536 entries of megabyte answers are 64 GB. Here a pair of answers longer
than :data:`MAX_KEY_CHARS` is computed and not kept, and each cache holds as
many entries as its byte budget allows when every one of them is that long and
stored at four bytes a character: a bound on memory, whatever the answers.
``functools.lru_cache`` keeps the store, so a lookup stays as fast as before.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

CACHE_BYTES = 64 << 20
"""Memory all of the verifier's caches may hold together (64 MiB): half for the fast stage's
verdicts, a quarter for the symbolic verdicts in the calling process, a quarter for the
sympy worker's."""
FAST_STAGE_BYTES = CACHE_BYTES // 2
SYMBOLIC_STAGE_BYTES = CACHE_BYTES // 4
WORKER_BYTES = CACHE_BYTES // 4
MAX_KEY_CHARS = 256
"""Longest pair of answers (both sides together) that is cached. The benchmark pairs r1
ships are at most 119 characters, and half are under 6."""
ENTRY_OVERHEAD_BYTES = 448
"""What one entry costs beyond its two strings' characters: two string headers, the key
tuple, a float argument, the cache's link and its share of the dict (330 to 360 bytes
measured with ``tracemalloc``, rounded up)."""
CHAR_BYTES = 4
"""The widest a stored character can be (a string with one character beyond U+FFFF)."""

F = TypeVar("F", bound=Callable[..., Any])


def largest_entry_bytes(max_key_chars: int = MAX_KEY_CHARS) -> int:
    """The most memory one cached entry can take when its answers hold ``max_key_chars`` characters."""
    return ENTRY_OVERHEAD_BYTES + CHAR_BYTES * max_key_chars


def verdict_cache(max_bytes: int, max_key_chars: int = MAX_KEY_CHARS) -> Callable[[F], F]:
    """Decorator: memoise ``func(prediction, gold, *rest)`` within ``max_bytes``.

    Pairs whose two answers have more than ``max_key_chars`` characters together
    are computed on every call and never kept. The decorated function offers
    ``cache_clear``, ``cache_info`` and ``__wrapped__`` like
    :func:`functools.lru_cache`, and ``max_bytes``/``maxsize`` for its bound.
    """
    maxsize = max_bytes // largest_entry_bytes(max_key_chars)
    if maxsize < 1:
        raise ValueError(f"a cache of {max_bytes} bytes cannot hold one entry of {max_key_chars} characters")

    def decorate(func: F) -> F:
        cached = functools.lru_cache(maxsize=maxsize)(func)

        @functools.wraps(func)
        def call(prediction: str, gold: str, *rest: Any) -> Any:
            if len(prediction) + len(gold) <= max_key_chars:
                return cached(prediction, gold, *rest)
            return func(prediction, gold, *rest)

        call.cache_clear = cached.cache_clear  # type: ignore[attr-defined]
        call.cache_info = cached.cache_info  # type: ignore[attr-defined]
        call.max_bytes = max_bytes  # type: ignore[attr-defined]
        call.maxsize = maxsize  # type: ignore[attr-defined]
        return call  # type: ignore[return-value]

    return decorate
