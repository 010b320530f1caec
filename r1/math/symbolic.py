"""The sympy tests: equality of two expressions (or matrices), two equations, two inequalities.

Imported only inside the verifier's worker process (:mod:`r1.math.worker`), where
a runaway computation can be killed. Equality is decided by cheap exact steps
(structural, ``expand``) and then by evaluating both sides at a few fixed
points: a numeric probe is fast, never hangs like ``simplify`` can, and proves
identities ``simplify`` misses (``\\cot x`` vs ``\\cos x / \\sin x``). Inequalities
are compared link by link (``-x > -1`` is ``x < 1``: the sides' differences are a
positive multiple of each other), and one that is linear in one variable is
solved to the interval it describes (``2x + 1 \\le 3`` is ``(-\\infty, 1]``).
"""

from __future__ import annotations

import re

import sympy

from r1.math.cache import WORKER_BYTES, verdict_cache
from r1.math.compare import Undecided, compare_answers, fast_atoms_equal
from r1.math.latex import ParseError, TooLarge, parse_latex
from r1.math.intervals import FLIPPED
from r1.math.numbers import REL_TOL
from r1.math.structure import Atom, Bag, Equation, Node, Relation, Seq

MAX_EXPRESSION_CHARS = 1_000
"""Longer atoms are not parsed; no benchmark answer comes close."""
_PROBE_DIGITS = 30
_EXACT_TOL = sympy.Float("1e-20")
_DECIMAL = re.compile(r"\d*\.\d")
_PROBE_VALUES = tuple(sympy.Rational(p, q) for p, q in ((37, 101), (149, 113), (211, 157), (-89, 61)))
"""Probe points: awkward rationals, unlikely to sit on a pole or a special angle."""


Interval = tuple[sympy.Expr, sympy.Expr, bool, bool]
"""``(low, high, low closed, high closed)``."""


@verdict_cache(WORKER_BYTES)
def answers_equivalent(prediction: str, gold: str, lenient: bool = False) -> bool:
    """Full comparison of two answers with sympy leaves; the worker's entry point."""
    return compare_answers(prediction, gold, atoms_equal, relations_equivalent, lenient)


def relations_equivalent(a: Node, b: Node) -> bool:
    """Two equations, two inequalities, or an inequality against the intervals it should describe."""
    if isinstance(a, Equation) and isinstance(b, Equation):
        return equations_equivalent(a, b)
    if isinstance(a, Relation) and isinstance(b, Relation):
        return inequalities_equivalent(a, b)
    if isinstance(a, Relation) or isinstance(b, Relation):
        relation, other = (a, b) if isinstance(a, Relation) else (b, a)
        solution = solve_linear(relation)  # type: ignore[arg-type]
        return solution is not None and _intervals_match(solution, other)
    return False


def inequalities_equivalent(a: Relation, b: Relation) -> bool:
    """Same links, in any order, each the same relation of sides whose differences are proportional.

    ``x \\ge 5`` is ``5 - x \\le 0`` and ``-x > -1`` is ``x - 1 < 0``; two links agree when their
    relations match and one difference is a positive multiple of the other (any non-zero
    multiple for ``\\ne``).
    """
    links_a, links_b = _links(a), _links(b)
    if links_a is None or links_b is None or len(links_a) != len(links_b):
        return False
    return _pair_up(links_a, links_b)


