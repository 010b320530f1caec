"""``exact_match``: 1 when the response's final answer is the gold answer, character for character.

For answers that are words rather than mathematics (``task=general``: ``bac``,
``DOG``, ``ababab``). The symbolic verifier of the ``accuracy`` reward reads
``ab`` as the product ``a·b`` and ignores case, so it would count ``ba`` for
``ab`` and ``dog`` for ``DOG`` as correct; this reward compares the strings.
"""

from __future__ import annotations

from typing import Any

from r1.math import check_extraction, extract_answer
from r1.rewards.scoring import judge_golds


class ExactMatchReward:
    """Rule-based correctness by string equality of the stated answer (surrounding spaces aside).

    Args:
        answer_field: The sample column holding the gold answer.
        extraction: Where a completion states its answer: ``template`` (r1's
            ``<answer>``, else ``\\boxed{}``, else ``####``), ``boxed`` or ``any``
            (see :mod:`r1.math.extract`).
    """

    name = "exact_match"

    def __init__(self, answer_field: str = "answer", extraction: str = "template") -> None:
        self.answer_field = str(answer_field)
        self.extraction = check_extraction(extraction)

    def __call__(self, completions: list[str], **fields: Any) -> list[float | None]:
        """1.0 if the stated answer equals the gold, 0.0 if not, ``None`` for samples without a gold answer."""
        return judge_golds(completions, fields, self.answer_field, lambda text, gold: float(extract_answer(text, self.extraction) == str(gold).strip()))
