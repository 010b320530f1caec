"""Split an answer into its shape: tuple, interval, set, equation, matrix or atom.

Shape decides *how* two answers compare: a point ``(2, 4)`` and an interval
``(3, 4]`` are ordered and their brackets matter (``(2, 1]`` is not ``(1, 2]``);
the solutions ``3, 5, 7`` and the set ``\\{1\\pm\\sqrt5, -2\\}`` are unordered;
``x = 5`` matches ``5``. Only the leaves (atoms) need arithmetic, so this module
is pure string work and runs in the parent process.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

_OPEN = "([{"
_CLOSE = ")]}"
_VAR = r"(?:[a-zA-Z](?:_\{?\w+\}?)?|\\[a-zA-Z]+)"
_SIMPLE_VAR = re.compile(rf"{_VAR}|\(\s*{_VAR}(?:\s*,\s*{_VAR})*\s*\)")  # x, \theta, a_1, (x, y)
_MATRIX = re.compile(r"\\begin\{([pbvBV]?matrix|array)\}(?:\{[^}]*\})?(.*)\\end\{\1\}", re.DOTALL)


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
        """``x = 5`` and ``(x, y) = (1, 2)`` name a value; ``x + y = 5`` is a relation."""
        return _SIMPLE_VAR.fullmatch(self.lhs.strip()) is not None


@dataclass(frozen=True)
class Matrix:
    """A ``pmatrix``/``bmatrix``: rows of entries."""

    rows: tuple[tuple[Node, ...], ...]


Node = Atom | Seq | Bag | Equation | Matrix


def parse_structure(text: str) -> Node:
    """The shape of a normalised answer.

    Args:
        text: An answer after :func:`r1.math.normalize.normalize`.

    Returns:
        The outermost shape that fits, tried in order: matrix, union (``\\cup``),
        braced set, bracketed sequence with a top-level comma, bare comma list,
        ``\\pm`` pair, equation, and otherwise an atom.
    """
    s = text.strip()
    if (m := _MATRIX.fullmatch(s)) is not None:
        rows = [r for r in re.split(r"\\\\", m.group(2)) if r.strip()]
        return Matrix(tuple(tuple(parse_structure(c) for c in r.split("&")) for r in rows))
    if len(parts := split_top_level(s, "\\cup")) > 1:
        return _bag(parse_structure(p) for p in parts)
    if s.startswith("\\{") and s.endswith("\\}") and _encloses(s.replace("\\{", "{").replace("\\}", "}")):
        inner = s[2:-2]
        return _bag(_expand_pm(p) for p in split_top_level(inner, ",") if p.strip())
    if s[:1] in "([" and s[-1:] in ")]" and _encloses(s):
        items = split_top_level(s[1:-1], ",")
        if len(items) > 1:
            return Seq(s[0], s[-1], tuple(parse_structure(p) for p in items))
    if len(items := split_top_level(s, ",")) > 1:
        return _bag(_expand_pm(p) for p in items if p.strip())
    if len(split_top_level(s, "\\pm")) == 2:
        return _expand_pm(s)
    if len(sides := split_top_level(s, "=")) == 2:
        return Equation(sides[0].strip(), sides[1].strip())
    if len(sides) > 2:  # a = b = 3: the value is the last side
        return parse_structure(sides[-1])
    return Atom(s)


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
        whole_command = not (sep[0] == "\\" and s[i + len(sep) : i + len(sep) + 1].isalpha())
        if depth == 0 and s.startswith(sep, i) and whole_command:
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