def solve_linear(relation: Relation) -> list[Interval] | None:
    """The intervals an inequality in one variable describes, when each link is linear in it.

    ``-1 < 2x + 1 \\le 5`` is ``[(-1, 2, open, closed)]``; ``x \\ne 3`` is two intervals.
    ``None`` for anything else (two variables, ``x^2 < 4``).
    """
    links = _links(relation)
    if links is None:
        return None
    symbols = set().union(*(d.free_symbols for d, _ in links))
    if len(symbols) != 1:
        return None
    (symbol,) = symbols
    low: tuple[sympy.Expr, bool] = (-sympy.oo, False)
    high: tuple[sympy.Expr, bool] = (sympy.oo, False)
    for difference, op in links:  # difference op 0, op one of <, \le, \ne
        try:
            poly = sympy.Poly(difference, symbol)
        except sympy.PolynomialError:  # \sqrt{x} < 2
            return None
        if poly.degree() != 1:
            return None
        slope, intercept = poly.all_coeffs()
        if not (slope.is_number and intercept.is_number and slope.is_nonzero):
            return None
        root = -intercept / slope
        if op == "\\ne":
            return [(-sympy.oo, root, False, False), (root, sympy.oo, False, False)] if len(links) == 1 else None
        closed = op == "\\le"
        if slope.is_positive:  # symbol < root
            if bool(root < high[0]) or (root == high[0] and not closed):
                high = (root, closed)
        elif bool(root > low[0]) or (root == low[0] and not closed):  # symbol > root
            low = (root, closed)
    return [(low[0], high[0], low[1], high[1])]


def _links(relation: Relation) -> list[tuple[sympy.Expr, str]] | None:
    """Each link of a chain as ``(difference, op)`` meaning ``difference op 0``, op ``<``, ``\\le`` or ``\\ne``."""
    sides = [_parse(part) for part in relation.parts]
    if any(side is None or isinstance(side, sympy.MatrixBase) for side in sides):
        return None
    links = []
    for left, op, right in zip(sides, relation.ops, sides[1:]):
        if op in (">", "\\ge"):
            left, right, op = right, left, FLIPPED[op]
        links.append((sympy.expand(left - right), op))  # type: ignore[operator]
    return links


def _pair_up(left: list[tuple[sympy.Expr, str]], right: list[tuple[sympy.Expr, str]]) -> bool:
    """Whether each link of ``left`` agrees with a distinct link of ``right``."""
    if not left:
        return True
    (difference, op), rest = left[0], left[1:]
    for j, (other, other_op) in enumerate(right):
        if op == other_op and _proportional(difference, other, op == "\\ne") and _pair_up(rest, right[:j] + right[j + 1 :]):
            return True
    return False


def _proportional(a: sympy.Expr, b: sympy.Expr, any_sign: bool) -> bool:
    """Whether ``a`` is a constant multiple of ``b``: positive, or of either sign when ``any_sign``."""
    if a == 0 or b == 0:
        return a == b
    ratio = sympy.cancel(a / b)
    if ratio.free_symbols or not ratio.is_finite:
        return False
    return bool(ratio.is_nonzero) if any_sign else bool(ratio.is_positive)


def _intervals_match(solution: list[Interval], node: Node) -> bool:
    """Whether ``node`` (an interval, or a union or list of them) is exactly ``solution``."""
    items = node.items if isinstance(node, Bag) else (node,)
    if len(items) != len(solution):
        return False
    remaining = list(solution)
    for item in items:
        match = next((s for s in remaining if _interval_equal(s, item)), None)
        if match is None:
            return False
        remaining.remove(match)
    return True


def _interval_equal(interval: Interval, node: Node) -> bool:
    """Whether the written interval ``node`` (``(1, 2]``) has the same ends and brackets."""
    if not (isinstance(node, Seq) and len(node.items) == 2 and node.open in "([" and node.close in ")]"):
        return False
    low, high, low_closed, high_closed = interval
    if (node.open == "[") != low_closed or (node.close == "]") != high_closed:
        return False
    ends = [_parse(item.text) if isinstance(item, Atom) else None for item in node.items]
    if ends[0] is None or ends[1] is None:
        return False
    return expressions_equal(ends[0], low) and expressions_equal(ends[1], high)


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
    if any(s is None or isinstance(s, sympy.MatrixBase) for s in sides):
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
    if isinstance(x, sympy.MatrixBase) or isinstance(y, sympy.MatrixBase):
        return (
            isinstance(x, sympy.MatrixBase)
            and isinstance(y, sympy.MatrixBase)
            and x.shape == y.shape
            and all(expressions_equal(p, q, tolerant) for p, q in zip(x, y))
        )
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
    except (ParseError, TooLarge, TypeError, ValueError, AttributeError, ZeroDivisionError, RecursionError):
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
