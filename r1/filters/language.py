"""``language``: keep chains of thought written in one language.

DeepSeek-R1-Zero's reasoning drifted between languages; R1 kept only samples
whose chain of thought is in the target language. The share of target-language
words is measured as the ``language`` reward measures it (:mod:`r1.language`: words
told apart by script, Latin vs Han/kana/Hangul, ...; numbers and maths neutral), so a
sample is kept when that share reaches ``threshold``. A chain of thought with no
words at all (``7+5+0=12``) is consistent by definition. A response is read as the
phase hands it over: the prompt's think prefill, then the completion
(:meth:`r1.data.chat.PromptFormat.full_response`).
"""

from __future__ import annotations

from r1.errors import ConfigError
from r1.language import LANGUAGE_SCRIPTS, language_share
from r1.protocols import Sample
from r1.template import chain_of_thought


class LanguageFilter:
    """Keep samples whose chain of thought is at least ``threshold`` in ``language``.

    Args:
        language: Target language code (``en``, ``zh``, ...) or script
            (``latin``, ``cjk``, ...).
        threshold: Minimum share of target-language words, in [0, 1].
    """

    name = "language"

    def __init__(self, language: str = "en", threshold: float = 0.95) -> None:
        if language not in LANGUAGE_SCRIPTS:
            raise ConfigError(f"language filter: unknown language '{language}'; known: {', '.join(sorted(LANGUAGE_SCRIPTS))}")
        if not 0.0 <= float(threshold) <= 1.0:
            raise ConfigError(f"language filter: threshold must be in [0, 1], got {threshold}")
        self.language = language
        self.threshold = float(threshold)

    def __call__(self, samples: list[Sample]) -> list[bool]:
        return [language_share(chain_of_thought(s["response"]), self.language) >= self.threshold for s in samples]
