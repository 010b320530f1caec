"""Built-in rewards: plain batch callables ``reward(completions, **fields) -> list[float | None]``.

They register through the same ``r1_rewards`` hook as a third-party plugin.
Each is built as ``factory(**options)`` from ``conf/reward/<name>.yaml`` and can
be called outside any trainer::

    >>> from r1.rewards import AccuracyReward, score_batch
    >>> AccuracyReward()(["<answer>4</answer>"], answer=["4"])
    [1.0]

Trainers call :func:`score_batch`, which also reports each component of a
composite reward and isolates samples on which a reward raises.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from r1.hookspecs import hookimpl
from r1.rewards.accuracy import AccuracyReward
from r1.rewards.by_task import ByTaskReward
from r1.rewards.exact_match import ExactMatchReward
from r1.rewards.format import FormatReward
from r1.rewards.hybrid import HybridReward
from r1.rewards.language import LanguageReward
from r1.rewards.length import CosineReward, LengthReward, SoftOverlongReward
from r1.rewards.reasoning_steps import ReasoningStepsReward
from r1.rewards.repetition import RepetitionPenaltyReward
from r1.rewards.reward_model import RewardModelReward
from r1.rewards.scoring import RewardResult, score_batch
from r1.rewards.tag_count import TagCountReward

BUILTIN_REWARDS: dict[str, Callable[..., Any]] = {
    "accuracy": AccuracyReward,
    "format": FormatReward,
    "language": LanguageReward,
    "hybrid": HybridReward,
    "by_task": ByTaskReward,
    "exact_match": ExactMatchReward,
    "tag_count": TagCountReward,
    "reasoning_steps": ReasoningStepsReward,
    "length": LengthReward,
    "cosine": CosineReward,
    "repetition_penalty": RepetitionPenaltyReward,
    "soft_overlong": SoftOverlongReward,
    "reward_model": RewardModelReward,
}
"""Every built-in reward factory by its config name."""


@hookimpl
def r1_rewards() -> dict[str, Callable[..., Any]]:
    """Offer the built-in rewards to r1's plugin registry."""
    return dict(BUILTIN_REWARDS)


__all__ = [
    "BUILTIN_REWARDS",
    "AccuracyReward",
    "ByTaskReward",
    "CosineReward",
    "ExactMatchReward",
    "FormatReward",
    "HybridReward",
    "LanguageReward",
    "LengthReward",
    "ReasoningStepsReward",
    "RepetitionPenaltyReward",
    "RewardModelReward",
    "RewardResult",
    "SoftOverlongReward",
    "TagCountReward",
    "r1_rewards",
    "score_batch",
]
