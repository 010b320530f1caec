"""``language``: the share of the chain of thought written in the target language.

R1's language-consistency reward: the proportion of target-language words in the
chain of thought, as :mod:`r1.language` counts them (by script, then Latin words
sentence by sentence by a language identifier; code, numbers and maths are neutral).
A batch is scored in one identifier pass.

The text scored is the full response the phases hand over: the prompt's think
prefill (``<think>`` when the chat template ends the prompt with it), then the
completion (:meth:`r1.data.chat.PromptFormat.full_response`), so the chain of
thought is found the same way whether the template or the model opened it.
"""

from __future__ import annotations

from typing import Any

from collections.abc import Sequence

from r1.language import DEFAULT_CANDIDATES, MIN_WORDS, check_options, language_shares
from r1.template import chain_of_thought


class LanguageReward:
    """Language consistency of the chain of thought (the ``<think>`` block, else the whole text).

    Args:
        language: Target language code (``en``, ``fr``, ``zh``, ``ja``, ...) or
            script name (``latin``, ``han``, ``cjk``, ...).
        candidates: Latin-script languages the identifier chooses among (the target
            is added); Latin words labelled as another one count against the target.
        min_words: Fewest Latin words labelled at once; shorter sentences join the
            next ones.
    """

    name = "language"

    def __init__(
        self, language: str = "en", candidates: Sequence[str] = DEFAULT_CANDIDATES, min_words: int = MIN_WORDS
    ) -> None:
        self.candidates = check_options(language, candidates, min_words)
        self.language = language
        self.min_words = int(min_words)

    def __call__(self, completions: list[str], **fields: Any) -> list[float | None]:
        """One share in [0, 1] per full response."""
        texts = [chain_of_thought(c) for c in completions]
        return list(language_shares(texts, self.language, candidates=self.candidates, min_words=self.min_words))
