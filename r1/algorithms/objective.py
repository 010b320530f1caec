"""The GRPO objective: a policy loss plus β times a KL estimate, aggregated to a scalar.

Each part is a callable the registry built from config (:mod:`r1.algorithms.plugin`), so
this function does no dispatch: it only composes them and reports diagnostics.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

if TYPE_CHECKING:
    from r1.protocols import KLEstimator, LossAggregation, PolicyLoss


def grpo_loss(
    logprobs: torch.Tensor,
    old_logprobs: torch.Tensor,
    advantages: torch.Tensor,
    mask: torch.Tensor,
    *,
    policy_loss: PolicyLoss,
    aggregation: LossAggregation,
    max_length: int,
    beta: float,
    kl_estimator: KLEstimator | None = None,
    ref_logprobs: torch.Tensor | None = None,
    token_weights: torch.Tensor | None = None,
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """The loss to minimise and its diagnostics.

    Args:
        logprobs, old_logprobs, mask: ``(B, T)`` over completion tokens; ``advantages`` ``(B,)``.
        policy_loss, aggregation: built from ``phase.policy_loss`` and ``phase.aggregation``.
        max_length: the completion length cap (``phase.max_new_tokens``), for aggregations that need it.
        beta, kl_estimator, ref_logprobs: the KL term, β · KL; left out when β is 0 or there is no reference.
        token_weights: ``(B, T)`` per-token weights of the policy term only (truncated importance
            sampling against the sampler's log-probs, :mod:`r1.algorithms.rollout_correction`);
            None = 1. The KL term is not reweighted: it is computed on the trainer's own log-probs.

    Returns:
        ``(loss, stats)``; ``stats`` holds detached ``surrogate`` (the aggregated policy
        loss), ``clip_fraction`` (share of masked tokens whose clip was active) and, with
        a KL term, ``kl`` (mean per-token KL over masked tokens).
    """
    per_token, clipped = policy_loss(logprobs, old_logprobs, advantages, mask)
    if token_weights is not None:
        per_token = per_token * token_weights.to(per_token.dtype)
    maskf = mask.to(per_token.dtype)
    tokens = maskf.sum().clamp(min=1.0)
    stats = {
        "surrogate": aggregation(per_token, mask, max_length).detach(),
        "clip_fraction": ((clipped.to(maskf.dtype) * maskf).sum() / tokens).detach(),
    }
    if kl_estimator is not None and ref_logprobs is not None and beta != 0.0:
        kl = kl_estimator(logprobs, ref_logprobs)
        per_token = per_token + beta * kl
        stats["kl"] = ((kl * maskf).sum() / tokens).detach()
    return aggregation(per_token, mask, max_length), stats
