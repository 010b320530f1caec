"""pass@k and maj@k against hand-computed values."""

from __future__ import annotations

import math

import pytest

from r1.algorithms.pass_at_k import (
    maj_at_k,
    majority_vote,
    mean_pass_at_k,
    pass_at_k,
    pass_at_k_ladder,
)


@pytest.mark.parametrize(
    ("n", "c", "k", "expected"),
    [
        (1, 0, 1, 0.0),
        (1, 1, 1, 1.0),
        (4, 1, 1, 0.25),  # pass@1 is the share correct
        (4, 2, 2, 1 - 1 / 6),  # C(2,2)/C(4,2) = 1/6 of the pairs miss
        (5, 2, 3, 1 - 1 / 10),  # C(3,3)/C(5,3)
        (10, 3, 5, 1 - 21 / 252),  # C(7,5)/C(10,5)
        (4, 3, 2, 1.0),  # n - c < k: every pair holds a correct one
        (64, 0, 8, 0.0),
    ],
)
def test_pass_at_k_hand_cases(n, c, k, expected):
    assert pass_at_k(n, c, k) == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize(("n", "c", "k"), [(n, c, k) for n in (1, 3, 7) for c in range(n + 1) for k in range(1, n + 1)])
def test_pass_at_k_equals_the_closed_form(n, c, k):
    assert pass_at_k(n, c, k) == pytest.approx(1 - math.comb(n - c, k) / math.comb(n, k), abs=1e-12)


def test_pass_at_k_is_stable_where_binomials_overflow_floats():
    # C(2000, 1000) is far beyond float range; the product form stays exact enough.
    value = pass_at_k(2000, 1, 1000)
    assert value == pytest.approx(0.5, abs=1e-12)  # one correct sample: half the 1000-subsets hold it
    assert 0.0 <= pass_at_k(5000, 3, 100) <= 1.0


def test_pass_at_1_is_mean_correctness():
    counts = [(4, 0), (4, 1), (4, 4)]
    assert mean_pass_at_k(counts, 1) == pytest.approx((0 + 0.25 + 1) / 3)
    assert mean_pass_at_k([], 1) == 0.0


@pytest.mark.parametrize("bad", [(3, 4, 1), (3, -1, 1), (3, 1, 0), (3, 1, 4)])
def test_pass_at_k_rejects_impossible_inputs(bad):
    with pytest.raises(ValueError):
        pass_at_k(*bad)


def test_ladder():
    assert pass_at_k_ladder(1) == [1]
    assert pass_at_k_ladder(4) == [1, 2, 4]
    assert pass_at_k_ladder(6) == [1, 2, 4, 6]
    assert pass_at_k_ladder(64) == [1, 2, 4, 8, 16, 32, 64]


def test_majority_vote_groups_equivalent_answers():
    same = lambda a, b: float(eval(a.replace("\\frac12", "0.5"))) == float(eval(b.replace("\\frac12", "0.5")))
    # "0.5" and "\frac12" vote together (3 votes) and beat "2" (2 votes).
    answers = ["2", "0.5", "2", "\\frac12", None, "1/2"]
    assert majority_vote(answers, same) == 1
    # Without equivalence, the exact strings split: "2" wins with 2 votes.
    assert majority_vote(answers) == 0


def test_majority_vote_ties_go_to_the_first_answer_and_none_never_wins():
    assert majority_vote(["3", "4", "4", "3"]) == 0
    assert majority_vote([None, None, "7"]) == 2
    assert majority_vote([None, None]) is None
    assert majority_vote([]) is None


def test_maj_at_k_hand_case():
    answers = [
        ["5", "5", "6", None],  # majority "5", correct
        ["1", "2", "2", "1.0"],  # "1" and "1.0" are one answer (2 votes, first) vs "2" (2 votes): tie -> "1", wrong
        ["9", "8", "8", "7"],  # majority "8", wrong even though one "9" is right
    ]
    scores = [[1, 1, 0, 0], [0, 1, 1, 0], [1, 0, 0, 0]]
    same = lambda a, b: float(a) == float(b)
    assert maj_at_k(answers, scores, same) == pytest.approx(1 / 3)
    assert maj_at_k([], []) == 0.0
    with pytest.raises(ValueError):
        maj_at_k(answers, scores[:2])
