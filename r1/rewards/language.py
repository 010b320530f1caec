"""``language``: the share of the chain of thought written in the target language.

R1's language-consistency reward: the proportion of target-language words in the
chain of thought, as :mod:`r1.language` counts them (by script; numbers and maths
are neutral).

The text scored is the full response the phases hand over: the prompt's think
prefill (``<think>`` when the chat template ends the prompt with it), then the
completion (:meth:`r1.data.chat.PromptFormat.full_response`), so the chain of
thought is found the same way whether the template or the model opened it.
"""

from __future__ import annotations

from typing import Any

from r1.language import LANGUAGE_SCRIPTS, language_share
from r1.template import chain_of_thought


class LanguageReward:
    """Language consistency of the chain of thought (the ``<think>`` block, else the whole text).

    Args:
        language: Target language code (``en``, ``fr``, ``zh``, ``ja``, ...) or
            script name (``latin``, ``han``, ``cjk``, ...).
    """

    name = "language"

    def __init__(self, language: str = "en") -> None:
        if language not in LANGUAGE_SCRIPTS:
            raise ValueError(f"unknown language {language!r}; known: {', '.join(sorted(LANGUAGE_SCRIPTS))}")
        self.language = language

    def __call__(self, completions: list[str], **fields: Any) -> list[float | None]:
        """One share in [0, 1] per full response."""
        return [language_share(chain_of_thought(c), self.language) for c in completions]
