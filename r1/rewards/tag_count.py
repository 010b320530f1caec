"""``tag_count``: 0.25 for each template tag written once and in its place (as TRL/open-r1 users expect).

The text scored is the full response the phases hand over: the prompt's think
prefill (``<think>`` when the chat template ends the prompt with it), then the
completion (:meth:`r1.data.chat.PromptFormat.full_response`), so a prefilled
``<think>`` counts as one the model wrote.
"""

from __future__ import annotations

from typing import Any

from r1.template import TAGS, first_positions, tag_counts


def placed_tags(text: str) -> int:
    """How many of the four tags occur exactly once and in template order.

    A single tag is "in place" when it sits on the right side of every other
    single tag: ``</think>`` after ``<think>`` and before ``<answer>``, and so on.
    """
    counts, first = tag_counts(text), first_positions(text)
    single = [i for i in range(len(TAGS)) if counts[i] == 1]
    return sum(all((first[i] < first[j]) == (i < j) for j in single if j != i) for i in single)


class TagCountReward:
    """``0.25 ×`` the number of correctly placed single tags, so the template scores 1.0."""

    name = "tag_count"

    def __call__(self, completions: list[str], **fields: Any) -> list[float | None]:
        """One score in {0, 0.25, 0.5, 0.75, 1} per full response."""
        return [0.25 * placed_tags(c) for c in completions]
