"""``language``: keep chains of thought written in one language.

DeepSeek-R1-Zero's reasoning drifted between languages; R1 kept only samples
whose chain of thought is in the target language. The share of target-language
words is measured as the ``language`` reward measures it (:mod:`r1.language`: words
told apart by script, Latin vs Han/kana/Hangul, ..., then Latin words by a language
identifier, sentence by sentence; code, numbers and maths neutral), so a
sample is kept when that share reaches ``threshold``. A chain of thought with no
words at all (``7+5+0=12``) is consistent by definition. A response is read as the
phase hands it over: the prompt's think prefill, then the completion
(:meth:`r1.data.chat.PromptFormat.full_response`).
"""

from __future__ import annotations

from collections.abc import Sequence

from r1.errors import ConfigError
from r1.language import DEFAULT_CANDIDATES, MIN_WORDS, check_options, language_shares
from r1.protocols import Sample
from r1.template import chain_of_thought


class LanguageFilter:
    """Keep samples whose chain of thought is at least ``threshold`` in ``language``.

    Args:
        language: Target language code (``en``, ``zh``, ...) or script
            (``latin``, ``cjk``, ...).
        threshold: Minimum share of target-language words, in [0, 1].
        candidates: Latin-script languages the identifier chooses among (the target
            is added).
        min_words: Fewest Latin words labelled at once; shorter sentences join the
            next ones.
    """

    name = "language"

    def __init__(
        self,
        language: str = "en",
        threshold: float = 0.95,
        candidates: Sequence[str] = DEFAULT_CANDIDATES,
        min_words: int = MIN_WORDS,
    ) -> None:
        self.candidates = check_options(language, candidates, min_words)
        if not 0.0 <= float(threshold) <= 1.0:
            raise ConfigError(f"language filter: threshold must be in [0, 1], got {threshold}")
        self.language = language
        self.threshold = float(threshold)
        self.min_words = int(min_words)

    def __call__(self, samples: list[Sample]) -> list[bool]:
        texts = [chain_of_thought(s["response"]) for s in samples]
        shares = language_shares(texts, self.language, candidates=self.candidates, min_words=self.min_words)
        return [share >= self.threshold for share in shares]
