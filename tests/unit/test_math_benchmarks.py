"""The verifier on real benchmark data (r1/benchmarks/data), with the agreement rates it must reach."""

from __future__ import annotations

import pytest

from r1.benchmarks.dataset import DatasetBenchmark
from r1.benchmarks.math import gsm8k
from r1.math import extract_answer, is_equivalent, warm_up
from r1.math.agreement import gsm8k_pairs, gsm8k_wrong_pairs, load_jsonl, math500_rewrites
from r1.paths import data_dir


@pytest.fixture(scope="module", autouse=True)
def worker():
    warm_up()
    yield


def _failures(pairs, expected: bool) -> list[tuple[str, str]]:
    return [(p, g) for p, g in pairs if is_equivalent(p, g) is not expected]


def test_math500_boxed_solution_agrees_with_answer():
    records = load_jsonl("math500")
    assert len(records) == 500
    boxed = [extract_answer(r["solution"]) for r in records]
    assert all(b is not None for b in boxed), "every MATH-500 solution ends with a \\boxed{}"
    failures = [(b, r["answer"]) for b, r in zip(boxed, records) if not is_equivalent(b, r["answer"])]
    assert len(failures) <= 5, failures  # >= 99 %
    assert not failures, failures  # and in fact 100 %


def test_dataset_gold_from_math500_solutions_agrees_with_its_answers():
    """``benchmark=dataset`` with only a solution column (MATH, NuminaMath) reads the gold the answer column states."""
    path = str(data_dir() / "math500" / "test.jsonl")
    from_solutions = DatasetBenchmark(path, "test", None, "problem", None, "solution", "unique_id").load()
    records = {r["unique_id"]: r["answer"] for r in load_jsonl("math500")}
    assert len(from_solutions) == len(records) == 500
    failures = [(s["answer"], records[s["id"]]) for s in from_solutions if not is_equivalent(s["answer"], records[s["id"]])]
    assert not failures, failures


def test_dataset_gold_from_gsm8k_worked_answers_matches_the_suite():
    path = str(data_dir() / "gsm8k" / "test.jsonl")
    from_dataset = DatasetBenchmark(path, "test", None, "question", "answer", None, None).load()
    assert [s["answer"] for s in from_dataset] == [s["answer"] for s in gsm8k().load()]


def test_math500_rewritten_answers_still_match():
    must_pass, _ = math500_rewrites()
    assert len(must_pass) > 2000
    kinds = {
        "decimal": any("." in p and "\\frac" in g for p, g in must_pass),
        "unit": any("\\text{ cm}" in p for p, _ in must_pass),
        "x=": any(p.startswith("x = ") for p, _ in must_pass),
        "dfrac": any("\\dfrac" in p for p, _ in must_pass),
        "reordered set": any(p == "1, -2" or p == "-2, 1" for p, _ in must_pass),
    }
    assert all(kinds.values()), kinds
    failures = _failures(must_pass, True)
    assert not failures, failures[:20]


def test_math500_near_misses_are_rejected():
    _, must_fail = math500_rewrites()
    assert len(must_fail) > 1000
    assert any(p == "(4, 3]" and g == "(3,4]" for p, g in must_fail)  # interval ends swapped
    assert any(p == "[3,4]" and g == "(3,4]" for p, g in must_fail)  # open vs closed
    failures = _failures(must_fail, False)
    assert not failures, failures[:20]


def test_math500_answers_do_not_match_their_neighbours():
    answers = [r["answer"] for r in load_jsonl("math500")]
    matched = [
        (a, b)
        for a, b in zip(answers, answers[1:] + answers[:1])
        if a.replace(" ", "") != b.replace(" ", "") and is_equivalent(a, b)
    ]
    assert matched == [("5", "x=5")] or not matched, matched  # "x=5" is a value, so that one is right


def test_gsm8k_agreement():
    pairs = gsm8k_pairs()
    assert len(pairs) == 7 * 1319
    failures = _failures(pairs, True)
    assert len(failures) <= len(pairs) // 1000, failures[:20]  # >= 99.9 %
    assert not failures, failures[:20]


def test_gsm8k_off_by_one_is_rejected():
    failures = _failures(gsm8k_wrong_pairs(), False)
    assert not failures, failures[:20]


@pytest.mark.parametrize("benchmark", ["aime24", "amc23"])
def test_competition_answers_match_plain_numbers(benchmark):
    for record in load_jsonl(benchmark):
        gold = record["answer"]
        value = int(float(gold))
        assert is_equivalent(str(value), gold)
        assert is_equivalent(f"\\boxed{{{value}}}", gold)
        assert not is_equivalent(str(value + 1), gold)
