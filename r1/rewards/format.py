"""``format``: how closely a response follows ``<think>…</think><answer>…</answer>``.

A binary regex check gives a small model no signal until it stumbles on the
whole template; a graded score rewards each step towards it. The response is
described by a feature vector and scored by its cosine similarity with the
vector of the perfect template.

Features (``d`` = desired, target 1; ``u`` = undesired, target 0):

====  ======================================================================
d1-4  each of ``<think>``, ``</think>``, ``<answer>``, ``</answer>`` is present
d5    all four are present and their first occurrences are in template order
d6    the think block (first ``<think>`` to next ``</think>``) has non-blank text
d7    the answer block has non-blank text
u1    some tag occurs more than once
u2    non-blank text before the first tag (or, with no tag at all, any text)
u3    non-blank text between ``</think>`` and ``<answer>`` (when in that order)
u4    non-blank text after the last tag
====  ======================================================================

The target is ``t = (1,1,1,1,1,1,1, 0,0,0,0)``, so the score is
``cos(v, t) = (d1+…+d7) / (sqrt(7) · |v|)``: exactly 1.0 for the template,
``sqrt(k/7)`` for a clean response with k desired features, lowered by each
undesired one, and 0 for a response with no tags.

The text scored is the full response the phases hand over: the prompt's think
prefill (``<think>`` when the chat template ends the prompt with it), then the
completion (:meth:`r1.data.chat.PromptFormat.full_response`). A prefilled tag
therefore counts exactly as one the model wrote.
"""

from __future__ import annotations

import math
from typing import Any

from r1.template import TAGS, block, first_positions, matches_strict_template, tag_counts

TARGET = (1.0,) * 7 + (0.0,) * 4


def format_features(text: str) -> list[float]:
    """The 11-dimensional feature vector described in the module docstring."""
    counts, first = tag_counts(text), first_positions(text)
    present = [float(c > 0) for c in counts]
    ordered = float(all(p >= 0 for p in first) and first == sorted(first))
    think, answer = block(text, "<think>", "</think>"), block(text, "<answer>", "</answer>")
    repeated = float(any(c > 1 for c in counts))
    positions = [p for p in first if p >= 0]
    if positions:
        leading = float(bool(text[: min(positions)].strip()))
        last_end = max(text.rfind(tag) + len(tag) for tag, c in zip(TAGS, counts) if c > 0)
        trailing = float(bool(text[last_end:].strip()))
    else:
        leading, trailing = float(bool(text.strip())), 0.0
    between = 0.0
    close_think, open_answer = first[1], first[2]
    if 0 <= close_think < open_answer:
        between = float(bool(text[close_think + len("</think>") : open_answer].strip()))
    return [
        *present,
        ordered,
        float(think is not None and bool(think.strip())),
        float(answer is not None and bool(answer.strip())),
        repeated,
        leading,
        between,
        trailing,
    ]


def cosine(u: list[float] | tuple[float, ...], v: list[float] | tuple[float, ...]) -> float:
    """Cosine similarity; 0 when either vector is zero."""
    dot = sum(a * b for a, b in zip(u, v))
    norms = sum(a * a for a in u) * sum(b * b for b in v)
    return 0.0 if norms == 0 else min(1.0, dot / math.sqrt(norms))


class FormatReward:
    """Cosine similarity of the response's structure with the R1 template.

    Args:
        strict: Score 1/0 by an exact regex check of the template instead.
    """

    name = "format"

    def __init__(self, strict: bool = False) -> None:
        self.strict = bool(strict)

    def __call__(self, completions: list[str], **fields: Any) -> list[float | None]:
        """One score in [0, 1] per full response; 1.0 exactly for the perfect template."""
        if self.strict:
            return [float(matches_strict_template(t)) for t in completions]
        return [cosine(format_features(t), TARGET) for t in completions]
