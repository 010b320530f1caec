"""Measure the answer verifier on the benchmark data shipped with r1; print one JSON line.

Usage::

    python tools/bench_verifier.py            # all suites
    python tools/bench_verifier.py --timeout 2

Suites (see :mod:`r1.math.agreement`):
    math500      boxed answer of each reference solution vs the gold answer
    gsm8k        each solution's ``#### N`` and 6 spellings of N vs N
    rewrites     MATH-500 answers rewritten into equivalent forms (must match)
    near_misses  MATH-500 off-by-one, swapped interval ends, other fractions (must not match)
    gsm8k_wrong  GSM8K answers off by one (must not match)

Agreement is the share of pairs judged as expected. Caches are cleared and a
fresh sympy worker is started (and timed separately) before measuring, so
``calls_per_s`` is the cold rate of ``is_equivalent`` over all pairs.
``pathological_ms`` is the slowest ``verify`` of a few hostile responses (runs
of unclosed boxes and tags), which run in the caller's thread with no time budget.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from r1.math import equivalence, extract_answer, is_equivalent, shutdown_worker, verify, warm_up  # noqa: E402
from r1.math.agreement import gsm8k_pairs, gsm8k_wrong_pairs, load_jsonl, math500_rewrites  # noqa: E402


def suites() -> dict[str, tuple[list[tuple[str, str]], bool]]:
    """``{suite: (pairs, expected verdict)}``."""
    math500 = [(extract_answer(r["solution"]) or "", r["answer"]) for r in load_jsonl("math500")]
    must_pass, must_fail = math500_rewrites()
    return {
        "math500": (math500, True),
        "gsm8k": (gsm8k_pairs(), True),
        "rewrites": (must_pass, True),
        "near_misses": (must_fail, False),
        "gsm8k_wrong": (gsm8k_wrong_pairs(), False),
    }


def symbolic_rate(cases: dict[str, tuple[list[tuple[str, str]], bool]], timeout: float | None) -> dict[str, object]:
    """Calls/s of the pairs only the sympy worker can decide, re-run cold (fresh worker, empty caches)."""
    final = equivalence._final_answer
    pairs = [
        (p, g)
        for suite, _ in cases.values()
        for p, g in suite
        if (a := final(p)) is not None and (b := final(g)) is not None and equivalence._fast_stage(a, b) is None
    ]
    shutdown_worker()
    equivalence._symbolic_stage.cache_clear()
    warm_up()
    start = time.perf_counter()
    for p, g in pairs:
        is_equivalent(p, g, timeout=timeout)
    elapsed = time.perf_counter() - start
    return {"symbolic_pairs": len(pairs), "symbolic_calls_per_s": round(len(pairs) / elapsed, 1) if pairs else None}


PATHOLOGICAL = {
    "unclosed_boxes": "\\boxed{1" * 4_000,
    "unclosed_tags": "<answer>" * 8_000,
    "unclosed_boxes_in_nested_tags": "<answer>\\boxed{1" * 6_000 + "</answer>",
    "open_braces": "\\boxed{" * 50_000,
}
"""Responses whose answer search was quadratic (4.3 s, 2.2 s, 33 s, over 300 s)."""


def pathological_ms() -> float:
    """Milliseconds of the slowest ``verify`` over :data:`PATHOLOGICAL`."""
    slowest = 0.0
    for response in PATHOLOGICAL.values():
        start = time.perf_counter()
        verify(response, "1")
        slowest = max(slowest, time.perf_counter() - start)
    return round(1000 * slowest, 2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--timeout", type=float, default=None, help="symbolic budget per call (default: verifier's)")
    parser.add_argument("--show-failures", action="store_true", help="print failing pairs to stderr")
    args = parser.parse_args()

    cases = suites()
    shutdown_worker()
    equivalence._fast_stage.cache_clear()
    equivalence._symbolic_stage.cache_clear()
    start = time.perf_counter()
    warm_up()
    startup_s = time.perf_counter() - start

    report: dict[str, object] = {}
    calls, seconds = 0, 0.0
    for name, (pairs, expected) in cases.items():
        start = time.perf_counter()
        failures = [(p, g) for p, g in pairs if is_equivalent(p, g, timeout=args.timeout) is not expected]
        elapsed = time.perf_counter() - start
        calls, seconds = calls + len(pairs), seconds + elapsed
        report[f"{name}_agreement_pct"] = round(100.0 * (1 - len(failures) / len(pairs)), 3)
        report[f"{name}_pairs"] = len(pairs)
        report[f"{name}_failures"] = len(failures)
        if args.show_failures:
            for p, g in failures:
                print(f"{name}: {p!r} vs {g!r}", file=sys.stderr)
    report.update(calls=calls, seconds=round(seconds, 3), calls_per_s=round(calls / seconds, 1))
    report.update(symbolic_rate(cases, args.timeout))
    report["pathological_ms"] = pathological_ms()
    report["worker_startup_s"] = round(startup_s, 3)
    print(json.dumps(report))


if __name__ == "__main__":
    main()
