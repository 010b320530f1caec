"""The final answer of a response written in free text: no ``<answer>`` tag, box or ``####``.

Models that follow no template state their answer in prose ("Final Answer: The
largest $n$ is 34.") or end on it ("Therefore $x \\geq 5$ is the solution.",
``\\[ 9 \\]``). :func:`free_text_answer` looks, in order, for

1. the clause after the last "final answer", "the answer is" or "Answer:": its
   math, or what follows its last "is" ("The largest $n$ is 34" states 34);
2. the last number written after the last math expression ("… so she has 7 left");
3. the last math expression (``$…$``, ``$$…$$``, ``\\(…\\)``, ``\\[…\\]``), with the
   expressions right before it when they form a list that "and" ends ("$x = 1$ and
   $x = 2$" is one answer in two parts, returned as ``x = 1; x = 2``).

Each step is one pass of a regular expression over the text, or over one line
of it: linear time, whatever the response.
"""

from __future__ import annotations

import re

MAX_CLAUSE_CHARS = 1_000
"""Longest answer clause read after a "final answer" phrase; a real one is a line."""
MAX_ANSWER_WORDS = 3
"""A clause of prose is an answer ("Evelyn", "north east") only up to this many words."""
MAX_JOIN_GAP = 24
"""Most characters between two math expressions that are joined into one answer."""

_PHRASE = re.compile(
    r"\bfinal\s+answers?\b(?:[\s*]*(?:is\b|are\b|:|=))*|\banswers?\b[\s*]*(?:is\b|are\b|:|=)",
    re.IGNORECASE,
)
_LEAD = re.compile(r"[\s*:=]*")
_DELIMITER = re.compile(r"\\\$|\$\$|\$|\\\[|\\\]|\\\(|\\\)")
_CLOSER = {"$$": "$$", "$": "$", "\\[": "\\]", "\\(": "\\)"}
_SENTENCE_IN_MATH = re.compile(r"[.!?]\s+[A-Z][a-z]")  # "costs $5. Then $…": a dollar sign, not math
_SENTENCE_END = re.compile(r"[.!?](?=\s|$)|\s+(?:I hope|Hope|which|so that|because)\b")
_COPULA = re.compile(r"\s(?:is|are|was|were|equals|becomes|be)\s", re.IGNORECASE)
_JOIN = re.compile(r"(?:\s|[,;]|\band\b|\\quad|\\text\{\s*(?:and|,)?\s*\})*", re.IGNORECASE)  # not "or": see extract
_AND = re.compile(r"\band\b|\\text\{\s*and\s*\}", re.IGNORECASE)
_NUMBER = re.compile(r"(?<![\w.,])-?\d+(?:[.,]\d+)*(?:/\d+)?%?")  # 1,000.5 and a decimal comma 12,5
_STATED = re.compile(r"[\d$\\]|^\(?[A-Z]\)?$")  # a number, math, or a choice such as (B)


def free_text_answer(text: str, start: int = 0) -> str | None:
    """The answer a free-text response states, searched in ``text[start:]`` (see the module docstring)."""
    phrase = None
    for phrase in _PHRASE.finditer(text, start):
        pass
    if phrase is not None and (stated := _clause_answer(text, phrase.end())):
        return stated
    segments = math_segments(text, start, len(text))
    tail = segments[-1][3] if segments else start
    number = None
    for number in _NUMBER.finditer(text, tail):
        pass
    if number is not None:
        return number.group(0)
    if not segments:
        return None
    return _joined(text, segments) or None


