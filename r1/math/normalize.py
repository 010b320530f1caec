"""String clean-up that makes two ways of writing the same answer look alike.

Most pairs of answers that a grader sees are equal once the LaTeX noise is gone
(``\\left(``, ``\\dfrac``, ``\\!``, ``^\\circ``, ``\\text{ cm}``, ``$``...), so this
pure-string pass decides the bulk of comparisons without sympy. Every function
here is idempotent, so normalising twice (parent process, then the sympy worker)
is harmless.
"""

from __future__ import annotations

import re

UNIT_WORDS = frozenset(
    """
    cm m km mm in inch inches ft feet foot yd yard yards mi mile miles meter meters metre metres
    centimeter centimeters kilometer kilometers millimeter millimeters unit units sq square cubic
    degree degrees deg radian radians cent cents dollar dollars hour hours hr hrs minute minutes min
    mins second seconds sec day days week weeks month months year years mph kg g gram grams pound
    pounds lb lbs oz ounce ounces liter liters litre litres ml gallon gallons percent points point
    people persons students apples cookies marbles pages times euro euros eur usd yuan rupees rupee
    """.split()
)
"""Words dropped when they trail a number (``12 cm``, ``5 dollars``, ``4 square units``)."""
RATE_UNITS = UNIT_WORDS | {"h", "s"}
"""The parts of a rate dropped after a number (``5 km/h``, ``3 m/s``, ``4 dollars/hour``)."""

_UNICODE = {
    "\u2212": "-",  # minus sign
    "\u2013": "-",  # en dash, sometimes used as minus
    "\u00d7": "\\times ",
    "\u22c5": "\\cdot ",
    "\u00b7": "\\cdot ",
    "\u03c0": "\\pi ",
    "\u221e": "\\infty ",
    "\u221a": "\\sqrt",
    "\u00b0": "^\\circ",
    "\u2264": "\\le ",
    "\u2265": "\\ge ",
    "\u2260": "\\ne ",
    "\u2205": "\\emptyset ",
    "\u00b2": "^2",
    "\u00b3": "^3",
    "\u20ac": "",  # euro sign
    "\u00a3": "",  # pound sign
    "\u00a5": "",  # yen sign
    "\u20b9": "",  # rupee sign
    "\u222a": "\\cup ",
    "\u00a0": " ",
    "\u2009": " ",
    "\u202f": " ",
}

