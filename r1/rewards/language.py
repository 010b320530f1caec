"""``language``: the share of the chain of thought written in the target language.

R1's language-consistency reward: the proportion of target-language words in the
chain of thought, as :mod:`r1.language` counts them (by script; numbers and maths
are neutral).
"""

from __future__ import annotations

from typing import Any

from r1.language import LANGUAGE_SCRIPTS, language_share
from r1.template import chain_of_thought, with_prefill


class LanguageReward:
    """Language consistency of the chain of thought (the ``<think>`` block, else the whole text).

    Args:
        language: Target language code (``en``, ``fr``, ``zh``, ``ja``, ...) or
            script name (``latin``, ``han``, ``cjk``, ...).
        think_prefilled: The chat template already wrote ``<think>``; the
            completion starts inside the think block.
    """

    name = "language"

    def __init__(self, language: str = "en", think_prefilled: bool = False) -> None:
        if language not in LANGUAGE_SCRIPTS:
            raise ValueError(f"unknown language {language!r}; known: {', '.join(sorted(LANGUAGE_SCRIPTS))}")
        self.language = language
        self.think_prefilled = bool(think_prefilled)

    def __call__(self, completions: list[str], **fields: Any) -> list[float | None]:
        """One share in [0, 1] per completion."""
        return [
            language_share(chain_of_thought(with_prefill(c, self.think_prefilled)), self.language) for c in completions
        ]
