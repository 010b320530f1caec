"""``is_equivalent`` and ``verify``: the verifier's public entry points.

A comparison runs in two stages. The fast stage (strings, exact numbers,
shapes) runs in the calling thread and settles most pairs in microseconds. The
pairs it cannot settle go to the sympy worker (:mod:`r1.math.worker`) under a
time budget; a pair that runs over is not equivalent. Nothing here raises on a
strange response, so a reward or a benchmark never fails on one; only a bad
time budget (``R1_MATH_TIMEOUT`` or ``timeout=``) is reported, as a
:class:`~r1.errors.ConfigError`.
"""

from __future__ import annotations

import functools
import math
import os
import re

from r1.errors import ConfigError
from r1.math.cache import FAST_STAGE_BYTES, SYMBOLIC_STAGE_BYTES, verdict_cache
from r1.math.compare import Undecided, compare_answers, fast_atoms_equal, fast_relation
from r1.math.extract import check_extraction, extract_answer
from r1.math.worker import WorkerError, get_worker

TIMEOUT_ENV = "R1_MATH_TIMEOUT"
"""Environment variable holding the seconds one symbolic comparison may take."""
UNSET_TIMEOUT = 1.0
"""Seconds one symbolic comparison may take when ``R1_MATH_TIMEOUT`` is not set."""
MAX_ANSWER_CHARS = 2_000
"""Answers longer than this are only compared as strings: no benchmark answer is close."""

# ``[^\S\n]`` rather than ``\s``: a run of blank lines must not be rescanned from each of its lines
_HASH_LINE = re.compile(r"^[^\S\n]*####", re.MULTILINE)
_PLAIN_INTEGER = re.compile(r"[+-]?\d{1,100}")


def is_equivalent(prediction: str, gold: str, *, timeout: float | None = None, lenient: bool = False) -> bool:
    """Whether ``prediction`` and ``gold`` denote the same mathematical answer.

    Args:
        prediction: A final answer, e.g. ``"\\frac{1}{2}"``, ``"x = 5"``, ``"(B)"``. When it
            still contains ``\\boxed{}``/``<answer>``/``####`` the answer is extracted first.
        gold: The reference answer, or a full reference solution (extracted the same way).
            Numbers (``27.0`` in AMC) are accepted and compared by value.
        timeout: Budget in seconds for the symbolic stage; default :func:`default_timeout`.
        lenient: When the gold is several answers, accept a prediction that states
            only some of them (math-verify's behaviour); by default all must be
            there, and nothing else (see :mod:`r1.math.compare`).

    Returns:
        ``True`` when equivalent. ``False`` when not, and also when either side is
        empty, unparseable, or too costly to decide within ``timeout``.

    Raises:
        ConfigError: ``timeout``, or ``R1_MATH_TIMEOUT`` when it is ``None``, is
            not a positive number of seconds.
    """
    return _equivalent(prediction, gold, time_budget(timeout), bool(lenient))


def _equivalent(prediction: object, gold: object, budget: float, lenient: bool) -> bool:
    """:func:`is_equivalent` with its budget already checked."""
    try:
        a, b = _final_answer(prediction), _final_answer(gold)
        if a is None or b is None:
            return False
        if len(a) > MAX_ANSWER_CHARS or len(b) > MAX_ANSWER_CHARS:
            return a.split() == b.split()  # the normaliser is not run on text this long
        decided = _fast_stage(a, b, lenient)
        if decided is not None:
            return decided
        return _symbolic_stage(a, b, budget, lenient)
    except (TimeoutError, WorkerError, RecursionError, ValueError, TypeError, IndexError):
        return False
    except Exception:  # the verifier is called on arbitrary model output: never propagate
        return False


