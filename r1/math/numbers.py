"""Exact comparison of plain numbers without sympy.

Integers, decimals, ``a/b`` and ``\\frac{a}{b}`` cover most benchmark answers
(all of GSM8K, most of MATH), so they are compared here with ``Fraction`` —
exactly, in microseconds, and without the sympy worker.
"""

from __future__ import annotations

import re
from fractions import Fraction

REL_TOL = 1e-9
"""Relative tolerance when a side is a decimal: ``0.3333333333`` equals 1/3, ``0.333`` does not."""

_DECIMAL = re.compile(r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)")
_SLASH = re.compile(r"([-+]?\d+)\s*/\s*([-+]?\d+)")
_FRAC = re.compile(r"([-+]?)\\frac\{\s*([-+]?\d+)\s*\}\{\s*([-+]?\d+)\s*\}")


class Number:
    """A parsed number: its exact value, whether it has decimal digits, whether it is a percentage."""

    __slots__ = ("value", "decimal", "percent")

    def __init__(self, value: Fraction, decimal: bool, percent: bool) -> None:
        self.value = value
        self.decimal = decimal
        self.percent = percent


def parse_number(text: str) -> Number | None:
    """Parse a normalised answer that is a plain number, else return ``None``.

    Args:
        text: A normalised answer (see :func:`r1.math.normalize.normalize`).

    Returns:
        The number, or ``None`` for anything else (expressions, symbols, ``x=5``).
    """
    if re.search(r"\d\s+\d", text):  # "2 3" is not 23
        return None
    s = text.replace(" ", "")
    percent = s.endswith("%")
    if percent:
        s = s[:-1]
    if len(s) > 400:  # Fraction("1" * 10**6) is slow to build; sympy's guards take it from here
        return None
    if _DECIMAL.fullmatch(s):
        inexact = "." in s and s.split(".")[1].strip("0") != ""  # 12.0 is an integer
        return Number(Fraction(s), inexact, percent)
    m = _SLASH.fullmatch(s)
    if m is not None:
        return _ratio(m.group(1), m.group(2), "", percent)
    m = _FRAC.fullmatch(s)
    if m is not None:
        return _ratio(m.group(2), m.group(3), m.group(1), percent)
    return None


def _ratio(num: str, den: str, sign: str, percent: bool) -> Number | None:
    """``num/den`` with an optional leading sign; ``None`` for a zero denominator."""
    if int(den) == 0:
        return None
    value = Fraction(int(num), int(den))
    return Number(-value if sign == "-" else value, False, percent)


def numbers_equal(a: Number, b: Number) -> bool:
    """Whether two parsed numbers denote the same value.

    Exact when both are exact; within :data:`REL_TOL` when one is a decimal, so a
    long enough decimal expansion of a repeating fraction counts. A percentage is
    also tried as its hundredth part (``50\\%`` equals both ``50`` and ``0.5``).
    """
    candidates_a = [a.value] + ([a.value / 100] if a.percent else [])
    candidates_b = [b.value] + ([b.value / 100] if b.percent else [])
    tolerant = a.decimal or b.decimal
    for x in candidates_a:
        for y in candidates_b:
            if x == y:
                return True
            if tolerant and abs(x - y) <= REL_TOL * max(abs(x), abs(y)):
                return True
    return False
