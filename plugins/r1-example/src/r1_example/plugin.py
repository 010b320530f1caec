"""The ``brevity`` reward: shorter reasoning earns more, as a plugin outside r1's core.

It follows r1's reward contract: a batch callable
``reward(completions, **fields) -> list[float | None]``.
"""

from __future__ import annotations

import re
from pathlib import Path

from r1.hookspecs import hookimpl

_THINK = re.compile(r"<think>(.*?)</think>", re.DOTALL)


class BrevityReward:
    """1.0 for an empty chain of thought, falling linearly to 0.0 at ``max_chars`` characters.

    Args:
        max_chars: length of the ``<think>`` block (or of the whole completion when it has
            none) at which the reward reaches 0.
    """

    def __init__(self, max_chars: int = 200) -> None:
        if max_chars <= 0:
            raise ValueError(f"max_chars must be positive, got {max_chars}")
        self.max_chars = max_chars

    def __call__(self, completions: list[str], **fields) -> list[float | None]:
        scores: list[float | None] = []
        for completion in completions:
            match = _THINK.search(completion)
            length = len(match.group(1) if match else completion)
            scores.append(max(0.0, 1.0 - length / self.max_chars))
        return scores


@hookimpl
def r1_rewards():
    return {"brevity": BrevityReward}


@hookimpl
def r1_config_dir():
    return str(Path(__file__).parent / "conf")
