"""Inequalities as the intervals they describe, by string work alone (the fast stage).

``x \\ge 5`` is ``[5, \\infty)``, ``5 \\le x`` too, ``-2 \\le x \\le 7`` is ``[-2, 7]``,
``0 < f(x) < 1`` is ``(0, 1)`` and ``x \\ne 3`` is ``(-\\infty, 3) \\cup (3, \\infty)``:
whenever one part names a quantity (:func:`r1.math.structure.is_label`) and the
others are constants. An inequality that needs algebra first (``-x > -1``,
``2x + 1 < 3``) is solved by the sympy worker (:mod:`r1.math.symbolic`).
"""

from __future__ import annotations

from r1.math.structure import Atom, Bag, Node, Relation, Seq, is_constant, is_label

FLIPPED = {"<": ">", ">": "<", "\\le": "\\ge", "\\ge": "\\le", "\\ne": "\\ne"}
"""The relation read from the other side: ``5 \\le x`` is ``x \\ge 5``."""
_UPWARD = ("<", "\\le")
_DOWNWARD = (">", "\\ge")
_LOW, _HIGH = "-\\infty", "\\infty"


def as_intervals(relation: Relation) -> tuple[str, Node] | None:
    """``(the quantity bounded, its interval or union of intervals)``, or ``None`` when algebra is needed."""
    parts, ops = relation.parts, relation.ops
    if len(parts) == 2:
        left, right = parts
        if is_label(left) and is_constant(right):
            return left, half_line(ops[0], right)
        if is_label(right) and is_constant(left):
            return right, half_line(FLIPPED[ops[0]], left)
        return None
    if len(parts) == 3 and is_label(parts[1]) and is_constant(parts[0]) and is_constant(parts[2]):
        low_op, high_op = ops
        low, high = parts[0], parts[2]
        if low_op in _DOWNWARD and high_op in _DOWNWARD:  # 7 \ge x \ge -2
            low, high, low_op, high_op = high, low, FLIPPED[high_op], FLIPPED[low_op]
        if low_op in _UPWARD and high_op in _UPWARD:
            return parts[1], Seq("(" if low_op == "<" else "[", ")" if high_op == "<" else "]", (Atom(low), Atom(high)))
    return None


def half_line(op: str, bound: str) -> Node:
    """The values ``v`` with ``v op bound``, as an interval (or two, for ``\\ne``)."""
    if op == "<":
        return Seq("(", ")", (Atom(_LOW), Atom(bound)))
    if op == "\\le":
        return Seq("(", "]", (Atom(_LOW), Atom(bound)))
    if op == ">":
        return Seq("(", ")", (Atom(bound), Atom(_HIGH)))
    if op == "\\ge":
        return Seq("[", ")", (Atom(bound), Atom(_HIGH)))
    return Bag((Seq("(", ")", (Atom(_LOW), Atom(bound))), Seq("(", ")", (Atom(bound), Atom(_HIGH)))))
