"""Compare two answers shape by shape; the leaves are compared by a pluggable test.

The same walk runs twice: first in the calling process with :func:`fast_atoms_equal`
(strings and plain numbers, no sympy), which raises :class:`Undecided` when it
cannot tell; then, only if needed, in the sympy worker with the symbolic leaf
test from :mod:`r1.math.symbolic`.

Sets of answers are strict by default: when the gold is several answers ("find
all …"), a prediction with only some of them is wrong, and so is one with extra
ones. ``lenient=True`` accepts a prediction whose answers are some of the gold's
(what math-verify does with a plain-text gold), for users who want that.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable

from r1.math.intervals import as_intervals
from r1.math.normalize import DEGREES, normalize
from r1.math.numbers import numbers_equal, parse_number
from r1.math.structure import Atom, Bag, Equation, Matrix, Node, Relation, Seq, is_constant, parse_structure

LeafTest = Callable[[str, str], bool]
RelationTest = Callable[[Node, Node], bool]
"""Decides what needs algebra: two equations that are not ``var = value``, two inequalities
that are not intervals as written, or an inequality against intervals (the worker solves it)."""

MAX_BAG_PAIRS = 4_096
"""Two unordered collections whose sizes multiply to more than this (64 answers against 64) are
compared by spelling alone: matching them by value would take as many comparisons."""

_WORDS = re.compile(r"[A-Za-z][A-Za-z '\-]*")
_TEXTY = re.compile(r"[A-Za-z]{3,}")
_MATH_WORDS = frozenset(
    "sqrt sin cos tan cot sec csc log exp pi infty frac arcsin arccos arctan sinh cosh tanh".split()
)


_SPACES = re.compile(r"(?<=\d)(\s+)(?=\d)|\s+")
_DECIMAL_COMMA = re.compile(r"-?\d+,(?:\d{1,2}|\d{4,})")  # 1,22 or 3,1416; 1,000 is a thousand
_CHOICE = re.compile(r"\(?([A-E])\)?|\(([A-E])\)[.:]?\s*([-+.\d\\].*)")  # B, (B), and AMC's (B) 6: a choice, its value


class Undecided(Exception):
    """The fast path cannot decide this pair; the symbolic worker must."""


def compare_answers(prediction: str, gold: str, leaf: LeafTest, relation: RelationTest, lenient: bool = False) -> bool:
    """Whether two final answers are equivalent, using ``leaf`` for single expressions.

    Args:
        prediction: The model's final answer (already extracted).
        gold: The reference answer.
        leaf: Equality test for two atom strings (may raise :class:`Undecided`).
        relation: See :data:`RelationTest` (may raise :class:`Undecided`).
        lenient: Accept a prediction that states some of the gold's answers only.
    """
    a, b = normalize(prediction), normalize(gold)
    if _squash(a) == _squash(b):
        return True
    a, b = _decimal_comma(a, b), _decimal_comma(b, a)
    a, b = _in_radians(a, prediction, b), _in_radians(b, gold, a)
    choice_a, choice_b = _CHOICE.fullmatch(a), _CHOICE.fullmatch(b)
    if (choice_a is not None and choice_a.group(3)) or (choice_b is not None and choice_b.group(3)):
        return _compare_choices(choice_a, choice_b, a, b, leaf, relation)
    node_a, node_b = parse_structure(a), parse_structure(b)
    if lenient and isinstance(node_b, Bag):
        items = node_a.items if isinstance(node_a, Bag) else (node_a,)
        if len(items) < len(node_b.items) and _match(list(items), list(node_b.items), leaf, relation):
            return True
    return compare_nodes(node_a, node_b, leaf, relation)


def _compare_choices(
    choice_a: re.Match[str] | None, choice_b: re.Match[str] | None, a: str, b: str, leaf: LeafTest, relation: RelationTest
) -> bool:
    """A multiple-choice answer given with its value, ``(C) 12`` (AMC golds): its letter or its value.

    Against another letter the letters decide; against a plain answer, the value does.
    """
    if choice_a is not None and choice_b is not None:
        return (choice_a.group(1) or choice_a.group(2)) == (choice_b.group(1) or choice_b.group(2))
    choice, other = (choice_a, b) if choice_a is not None else (choice_b, a)
    value = choice.group(3)  # type: ignore[union-attr]
    if choice_a is not None:
        return compare_answers(value, other, leaf, relation)
    return compare_answers(other, value, leaf, relation)


def _in_radians(answer: str, raw: str, other: str) -> str:
    """``30^\\circ`` against an answer in radians (``\\frac{\\pi}{6}``) is 30/180 of π."""
    if "\\pi" in other and "\\pi" not in answer and DEGREES.search(raw) and parse_number(answer) is not None:
        return f"\\frac{{{answer}}}{{180}}\\pi"
    return answer


def _decimal_comma(answer: str, other: str) -> str:
    """``1,22`` is 1.22 when compared with a number: a comma before other than three digits is decimal."""
    if _DECIMAL_COMMA.fullmatch(answer) and (_DECIMAL_COMMA.fullmatch(other) or parse_number(other) is not None):
        return answer.replace(",", ".")
    return answer


def compare_nodes(a: Node, b: Node, leaf: LeafTest, relation: RelationTest) -> bool:
    """Structural equivalence: ordered for tuples/intervals, unordered for sets and lists.

    ``a`` is the prediction's side and ``b`` the gold's where that matters (a predicted
    ``m + n = 34`` states 34; a gold ``x + y = 5`` is an equation, not the number 5).
    """
    if isinstance(a, Relation) or isinstance(b, Relation):
        return _compare_relations(a, b, leaf, relation)
    if isinstance(a, Equation) and isinstance(b, Equation):
        if a.solved_for_variable and _squash(a.lhs) == _squash(b.lhs):
            return compare_nodes(parse_structure(a.rhs), parse_structure(b.rhs), leaf, relation)
        return relation(a, b)
    if isinstance(a, Equation) or isinstance(b, Equation):
        eq, other = (a, b) if isinstance(a, Equation) else (b, a)
        if not eq.solved_for_variable:
            # a predicted "m + n = 34" states 34 when the gold is a value; a gold equation is itself the answer
            if eq is a and isinstance(b, Atom) and is_constant(b.text) and is_constant(eq.rhs):
                return compare_nodes(parse_structure(eq.rhs), b, leaf, relation)
            return False
        value = parse_structure(eq.rhs)
        if eq is a:
            return compare_nodes(value, other, leaf, relation)
        return compare_nodes(other, value, leaf, relation)
    if isinstance(a, Bag) or isinstance(b, Bag):
        return _compare_bags(a, b, leaf, relation)
    if isinstance(a, Matrix) or isinstance(b, Matrix):
        if isinstance(a, Atom) or isinstance(b, Atom):  # a matrix against matrix arithmetic: algebra decides
            text_a, text_b = _text(a), _text(b)
            return "\\begin{" in text_a + text_b and leaf(text_a, text_b)
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


def _compare_relations(a: Node, b: Node, leaf: LeafTest, relation: RelationTest) -> bool:
    """An inequality against an inequality or intervals: as intervals when it bounds a named quantity.

    ``x \\ge 5`` and ``5 \\le x`` are ``[5, \\infty)``; two inequalities on different
    quantities (``x > 5``, ``y > 5``) differ. What needs algebra goes to ``relation``.
    """
    intervals_a = as_intervals(a) if isinstance(a, Relation) else None
    intervals_b = as_intervals(b) if isinstance(b, Relation) else None
    if isinstance(a, Relation) and isinstance(b, Relation):
        if intervals_a is not None and intervals_b is not None:
            same_quantity = _squash(intervals_a[0]) == _squash(intervals_b[0])
            return same_quantity and compare_nodes(intervals_a[1], intervals_b[1], leaf, relation)
        return relation(a, b)
    if intervals_a is not None:
        return compare_nodes(intervals_a[1], b, leaf, relation)
    if intervals_b is not None:
        return compare_nodes(a, intervals_b[1], leaf, relation)
    other = b if isinstance(a, Relation) else a
    return isinstance(other, (Seq, Bag)) and relation(a, b)


def _text(node: Node) -> str:
    """The text of an atom or a matrix."""
    return node.source if isinstance(node, Matrix) else node.text if isinstance(node, Atom) else ""


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
    """Whether each item of ``left`` pairs with a distinct equivalent item of ``right``.

    A bipartite matching by augmenting paths, each pair compared at most once: at most
    ``len(left) * len(right)`` comparisons, and no more than :data:`MAX_BAG_PAIRS`.
    """
    if len(left) > len(right):
        return False
    left, right = _unpaired(left, right)
    if len(left) * len(right) > MAX_BAG_PAIRS:
        spelled = Counter(_spelling(node) for node in right)
        spelled.subtract(_spelling(node) for node in left)
        return min(spelled.values(), default=0) >= 0
    known: dict[tuple[int, int], bool] = {}
    owner = [-1] * len(right)

    def fits(i: int, j: int) -> bool:
        if (i, j) not in known:
            known[i, j] = compare_nodes(left[i], right[j], leaf, relation)
        return known[i, j]

    def place(i: int, tried: set[int]) -> bool:
        for j in range(len(right)):
            if j not in tried and fits(i, j):
                tried.add(j)
                if owner[j] < 0 or place(owner[j], tried):
                    owner[j] = i
                    return True
        return False

    return all(place(i, set()) for i in range(len(left)))


def _unpaired(left: list[Node], right: list[Node]) -> tuple[list[Node], list[Node]]:
    """The items left once those spelled alike on both sides are paired (safe: what equals one equals
    the other), so a reordered set is matched without comparing by value."""
    spelled: dict[str, list[int]] = {}
    for j, node in enumerate(right):
        spelled.setdefault(_spelling(node), []).append(j)
    rest_left, used = [], set()
    for node in left:
        same = spelled.get(_spelling(node))
        if same:
            used.add(same.pop())
        else:
            rest_left.append(node)
    return rest_left, [node for j, node in enumerate(right) if j not in used]


def _spelling(node: Node) -> str:
    """A node written out without spaces: what large collections are compared by."""
    return _squash(node.text) if isinstance(node, Atom) else _squash(repr(node))


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
    if len(a) == len(b) == 1 and a.isalpha() and b.isalpha():  # two choices, or two variables: never equal
        return False
    na, nb = parse_number(a), parse_number(b)
    if na is not None and nb is not None:
        return numbers_equal(na, nb)
    wa, wb = is_word_answer(a), is_word_answer(b)
    if wa and wb:
        return _squash(a).lower() == _squash(b).lower()
    if (wa and nb is not None) or (wb and na is not None):
        return False
    raise Undecided


def fast_relation(a: Node, b: Node) -> bool:
    """Equations and inequalities that differ as strings need algebra: leave them to the worker."""
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