# Commands that only change typesetting: dropping them changes no value.
_NOISE = re.compile(r"\\(?:left|right|middle|displaystyle|textstyle|big|Big|bigg|Bigg|bigl|bigr|Bigl|Bigr)(?![a-zA-Z])")
_SPACING = re.compile(r"\\\\|\\[,:;! ]|\\q?quad(?![a-zA-Z])|~")  # \\ (a matrix row break) is kept
_TEXT_CMDS = (
    "text", "textbf", "textit", "textrm", "textnormal", "textup", "textsf", "texttt",
    "mbox", "mathrm", "mathbf", "mathit", "mathsf", "mathtt", "operatorname", "hbox",
)  # fmt: skip
_TEXT_BLOCK = re.compile(r"\\(?:" + "|".join(_TEXT_CMDS) + r")\s*\{")
DEGREES = re.compile(r"\^\s*\{?\s*\\circ\s*\}?|\\circ(?![a-zA-Z])|\\degree(?![a-zA-Z])|\u00b0")
"""A degree sign, which the normaliser drops (``30^\\circ`` is 30) and :mod:`r1.math.compare` reads."""
_THOUSANDS = re.compile(r"-?\d{1,3}(?:,\d{3})+(?:\.\d+)?")
_MIXED = re.compile(r"(-?)(\d+)\s*\\frac\{(\d+)\}\{(\d+)\}(%?)")
_BASE_SUBSCRIPT = re.compile(r"((?=[0-9A-F]*\d)[0-9A-F]+)_\{?(\d+)\}?")  # 2516_8, 1A_{16}; not a_1
_CHOICE = re.compile(r"\(?([A-Z])\)?\.?")
_VAR_PREFIX_IN = re.compile(r"^[a-zA-Z]\s*\\in\s*")
_UNIT_TAIL = re.compile(r"^(?P<head>.*?)\s+(?P<unit>[A-Za-z]+\.?)(?:\s*\^\s*\{?[23]\}?)?$")
_NUMBER_THEN_WORDS = re.compile(
    r"(?P<number>-?(?:\d[\d,]*(?:\.\d+)?|\.\d+)(?:/\d+)?)\s+(?P<words>[A-Za-z][A-Za-z.'\- ]*)"
)
_MATH_NAMES = frozenset("pi sqrt sin cos tan cot sec csc log ln exp infty inf arcsin arccos arctan".split())
_ANSWER_PREFIX = re.compile(r"^(?:the\s+)?(?:final\s+)?answer(?:\s+is)?\s*[:=]?\s*", re.IGNORECASE)
_SPACED_THOUSANDS = re.compile(r"-?\d{1,3}(?: \d{3})+(?:\.\d+)?")
_RATE_UNIT = re.compile(r"^(?P<head>.*?[\d}])\s*(?P<per>[A-Za-z]+)\s*/\s*(?P<unit>[A-Za-z]+)$")  # 5 km/h
_GLUED_UNIT = re.compile(r"^(?P<head>-?[\d.,]+)\s*(?P<unit>[A-Za-z]{2,})(?:\^\{?[23]\}?)?$")
_SET_BUILDER = re.compile(r"\\\{\s*(?:[a-zA-Z]|\\[a-zA-Z]+)(?:\s*\\in\s*\\mathbb\s*\{?R\}?)?\s*(?:\||\\mid|:)\s*(.+?)\s*\\\}")
"""``\\{x \\mid x > 1\\}``: the set of values a condition allows is that condition."""
_EMPTY_SET = re.compile(r"\\varnothing(?![a-zA-Z])|\\\{\s*\\\}")
_PLUS_INFINITY = re.compile(r"(^|[(\[,])(\s*)\+\s*(?=\\infty(?![a-zA-Z]))")
_RELATION_WORD = re.compile(
    r"\\(?:leqslant|leq|geqslant|geq|neq|lt|gt)(?![a-zA-Z])|<=|>=|(?<![\d!])!=|\\not="  # 5!=120 is a factorial
)
_RELATION_SPELLING = {"leqslant": "\\le ", "leq": "\\le ", "<=": "\\le ", "geqslant": "\\ge ", "geq": "\\ge ",
                      ">=": "\\ge ", "neq": "\\ne ", "!=": "\\ne ", "not=": "\\ne ", "lt": "<", "gt": ">"}  # fmt: skip
"""One spelling per relation: ``\\le``, ``\\ge``, ``\\ne``, ``<``, ``>``."""
_PERCENT_WORD = re.compile(
    r"\s*(?:\\(?:" + "|".join(_TEXT_CMDS) + r")\s*\{\s*(?:percent|per\s*cent)\s*\}|\b(?:percent|per\s*cent)\b)",
    re.IGNORECASE,
)
_CONNECTOR_WORD = re.compile(r"\s+(?:and|or)\s+|\s*\\(?:" + "|".join(_TEXT_CMDS) + r")\s*\{\s*(?:and|or)\s*\}\s*")
"""``6 and 8``, ``x = 1 \\text{ or } x = 2``: the parts of a list, as a comma would separate them."""
_BRACKETED_MATRIX = re.compile(r"[(\[]\s*(\\begin\{(array|matrix)\}.*\\end\{\2\})\s*[)\]]", re.DOTALL)


