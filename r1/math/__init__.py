"""Answer extraction and equivalence checking, shared by rewards, benchmarks and filters.

>>> from r1.math import extract_answer, is_equivalent, verify
>>> extract_answer("<think>...</think><answer>\\\\boxed{\\\\frac12}</answer>")
'\\\\frac12'
>>> is_equivalent("0.5", "\\\\frac{1}{2}")
True
>>> verify("so the answer is \\\\boxed{(3, 4]}", "(4, 3]")
False
>>> verify("Final Answer: The largest $n$ is 34.", "34", extraction="any")
True

Rules a user may need to know, each documented where it lives:

* where a response states its answer, the *extraction policy* (``template`` |
  ``boxed`` | ``any``, :mod:`r1.math.extract`);
* sets of answers are strict: all of the gold's, and nothing else; ``lenient=True``
  accepts some of them, as math-verify does (:mod:`r1.math.compare`);
* a decimal states an exact fraction when rounded to its shown places with at
  least four significant digits (``2.6667`` is 8/3, ``0.33`` is not 1/3), and an
  irrational value only within 1e-9 (:mod:`r1.math.numbers`).

Importing this package does not import sympy: the symbolic stage runs in a
worker subprocess started on first need (see :mod:`r1.math.worker`).
"""

from __future__ import annotations

from r1.math.equivalence import default_timeout, is_equivalent, time_budget, verify
from r1.math.extract import EXTRACTIONS, check_extraction, extract_answer, last_boxed
from r1.math.normalize import normalize
from r1.math.worker import get_worker, shutdown_worker


def warm_up(wait: bool = True) -> None:
    """Start the sympy worker now, so the first symbolic comparison does not pay its start-up.

    ``wait=False`` starts it in the background (training loops call this before loading
    the model, so sympy's import overlaps with it instead of stalling a later step).

    Raises:
        ConfigError: ``R1_MATH_TIMEOUT`` is set to anything but a positive number of
            seconds; checked here so that a run stops before its work starts.
    """
    default_timeout()
    get_worker().start(wait=wait)


__all__ = [
    "EXTRACTIONS",
    "check_extraction",
    "default_timeout",
    "time_budget",
    "extract_answer",
    "is_equivalent",
    "last_boxed",
    "normalize",
    "shutdown_worker",
    "verify",
    "warm_up",
]
