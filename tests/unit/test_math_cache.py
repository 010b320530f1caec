"""The verifier's memo caches stay within a byte budget, whatever the size of the answers they see."""

from __future__ import annotations

import gc
import tracemalloc

import pytest

from r1.math import equivalence, is_equivalent
from r1.math.cache import (
    CACHE_BYTES,
    FAST_STAGE_BYTES,
    MAX_KEY_CHARS,
    SYMBOLIC_STAGE_BYTES,
    WORKER_BYTES,
    largest_entry_bytes,
    verdict_cache,
)


def _held_bytes_after(flood) -> int:
    """Memory still allocated after ``flood()`` returns (its own temporaries freed)."""
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        flood()
        gc.collect()
        return tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("budget", [1 << 18, 1 << 20, 3 << 20])
def test_a_flood_of_the_largest_cached_keys_stays_within_the_budget(budget):
    """Every key as long as is cached, in four-byte characters: the worst case the bound is sized for."""

    @verdict_cache(budget)
    def same(prediction: str, gold: str, timeout: float) -> bool:
        return prediction == gold

    half = MAX_KEY_CHARS // 2

    def flood() -> None:
        for i in range(3 * same.maxsize):
            tag = str(i)
            same(("\U0001f600" * half + tag)[-half:], ("\U0001f601" * half + tag)[-half:], float(i))

    held = _held_bytes_after(flood)
    assert same.cache_info().currsize == same.maxsize  # full, so the measure is the worst case
    assert held <= budget
    assert held >= 0.6 * budget  # and the bound is not so loose that the cache is needlessly small


def test_longer_pairs_are_computed_every_time_and_not_kept():
    calls: list[str] = []

    @verdict_cache(1 << 20)
    def upper(prediction: str, gold: str) -> str:
        calls.append(prediction)
        return prediction.upper()

    huge = "y" * (MAX_KEY_CHARS + 1)
    assert upper(huge, "") == huge.upper() and upper(huge, "") == huge.upper()
    assert len(calls) == 2 and upper.cache_info().currsize == 0
    assert upper("a" * (MAX_KEY_CHARS - 1), "b") == "A" * (MAX_KEY_CHARS - 1)
    assert upper("a" * (MAX_KEY_CHARS - 1), "b") == "A" * (MAX_KEY_CHARS - 1)
    assert len(calls) == 3 and upper.cache_info().currsize == 1


def test_exceptions_are_not_cached():
    calls: list[str] = []

    @verdict_cache(1 << 20)
    def flaky(prediction: str, gold: str) -> str:
        calls.append(prediction)
        if len(calls) == 1:
            raise TimeoutError
        return prediction

    with pytest.raises(TimeoutError):
        flaky("q", "g")
    assert flaky("q", "g") == "q" and flaky("q", "g") == "q"
    assert calls == ["q", "q"]


def test_a_budget_too_small_for_one_entry_is_refused():
    with pytest.raises(ValueError):
        verdict_cache(largest_entry_bytes() - 1)


def test_the_verifier_caches_share_one_budget():
    from r1.math.symbolic import answers_equivalent  # the sympy worker's cache

    caches = (equivalence._fast_stage, equivalence._symbolic_stage, answers_equivalent)
    assert [c.max_bytes for c in caches] == [FAST_STAGE_BYTES, SYMBOLIC_STAGE_BYTES, WORKER_BYTES]
    assert sum(c.maxsize * largest_entry_bytes() for c in caches) <= CACHE_BYTES
    assert all(c.cache_info().maxsize == c.maxsize for c in caches)


def test_a_flood_of_huge_distinct_answers_does_not_grow_the_verifier_caches():
    """Before, 65,536 entries of any length were kept: at a megabyte each, 64 GB."""

    def flood() -> None:
        for i in range(50):
            assert is_equivalent(f"{i}" + "7" * 1_000_000, "7") is False
            assert is_equivalent("\\frac{1}{2}" + " " * 3_000 + f"x{i}", "y") is False
            assert is_equivalent("\\frac{1}{2}" + " " * MAX_KEY_CHARS + f"x{i}", "y") is False

    assert _held_bytes_after(flood) < 1 << 20
