"""pass@k and maj@k: the benchmark numbers of the R1 paper, as pure functions.

* **pass@1** (R1's headline number) is the mean correctness over the ``n`` samples
  drawn per problem at temperature 0.6, which has far less variance than one
  greedy answer.
* **pass@k** is the chance that at least one of ``k`` samples is correct. Drawing
  exactly ``k`` samples and checking "any correct" is a high-variance estimate; the
  unbiased estimator of Chen et al. (2021, Codex) uses all ``n >= k`` samples:
  ``1 - C(n-c, k) / C(n, k)`` with ``c`` the correct ones.
* **maj@k** (the paper's "cons@64") is the correctness of the answer most of the
  ``k`` samples agree on, answers grouped by mathematical equivalence (``0.5`` and
  ``\\frac12`` vote together).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased estimate of pass@k for one problem with ``c`` of ``n`` samples correct.

    ``1 - C(n-c, k) / C(n, k)`` overflows floats for large ``n`` when computed with
    binomials, so it is evaluated as the product ``prod_{i=n-c+1}^{n} (1 - k / i)``,
    which has only factors in ``[0, 1]``.

    Args:
        n: Samples drawn for the problem.
        c: How many of them are correct (``0 <= c <= n``).
        k: The k of pass@k (``1 <= k <= n``).

    Returns:
        The probability that a random ``k``-subset of the samples holds a correct one.
    """
    if not 0 <= c <= n:
        raise ValueError(f"need 0 <= c <= n, got c={c}, n={n}")
    if not 1 <= k <= n:
        raise ValueError(f"need 1 <= k <= n, got k={k}, n={n}")
    if n - c < k:
        return 1.0  # every k-subset must contain a correct sample
    miss = 1.0
    for i in range(n - c + 1, n + 1):
        miss *= 1.0 - k / i
    return 1.0 - miss


def mean_pass_at_k(counts: Sequence[tuple[int, int]], k: int) -> float:
    """pass@k averaged over problems, from ``(n, c)`` per problem (0.0 for no problems)."""
    if not counts:
        return 0.0
    return sum(pass_at_k(n, c, k) for n, c in counts) / len(counts)


def pass_at_k_ladder(n: int) -> list[int]:
    """The k worth reporting for ``n`` samples: 1, 2, 4, ... up to ``n``, and ``n`` itself."""
    ladder = [1 << i for i in range(n.bit_length()) if 1 << i <= n]
    return ladder if ladder and ladder[-1] == n else [*ladder, n]


def majority_vote(answers: Sequence[str | None], same: Callable[[str, str], bool] | None = None) -> int | None:
    """Index of a response holding the answer most responses agree on.

    Answers are first grouped by exact text, then groups whose representatives
    ``same`` declares equivalent are merged (so the verifier is asked once per pair
    of distinct answers, not per pair of responses). Ties go to the answer that
    appeared first, so the vote is deterministic.

    Args:
        answers: The extracted final answer of each response; ``None`` (no answer)
            never wins.
        same: Equivalence of two answers; ``None`` means exact text equality.

    Returns:
        The index of the first response in the winning group, or ``None`` when no
        response has an answer.
    """
    groups: list[list[int]] = []  # indices of the responses in each group, in order of first appearance
    by_text: dict[str, int] = {}
    for index, answer in enumerate(answers):
        if answer is None:
            continue
        key = answer.strip()
        if key not in by_text:
            by_text[key] = len(groups)
            groups.append([])
        groups[by_text[key]].append(index)
    if same is not None:
        merged: list[list[int]] = []
        for group in groups:
            text = answers[group[0]]
            for target in merged:
                if same(text, answers[target[0]]):  # type: ignore[arg-type]
                    target.extend(group)
                    break
            else:
                merged.append(list(group))
        groups = merged
    if not groups:
        return None
    best = max(groups, key=len)  # max keeps the first of equal-sized groups
    return min(best)


def maj_at_k(
    answers: Sequence[Sequence[str | None]],
    scores: Sequence[Sequence[float]],
    same: Callable[[str, str], bool] | None = None,
    threshold: float = 1.0,
) -> float:
    """maj@k over problems: the share whose majority answer is correct.

    Args:
        answers: Per problem, the extracted answer of each of its ``k`` responses.
        scores: Per problem, the score of each response (aligned with ``answers``).
        same: Answer equivalence, see :func:`majority_vote`.
        threshold: A response counts as correct when its score is at least this.

    Returns:
        The mean over problems of "the winning response is correct" (0.0 for none).
    """
    if len(answers) != len(scores):
        raise ValueError(f"answers and scores cover {len(answers)} and {len(scores)} problems")
    if not answers:
        return 0.0
    hits = 0
    for problem_answers, problem_scores in zip(answers, scores):
        winner = majority_vote(problem_answers, same)
        hits += winner is not None and problem_scores[winner] >= threshold
    return hits / len(answers)

