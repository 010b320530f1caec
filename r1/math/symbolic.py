"""The sympy leaf tests: equality of two expressions and of two equations.

Imported only inside the verifier's worker process (:mod:`r1.math.worker`), where
a runaway computation can be killed. Equality is decided by cheap exact steps
(structural, ``expand``) and then by evaluating both sides at a few fixed
points: a numeric probe is fast, never hangs like ``simplify`` can, and proves
identities ``simplify`` misses (``\\cot x`` vs ``\\cos x / \\sin x``).
"""

from __future__ import annotations

import re

import sympy

from r1.math.cache import WORKER_BYTES, verdict_cache
from r1.math.compare import Undecided, compare_answers, fast_atoms_equal
from r1.math.latex import ParseError, TooLarge, parse_latex
from r1.math.numbers import REL_TOL
from r1.math.structure import Equation

MAX_EXPRESSION_CHARS = 1_000
"""Longer atoms are not parsed; no benchmark answer comes close."""
_PROBE_DIGITS = 30
_EXACT_TOL = sympy.Float("1e-20")
_DECIMAL = re.compile(r"\d*\.\d")
_PROBE_VALUES = tuple(sympy.Rational(p, q) for p, q in ((37, 101), (149, 113), (211, 157), (-89, 61)))
"""Probe points: awkward rationals, unlikely to sit on a pole or a special angle."""


@verdict_cache(WORKER_BYTES)
def answers_equivalent(prediction: str, gold: str) -> bool:
    """Full comparison of two answers with sympy leaves; the worker's entry point."""
    return compare_answers(prediction, gold, atoms_equal, equations_equivalent)


def atoms_equal(a: str, b: str) -> bool:
    """Whether two single expressions are equal, trying the string/number test first."""
    try:
        return fast_atoms_equal(a, b)
    except Undecided:
        pass
    x, y = _parse(a), _parse(b)
    if x is None or y is None:
        return False
    return expressions_equal(x, y, tolerant=_DECIMAL.search(a + " " + b) is not None)


def equations_equivalent(a: Equation, b: Equation) -> bool:
    """Two equations are equivalent when ``lhs - rhs`` of one is a non-zero multiple of the other's.

    So ``5x - 7y + 11z + 4 = 0`` matches ``-10x + 14y - 22z = 8``.
    """
    sides = [_parse(s) for s in (a.lhs, a.rhs, b.lhs, b.rhs)]
    if any(s is None for s in sides):
        return False
    la, ra, lb, rb = sides
    da, db = sympy.expand(la - ra), sympy.expand(lb - rb)  # type: ignore[operator]
    if da == 0 or db == 0:
        return da == db
    ratio = sympy.cancel(da / db)
    if not ratio.free_symbols:
        return bool(ratio != 0 and ratio.is_finite)
    return False


def expressions_equal(x: sympy.Expr, y: sympy.Expr, tolerant: bool = False) -> bool:
    """Mathematical equality of two sympy expressions.

    Args:
        x: One side.
        y: The other side.
        tolerant: Whether a side was written with decimals; then values within
            :data:`REL_TOL` count as equal (``0.3333333333`` = 1/3). Exact inputs
            must agree to about 20 digits, absolutely: ``(1+\\sqrt2)^{99} + 1`` is
            not ``(1+\\sqrt2)^{99}``, however close in relative terms.
    """
    if x == y:
        return True
    if x.has(sympy.oo, -sympy.oo, sympy.zoo, sympy.nan) or y.has(sympy.oo, -sympy.oo, sympy.zoo, sympy.nan):
        return False  # infinities are only equal structurally (-\infty = -\infty)
    diff = x - y
    if diff == 0:
        return True
    symbols = diff.free_symbols | x.free_symbols | y.free_symbols
    if not symbols:
        return _negligible(diff, x, y, tolerant)
    if sympy.expand(diff) == 0:
        return True
    return _probe_equal(diff, x, y, sorted(symbols, key=str), tolerant)


def _parse(text: str) -> sympy.Expr | None:
    """``parse_latex`` that answers ``None`` for text it cannot or should not parse."""
    if len(text) > MAX_EXPRESSION_CHARS:
        return None
    try:
        expr = parse_latex(text)
    except (ParseError, TooLarge, TypeError, ValueError, ZeroDivisionError, RecursionError):
        return None
    return expr if isinstance(expr, sympy.Basic) else None


def _probe_equal(diff: sympy.Expr, x: sympy.Expr, y: sympy.Expr, symbols: list[sympy.Symbol], tolerant: bool) -> bool:
    """Equal at every probe point where both sides are finite (and at least two such points)."""
    agreed = 0
    for base in _PROBE_VALUES:
        # exact substitution first: evalf(subs=...) loses all precision near a pole like x = 1
        point = {s: base + sympy.Rational(j, 7) for j, s in enumerate(symbols)}
        dv, xv, yv = diff.xreplace(point), x.xreplace(point), y.xreplace(point)
        if any(v.has(sympy.zoo, sympy.nan, sympy.oo, -sympy.oo) for v in (dv, xv, yv)):
            continue
        verdict = _negligible(dv, xv, yv, tolerant)
        if verdict is None:
            continue
        if not verdict:
            return False
        agreed += 1
    return agreed >= 2


def _negligible(diff: sympy.Expr, x: sympy.Expr, y: sympy.Expr, tolerant: bool) -> bool | None:
    """Whether the constant ``diff = x - y`` is zero up to tolerance; ``None`` if not evaluable.

    Evaluated in sympy Floats, whose exponent is unbounded: Python floats would
    overflow to ``inf`` for ``(1+\\sqrt{2})^{9999}`` and compare close to anything.
    """
    dv = abs(diff.evalf(_PROBE_DIGITS))
    scale = sympy.Max(abs(x.evalf(_PROBE_DIGITS)), abs(y.evalf(_PROBE_DIGITS)))
    if not (dv.is_number and scale.is_number and dv.is_finite and scale.is_finite):
        return None
    bound = REL_TOL * scale if tolerant else _EXACT_TOL * sympy.Min(1, scale)
    try:
        return bool(dv <= bound)  # an exact zero evaluates to 0.e-163, which compares fine
    except TypeError:
        return None
