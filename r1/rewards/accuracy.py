"""``accuracy``: 1 when the response's final answer is equivalent to the gold answer."""

from __future__ import annotations

from typing import Any

from r1.math import check_extraction, time_budget, verify
from r1.rewards.scoring import judge_golds


class AccuracyReward:
    """Rule-based correctness, the R1 recipe's main reward.

    The final answer is extracted (``<answer>``, else ``\\boxed{}``, else ``#### N``
    under the default ``template`` policy) and compared with the gold by
    :func:`r1.math.verify`, the same verifier the benchmarks use, so training reward
    and evaluation agree.

    Args:
        timeout: Seconds a symbolic comparison may take; ``None`` uses the
            verifier's default. A comparison over budget scores 0.
        answer_field: The sample column holding the gold answer.
        extraction: Where a completion states its answer: ``template`` (r1's own
            format), ``boxed`` or ``any`` (also free text: "final answer is …", the
            last math expression); see :mod:`r1.math.extract`.
        lenient: Reward a completion that states some of a multi-answer gold's
            answers only (math-verify's behaviour); by default all are needed.
    """

    name = "accuracy"

    def __init__(
        self,
        timeout: float | None = None,
        answer_field: str = "answer",
        extraction: str = "template",
        lenient: bool = False,
    ) -> None:
        time_budget(timeout)  # a bad budget (or R1_MATH_TIMEOUT) is one line now, not at the first comparison
        self.timeout = timeout
        self.answer_field = answer_field
        self.extraction = check_extraction(extraction)
        self.lenient = bool(lenient)

    def __call__(self, completions: list[str], **fields: Any) -> list[float | None]:
        """1.0 if correct, 0.0 if not, ``None`` for samples without a gold answer."""
        return judge_golds(
            completions, fields, self.answer_field,
            lambda text, gold: float(verify(text, gold, timeout=self.timeout, extraction=self.extraction, lenient=self.lenient)),
        )
