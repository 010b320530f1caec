"""``correct``: keep responses whose final answer the shared verifier accepts.

R1's rejection sampling keeps only correct responses; correctness is decided by
:func:`r1.math.verify`, the same verifier as the accuracy reward and the
benchmarks, so "correct" means one thing everywhere.
"""

from __future__ import annotations

from r1.protocols import Sample


class CorrectFilter:
    """Keep a sample when ``verify(response, answer)`` holds.

    Args:
        timeout: Seconds the symbolic stage may spend per comparison; ``None`` =
            the verifier's default.
        extraction: Where a response states its answer: ``template`` (r1's format,
            what the data should teach), ``boxed`` or ``any`` (see :mod:`r1.math.extract`).
        lenient: Keep a response that states some of a multi-answer gold's answers
            only (math-verify's behaviour); by default all are needed.
    """

    name = "correct"

    def __init__(self, timeout: float | None = None, extraction: str = "template", lenient: bool = False) -> None:
        from r1.math import check_extraction, time_budget

        time_budget(timeout)  # a bad budget (or R1_MATH_TIMEOUT) is one line now, not at the first comparison
        self.timeout = timeout
        self.extraction = check_extraction(extraction)
        self.lenient = bool(lenient)

    def __call__(self, samples: list[Sample]) -> list[bool]:
        from r1.math import verify

        return [
            verify(s["response"], str(s["answer"]), timeout=self.timeout, extraction=self.extraction, lenient=self.lenient)
            for s in samples
        ]
