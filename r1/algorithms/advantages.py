"""Advantage estimators: how much better each response is than its siblings (GRPO's critic-free baseline).

For each prompt, G responses are sampled and scored. Rewards arrive flat, grouped by
prompt: ``rewards[i * G + j]`` is response ``j`` of prompt ``i``. The pure functions
compute advantages from rewards; the small classes below are what the registry builds
from ``phase.advantage`` (:class:`r1.protocols.AdvantageEstimator`): a function of
``(rewards, group_size)`` that carries its options and ``min_group_size``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal, get_args

import torch

Scale = Literal["group", "batch", "none"]
SCALES: tuple[str, ...] = get_args(Scale)

TIE_TOLERANCE = 1e-6
"""Rewards closer than this count as tied (float rounding of equal scores, not a real difference)."""


def group_advantages(rewards: torch.Tensor, group_size: int, scale: Scale, eps: float) -> torch.Tensor:
    """GRPO advantages ``A_i = (r_i - mean_group) / (std + eps)``.

    Args:
        rewards: ``(N,)`` with ``N = prompts * group_size``, grouped by prompt.
        group_size: G, responses per prompt (at least 2: one response has no std).
        scale: ``"group"`` divides by each group's std (the paper), ``"batch"`` by the
            std of all rewards in the batch (more robust when groups are small),
            ``"none"`` does not divide (Dr. GRPO: dividing by a small std over-weights
            near-tied groups).
        eps: keeps the division finite when a group's rewards tie.

    Returns:
        ``(N,)`` advantages; a group whose rewards all tie gets zeros.
    """
    _check_scale(scale)
    grouped = rewards.view(-1, group_size)  # (P, G)
    centred = grouped - grouped.mean(dim=1, keepdim=True)
    if scale == "group":
        # unbiased std, as the GRPO paper and TRL use
        centred = centred / (grouped.std(dim=1, keepdim=True, unbiased=True) + eps)
    elif scale == "batch":
        centred = centred / (rewards.std(unbiased=True) + eps)
    return centred.reshape(-1)


def rloo_advantages(rewards: torch.Tensor, group_size: int) -> torch.Tensor:
    """REINFORCE leave-one-out: ``A_i = r_i - mean(r_j for j != i)`` within the group.

    An unbiased baseline (the sample's own reward is not in it); equal to
    ``G / (G - 1)`` times the centred reward, so it needs ``G >= 2``.
    """
    grouped = rewards.view(-1, group_size)  # (P, G)
    others_mean = (grouped.sum(dim=1, keepdim=True) - grouped) / (group_size - 1)
    return (grouped - others_mean).reshape(-1)


def tied_groups(rewards: torch.Tensor, group_size: int) -> torch.Tensor:
    """``(P,)`` bool: groups whose rewards all tie (within :data:`TIE_TOLERANCE`), which carry no learning signal."""
    grouped = rewards.view(-1, group_size)
    return (grouped.max(dim=1).values - grouped.min(dim=1).values) <= TIE_TOLERANCE


@dataclass(frozen=True)
class GroupNormalised:
    """``advantage: {name: grpo, scale: group|batch|none, eps: ...}``: :func:`group_advantages`."""

    scale: Scale
    eps: float
    min_group_size: ClassVar[int] = 2  # a group of one has no (unbiased) std: NaN advantages

    def __post_init__(self) -> None:
        _check_scale(self.scale)
        if isinstance(self.eps, bool) or not isinstance(self.eps, (int, float)) or not self.eps > 0:
            raise ValueError(f"eps must be a positive number (it keeps tied groups finite), not {self.eps!r}")

    def __call__(self, rewards: torch.Tensor, group_size: int) -> torch.Tensor:
        return group_advantages(rewards, group_size, self.scale, self.eps)


@dataclass(frozen=True)
class LeaveOneOut:
    """``advantage: {name: rloo}``: :func:`rloo_advantages`; it takes no options (it never divides)."""

    min_group_size: ClassVar[int] = 2  # the others' mean of a group of one is empty

    def __call__(self, rewards: torch.Tensor, group_size: int) -> torch.Tensor:
        return rloo_advantages(rewards, group_size)


def _check_scale(scale: str) -> None:
    if scale not in SCALES:
        raise ValueError(f"scale must be one of {', '.join(SCALES)}, not {scale!r}")