def normalize(text: str) -> str:
    """Return ``text`` in the canonical spelling the comparisons expect.

    Args:
        text: A final answer, e.g. the content of ``\\boxed{}``.

    Returns:
        The cleaned answer: no ``$`` or typesetting commands, ``\\frac`` for every
        fraction macro with braced arguments, no units, degrees or thousands
        separators, ``(B)`` reduced to ``B``, ``x \\in`` dropped, a base subscript
        dropped (``2516_8``). Spaces are kept (they separate ``\\cot x``) but
        collapsed. ``1,234`` is read as one thousand two hundred and thirty-four,
        not as the list 1, 234: thousands separators are far more common.
    """
    s = text.strip()
    for old, new in _UNICODE.items():
        s = s.replace(old, new)
    s = s.replace("\\$", "").replace("$", "")
    s = re.sub(r"^\\[(\[]|\\[)\]]$", "", s)
    s = _NOISE.sub("", s)
    s = re.sub(r",\\!\s*", ",", s)  # 10,\!080 is a thousands separator, not a list
    s = s.replace("{,}", ",")
    s = _SPACING.sub(lambda m: m.group(0) if m.group(0) == "\\\\" else " ", s)
    s = re.sub(r"\\[dtc]frac(?![a-zA-Z])", r"\\frac", s)
    s = _RELATION_WORD.sub(lambda m: _RELATION_SPELLING[m.group(0).lstrip("\\")], s)
    if "\\{" in s or "\\varnothing" in s:
        if (builder := _SET_BUILDER.fullmatch(s.strip())) is not None:
            s = builder.group(1)
        s = _EMPTY_SET.sub(lambda _: "\\emptyset", s)
    if "\\begin" in s and (bracketed := _BRACKETED_MATRIX.fullmatch(s)) is not None:  # \left[\begin{array}…\right]
        s = bracketed.group(1)
    s = DEGREES.sub("", s)
    if "+" in s:
        s = _PLUS_INFINITY.sub(lambda m: m.group(1) + m.group(2), s)  # (1, +\infty) is (1, \infty)
    s = s.replace("\\%", "%")
    if "cent" in s or "CENT" in s or "Cent" in s:
        s = _PERCENT_WORD.sub("%", s)
    if "and" in s or "or" in s:
        s = _CONNECTOR_WORD.sub(", ", s)
    s = _strip_text_blocks(s)
    s = brace_arguments(s)
    s = re.sub(r"\s+", " ", s).strip()
    s = s.rstrip(".;").strip()
    s = _ANSWER_PREFIX.sub("", s)  # "The answer is 18" inside <answer> tags
    if _SPACED_THOUSANDS.fullmatch(s):  # 1\,000 000: spaces as thousands separators
        s = s.replace(" ", "")
    s = _VAR_PREFIX_IN.sub("", s)
    s = _strip_units(s)
    if _THOUSANDS.fullmatch(s):
        s = s.replace(",", "")
    s = _mixed_number(s)
    s = _BASE_SUBSCRIPT.fullmatch(s).group(1) if _BASE_SUBSCRIPT.fullmatch(s) else s
    if (choice := _CHOICE.fullmatch(s)) is not None:
        s = choice.group(1)
    return s


def matching_brace(s: str, open_index: int) -> int:
    """Index of the ``}`` closing the ``{`` at ``open_index``, or -1 when unbalanced."""
    depth = 0
    i = open_index
    while i < len(s):
        c = s[i]
        if c == "\\":
            i += 2  # an escaped brace \{ does not count
            continue
        if c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    return -1


def _strip_text_blocks(s: str) -> str:
    """Unwrap ``\\text{...}``-like blocks, or drop them when they are units.

    A block of words next to a number (``5.4 \\text{ cents}``, ``15\\mbox{ cm}^2``)
    is a unit and is removed together with its ``^2``; a block that is the whole
    answer (``\\text{(B)}``, ``\\text{Evelyn}``) is the answer and is unwrapped.
    """
    blocks: list[tuple[int, int, str, str]] = []  # (start, end exclusive, content, ^2 tail)
    pos = 0
    while (m := _TEXT_BLOCK.search(s, pos)) is not None:
        close = matching_brace(s, m.end() - 1)
        if close < 0:
            break
        power = re.match(r"\s*\^\s*\{?[23]\}?", s[close + 1 :])
        tail = power.group(0) if power else ""
        blocks.append((m.start(), close + 1 + len(tail), s[m.end() : close], tail))
        pos = close + 1 + len(tail)
    if not blocks:
        return s
    outside = "".join(s[a:b] for a, b in _gaps([(b[0], b[1]) for b in blocks], len(s)))
    next_to_number = re.search(r"[0-9]", outside) is not None
    out, last = [], 0
    for start, end, content, tail in blocks:
        out.append(s[last:start])
        is_unit = next_to_number and re.fullmatch(r"[A-Za-z .]*|\s*[A-Za-z]+\s*/\s*[A-Za-z]+\s*", content) is not None
        if not is_unit:
            out.append(content + tail)
        last = end
    out.append(s[last:])
    return "".join(out)


