"""Agreement cases for the verifier, built from the benchmark files shipped with r1.

The verifier is judged on real data rather than on hand-picked strings: the
boxed answer of every MATH-500 reference solution against its gold answer,
every GSM8K ``#### N`` against N in several spellings, and MATH-500 answers
rewritten into forms that must still match (a terminating fraction as a
decimal, ``x =`` prefixes, units, reordered sets) or must not (off by one, an
interval with its ends swapped, a different fraction). The unit tests and
``tools/bench_verifier.py`` share these cases.
"""

from __future__ import annotations

import json
import re
from fractions import Fraction
from pathlib import Path

from r1.math.compare import is_word_answer
from r1.math.normalize import normalize
from r1.math.numbers import parse_number
from r1.math.structure import Atom, Bag, Seq, parse_structure, split_top_level

DATA = Path(__file__).resolve().parents[1] / "benchmarks" / "data"

Pair = tuple[str, str]
"""``(prediction, gold)``."""


def load_jsonl(benchmark: str) -> list[dict]:
    """The records of ``r1/benchmarks/data/<benchmark>/test.jsonl``."""
    with open(DATA / benchmark / "test.jsonl", encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def gsm8k_number(answer: str) -> str:
    """The number after ``####`` in a GSM8K answer, thousands separators removed."""
    return answer.split("####")[-1].strip().replace(",", "")


def gsm8k_pairs() -> list[Pair]:
    """Each GSM8K solution and spellings of its number against the number itself.

    Spellings: the full solution (extracted via ``####``), the plain number, with
    thousands separators, ``\\boxed{N}``, ``N.0``, ``$N`` and ``\\$N``.
    """
    pairs: list[Pair] = []
    for record in load_jsonl("gsm8k"):
        n = gsm8k_number(record["answer"])
        value = int(n)
        pairs += [
            (record["answer"], n),
            (n, n),
            (f"{value:,}", n),
            (f"\\boxed{{{n}}}", n),
            (f"{n}.0", n),
            (f"${n}", n),
            (f"\\${n}", n),
        ]
    return pairs


def gsm8k_wrong_pairs() -> list[Pair]:
    """Each GSM8K number off by one against the gold: all must fail."""
    return [(str(int(gsm8k_number(r["answer"])) + 1), gsm8k_number(r["answer"])) for r in load_jsonl("gsm8k")]


def math500_rewrites() -> tuple[list[Pair], list[Pair]]:
    """Rewritten MATH-500 answers: ``(must_pass, must_fail)`` lists of ``(prediction, gold)``."""
    must_pass: list[Pair] = []
    must_fail: list[Pair] = []
    for record in load_jsonl("math500"):
        gold = record["answer"]
        must_pass += [(p, gold) for p in _equivalent_forms(gold) if p != gold]
        must_fail += [(p, gold) for p in _wrong_forms(gold)]
    return must_pass, must_fail


def _equivalent_forms(gold: str) -> list[str]:
    """Spellings of ``gold`` that a grader must accept."""
    forms = [f"${gold}$", f"The answer is $\\boxed{{{gold}}}$."]
    if "\\frac" in gold:
        forms.append(gold.replace("\\frac", "\\dfrac"))
    if "\\dfrac" in gold:
        forms.append(gold.replace("\\dfrac", "\\frac"))
    number = parse_number(normalize(gold))
    if number is not None and not number.percent:
        value = number.value
        if value.denominator == 1:
            n = value.numerator
            forms += [f"{n}\\text{{ cm}}", f"x = {n}", f"{n}.0", f"{n:,}"]
        elif _terminates(value):
            forms.append(_decimal(value))
            forms.append(f"{value.numerator}/{value.denominator}")
    node = parse_structure(normalize(gold))
    if isinstance(node, Bag) and len(node.items) > 1 and all(isinstance(i, (Atom, Seq)) for i in node.items):
        parts = split_top_level(normalize(gold), "\\cup") if "\\cup" in gold else None
        if parts and len(parts) > 1:
            forms.append(" \\cup ".join(reversed(parts)))
        elif normalize(gold).startswith("\\{"):
            inner = split_top_level(normalize(gold)[2:-2], ",")
            forms.append("\\{" + ", ".join(reversed(inner)) + "\\}")
        else:
            forms.append(", ".join(reversed(split_top_level(normalize(gold), ","))))
    forms += _symbolic_forms(gold)
    return forms


def _symbolic_forms(gold: str) -> list[str]:
    """Rewrites that only algebra recognises: terms of a sum reordered, ``a\\sqrt{b}`` as one root,
    and any expression answer doubled and halved, which runs every such answer through the parser."""
    s = normalize(gold)
    forms = []
    if _is_expression(s):
        forms.append(f"\\frac{{2 \\left({s}\\right)}}{{2}}")
    m = re.fullmatch(r"(\d+)\s*\\sqrt\{(\d+)\}", s)
    if m is not None:
        a, b = int(m.group(1)), int(m.group(2))
        forms.append(f"\\sqrt{{{a * a * b}}}")
    terms = _top_level_terms(s)
    if len(terms) > 1 and not re.search(r"=|,|\\pm|\\begin|\\cup", s):
        forms.append("".join(_signed(t, first=i == 0) for i, t in enumerate(reversed(terms))))
    return forms


def _top_level_terms(s: str) -> list[str]:
    """Signed terms of a top-level sum: ``x^3+3x-6`` → ``['x^3', '+3x', '-6']``."""
    terms, depth, start = [], 0, 0
    for i, c in enumerate(s):
        if c in "({[":
            depth += 1
        elif c in ")}]":
            depth -= 1
        elif c in "+-" and depth == 0 and i > start and s[i - 1] not in "^_{(":
            terms.append(s[start:i].strip())
            start = i
    terms.append(s[start:].strip())
    return [t for t in terms if t]


def _signed(term: str, first: bool) -> str:
    if term[0] in "+-":
        return (term[1:].strip() if term[0] == "+" else "-" + term[1:].strip()) if first else term[0] + term[1:].strip()
    return term if first else "+" + term


def _wrong_forms(gold: str) -> list[str]:
    """Near misses that a grader must reject."""
    s = normalize(gold)
    forms: list[str] = []
    number = parse_number(s)
    if number is not None and not number.percent:
        value = number.value
        if value.denominator == 1:
            forms += [str(value.numerator + 1), str(value.numerator - 1), str(value.numerator * 10 + 1)]
        else:
            forms.append(f"\\frac{{{value.numerator + 1}}}{{{value.denominator}}}")
            if abs(value) != 1:
                forms.append(f"\\frac{{{value.denominator}}}{{{value.numerator}}}")
    if _is_expression(s):
        forms.append(f"({s}) + 1")
    node = parse_structure(s)
    if isinstance(node, Seq) and len(node.items) == 2:
        inner = split_top_level(s[1:-1], ",")
        if normalize(inner[0]) != normalize(inner[1]):
            forms.append(f"{s[0]}{inner[1]}, {inner[0]}{s[-1]}")  # ends swapped
        flipped = {"(": "[", "[": "("}[s[0]]
        forms.append(f"{flipped}{s[1:]}")  # open vs closed
    return forms


def _is_expression(s: str) -> bool:
    """A single expression (not a number, word, tuple, set, equation or matrix)."""
    return (
        isinstance(parse_structure(s), Atom)
        and parse_number(s) is None
        and not is_word_answer(s)
        and re.fullmatch(r"[A-E]", s) is None  # a multiple-choice letter
        and re.search(r"\\text|\\begin|\\le|\\ge|<|>", s) is None
    )


def _terminates(value: Fraction) -> bool:
    d = value.denominator
    for p in (2, 5):
        while d % p == 0:
            d //= p
    return d == 1


def _decimal(value: Fraction) -> str:
    """Exact decimal spelling of a terminating fraction (``-3/8`` → ``-0.375``)."""
    sign = "-" if value < 0 else ""
    value = abs(value)
    digits = 0
    while (value * 10**digits).denominator != 1:
        digits += 1
    scaled = value.numerator * 10**digits // value.denominator
    whole, frac = divmod(scaled, 10**digits)
    return f"{sign}{whole}.{frac:0{digits}d}"
