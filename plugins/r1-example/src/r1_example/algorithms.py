"""Two RL algorithms added to r1 from outside its core: an advantage estimator and a policy loss.

* ``reinforce_pp_baseline`` (REINFORCE++ with a group baseline, as in verl): subtract
  each group's mean reward, then whiten by the standard deviation of the whole batch.
  Select it with ``phase.advantage.name=reinforce_pp_baseline ~phase.advantage.scale``
  (it takes ``eps`` only).
* ``gspo`` (Group Sequence Policy Optimization): one importance ratio per sequence,
  the length-normalised sequence log-ratio ``exp(mean_t log(πθ/π_old))``, clipped per
  sequence and applied to every token of it. Select it with
  ``phase.policy_loss.name=gspo``; the GSPO paper clips far tighter than token-level
  PPO (``phase.policy_loss.eps_low=3e-4 phase.policy_loss.eps_high=4e-4``).

Both follow r1's contracts (``r1.protocols.AdvantageEstimator`` and
``r1.protocols.PolicyLoss``) and are offered through the ``r1_advantages`` and
``r1_policy_losses`` hooks of this module, registered by its own entry point.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch

from r1.hookspecs import hookimpl


@dataclass(frozen=True)
class ReinforcePlusPlusBaseline:
    """``A = (r - mean_group) / sqrt(var_batch + eps)``, the variance over every centred reward of the batch.

    verl whitens per token (its advantages are token-level); r1's estimator contract is
    per sequence, so each completion counts once here.

    Args:
        eps: added to the variance so a batch whose groups all tie stays finite (zeros).
    """

    eps: float
    min_group_size: ClassVar[int] = 2  # a group of one has no baseline but itself

    def __post_init__(self) -> None:
        if isinstance(self.eps, bool) or not isinstance(self.eps, (int, float)) or not self.eps > 0:
            raise ValueError(f"eps must be a positive number, not {self.eps!r}")

    def __call__(self, rewards: torch.Tensor, group_size: int) -> torch.Tensor:
        grouped = rewards.view(-1, group_size)
        centred = (grouped - grouped.mean(dim=1, keepdim=True)).reshape(-1)
        variance = centred.var(unbiased=True) if centred.numel() > 1 else centred.new_zeros(())
        return centred / torch.sqrt(variance + self.eps)


@dataclass(frozen=True)
class SequenceRatioLoss:
    """GSPO's loss ``-min(s·A, clip(s, 1-eps_low, 1+eps_high)·A)`` with one ratio ``s`` per sequence, on every token.

    ``s = exp(Σ_t m_t (log πθ_t − log π_old_t) / Σ_t m_t)`` over the sequence's masked
    tokens. With r1's ``grpo`` aggregation (mean per sequence) the loss is exactly the
    paper's sequence-level objective, and its gradient spreads ``s·A / |y|`` over the
    sequence's tokens.

    Args:
        eps_low, eps_high: the clip range ``[1 - eps_low, 1 + eps_high]`` of the sequence ratio.
    """

    eps_low: float
    eps_high: float

    def __post_init__(self) -> None:
        for name, value in (("eps_low", self.eps_low), ("eps_high", self.eps_high)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise ValueError(f"{name} must be a number at least 0, not {value!r}")

    def __call__(
        self, logprobs: torch.Tensor, old_logprobs: torch.Tensor, advantages: torch.Tensor, mask: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        maskf = mask.to(logprobs.dtype)
        mean_log_ratio = ((logprobs - old_logprobs) * maskf).sum(dim=1) / maskf.sum(dim=1).clamp(min=1.0)  # (B,)
        ratio = torch.exp(mean_log_ratio)[:, None]  # (B, 1)
        adv = advantages[:, None]
        unclipped = ratio * adv
        clipped_term = torch.clamp(ratio, 1.0 - self.eps_low, 1.0 + self.eps_high) * adv
        loss = -torch.minimum(unclipped, clipped_term)
        return loss.expand_as(logprobs), (clipped_term < unclipped).expand_as(logprobs)


@hookimpl
def r1_advantages():
    return {"reinforce_pp_baseline": ReinforcePlusPlusBaseline}


@hookimpl
def r1_policy_losses():
    return {"gspo": SequenceRatioLoss}
