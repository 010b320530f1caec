"""Exact comparison of plain numbers without sympy.

Integers, decimals, ``a/b`` and ``\\frac{a}{b}`` cover most benchmark answers
(all of GSM8K, most of MATH), so they are compared here with ``Fraction`` —
exactly, in microseconds, and without the sympy worker.

A decimal against an exact fraction (the rule for ``0.33`` or ``2.6667`` against
8/3): the decimal is taken at its shown precision. It equals the fraction when
it is that fraction rounded to the decimal's places (within half a unit of its
last digit) and it shows at least :data:`MIN_SIGNIFICANT_DIGITS` significant
digits: ``2.6667`` and ``0.3333`` state 8/3 and 1/3, ``0.33`` and ``2.67`` do not
(a problem that wants a rounded answer has a decimal gold, and two decimals
are compared by value). Decimals also equal a value within :data:`REL_TOL`, the
only way a decimal matches an irrational one (``1.414`` is not ``\\sqrt 2``: the
problem asked for the exact form).
"""

from __future__ import annotations

import re
from fractions import Fraction

REL_TOL = 1e-9
"""Relative tolerance when a side is a decimal: ``0.3333333333`` equals 1/3 and ``\\sqrt 2`` to ten digits."""
MIN_SIGNIFICANT_DIGITS = 4
"""Fewest significant digits with which a rounded decimal states an exact fraction (``0.3333`` for 1/3)."""

_DECIMAL = re.compile(r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)")
_SLASH = re.compile(r"([-+]?\d+)\s*/\s*([-+]?\d+)")
_FRAC = re.compile(r"([-+]?)\\frac\{\s*([-+]?\d+)\s*\}\{\s*([-+]?\d+)\s*\}")


class Number:
    """A parsed number: its exact value, whether it has decimal digits, whether it is a percentage.

    A decimal also keeps its shown precision: ``places`` after the point and its
    count of ``significant`` digits (``0.0250``: 4 places, 3 significant digits).
    """

    __slots__ = ("value", "decimal", "percent", "places", "significant")

    def __init__(self, value: Fraction, decimal: bool, percent: bool, places: int = 0, significant: int = 0) -> None:
        self.value = value
        self.decimal = decimal
        self.percent = percent
        self.places = places
        self.significant = significant


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
        whole, _, places = s.lstrip("+-").partition(".")
        inexact = places.strip("0") != ""  # 12.0 is an integer
        significant = len((whole + places).lstrip("0"))
        return Number(Fraction(s), inexact, percent, len(places), significant)
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
    long enough decimal expansion of a repeating fraction counts; a decimal against
    an exact number also at its shown precision (see the module docstring). A
    percentage is also tried as its hundredth part (``50\\%`` equals both ``50`` and
    ``0.5``; ``33.33\\%`` states 1/3 to four places).
    """
    candidates_a = [(a.value, a.places)] + ([(a.value / 100, a.places + 2)] if a.percent else [])
    candidates_b = [(b.value, b.places)] + ([(b.value / 100, b.places + 2)] if b.percent else [])
    tolerant = a.decimal or b.decimal
    for x, x_places in candidates_a:
        for y, y_places in candidates_b:
            if x == y:
                return True
            if tolerant and abs(x - y) <= REL_TOL * max(abs(x), abs(y)):
                return True
            if a.decimal != b.decimal:
                rounded, places = (a, x_places) if a.decimal else (b, y_places)
                if rounded.significant >= MIN_SIGNIFICANT_DIGITS and 2 * abs(x - y) * 10**places <= 1:
                    return True
    return False
