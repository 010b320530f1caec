"""Which language a text is written in, told apart by script: what the ``language`` reward and filter measure.

DeepSeek-R1-Zero's reasoning mixed languages; R1 measures language consistency as
the proportion of target-language words in the chain of thought. Here languages are
told apart by script (Latin, Han, kana, Hangul, Cyrillic, ...), which is what mixing
looks like in practice (English reasoning drifting into Chinese); languages that
share a script (``en`` and ``fr``) are not separated.

What counts as a word: a run of two or more letters of an alphabetic script,
or a single Han/kana character (those scripts do not separate words by spaces).
Neutral, not counted: numbers, maths (``$…$``, ``\\(…\\)``, ``\\[…\\]``, LaTeX
commands), single letters (variables such as ``x``), punctuation and tags.
"""

from __future__ import annotations

import re

SCRIPTS: dict[str, str] = {
    "latin": r"[A-Za-z\u00C0-\u024F\u1E00-\u1EFF]{2,}",
    "han": r"[\u3400-\u4DBF\u4E00-\u9FFF\uF900-\uFAFF]",
    "kana": r"[\u3040-\u30FF]",
    "hangul": r"[\uAC00-\uD7AF\u1100-\u11FF]+",
    "cyrillic": r"[\u0400-\u04FF]{2,}",
    "greek": r"[\u0370-\u03FF]{2,}",
    "arabic": r"[\u0600-\u06FF]{2,}",
    "hebrew": r"[\u0590-\u05FF]{2,}",
    "devanagari": r"[\u0900-\u097F]+",
    "thai": r"[\u0E00-\u0E7F]+",
}
"""One regex per script; a match is one word."""

_LATIN_LANGUAGES = "en fr de es it pt nl sv da no fi pl cs sk ro hu tr id ms vi ca hr sl et lv lt sq".split()
LANGUAGE_SCRIPTS: dict[str, frozenset[str]] = {
    **{code: frozenset({"latin"}) for code in _LATIN_LANGUAGES},
    "zh": frozenset({"han"}),
    "ja": frozenset({"han", "kana"}),
    "ko": frozenset({"hangul", "han"}),
    **{code: frozenset({"cyrillic"}) for code in ("ru", "uk", "bg", "sr", "be", "kk")},
    "el": frozenset({"greek"}),
    **{code: frozenset({"arabic"}) for code in ("ar", "fa", "ur")},
    "he": frozenset({"hebrew"}),
    **{code: frozenset({"devanagari"}) for code in ("hi", "mr", "ne")},
    "th": frozenset({"thai"}),
    **{script: frozenset({script}) for script in SCRIPTS},
    "cjk": frozenset({"han", "kana", "hangul"}),
}
"""Accepted scripts per language code (a script name such as ``latin`` also works)."""

_WORD = re.compile("|".join(f"(?P<{name}>{pattern})" for name, pattern in SCRIPTS.items()))
# "$x+1$" is maths; "costs $5 or $6" is money, so inline maths may not start with a digit
_MATH = re.compile(r"\$\$.*?\$\$|\$(?![\d\s])[^$\n]*?\$|\\\(.*?\\\)|\\\[.*?\\\]|\\[a-zA-Z]+|<[^>\n]{1,20}>", re.DOTALL)


def script_counts(text: str) -> dict[str, int]:
    """Number of words of each script in ``text``, maths and tags removed."""
    counts: dict[str, int] = {}
    for m in _WORD.finditer(_MATH.sub(" ", text)):
        assert m.lastgroup is not None
        counts[m.lastgroup] = counts.get(m.lastgroup, 0) + 1
    return counts


def language_share(text: str, language: str) -> float:
    """Share of the words of ``text`` in ``language``'s scripts; 1.0 when there are no words.

    No words at all (``7 + 5 = 12``) means nothing is mixed, so the response is
    consistent by definition; scoring it 0 would punish terse arithmetic.
    """
    counts = script_counts(text)
    total = sum(counts.values())
    if total == 0:
        return 1.0
    scripts = LANGUAGE_SCRIPTS[language]
    return sum(n for script, n in counts.items() if script in scripts) / total
