"""Group-relative advantages: GRPO's replacement for a learned critic.

For each prompt, G responses are sampled and scored; a response's advantage is how
much better its reward is than its siblings'. Rewards arrive flat, grouped by
prompt: ``rewards[i * G + j]`` is response ``j`` of prompt ``i``.
"""

from __future__ import annotations

import torch

SCALES = ("group", "batch", "none")
ESTIMATORS = ("grpo", "rloo")


def group_advantages(rewards: torch.Tensor, group_size: int, scale: str = "group", eps: float = 1e-4) -> torch.Tensor:
    """GRPO advantages ``A_i = (r_i - mean_group) / (std_group + eps)``.

    Args:
        rewards: ``(N,)`` with ``N = prompts * group_size``, grouped by prompt.
        group_size: G, responses per prompt.
        scale: ``"group"`` divides by each group's std (the paper), ``"batch"`` by the
            std of all rewards in the batch (more robust when groups are small),
            ``"none"`` does not divide (Dr. GRPO: dividing by a small std over-weights
            near-tied groups).
        eps: keeps the division finite when a group's rewards tie.

    Returns:
        ``(N,)`` advantages; a group whose rewards all tie gets zeros.
    """
    if scale not in SCALES:
        raise ValueError(f"scale must be one of {SCALES}, got '{scale}'")
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
    ``G / (G - 1)`` times the centred reward.
    """
    if group_size < 2:
        raise ValueError("RLOO needs at least 2 responses per prompt")
    grouped = rewards.view(-1, group_size)  # (P, G)
    others_mean = (grouped.sum(dim=1, keepdim=True) - grouped) / (group_size - 1)
    return (grouped - others_mean).reshape(-1)


def compute_advantages(rewards: torch.Tensor, group_size: int, estimator: str = "grpo", scale: str = "group", eps: float = 1e-4) -> torch.Tensor:
    """Dispatch to the configured estimator (``grpo`` or ``rloo``)."""
    if estimator == "grpo":
        return group_advantages(rewards, group_size, scale=scale, eps=eps)
    if estimator == "rloo":
        return rloo_advantages(rewards, group_size)
    raise ValueError(f"estimator must be one of {ESTIMATORS}, got '{estimator}'")


def tied_groups(rewards: torch.Tensor, group_size: int, tol: float = 1e-6) -> torch.Tensor:
    """``(P,)`` bool: groups whose rewards all tie, which carry no learning signal."""
    grouped = rewards.view(-1, group_size)
    return (grouped.max(dim=1).values - grouped.min(dim=1).values) <= tol
