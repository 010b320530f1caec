"""Find the final answer in a model response or a reference solution.

Responses state their answer in one of three conventions: the R1 template's
``<answer>…</answer>``, MATH's ``\\boxed{…}`` and GSM8K's ``#### N``. The last
occurrence wins, because models often write a draft answer before revising it;
boxes written side by side (``\\boxed{1}, \\boxed{2}``) are one answer with several
parts, and are returned together, separated by ``; ``.

Where to look is an *extraction policy* (:data:`EXTRACTIONS`):

* ``template``: ``<answer>``, else the last box, else ``####`` (models trained on
  r1's template, reference solutions);
* ``boxed``: the last box only (prompts that ask for ``\\boxed{}``);
* ``any``: what ``template`` finds, else the answer stated in free text:
  "final answer is …", else the last math expression or number
  (:mod:`r1.math.freetext`), for models that follow no template.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Literal

from r1.errors import ConfigError
from r1.math.freetext import free_text_answer

Extraction = Literal["template", "boxed", "any"]
EXTRACTIONS: tuple[str, ...] = ("template", "boxed", "any")
"""The extraction policies, narrowest first."""

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
MAX_BOX_GAP = 40
"""Most characters between two boxes that are joined into one answer."""
_BOX_JOIN = re.compile(
    r"(?:\s|[,;&$]|\\[,;:! ]|\\q?quad(?![a-zA-Z])|\\\\|\\[()\[\]]|\band\b"
    r"|\\(?:text|textrm|mathrm|mbox)\{\s*(?:and|,)?\s*\})*"
)
"""What may separate the parts of one boxed answer: spaces, commas, ``and``, math delimiters.
Not "or": ``\\boxed{15\\frac{39}{40}}, or \\boxed{\\frac{639}{40}}`` gives one answer twice."""


def extract_answer(text: str, policy: str = "template") -> str | None:
    """The final answer stated in ``text``.

    Args:
        text: A model response or a reference solution. Only its last
            :data:`MAX_SCAN_CHARS` characters are searched.
        policy: Where to look: ``template`` | ``boxed`` | ``any`` (see the module docstring).

    Returns:
        ``template``: the content of the last ``<answer>…</answer>`` (or of the last
        box inside it); else the content of the last complete ``\\boxed{…}`` /
        ``\\fbox{…}`` / ``\\boxed 5``, with the boxes written right before it; else the
        text after the last ``#### ``; else ``None``. ``boxed``: the boxes alone.
        ``any``: what ``template`` returns, else the free-text answer. Empty answers
        count as none. An unclosed ``<answer>`` or ``\\boxed{`` (a truncated response)
        is not an answer.

    Raises:
        ConfigError: ``policy`` is not one of :data:`EXTRACTIONS`.
    """
    check_extraction(policy)
    if not isinstance(text, str) or not text:
        return None
    start = _scan_start(text)
    if policy == "boxed":
        return _boxed_answer(text, start)
    tagged = _last_answer_tag(text, start)
    if tagged is not None:
        content = tagged.strip()
        return _boxed_answer(content, 0) or content or None
    boxed = _boxed_answer(text, start)
    if boxed:
        return boxed
    last_hashes = None
    for last_hashes in _HASHES.finditer(text, start):
        pass
    if last_hashes is not None:
        return last_hashes.group(1).strip() or None
    if policy == "any":
        return free_text_answer(text, start)
    return None


def check_extraction(policy: object) -> Extraction:
    """``policy`` when it names an extraction policy, else a one-line :class:`ConfigError`."""
    if policy not in EXTRACTIONS:
        raise ConfigError(f"extraction must be one of {', '.join(EXTRACTIONS)}, not {policy!r}")
    return policy  # type: ignore[return-value]


def last_boxed(text: str) -> str | None:
    """Content of the last complete ``\\boxed``/``\\fbox`` in ``text``, braces balanced.

    A truncated final ``\\boxed{12`` falls back to an earlier complete box, and
    ``\\boxed{\\frac{1}{2}}`` keeps its inner braces. Only the last
    :data:`MAX_SCAN_CHARS` characters are searched.
    """
    for content, _, _ in _boxes_backwards(text, _scan_start(text)):
        return content
    return None


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


def _boxed_answer(text: str, start: int) -> str | None:
    """The last non-empty box, with the boxes written right before it, joined by ``; ``.

    ``\\boxed{1}, \\boxed{2}`` and ``$\\boxed{1}$ and $\\boxed{2}$`` state one answer in
    two parts; ``\\boxed{1}, so finally \\boxed{2}`` revises a draft. Boxes are joined
    while only :data:`_BOX_JOIN` separates them (at most :data:`MAX_BOX_GAP` characters).
    """
    parts: list[str] = []
    previous_start = -1
    for content, box_start, box_end in _boxes_backwards(text, start):
        joined = box_end <= previous_start and previous_start - box_end <= MAX_BOX_GAP
        if parts and not (joined and _BOX_JOIN.fullmatch(text, box_end, previous_start)):
            break
        parts.append(content)
        previous_start = box_start
    return "; ".join(reversed(parts)) or None


def _boxes_backwards(text: str, start: int) -> Iterator[tuple[str, int, int]]:
    """``(content, start, end)`` of each complete, non-empty box in ``text[start:]``, last first.

    Linear in the text's length. Until a box is found, each braced box is closed
    by a scan from its ``{`` (short: the text ends soon after it); once one is
    unclosed, the closing brace of every earlier ``{`` comes from one more forward
    pass with a stack (:func:`_closing_braces`), never from a scan per box, which
    took quadratic time on a run of unclosed boxes. After a box is found, the
    boxes before it are only wanted if they end before it starts: their scans stop
    there, and the search ends at the first that does not close by then.
    """
    boxes = list(_BOX.finditer(text, start))
    closes: dict[int, int] | None = None
    stop = len(text)  # where the box last yielded starts
    found = False
    for box in reversed(boxes):
        i = box.end()
        if text.startswith("{", i):
            if closes is not None:
                close = closes.get(i)
            else:
                close = _closing_brace(text, i, stop)
                if close is None:
                    if found:
                        return
                    closes = _closing_braces(text, boxes[0].start())
            if close is None:
                continue
            content, end = text[i + 1 : close], close + 1
        else:
            bare = _BARE_TOKEN.match(text, i, stop)
            if bare is None:
                continue
            content, end = bare.group(0).rstrip(".,"), bare.end()
        if content.strip():
            found, stop = True, box.start()
            yield content.strip(), box.start(), end


def _closing_brace(text: str, open_index: int, stop: int) -> int | None:
    """Index of the ``}`` closing the ``{`` at ``open_index`` before ``stop``, else ``None``."""
    depth = 0
    for token in _BRACE_OR_ESCAPE.finditer(text, open_index, stop):
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
