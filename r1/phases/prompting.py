"""Which prompts a phase may use, and the count of those it had to skip.

A real dataset has rows a phase cannot learn from: no usable gold answer (a scraped
answer missing, a solution without ``\\boxed{}``), or a prompt longer than the cap
(``prompt.max_tokens``). Such a row is skipped where it is met, counted by reason, and
the counts go into the run's summary; a run never stops half-way because of one row.
"""

from __future__ import annotations

import logging
from collections import Counter
from typing import Any

from omegaconf import DictConfig

from r1.data.chat import PromptFormat, PromptSettings, prompt_settings
from r1.errors import ConfigError
from r1.protocols import Sample

log = logging.getLogger(__name__)

NO_PROMPT = "no_prompt"
NO_ANSWER = "no_answer"
TOO_LONG = "prompt_too_long"
REASONS = (NO_PROMPT, NO_ANSWER, TOO_LONG)


def read_prompt_settings(cfg: DictConfig) -> PromptSettings:
    """``cfg.prompt`` read into :class:`PromptSettings` (before any model loads, so a typo costs a second)."""
    if cfg.get("prompt") is None:
        raise ConfigError("the config has no `prompt` group; add `- prompt: chat` to its defaults (or pass prompt=chat)")
    return prompt_settings(cfg.prompt)


class PromptScreen:
    """Says whether a sample can be prompted with, and counts the ones that cannot.

    Args:
        prompt_format: renders the sample's prompt (to count its tokens against ``prompt.max_tokens``);
            None = no token cap (nothing to render, so no tokenizer is needed).
        need_answer: skip samples without a gold answer (every phase that scores answers).
    """

    def __init__(self, prompt_format: PromptFormat | None, need_answer: bool = True) -> None:
        self.prompt_format = prompt_format
        self.need_answer = need_answer
        self.skipped: Counter[str] = Counter()
        self._seen: set[Any] = set()

    def reason(self, sample: Sample) -> str | None:
        """Why ``sample`` cannot be used (one of :data:`REASONS`), or None when it can."""
        if not sample.get("prompt"):
            return NO_PROMPT
        if self.need_answer and sample.get("answer") is None:
            return NO_ANSWER
        fmt = self.prompt_format
        if fmt is not None and fmt.settings.max_tokens is not None and not fmt.fits(fmt.render(sample["prompt"])):
            return TOO_LONG
        return None

    def usable(self, sample: Sample) -> bool:
        """Whether ``sample`` can be used; a sample that cannot is counted once (by its ``id``, else its prompt)."""
        why = self.reason(sample)
        if why is None:
            return True
        key = (why, sample.get("id", sample.get("prompt")))
        if key not in self._seen:
            self._seen.add(key)
            self.skipped[why] += 1
        return False

    def summary(self) -> dict[str, int]:
        """``{"skipped/no_prompt": n, "skipped/no_answer": m, ...}`` for the run summary (zeros included)."""
        return {f"skipped/{why}": int(self.skipped.get(why, 0)) for why in REASONS}

    def report(self, phase: str) -> None:
        """One line saying what was skipped, when anything was."""
        if sum(self.skipped.values()):
            parts = ", ".join(f"{n} with {why.replace('_', ' ')}" for why, n in sorted(self.skipped.items()))
            print(f"[{phase}] skipped prompts: {parts} (counted in summary.json)", flush=True)


def take_usable(samples, n: int, screen: PromptScreen) -> list[Sample]:
    """The first ``n`` usable samples of a sequence (held-out sets: a few hundred at most)."""
    out: list[Sample] = []
    for i in range(len(samples)):
        if len(out) >= n:
            break
        sample = samples[i]
        if screen.usable(sample):
            out.append(sample)
    return out
