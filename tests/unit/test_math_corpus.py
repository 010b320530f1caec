"""The verifier on a labelled corpus of real-world answers: every verdict, by kind, both ways.

``tests/data/verifier_corpus.jsonl`` (see ``tests/data/README.md``) holds (gold, model
output, verdict) triples of the kinds a verifier meets outside its own template:
free-text answers, answers in several parts, labelled answers, inequalities and
intervals, matrices, number formats and "find all" sets. Outputs are read with
``extraction="any"``, as an evaluation of a model that follows no template does.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import pytest

from r1.math import verify, warm_up

CORPUS = Path(__file__).resolve().parents[1] / "data" / "verifier_corpus.jsonl"
RECORDS = [json.loads(line) for line in CORPUS.read_text(encoding="utf-8").splitlines() if line.strip()]
KINDS = sorted({r["kind"] for r in RECORDS})
REQUIRED_KINDS = {
    "free_text", "multi_part", "labelled", "relations", "matrices",  # the kinds of answer
    "decimal_comma", "thousands", "units", "percent", "precision",  # the number formats
    "strict_sets", "choices", "solutions",
}  # fmt: skip


@pytest.fixture(scope="module", autouse=True)
def worker():
    warm_up()
    yield


def test_the_corpus_covers_every_kind_with_true_and_must_fail_pairs():
    assert len(RECORDS) >= 300
    assert all(set(r) <= {"kind", "gold", "prediction", "verdict", "lenient"} for r in RECORDS)
    assert len({(r["gold"], r["prediction"]) for r in RECORDS}) == len(RECORDS), "a pair is listed twice"
    verdicts: dict[str, set[bool]] = defaultdict(set)
    for record in RECORDS:
        verdicts[record["kind"]].add(record["verdict"])
    assert REQUIRED_KINDS <= set(KINDS)
    assert all(verdicts[kind] == {True, False} for kind in KINDS), dict(verdicts)


@pytest.mark.parametrize("kind", KINDS)
def test_every_verdict_of_a_kind(kind):
    records = [r for r in RECORDS if r["kind"] == kind]
    wrong = [
        (r["prediction"], r["gold"], r["verdict"])
        for r in records
        if verify(r["prediction"], r["gold"], extraction="any") is not r["verdict"]
    ]
    assert not wrong, wrong


def test_sets_of_answers_are_strict_by_default_and_lenient_on_request():
    """A prediction with some of the gold's answers only is wrong, unless ``lenient=True``; extra answers stay wrong."""
    records = [r for r in RECORDS if "lenient" in r]
    assert {(r["verdict"], r["lenient"]) for r in records} == {(True, True), (False, True), (False, False)}
    subsets = [r for r in records if r["lenient"] and not r["verdict"]]
    assert len(subsets) >= 10
    wrong = [
        (r["prediction"], r["gold"], r["lenient"])
        for r in records
        if verify(r["prediction"], r["gold"], extraction="any", lenient=True) is not r["lenient"]
    ]
    assert not wrong, wrong
