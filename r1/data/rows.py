"""Read one dataset row the way r1 needs it: a user message, a gold answer, a reference response.

Real prompt datasets store these in many shapes. GSM8K has ``question`` and a worked
``answer`` ending in ``#### 72``; MATH and NuminaMath have a ``problem`` and a
``solution`` with the answer in ``\\boxed{}``; chat-format sets have a ``messages``
list. These pure functions turn any of them into r1's fields, so the prompt reader
(:mod:`r1.data.prompts`), SFT's loader (:mod:`r1.data.datasets`) and the benchmarks
agree on what a row means, and each can be tested without a file.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from r1.errors import DataError
from r1.math import extract_answer

_HASH_LINE = re.compile(r"\n?[ \t]*####[^\n]*\s*$")
"""GSM8K's final ``#### N`` line, which states the answer and is not part of the reasoning."""


def gold_answer(value: Any) -> str:
    """A gold final answer, as stored in a problem file, as the string the verifier compares.

    AMC stores ``27.0`` (a float), GSM8K a worked solution ending in ``#### 18``;
    both become the bare answer. Anything else is kept as text (AIME's ``"025"``).
    A null is an error, never the text ``"None"``.
    """
    if value is None:
        raise DataError("a gold answer is null")
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (int, float)):
        return repr(value)
    text = str(value).strip()
    if "####" in text:
        text = text.rsplit("####", 1)[1].strip().replace(",", "")
    return text


def answer_from_solution(solution: Any) -> str | None:
    """The final answer a reference solution states (``#### N`` or the last ``\\boxed{}``), or None.

    The same extractor scores model responses, so a gold answer read from a solution
    is exactly what a correct response would be credited for. GSM8K's thousands
    separators are dropped (``#### 1,200`` -> ``1200``), as :func:`gold_answer` does.
    """
    if not isinstance(solution, str) or not solution.strip():
        return None
    if "####" in solution:  # GSM8K: whatever follows the last ####, thousands separators dropped
        return gold_answer(solution) or None
    answer = extract_answer(solution, "template")
    return answer.strip() or None if answer is not None else None


def usable_answer(value: Any) -> str | None:
    """:func:`gold_answer` of a stored answer, or None when there is none (null, blank, or a ``#### `` with nothing after)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    answer = gold_answer(value)
    return answer or None


def gold_of_row(row: Mapping[str, Any], answer_field: str | None, solution_field: str | None, reply: str | None = None) -> str | None:
    """A row's gold answer: its answer field, else what its worked solution states, else what ``reply`` (a chat
    row's last assistant message) states; None when none of them gives one.

    The prompt-dataset task, SFT's loader and the dataset benchmarks all read gold answers here.
    """
    answer = usable_answer(row.get(answer_field)) if answer_field else None
    if answer is None and solution_field:
        answer = answer_from_solution(row.get(solution_field))
    if answer is None and reply is not None:
        answer = answer_from_solution(reply)
    return answer


def reasoning_of(solution: str) -> str:
    """A worked solution without the final ``#### N`` line: the chain of thought for ``<think>``."""
    return _HASH_LINE.sub("", solution).strip()


def r1_response(reasoning: str, answer: str) -> str:
    """The R1 template's response: ``<think>reasoning</think><answer>answer</answer>``."""
    return f"<think>{reasoning.strip()}</think><answer>{answer.strip()}</answer>"


def message_text(messages: Any, role: str, source: str = "dataset") -> str | None:
    """The content of the last ``role`` message of a chat-format row, or None when it has none.

    The prompt of a conversation is its last user message; the target response of an
    SFT example is its last assistant message. A value that is not a list of
    ``{"role", "content"}`` mappings is a :class:`DataError` naming what was found.
    """
    if not isinstance(messages, Sequence) or isinstance(messages, (str, bytes)):
        raise DataError(f"{source}: a messages field must be a list of {{role, content}} messages, not {type(messages).__name__}")
    found = None
    for message in messages:
        if not isinstance(message, Mapping) or "role" not in message or "content" not in message:
            raise DataError(f"{source}: a message must have 'role' and 'content', got {message!r:.80}")
        if message["role"] == role:
            found = message["content"]
    return None if found is None else str(found)


def prompt_of_messages(messages: Any, source: str = "dataset") -> str | None:
    """The user message a chat-format row prompts with: the last user turn before any final assistant turn."""
    if isinstance(messages, Sequence) and messages and isinstance(messages[-1], Mapping) and messages[-1].get("role") == "assistant":
        messages = messages[:-1]
    return message_text(messages, "user", source)
