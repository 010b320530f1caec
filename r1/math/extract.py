"""Find the final answer in a model response or a reference solution.

Responses state their answer in one of three conventions: the R1 template's
``<answer>…</answer>``, MATH's ``\\boxed{…}`` and GSM8K's ``#### N``. The last
occurrence wins, because models often write a draft answer before revising it.
"""

from __future__ import annotations

import re

MAX_SCAN_CHARS = 1 << 17
"""Only the last 131,072 characters of a text are searched for its answer.

Answers are stated at the end of a response, so the cap changes nothing for any
text whose final answer starts within its last 131,072 characters: four
characters a token make that R1's whole 32,768-token generation budget, and
reference solutions are far shorter. It bounds the work a runaway response can
cause: extraction is linear, and the worst text of this length (one long run of
unclosed ``\\boxed{``) is searched in under 20 ms.
"""

_ANSWER_OPEN = "<answer>"
_ANSWER_CLOSE = "</answer>"
_BOX = re.compile(r"\\(?:boxed|fbox|framebox)(?![a-zA-Z])[ \t]*")
_BARE_TOKEN = re.compile(r"[^\s$]+")  # \boxed 5 or \boxed 5$
_BRACE_OR_ESCAPE = re.compile(r"\\[\s\S]|[{}]")  # an escaped brace \{ is one token, not a brace
_HASHES = re.compile(r"^[ \t]*####(.+)$", re.MULTILINE)


def extract_answer(text: str) -> str | None:
    """The final answer stated in ``text``.

    Args:
        text: A model response or a reference solution. Only its last
            :data:`MAX_SCAN_CHARS` characters are searched.

    Returns:
        The content of the last ``<answer>…</answer>`` (or of the last box inside
        it); else the content of the last complete ``\\boxed{…}`` / ``\\fbox{…}`` /
        ``\\boxed 5``; else the text after the last ``#### ``; else ``None``. Empty
        answers count as none. An unclosed ``<answer>`` or ``\\boxed{`` (a
        truncated response) is not an answer.
    """
    if not isinstance(text, str) or not text:
        return None
    start = _scan_start(text)
    tagged = _last_answer_tag(text, start)
    if tagged is not None:
        content = tagged.strip()
        return _last_boxed(content, 0) or content or None
    boxed = _last_boxed(text, start)
    if boxed:
        return boxed
    last_hashes = None
    for last_hashes in _HASHES.finditer(text, start):
        pass
    if last_hashes is not None:
        return last_hashes.group(1).strip() or None
    return None


def last_boxed(text: str) -> str | None:
    """Content of the last complete ``\\boxed``/``\\fbox`` in ``text``, braces balanced.

    A truncated final ``\\boxed{12`` falls back to an earlier complete box, and
    ``\\boxed{\\frac{1}{2}}`` keeps its inner braces. Only the last
    :data:`MAX_SCAN_CHARS` characters are searched.
    """
    return _last_boxed(text, _scan_start(text))


def _scan_start(text: str) -> int:
    """Where the search for an answer in ``text`` begins: :data:`MAX_SCAN_CHARS` before its end.

    An index rather than a slice: regular expressions searched from it still know
    whether it is the start of a line.
    """
    return max(0, len(text) - MAX_SCAN_CHARS)


def _last_answer_tag(text: str, start: int) -> str | None:
    """Content of the last ``<answer>…</answer>`` pair, paired left to right as a lazy regex would.

    Each opening tag closes at the first ``</answer>`` after it, and the search
    resumes after that, so ``<answer>a<answer>b</answer>`` holds ``a<answer>b``. Every
    ``find`` starts where the previous one stopped: one pass over the text.
    """
    last: tuple[int, int] | None = None
    pos = start
    while (opening := text.find(_ANSWER_OPEN, pos)) >= 0:
        closing = text.find(_ANSWER_CLOSE, opening + len(_ANSWER_OPEN))
        if closing < 0:
            break
        last = (opening + len(_ANSWER_OPEN), closing)
        pos = closing + len(_ANSWER_CLOSE)
    return None if last is None else text[last[0] : last[1]]


def _last_boxed(text: str, start: int) -> str | None:
    """:func:`last_boxed` over ``text[start:]``, in time linear in its length.

    Boxes are tried from the last one back. The last braced box is closed by a
    scan from its ``{`` (short: it ends the text); should that box be unclosed,
    the closing brace of every earlier ``{`` comes from one more forward pass with
    a stack (:func:`_closing_braces`), never from a scan per box, which took
    quadratic time on a run of unclosed boxes.
    """
    boxes = list(_BOX.finditer(text, start))
    closes: dict[int, int] | None = None
    for box in reversed(boxes):
        i = box.end()
        if text.startswith("{", i):
            if closes is None:
                close: int | None = _closing_brace(text, i)
                if close is None:
                    closes = _closing_braces(text, boxes[0].start())
            else:
                close = closes.get(i)
            content = None if close is None else text[i + 1 : close]
        else:
            bare = _BARE_TOKEN.match(text, i)
            content = None if bare is None else bare.group(0).rstrip(".,")
        if content is not None and content.strip():
            return content.strip()
    return None


def _closing_brace(text: str, open_index: int) -> int | None:
    """Index of the ``}`` closing the ``{`` at ``open_index``, or ``None`` when it is never closed."""
    depth = 0
    for token in _BRACE_OR_ESCAPE.finditer(text, open_index):
        if token.group() == "{":
            depth += 1
        elif token.group() == "}":
            depth -= 1
            if depth == 0:
                return token.start()
    return None


def _closing_braces(text: str, start: int) -> dict[int, int]:
    """``{open index: index of its closing brace}`` for every balanced ``{`` from ``start`` on.

    ``\\`` escapes the next character, as in :func:`r1.math.normalize.matching_brace`.
    A box's ``{`` follows a letter or a space, never a backslash, so this pass
    reads it as a brace whatever precedes it, and pairs it as a scan from it would.
    """
    closes: dict[int, int] = {}
    opens: list[int] = []
    for token in _BRACE_OR_ESCAPE.finditer(text, start):
        if token.group() == "{":
            opens.append(token.start())
        elif token.group() == "}" and opens:
            closes[opens.pop()] = token.start()
    return closes