def math_segments(text: str, start: int, end: int) -> list[tuple[int, int, int, int]]:
    """``(open, content start, content end, close end)`` of each delimited math span, in order.

    Delimiters pair left to right, ``\\$`` is a dollar sign, and an inline ``$…$``
    that runs over a sentence break is taken for a currency sign: its opening
    ``$`` is dropped and its closing one opens instead.
    """
    segments: list[tuple[int, int, int, int]] = []
    opener: re.Match[str] | None = None
    for token in _DELIMITER.finditer(text, start, end):
        mark = token.group()
        if mark == "\\$":
            continue
        if opener is None:
            if mark in _CLOSER:
                opener = token
        elif mark == _CLOSER[opener.group()]:
            if mark == "$" and _SENTENCE_IN_MATH.search(text, opener.end(), token.start()):
                opener = token
                continue
            segments.append((opener.start(), opener.end(), token.start(), token.end()))
            opener = None
    return segments


def _clause_answer(text: str, pos: int) -> str | None:
    """What the clause starting at ``pos`` (after a "final answer" phrase) states, if anything.

    The clause is the rest of the line (a display block ``\\[…\\]`` may span lines),
    up to its first full stop outside math. Its math is the answer; or, after an
    "is" outside math, what follows when it holds a number or math ("The largest
    $n$ is 34"), else what comes before it ("$x = 5$ is the solution"); or the
    clause itself when it is a number or a word or two ("(B)", "Evelyn").
    """
    end = min(len(text), pos + MAX_CLAUSE_CHARS)
    pos = _LEAD.match(text, pos, end).end()  # type: ignore[union-attr]
    line_end = text.find("\n", pos, end)
    if text.startswith(("$$", "\\[", "\\("), pos):
        close = text.find(_CLOSER[text[pos : pos + 2]], pos + 2, end)
        if close >= 0:
            line_end = text.find("\n", close, end)
    clause = text[pos : end if line_end < 0 else line_end]
    segments = math_segments(clause, 0, len(clause))
    clause = clause[: _sentence_end(clause, segments)]
    copula = _last_outside(_COPULA, clause, segments)
    if copula is not None:
        after = clause[copula.end() :]
        after_segments = math_segments(after, 0, len(after))
        if after_segments or _STATED.search(after.strip(" *")):
            clause, segments = after, after_segments
        else:
            clause = clause[: copula.start()]
            segments = [s for s in segments if s[3] <= copula.start()]
    if segments:
        return clause[segments[0][1] : segments[-1][2]].strip() or None
    stated = clause.strip(" *.,;:")
    if _STATED.search(stated) or (stated.replace(" ", "").isalpha() and len(stated.split()) <= MAX_ANSWER_WORDS):
        return stated
    return None


def _sentence_end(clause: str, segments: list[tuple[int, int, int, int]]) -> int:
    """Where the first sentence of ``clause`` ends, ignoring full stops inside math."""
    for match in _SENTENCE_END.finditer(clause):
        if not _inside(match.start(), segments):
            return match.start()
    return len(clause)


def _last_outside(pattern: re.Pattern[str], clause: str, segments: list[tuple[int, int, int, int]]) -> re.Match[str] | None:
    """The last match of ``pattern`` in ``clause`` that is not inside a math segment."""
    last = None
    for match in pattern.finditer(clause):
        if not _inside(match.start(), segments):
            last = match
    return last


def _inside(index: int, segments: list[tuple[int, int, int, int]]) -> bool:
    return any(open_ <= index < close for open_, _, _, close in segments)


def _joined(text: str, segments: list[tuple[int, int, int, int]]) -> str:
    """The last math segment's content and those joined to it, separated by ``; ``.

    A list is joined only when an "and" ends it (``$1$, $2$ and $3$``): a comma alone
    also follows a condition (``since $x > 0$, $x = 2$``).
    """
    parts = [text[segments[-1][1] : segments[-1][2]].strip()]
    listed = False
    for before, after in zip(reversed(segments[:-1]), reversed(segments[1:])):
        gap_start, gap_end = before[3], after[0]
        if gap_end - gap_start > MAX_JOIN_GAP or not _JOIN.fullmatch(text, gap_start, gap_end):
            break
        listed = listed or _AND.search(text, gap_start, gap_end) is not None
        parts.append(text[before[1] : before[2]].strip())
    if not listed:
        return parts[0]
    return "; ".join(p for p in reversed(parts) if p)