def _gaps(spans: list[tuple[int, int]], n: int) -> list[tuple[int, int]]:
    """The parts of a string of length ``n`` between the given ``(start, end)`` spans."""
    gaps, last = [], 0
    for start, end in spans:
        gaps.append((last, start))
        last = end
    gaps.append((last, n))
    return gaps


def brace_arguments(s: str) -> str:
    """Rewrite ``\\frac 34``, ``\\frac9{19}`` and ``\\sqrt2`` with braced arguments.

    LaTeX takes a single character (or command) as an unbraced argument; bracing
    them gives one spelling per value, so ``\\frac34`` and ``\\frac{3}{4}`` compare
    equal as strings.
    """
    out: list[str] = []
    i = 0
    pattern = re.compile(r"\\(frac|binom|sqrt)(?![a-zA-Z])")
    while (m := pattern.search(s, i)) is not None:
        out.append(s[i : m.end()])
        j = m.end()
        nargs = 1 if m.group(1) == "sqrt" else 2
        if m.group(1) == "sqrt":
            k = j
            while k < len(s) and s[k] == " ":
                k += 1
            if k < len(s) and s[k] == "[":  # \sqrt[3]{x}: keep the index as written
                close = s.find("]", k)
                if close > 0:
                    out.append(s[j : close + 1])
                    j = close + 1
        for _ in range(nargs):
            k = j
            while k < len(s) and s[k] == " ":
                k += 1
            if k >= len(s):
                break
            if s[k] == "{":
                close = matching_brace(s, k)
                if close < 0:
                    break
                out.append(s[k : close + 1])
                j = close + 1
            elif s[k] == "\\":
                cmd = re.match(r"\\[a-zA-Z]+|\\.", s[k:])
                assert cmd is not None
                out.append("{" + cmd.group(0) + "}")
                j = k + cmd.end()
            else:
                out.append("{" + s[k] + "}")
                j = k + 1
        i = j
    out.append(s[i:])
    return "".join(out)


def _strip_units(s: str) -> str:
    """Drop unit words that trail a number (``12 cm``, ``4 square units``, ``15cm^2``).

    A plain number followed only by prose (``9 eggs``, ``18 dollars per day``) is
    that number; words that are maths (``4 pi``) or single letters (``5 x``) stay.
    """
    if (m := _NUMBER_THEN_WORDS.fullmatch(s)) is not None:
        words = m.group("words").lower().replace(".", " ").split()
        if all(len(w) > 1 and w not in _MATH_NAMES for w in words):
            return m.group("number")
    while (m := _UNIT_TAIL.match(s)) is not None and m.group("unit").rstrip(".").lower() in UNIT_WORDS:
        head = m.group("head").strip()
        if not re.search(r"[0-9}]", head):
            break
        s = head
    if (m := _GLUED_UNIT.match(s)) is not None and m.group("unit").lower() in UNIT_WORDS:
        s = m.group("head")
    if (m := _RATE_UNIT.match(s)) is not None and all(u.lower() in RATE_UNITS for u in m.group("per", "unit")):
        s = m.group("head")
    return s


def _mixed_number(s: str) -> str:
    """``1\\frac{4}{5}`` is one and four fifths, not one times four fifths (``33\\frac{1}{3}\\%`` too)."""
    m = _MIXED.fullmatch(s)
    if m is None:
        return s
    sign, whole, num, den, percent = m.groups()
    return f"{sign}\\frac{{{int(whole) * int(den) + int(num)}}}{{{den}}}{percent}"
