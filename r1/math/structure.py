"""Split an answer into its shape: tuple, interval, set, equation, inequality, matrix or atom.

Shape decides *how* two answers compare: a point ``(2, 4)`` and an interval
``(3, 4]`` are ordered and their brackets matter (``(2, 1]`` is not ``(1, 2]``);
the solutions ``3, 5, 7`` and the set ``\\{1\\pm\\sqrt5, -2\\}`` are unordered;
``x = 5``, ``f(x) = 5`` and ``|AB| = 5`` match ``5``; ``x \\ge 5`` is an inequality
that matches the interval ``[5, \\infty)``. Only the leaves (atoms) need arithmetic,
so this module is pure string work and runs in the parent process.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

_OPEN = "([{"
_CLOSE = ")]}"
_VAR = r"(?:[a-zA-Z](?:_\{?\w+\}?)?|\\[a-zA-Z]+)"
_NAME = r"(?:[A-Z]{2,4}|[a-zA-Z]|\\[a-zA-Z]+)(?:_\{?\w+\}?)?"  # AB, x, a_1, \theta
_MARKED = rf"(?:\\(?:angle|measuredangle|triangle|overline|overrightarrow|vec|widehat|hat|bar)\s*)?\{{?\s*{_NAME}\s*\}}?"
_APPLIED = rf"m?\s*{_MARKED}(?:\s*\(\s*[^()=]{{0,24}}\))?"  # f(x), P(A), m\angle ABC, S_{{10}}
_TERM = rf"(?:{_APPLIED}|\|\s*{_APPLIED}\s*\|)"  # and |AB|
_LABEL = re.compile(rf"{_TERM}(?:\s*[:/]\s*{_TERM})*|\(\s*{_VAR}(?:\s*,\s*{_VAR})*\s*\)")
"""The left side of an equation that names its right side: ``x``, ``(x, y)``, ``f(x)``, ``|AB|``,
``\\angle ABC``, ``V_1:V_2``."""
_MATRIX = re.compile(
    r"\\begin\{([pbvBV]?matrix|array)\}(?:\{[^}]*\})?((?:(?!\\begin\{|\\end\{).)*)\\end\{\1\}", re.DOTALL
)  # one environment, not a sum of two
_RELATIONS = ("<", ">", "\\le", "\\ge", "\\ne")
_COMMANDS = re.compile(r"\\[a-zA-Z]+")
_LETTER = re.compile(r"[a-zA-Z]")


@dataclass(frozen=True)
class Atom:
    """A single expression, compared by value (``\\frac{1}{2}`` = ``0.5``)."""

    text: str


@dataclass(frozen=True)
class Seq:
    """An ordered, bracketed sequence: a point, a vector or an interval."""

    open: str
    close: str
    items: tuple[Node, ...]


@dataclass(frozen=True)
class Bag:
    """An unordered collection: a set, a list of solutions, a union of intervals."""

    items: tuple[Node, ...]


@dataclass(frozen=True)
class Equation:
    """``lhs = rhs``; ``y = 2x + 3`` or a plane ``x + y - z = 1``."""

    lhs: str
    rhs: str

    @property
    def solved_for_variable(self) -> bool:
        """Whether the left side names the right: ``x = 5``, ``(x, y) = (1, 2)``, ``f(x) = 1``,
        ``|AB| = 1``, ``V_1:V_2 = 11:21``; ``x + y = 5`` and ``2x = 5`` are relations."""
        return is_label(self.lhs)


@dataclass(frozen=True)
class Relation:
    """An inequality or a chain of them: ``x \\ge 5``, ``-2 \\le x \\le 7``, ``x \\ne 3``.

    ``ops[i]`` relates ``parts[i]`` to ``parts[i + 1]``; each is one of ``<``, ``>``,
    ``\\le``, ``\\ge``, ``\\ne`` (the normaliser's spellings).
    """

    parts: tuple[str, ...]
    ops: tuple[str, ...]


@dataclass(frozen=True)
class Matrix:
    """A ``pmatrix``/``bmatrix``/``array``: rows of entries, and the text it was read from."""

    rows: tuple[tuple[Node, ...], ...]
    source: str = field(default="", compare=False)


Node = Atom | Seq | Bag | Equation | Relation | Matrix


def parse_structure(text: str) -> Node:
    """The shape of a normalised answer.

    Args:
        text: An answer after :func:`r1.math.normalize.normalize`.

    Returns:
        The outermost shape that fits, tried in order: matrix, union (``\\cup``),
        braced set (``\\{1, 2\\}`` or ``{1, 2}``), bracketed sequence with a top-level
        comma, list of answers separated by ``;`` (each part kept whole: ``p=5,q=2;
        p=7,q=2`` is two solutions of two values each), bare comma list, ``\\pm`` pair,
        inequality, equation, and otherwise an atom. An equation whose left side
        is arithmetic on numbers (``3 + 4 = 7``) is its value, and so is a ratio of
        two numbers (``3:4`` is 3/4).
    """
    s = text.strip()
    if (m := _MATRIX.fullmatch(s)) is not None:
        rows = [r for r in re.split(r"\\\\", m.group(2)) if r.strip()]
        return Matrix(tuple(tuple(parse_structure(c) for c in r.split("&")) for r in rows), s)
    if len(parts := split_top_level(s, "\\cup")) > 1:
        return _bag(parse_structure(p) for p in parts)
    if s.startswith("\\{") and s.endswith("\\}") and _encloses(s.replace("\\{", "{").replace("\\}", "}")):
        inner = s[2:-2]
        return _bag(_expand_pm(p) for p in split_top_level(inner, ",") if p.strip())
    if s.startswith("{") and s.endswith("}") and _encloses(s) and len(split_top_level(s[1:-1], ",")) > 1:
        return _bag(_expand_pm(p) for p in split_top_level(s[1:-1], ",") if p.strip())
    if s[:1] in "([" and s[-1:] in ")]" and _encloses(s):
        items = split_top_level(s[1:-1], ",")
        if len(items) > 1:
            return Seq(s[0], s[-1], tuple(parse_structure(p) for p in items))
    if len(groups := [g for g in split_top_level(s, ";") if g]) > 1:
        parsed = [parse_structure(g) for g in groups]
        return Bag(tuple(parsed)) if any(isinstance(p, Bag) for p in parsed) else _bag(parsed)
    if len(items := split_top_level(s, ",")) > 1:
        return _bag(_expand_pm(p) for p in items if p.strip())
    if len(split_top_level(s, "\\pm")) == 2 and len(split_top_level(s, "=")) == 1:  # y = \pm 2x is an equation
        return _expand_pm(s)
    if (relation := _relation(s)) is not None:
        return relation
    if len(sides := split_top_level(s, "=")) == 2:
        if _is_arithmetic(sides[0]) and sides[1]:
            return parse_structure(sides[1])
        return Equation(sides[0].strip(), sides[1].strip())
    if len(sides) > 2:  # a = b = 3: the value is the last side
        return parse_structure(sides[-1])
    if len(ratio := split_top_level(s, ":")) == 2 and all(is_constant(p) for p in ratio):
        return Atom(f"\\frac{{{ratio[0]}}}{{{ratio[1]}}}")  # 3:4 is the number 3/4, and 6:8 too
    return Atom(s)


def is_label(text: str) -> bool:
    """Whether ``text`` names a quantity: ``x``, ``a_1``, ``f(x)``, ``|AB|``, ``\\angle ABC``, ``V_1:V_2``."""
    return _LABEL.fullmatch(text.strip()) is not None


def is_constant(text: str) -> bool:
    """Whether ``text`` is free of variables: ``5``, ``-\\frac{1}{2}``, ``\\sqrt{2}``, ``\\pi``, ``\\infty``."""
    return _LETTER.search(_COMMANDS.sub("", text)) is None and bool(text.strip())


def _relation(s: str) -> Relation | None:
    """``s`` as an inequality chain, when it has a top-level ``<``, ``>``, ``\\le``, ``\\ge`` or ``\\ne``."""
    parts: list[str] = []
    ops: list[str] = []
    depth, last, i = 0, 0, 0
    while i < len(s):
        c = s[i]
        if c in _OPEN:
            depth += 1
        elif c in _CLOSE:
            depth -= 1
        elif depth == 0:
            op = next((o for o in _RELATIONS if s.startswith(o, i) and _whole_command(s, i, o)), None)
            if op is not None:
                parts.append(s[last:i].strip())
                ops.append(op)
                i += len(op)
                last = i
                continue
        i += 1
    if not ops:
        return None
    parts.append(s[last:].strip())
    if not all(parts):
        return None
    return Relation(tuple(parts), tuple(ops))


def _whole_command(s: str, i: int, sep: str) -> bool:
    """Whether ``sep`` found at ``s[i]`` ends there: ``\\le`` is not the start of ``\\left``."""
    return not (sep[0] == "\\" and s[i + len(sep) : i + len(sep) + 1].isalpha())


def _is_arithmetic(side: str) -> bool:
    """Whether ``side`` computes with numbers only (``3 + 4``, ``\\frac{1}{2} \\cdot 6``): no variables."""
    return bool(re.search(r"\d", side)) and is_constant(side)


def split_top_level(s: str, sep: str) -> list[str]:
    """Split ``s`` at ``sep`` where it is outside all brackets (``()[]{}``, mixed).

    Brackets of different kinds are counted together so that half-open intervals
    like ``(3,4]`` nest correctly.
    """
    parts, depth, last, i = [], 0, 0, 0
    while i < len(s):
        c = s[i]
        if c == "\\" and s.startswith(("\\{", "\\}"), i):
            depth += 1 if s[i + 1] == "{" else -1
            i += 2
            continue
        # a command separator must end there: "\\pm" is not the start of "\\pmatrix"
        if depth == 0 and s.startswith(sep, i) and _whole_command(s, i, sep):
            parts.append(s[last:i])
            i += len(sep)
            last = i
            continue
        if c in _OPEN:
            depth += 1
        elif c in _CLOSE:
            depth -= 1
        i += 1
    parts.append(s[last:])
    return [p.strip() for p in parts]


def _encloses(s: str) -> bool:
    """Whether the bracket opening ``s`` closes at its last character (``(a)(b)`` does not)."""
    depth = 0
    for i, c in enumerate(s):
        if c in _OPEN:
            depth += 1
        elif c in _CLOSE:
            depth -= 1
            if depth == 0:
                return i == len(s) - 1
    return False


def _expand_pm(s: str) -> Node:
    """``a \\pm b`` is the two values ``a + b`` and ``a - b``; other items pass through."""
    parts = split_top_level(s, "\\pm")
    if len(parts) != 2:
        return parse_structure(s)
    a, b = parts
    if len(split_top_level(b, "+")) > 1 or len(split_top_level(b.lstrip("-"), "-")) > 1:
        b = f"({b})"  # 1 \pm x+1 means 1 \pm (x+1) once written out
    return Bag((Atom(f"{a}+{b}" if a else b), Atom(f"{a}-{b}" if a else f"-{b}")))


def _bag(items: Iterable[Node]) -> Bag:
    """A ``Bag`` with nested bags (``\\pm`` pairs inside a set) flattened into it."""
    flat: list[Node] = []
    for item in items:
        flat.extend(item.items if isinstance(item, Bag) else (item,))
    return Bag(tuple(flat))
