"""Test cases as the judge sees them: which part is the candidate's output, which the expectation.

Why parse tests at all: a test that runs in the candidate's process can be fooled by the
candidate (patched ``builtins.compile``/``exec``, a shadowed ``abs``, an object whose
``__eq__`` always returns True). So a test is split, in the trusted process, into what must
run with the candidate's code and what must not:

- ``assert L == R`` (MBPP's form, ``assert R == L`` too when only ``R`` is a literal): ``L``
  is the candidate's output and is evaluated in its namespace; ``R`` is the expectation.
  When ``R`` is a literal (:func:`literal_value`), r1 itself compares; otherwise the
  checker process evaluates ``R``.
- anything else (``assert math.isclose(f(x), y)``, loops, HumanEval's ``check`` body) runs
  as a whole in the checker, where the candidate's names are remote proxies.

See ``_checker.py`` and ``_runner.py`` for the two sides and ``README.md`` for what remains
possible.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Case:
    """One test case.

    Attributes:
        source: the statement(s) as written; run in the checker when ``left`` is None.
        left: for ``assert L == R``, the candidate's expression ``L``.
        right: for ``assert L == R``, the expected expression ``R``.
    """

    source: str
    left: str | None = None
    right: str | None = None

    @property
    def literal(self) -> bool:
        """``assert L == <literal>``: r1 compares without running any test code."""
        return self.right is not None and _is_literal(self.right)


def parse_case(source: str) -> Case:
    """The :class:`Case` for one test statement (see the module docstring)."""
    try:
        module = ast.parse(source)
    except SyntaxError:
        return Case(source)
    if len(module.body) != 1 or not isinstance(module.body[0], ast.Assert):
        return Case(source)
    test = module.body[0].test
    if not (isinstance(test, ast.Compare) and len(test.ops) == 1 and isinstance(test.ops[0], ast.Eq)):
        return Case(source)
    left, right = test.left, test.comparators[0]
    if _is_literal(ast.unparse(left)) and not _is_literal(ast.unparse(right)):
        left, right = right, left
    return Case(source, left=ast.unparse(left), right=ast.unparse(right))


def literal_value(case: Case) -> Any:
    """The expected value of a :attr:`Case.literal` case."""
    assert case.right is not None
    return ast.literal_eval(case.right)


def _is_literal(source: str) -> bool:
    try:
        ast.literal_eval(source)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return False
    return True
