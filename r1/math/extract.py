"""Find the final answer in a model response or a reference solution.

Responses state their answer in one of three conventions: the R1 template's
``<answer>…</answer>``, MATH's ``\\boxed{…}`` and GSM8K's ``#### N``. The last
occurrence wins, because models often write a draft answer before revising it.
"""

from __future__ import annotations

import re

from r1.math.normalize import matching_brace

_ANSWER_TAG = re.compile(r"<answer>(.*?)</answer>", re.DOTALL)
_BOX = re.compile(r"\\(?:boxed|fbox|framebox)(?![a-zA-Z])")
_HASHES = re.compile(r"^[ \t]*####[ \t]*(.+?)[ \t]*$", re.MULTILINE)


def extract_answer(text: str) -> str | None:
    """The final answer stated in ``text``.

    Args:
        text: A model response or a reference solution.

    Returns:
        The content of the last ``<answer>…</answer>`` (or of the last box inside
        it); else the content of the last complete ``\\boxed{…}`` / ``\\fbox{…}`` /
        ``\\boxed 5``; else the text after the last ``#### ``; else ``None``. Empty
        answers count as none. An unclosed ``<answer>`` or ``\\boxed{`` (a
        truncated response) is not an answer.
    """
    if not isinstance(text, str) or not text:
        return None
    tags = _ANSWER_TAG.findall(text)
    if tags:
        content = tags[-1].strip()
        return last_boxed(content) or content or None
    boxed = last_boxed(text)
    if boxed:
        return boxed
    hashes = _HASHES.findall(text)
    if hashes:
        return hashes[-1].strip() or None
    return None


def last_boxed(text: str) -> str | None:
    """Content of the last complete ``\\boxed``/``\\fbox`` in ``text``, braces balanced.

    Walks back from the last box so that a truncated final ``\\boxed{12`` falls
    back to an earlier complete one, and ``\\boxed{\\frac{1}{2}}`` keeps its inner
    braces.
    """
    for m in reversed(list(_BOX.finditer(text))):
        content = _box_argument(text, m.end())
        if content is not None and content.strip():
            return content.strip()
    return None


def _box_argument(text: str, start: int) -> str | None:
    """The argument of a box command ending at ``start``: ``{…}`` or one bare token."""
    i = start
    while i < len(text) and text[i] in " \t":
        i += 1
    if i < len(text) and text[i] == "{":
        close = matching_brace(text, i)
        return text[i + 1 : close] if close >= 0 else None
    bare = re.match(r"[^\s$]+", text[i:])  # \boxed 5 or \boxed 5$
    if bare is None:
        return None
    return bare.group(0).rstrip(".,")
