"""Measure the answer verifier on the benchmark data shipped with r1 and on a labelled corpus.

Usage::

    python tools/bench_verifier.py                         # all suites, then the corpus
    python tools/bench_verifier.py --timeout 2
    python tools/bench_verifier.py --corpus-only --table   # what tools/verifier_compare.sh runs

Prints one JSON line (with ``--table``, a per-kind table before it).

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

The corpus (``tests/data/verifier_corpus.jsonl``, see ``tests/data/README.md``)
holds real-world (gold, model output, verdict) triples by kind: free-text answers,
multi-part answers, labelled answers, inequalities, matrices, number formats and
"find all" sets. r1 reads each output with ``extraction="any"``, and is scored
against the strict verdicts (and, for the sets, also with ``lenient=True`` against
the lenient ones). When ``math_verify`` is importable it is scored beside r1 on the
same pairs, the way its users call it: ``verify(parse(gold), parse(output))``, with
a bare gold answer wrapped in ``\\boxed{}`` (otherwise ``parse`` reads only the last
number of ``6 and 8``) and a GSM8K solution reduced to its ``####`` number. Both
are timed after one warm-up comparison each (:data:`WARM_UP_PAIR`), r1 with empty
caches and a fresh worker (started outside the timing), over ``--repeats`` passes;
``pairs_per_s`` counts parsing and extraction.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
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


CORPUS = Path(__file__).resolve().parents[1] / "tests" / "data" / "verifier_corpus.jsonl"


def load_corpus(path: Path = CORPUS) -> list[dict]:
    """The labelled real-world triples: ``kind``, ``gold``, ``prediction``, ``verdict`` (and ``lenient``)."""
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


WARM_UP_PAIR = ("\\sqrt{2}+\\sqrt{3}", "\\sqrt{5+2\\sqrt{6}}")  # decided by a numeric probe
"""One comparison run before timing, so that neither verifier's one-off set-up (sympy's lazy
imports in r1's fresh worker, math-verify's grammar) is counted; it is in no corpus kind."""


def cold_r1() -> None:
    """Empty every cache and start a fresh worker (its start-up and set-up are not timed)."""
    shutdown_worker()
    warm_up()
    is_equivalent(*WARM_UP_PAIR)
    equivalence._fast_stage.cache_clear()
    equivalence._symbolic_stage.cache_clear()


def r1_judge(record: dict, lenient: bool, timeout: float | None) -> bool:
    return verify(record["prediction"], record["gold"], extraction="any", lenient=lenient, timeout=timeout)


def math_verify_judge() -> Callable[[dict, bool, float | None], bool] | None:
    """math-verify's verdict on a record, or ``None`` when it is not installed (it has no lenient switch)."""
    try:
        from math_verify import parse
        from math_verify import verify as mv_verify
    except ImportError:
        return None
    mv_verify(parse(WARM_UP_PAIR[1]), parse(WARM_UP_PAIR[0]))

    def judge(record: dict, lenient: bool, timeout: float | None) -> bool:
        gold = record["gold"]
        if "####" in gold:
            gold = gold.split("####")[-1].strip()
        elif "\\boxed" not in gold:
            gold = f"\\boxed{{{gold}}}"
        try:
            return bool(mv_verify(parse(gold), parse(record["prediction"])))
        except Exception:  # counted as not equivalent, as r1 counts its own failures
            return False

    return judge


