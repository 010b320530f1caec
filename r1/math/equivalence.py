"""``is_equivalent`` and ``verify``: the verifier's public entry points.

A comparison runs in two stages. The fast stage (strings, exact numbers,
shapes) runs in the calling thread and settles most pairs in microseconds. The
pairs it cannot settle go to the sympy worker (:mod:`r1.math.worker`) under a
time budget; a pair that runs over is not equivalent. Nothing here raises, so a
reward or a benchmark never fails on a strange response.
"""

from __future__ import annotations

import os
import re
from functools import lru_cache

from r1.math.compare import Undecided, compare_answers, fast_atoms_equal, fast_relation
from r1.math.extract import extract_answer
from r1.math.worker import WorkerError, get_worker

DEFAULT_TIMEOUT = float(os.environ.get("R1_MATH_TIMEOUT", "1.0"))
"""Seconds one symbolic comparison may take (env ``R1_MATH_TIMEOUT``); per-call ``timeout=`` overrides."""
MAX_ANSWER_CHARS = 2_000
"""Answers longer than this are only compared as strings: no benchmark answer is close."""

_MARKERS = re.compile(r"\\boxed|\\fbox|<answer>|^\s*####", re.MULTILINE)
_PLAIN_INTEGER = re.compile(r"[+-]?\d{1,100}")


def is_equivalent(prediction: str, gold: str, *, timeout: float | None = None) -> bool:
    """Whether ``prediction`` and ``gold`` denote the same mathematical answer.

    Args:
        prediction: A final answer, e.g. ``"\\frac{1}{2}"``, ``"x = 5"``, ``"(B)"``. When it
            still contains ``\\boxed{}``/``<answer>``/``####`` the answer is extracted first.
        gold: The reference answer, or a full reference solution (extracted the same way).
            Numbers (``27.0`` in AMC) are accepted and compared by value.
        timeout: Budget in seconds for the symbolic stage; default :data:`DEFAULT_TIMEOUT`.

    Returns:
        ``True`` when equivalent. ``False`` when not, and also when either side is
        empty, unparseable, or too costly to decide within ``timeout``.
    """
    try:
        a, b = _final_answer(prediction), _final_answer(gold)
        if a is None or b is None:
            return False
        decided = _fast_stage(a, b)
        if decided is not None:
            return decided
        if len(a) > MAX_ANSWER_CHARS or len(b) > MAX_ANSWER_CHARS:
            return False
        return _symbolic_stage(a, b, DEFAULT_TIMEOUT if timeout is None else float(timeout))
    except (TimeoutError, WorkerError, RecursionError, ValueError, TypeError, IndexError):
        return False
    except Exception:  # the verifier is called on arbitrary model output: never propagate
        return False


def verify(response: str, gold: str, *, timeout: float | None = None) -> bool:
    """Whether the final answer stated in ``response`` is equivalent to ``gold``.

    Args:
        response: A full model response; its answer is found by :func:`extract_answer`.
        gold: The reference answer or a reference solution with ``\\boxed{}``/``#### N``.
        timeout: See :func:`is_equivalent`.

    Returns:
        ``False`` when the response states no answer.
    """
    answer = extract_answer(response) if isinstance(response, str) else None
    if answer is None:
        return False
    return is_equivalent(answer, gold, timeout=timeout)


def _final_answer(text: object) -> str | None:
    """The answer part of ``text``: extracted when it carries a marker, else the text itself."""
    if isinstance(text, bool) or text is None:
        return None
    if isinstance(text, (int, float)):
        text = repr(text)
    if not isinstance(text, str):
        return None
    if _MARKERS.search(text):
        return extract_answer(text)
    return text.strip() or None


@lru_cache(maxsize=65_536)
def _fast_stage(prediction: str, gold: str) -> bool | None:
    """The in-process verdict, or ``None`` when only sympy can tell."""
    if _PLAIN_INTEGER.fullmatch(prediction) and _PLAIN_INTEGER.fullmatch(gold):
        # Most rewards in arithmetic and GSM8K: compared by value (``"042" == "42"``) without the
        # normaliser and parser, the verdict ``compare_answers`` reaches 60x slower.
        return int(prediction) == int(gold)
    try:
        return compare_answers(prediction, gold, fast_atoms_equal, fast_relation)
    except Undecided:
        return None


@lru_cache(maxsize=65_536)
def _symbolic_stage(prediction: str, gold: str, timeout: float) -> bool:
    """The worker's verdict; a time-out raises and so is never cached."""
    return get_worker().compare(prediction, gold, timeout)
