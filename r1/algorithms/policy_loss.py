"""Policy losses: the per-token policy-gradient term of the GRPO objective (``phase.policy_loss``).

All tensors are ``(B, T)`` over completion tokens with a ``mask`` of the tokens that
count (1 up to and including the stop token). Sequences' advantages are ``(B,)`` and
broadcast over their tokens. The class is what the registry builds
(:class:`r1.protocols.PolicyLoss`); the function is the math, usable on its own.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


def clipped_surrogate(
    logprobs: torch.Tensor, old_logprobs: torch.Tensor, advantages: torch.Tensor, eps_low: float, eps_high: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-token PPO/GRPO loss ``-min(ρA, clip(ρ, 1-ε_low, 1+ε_high)·A)``, ρ = exp(logπθ − logπ_old).

    A separate ``eps_high`` (DAPO's clip-higher, e.g. 0.28) lets unlikely tokens with
    positive advantage grow faster, which keeps entropy from collapsing.

    Returns:
        ``(loss, clipped)``: both ``(B, T)``; ``clipped`` marks tokens where the clip
        was the active branch (for the clip-fraction metric).
    """
    ratio = torch.exp(logprobs - old_logprobs)  # (B, T)
    adv = advantages[:, None] if advantages.dim() == 1 else advantages  # (B, 1)
    unclipped = ratio * adv
    clipped_term = torch.clamp(ratio, 1.0 - eps_low, 1.0 + eps_high) * adv
    loss = -torch.minimum(unclipped, clipped_term)
    clipped = clipped_term < unclipped
    return loss, clipped


@dataclass(frozen=True)
class ClippedSurrogate:
    """``policy_loss: {name: clip, eps_low: ..., eps_high: ...}``: :func:`clipped_surrogate` per token."""

    eps_low: float
    eps_high: float

    def __post_init__(self) -> None:
        check_clip_range(self.eps_low, self.eps_high)

    def __call__(
        self, logprobs: torch.Tensor, old_logprobs: torch.Tensor, advantages: torch.Tensor, mask: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        return clipped_surrogate(logprobs, old_logprobs, advantages, self.eps_low, self.eps_high)


def check_clip_range(eps_low: object, eps_high: object) -> None:
    """``ValueError`` unless ``0 <= eps_low < 1`` and ``eps_high >= 0`` (the ratio's range ``[1 - eps_low, 1 + eps_high]``)."""
    for name, value in (("eps_low", eps_low), ("eps_high", eps_high)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            raise ValueError(f"{name} must be a number at least 0, not {value!r}")
    if eps_low >= 1:  # type: ignore[operator]
        raise ValueError(f"eps_low must be less than 1 (the clip range's floor is 1 - eps_low), not {eps_low!r}")
