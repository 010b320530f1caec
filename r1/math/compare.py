"""Compare two answers shape by shape; the leaves are compared by a pluggable test.

The same walk runs twice: first in the calling process with :func:`fast_atoms_equal`
(strings and plain numbers, no sympy), which raises :class:`Undecided` when it
cannot tell; then, only if needed, in the sympy worker with the symbolic leaf
test from :mod:`r1.math.symbolic`.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from r1.math.normalize import normalize
from r1.math.numbers import numbers_equal, parse_number
from r1.math.structure import Atom, Bag, Equation, Matrix, Node, Seq, parse_structure

LeafTest = Callable[[str, str], bool]
RelationTest = Callable[[Equation, Equation], bool]

MAX_BAG = 12
"""Unordered collections larger than this are matched greedily, not exhaustively."""

_WORDS = re.compile(r"[A-Za-z][A-Za-z '\-]*")
_TEXTY = re.compile(r"[A-Za-z]{3,}")
_MATH_WORDS = frozenset(
    "sqrt sin cos tan cot sec csc log exp pi infty frac arcsin arccos arctan sinh cosh tanh".split()
)


_SPACES = re.compile(r"(?<=\d)(\s+)(?=\d)|\s+")


class Undecided(Exception):
    """The fast path cannot decide this pair; the symbolic worker must."""


def compare_answers(prediction: str, gold: str, leaf: LeafTest, relation: RelationTest) -> bool:
    """Whether two final answers are equivalent, using ``leaf`` for single expressions.

    Args:
        prediction: The model's final answer (already extracted).
        gold: The reference answer.
        leaf: Equality test for two atom strings (may raise :class:`Undecided`).
        relation: Equivalence test for two equations that are not ``var = value``.
    """
    a, b = normalize(prediction), normalize(gold)
    if _squash(a) == _squash(b):
        return True
    return compare_nodes(parse_structure(a), parse_structure(b), leaf, relation)


def compare_nodes(a: Node, b: Node, leaf: LeafTest, relation: RelationTest) -> bool:
    """Structural equivalence: ordered for tuples/intervals, unordered for sets and lists."""
    if isinstance(a, Equation) and isinstance(b, Equation):
        if a.solved_for_variable and _squash(a.lhs) == _squash(b.lhs):
            return compare_nodes(parse_structure(a.rhs), parse_structure(b.rhs), leaf, relation)
        return relation(a, b)
    if isinstance(a, Equation) or isinstance(b, Equation):
        eq, other = (a, b) if isinstance(a, Equation) else (b, a)
        if not eq.solved_for_variable:
            return False
        value = parse_structure(eq.rhs)
        if eq is a:
            return compare_nodes(value, other, leaf, relation)
        return compare_nodes(other, value, leaf, relation)
    if isinstance(a, Bag) or isinstance(b, Bag):
        return _compare_bags(a, b, leaf, relation)
    if isinstance(a, Matrix) or isinstance(b, Matrix):
        return _compare_matrices(a, b, leaf, relation)
    if isinstance(a, Seq) and isinstance(b, Seq):
        return (
            a.open == b.open
            and a.close == b.close
            and len(a.items) == len(b.items)
            and all(compare_nodes(x, y, leaf, relation) for x, y in zip(a.items, b.items))
        )
    if isinstance(a, Atom) and isinstance(b, Atom):
        return leaf(a.text, b.text)
    return False


def _compare_bags(a: Node, b: Node, leaf: LeafTest, relation: RelationTest) -> bool:
    """Unordered comparison; a one-element bag equals its element, a bare list equals a same-order tuple."""
    items_a = a.items if isinstance(a, Bag) else (a,)
    items_b = b.items if isinstance(b, Bag) else (b,)
    if isinstance(a, Seq) and a.open == "(" or isinstance(b, Seq) and b.open == "(":
        # "1, 2" against "(1, 2)": the tuple's order decides
        seq = a if isinstance(a, Seq) else b
        bag = b if seq is a else a
        if len(bag.items) == len(seq.items) and all(  # type: ignore[union-attr]
            compare_nodes(x, y, leaf, relation)
            for x, y in zip(bag.items, seq.items)  # type: ignore[union-attr]
        ):
            return True
    if len(items_a) != len(items_b):
        return False
    return _match(list(items_a), list(items_b), leaf, relation)


def _match(left: list[Node], right: list[Node], leaf: LeafTest, relation: RelationTest) -> bool:
    """Whether a one-to-one pairing of equivalent items exists (backtracking; greedy past MAX_BAG)."""
    if not left:
        return True
    head, rest = left[0], left[1:]
    for j, candidate in enumerate(right):
        if compare_nodes(head, candidate, leaf, relation):
            if _match(rest, right[:j] + right[j + 1 :], leaf, relation):
                return True
            if len(left) > MAX_BAG:
                return False
    return False


def _compare_matrices(a: Node, b: Node, leaf: LeafTest, relation: RelationTest) -> bool:
    """Entry-wise; a single row or column also matches a same-order tuple ``(1, 2, 3)``."""
    rows_a, rows_b = _as_rows(a), _as_rows(b)
    if rows_a is None or rows_b is None:
        return False
    if isinstance(a, Seq) or isinstance(b, Seq):
        flat_a = [x for row in rows_a for x in row]
        flat_b = [x for row in rows_b for x in row]
        return len(flat_a) == len(flat_b) and all(compare_nodes(x, y, leaf, relation) for x, y in zip(flat_a, flat_b))
    if [len(r) for r in rows_a] != [len(r) for r in rows_b]:
        return False
    return all(compare_nodes(x, y, leaf, relation) for ra, rb in zip(rows_a, rows_b) for x, y in zip(ra, rb))


def _as_rows(node: Node) -> tuple[tuple[Node, ...], ...] | None:
    if isinstance(node, Matrix):
        return node.rows
    if isinstance(node, Seq) and node.open == "(":
        return (node.items,)
    return None


def fast_atoms_equal(a: str, b: str) -> bool:
    """Decide two atoms by string and exact number comparison, or raise :class:`Undecided`.

    Settles identical spellings, plain numbers (``0.5`` vs ``\\frac{1}{2}``,
    ``025`` vs ``25``) and word answers (``Evelyn``, ``east``, case-insensitive).
    """
    if _squash(a) == _squash(b):
        return True
    na, nb = parse_number(a), parse_number(b)
    if na is not None and nb is not None:
        return numbers_equal(na, nb)
    wa, wb = is_word_answer(a), is_word_answer(b)
    if wa and wb:
        return _squash(a).lower() == _squash(b).lower()
    if (wa and nb is not None) or (wb and na is not None):
        return False
    raise Undecided


def fast_relation(a: Equation, b: Equation) -> bool:
    """Equations whose sides differ as strings need algebra: leave them to the worker."""
    raise Undecided


def is_word_answer(text: str) -> bool:
    """Prose such as ``Evelyn`` or ``ellipse``, not a product of variables like ``pq``.

    Letters-only answers with a run of three or more letters (that is not a
    function name) are words; ``pq`` or ``x y`` stay algebra.
    """
    if _WORDS.fullmatch(text.strip()) is None:
        return False
    runs = [r for r in _TEXTY.findall(text) if r.lower() not in _MATH_WORDS]
    return bool(runs)


def _squash(s: str) -> str:
    """Remove spaces for spelling comparisons (``2 \\sqrt{5}`` = ``2\\sqrt{5}``), except between digits (``2 3``)."""
    return _SPACES.sub(lambda m: " " if m.group(1) else "", s)
