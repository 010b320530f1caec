"""The R1 response template, ``<think>…</think><answer>…</answer>``, and its parts.

Shared by the ``format``, ``tag_count`` and ``language`` rewards.
"""

from __future__ import annotations

import re

TAGS = ("<think>", "</think>", "<answer>", "</answer>")
"""The template's tags, in the order they must appear."""

STRICT_TEMPLATE = re.compile(
    r"\s*<think>(?P<think>.*?\S.*?)</think>\s*<answer>(?P<answer>.*?\S.*?)</answer>\s*", re.DOTALL
)


def tag_counts(text: str) -> list[int]:
    """How often each of :data:`TAGS` occurs."""
    return [text.count(tag) for tag in TAGS]


def first_positions(text: str) -> list[int]:
    """Index of each tag's first occurrence, -1 when absent."""
    return [text.find(tag) for tag in TAGS]


def block(text: str, open_tag: str, close_tag: str) -> str | None:
    """The text between the first ``open_tag`` and the next ``close_tag``, or ``None``."""
    start = text.find(open_tag)
    if start < 0:
        return None
    end = text.find(close_tag, start + len(open_tag))
    return None if end < 0 else text[start + len(open_tag) : end]


def chain_of_thought(text: str) -> str:
    """The reasoning part of a response.

    The ``<think>`` block (to the end of the text if unclosed); with a prefilled
    ``<think>`` only ``</think>`` appears, so everything before it; with no tags
    at all, the whole text.
    """
    start = text.find("<think>")
    if start >= 0:
        end = text.find("</think>", start)
        return text[start + len("<think>") : end if end >= 0 else len(text)]
    end = text.find("</think>")
    return text[:end] if end >= 0 else text


def matches_strict_template(text: str) -> bool:
    """Exactly ``<think>X</think><answer>Y</answer>``, X and Y non-empty, each tag once."""
    return STRICT_TEMPLATE.fullmatch(text) is not None and tag_counts(text) == [1, 1, 1, 1]