def verify(
    response: str,
    gold: str,
    *,
    timeout: float | None = None,
    extraction: str = "template",
    lenient: bool = False,
) -> bool:
    """Whether the final answer stated in ``response`` is equivalent to ``gold``.

    Args:
        response: A full model response; its answer is found by :func:`extract_answer`.
        gold: The reference answer or a reference solution with ``\\boxed{}``/``#### N``.
        timeout: See :func:`is_equivalent`.
        extraction: Where the response states its answer: ``template`` | ``boxed`` | ``any``
            (see :mod:`r1.math.extract`).
        lenient: See :func:`is_equivalent`.

    Returns:
        ``False`` when the response states no answer.

    Raises:
        ConfigError: see :func:`is_equivalent`; or ``extraction`` is not a policy.
    """
    budget = time_budget(timeout)
    check_extraction(extraction)
    answer = extract_answer(response, extraction) if isinstance(response, str) else None
    if answer is None:
        return False
    return _equivalent(answer, gold, budget, bool(lenient))


@functools.cache
def default_timeout() -> float:
    """Seconds one symbolic comparison may take: ``R1_MATH_TIMEOUT``, else :data:`UNSET_TIMEOUT`.

    The only place the variable is parsed. It is read once, at the verifier's first
    use rather than at import (so it may be set after ``import r1.math``), and then
    kept: reading the environment costs more than a whole integer comparison.
    A bad value is not kept, so each use reports it until it is fixed.

    Raises:
        ConfigError: the variable is set to anything but a positive number (``abc``,
            ``0``, ``-1``): a zero budget would quietly make every symbolic comparison fail.
    """
    raw = os.environ.get(TIMEOUT_ENV)
    return UNSET_TIMEOUT if raw is None else _positive_seconds(raw, TIMEOUT_ENV)


def time_budget(timeout: float | None) -> float:
    """The budget a call runs under: ``timeout`` when given, else :func:`default_timeout`.

    Raises:
        ConfigError: the budget is not a positive, finite number of seconds.
    """
    return default_timeout() if timeout is None else _positive_seconds(timeout, "timeout")


def _positive_seconds(value: object, name: str) -> float:
    """``value`` as seconds, or a one-line :class:`ConfigError` naming ``name``."""
    try:
        seconds = math.nan if isinstance(value, bool) else float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        seconds = math.nan
    if not (math.isfinite(seconds) and seconds > 0):
        raise ConfigError(f"{name} must be a positive number of seconds, not {value!r}")
    return seconds


def _final_answer(text: object) -> str | None:
    """The answer part of ``text``: extracted when it carries a marker, else the text itself."""
    if isinstance(text, bool) or text is None:
        return None
    if isinstance(text, (int, float)):
        text = repr(text)
    if not isinstance(text, str):
        return None
    # substring tests, not one regex: they cost microseconds on a megabyte where the regex costs 40 ms
    if "\\boxed" in text or "\\fbox" in text or "<answer>" in text or ("####" in text and _HASH_LINE.search(text)):
        return extract_answer(text)
    return text.strip() or None


@verdict_cache(FAST_STAGE_BYTES)
def _fast_stage(prediction: str, gold: str, lenient: bool = False) -> bool | None:
    """The in-process verdict, or ``None`` when only sympy can tell."""
    if _PLAIN_INTEGER.fullmatch(prediction) and _PLAIN_INTEGER.fullmatch(gold):
        # Most rewards in arithmetic and GSM8K: compared by value (``"042" == "42"``) without the
        # normaliser and parser, the verdict ``compare_answers`` reaches 60x slower.
        return int(prediction) == int(gold)
    try:
        return compare_answers(prediction, gold, fast_atoms_equal, fast_relation, lenient)
    except Undecided:
        return None


@verdict_cache(SYMBOLIC_STAGE_BYTES)
def _symbolic_stage(prediction: str, gold: str, timeout: float, lenient: bool = False) -> bool:
    """The worker's verdict; a time-out raises and so is never cached."""
    return get_worker().compare(prediction, gold, timeout, lenient)