def score_corpus(
    records: list[dict],
    judge: Callable[[dict, bool, float | None], bool],
    timeout: float | None,
    repeats: int,
    before_pass: Callable[[], None],
    show: str | None,
) -> dict[str, dict[str, float]]:
    """``{kind: {"pairs", "correct_pct", "pairs_per_s"}}`` plus ``all`` and ``strict_sets (lenient)``.

    Each pass runs every record once after ``before_pass()``; the verdicts of the
    first pass are scored, the times of all passes summed.
    """
    kinds = sorted({r["kind"] for r in records})
    rows = {kind: [r for r in records if r["kind"] == kind] for kind in kinds}
    lenient_rows = [r for r in records if "lenient" in r]
    seconds = dict.fromkeys([*kinds, "lenient"], 0.0)
    correct: dict[str, int] = {}
    for repeat in range(repeats):
        before_pass()
        for name, group, lenient in [*((k, rows[k], False) for k in kinds), ("lenient", lenient_rows, True)]:
            start = time.perf_counter()
            verdicts = [judge(r, lenient, timeout) for r in group]
            seconds[name] += time.perf_counter() - start
            if repeat == 0:
                expected = [r["lenient" if lenient else "verdict"] for r in group]
                correct[name] = sum(v == e for v, e in zip(verdicts, expected))
                if show:
                    for r, v, e in zip(group, verdicts, expected):
                        if v != e:
                            print(f"{show} {name}: {v} for {r['prediction']!r} vs gold {r['gold']!r}", file=sys.stderr)
    table: dict[str, dict[str, float]] = {}
    for name in [*kinds, "lenient"]:
        n = len(rows.get(name, lenient_rows))
        table["strict_sets (lenient)" if name == "lenient" else name] = {
            "pairs": n,
            "correct_pct": round(100.0 * correct[name] / n, 1),
            "pairs_per_s": round(repeats * n / seconds[name], 1),
        }
    n_all = len(records)
    time_all = sum(seconds[k] for k in kinds)
    table["all"] = {
        "pairs": n_all,
        "correct_pct": round(100.0 * sum(correct[k] for k in kinds) / n_all, 1),
        "pairs_per_s": round(repeats * n_all / time_all, 1),
    }
    return table


def corpus_report(timeout: float | None, repeats: int, show_failures: bool, print_table: bool) -> dict[str, object]:
    """r1 (and math-verify when importable) on the corpus, flattened for the JSON line."""
    records = load_corpus()
    tables = {"r1": score_corpus(records, r1_judge, timeout, repeats, cold_r1, "r1" if show_failures else None)}
    mv = math_verify_judge()
    if mv is not None:
        tables["math_verify"] = score_corpus(records, mv, timeout, repeats, lambda: None, "math_verify" if show_failures else None)
    if print_table:
        print(markdown_table(tables))
    report: dict[str, object] = {}
    for who, table in tables.items():
        for kind, row in table.items():
            for key, value in row.items():
                if key != "pairs" or who == "r1":
                    report[f"corpus/{kind}/{key}" if key == "pairs" else f"corpus/{kind}/{who}_{key}"] = value
    if "math_verify" in tables:
        report["corpus/speedup"] = round(tables["r1"]["all"]["pairs_per_s"] / tables["math_verify"]["all"]["pairs_per_s"], 1)
        report["math_verify_version"] = _version("math-verify")
    return report


def markdown_table(tables: dict[str, dict[str, dict[str, float]]]) -> str:
    """One row per kind: pairs, then each verifier's share judged as labelled and its pairs/s."""
    who = list(tables)
    head = "| kind | pairs | " + " | ".join(f"{w} correct % | {w} pairs/s" for w in who) + " |"
    lines = [head, "|" + " --- |" * (2 + 2 * len(who))]
    for kind, row in tables["r1"].items():
        cells = [f"{tables[w][kind]['correct_pct']:.1f} | {tables[w][kind]['pairs_per_s']:.0f}" for w in who]
        lines.append(f"| {kind} | {row['pairs']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _version(distribution: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(distribution)
    except PackageNotFoundError:
        return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--timeout", type=float, default=None, help="symbolic budget per call (default: verifier's)")
    parser.add_argument("--show-failures", action="store_true", help="print failing pairs to stderr")
    parser.add_argument("--corpus-only", action="store_true", help="only the labelled real-world corpus")
    parser.add_argument("--table", action="store_true", help="print the corpus table (markdown) before the JSON line")
    parser.add_argument("--repeats", type=int, default=3, help="timed passes over the corpus (default 3)")
    args = parser.parse_args()
    if args.corpus_only:
        print(json.dumps(corpus_report(args.timeout, args.repeats, args.show_failures, args.table)))
        return

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
    report.update(corpus_report(args.timeout, args.repeats, args.show_failures, args.table))
    print(json.dumps(report))


if __name__ == "__main__":
    main()
