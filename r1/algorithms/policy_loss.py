"""The GRPO objective per token: clipped surrogate plus a KL penalty to the reference.

All tensors are ``(B, T)`` over completion tokens with a ``mask`` of the tokens
that count (1 up to and including the stop token). Sequences' advantages are
``(B,)`` and broadcast over their tokens.
"""

from __future__ import annotations

import torch

KL_ESTIMATORS = ("k1", "k2", "k3")
AGGREGATIONS = ("grpo", "bnpo", "dapo", "dr_grpo")


def clipped_surrogate(
    logprobs: torch.Tensor,
    old_logprobs: torch.Tensor,
    advantages: torch.Tensor,
    eps_low: float = 0.2,
    eps_high: float = 0.2,
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


def kl_penalty(logprobs: torch.Tensor, ref_logprobs: torch.Tensor, estimator: str = "k3") -> torch.Tensor:
    """Per-token estimate of KL(πθ ‖ π_ref) from samples of πθ (Schulman's k1, k2, k3).

    With ``d = log π_ref − log πθ``: ``k1 = −d`` (unbiased, can be negative),
    ``k2 = d²/2`` (low variance, biased), ``k3 = exp(d) − d − 1`` (unbiased and ≥ 0; the
    GRPO paper's choice).
    """
    delta = ref_logprobs - logprobs
    if estimator == "k3":
        return torch.exp(delta) - delta - 1.0
    if estimator == "k2":
        return 0.5 * delta**2
    if estimator == "k1":
        return -delta
    raise ValueError(f"kl estimator must be one of {KL_ESTIMATORS}, got '{estimator}'")


def aggregate(per_token: torch.Tensor, mask: torch.Tensor, mode: str = "grpo", max_length: int | None = None) -> torch.Tensor:
    """Reduce a ``(B, T)`` per-token loss to a scalar.

    * ``grpo``: mean over each sequence's tokens, then over sequences (the paper's
      form; a long sequence's tokens each weigh less).
    * ``bnpo`` / ``dapo``: mean over all tokens of the batch (each token weighs the same).
    * ``dr_grpo``: sum over all tokens divided by ``B · max_length``, a constant, so
      the loss has no length bias at all (Dr. GRPO).
    """
    mask = mask.to(per_token.dtype)
    if mode == "grpo":
        return ((per_token * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1.0)).mean()
    if mode in ("bnpo", "dapo"):
        return (per_token * mask).sum() / mask.sum().clamp(min=1.0)
    if mode == "dr_grpo":
        if not max_length:
            raise ValueError("dr_grpo aggregation needs max_length (the completion length cap)")
        return (per_token * mask).sum() / (per_token.shape[0] * max_length)
    raise ValueError(f"aggregation must be one of {AGGREGATIONS}, got '{mode}'")


def grpo_loss(
    logprobs: torch.Tensor,
    old_logprobs: torch.Tensor,
    advantages: torch.Tensor,
    mask: torch.Tensor,
    ref_logprobs: torch.Tensor | None = None,
    beta: float = 0.01,
    eps_low: float = 0.2,
    eps_high: float = 0.2,
    kl_estimator: str = "k3",
    aggregation: str = "grpo",
    max_length: int | None = None,
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """The full GRPO loss and its diagnostics: surrogate + β·KL, aggregated.

    Returns:
        ``(loss, stats)`` where ``stats`` holds detached ``kl`` (mean per-token KL),
        ``clip_fraction`` and ``surrogate``.
    """
    per_token, clipped = clipped_surrogate(logprobs, old_logprobs, advantages, eps_low, eps_high)
    stats: dict[str, torch.Tensor] = {}
    maskf = mask.to(per_token.dtype)
    tokens = maskf.sum().clamp(min=1.0)
    stats["surrogate"] = aggregate(per_token, mask, aggregation, max_length).detach()
    if ref_logprobs is not None and beta != 0.0:
        kl = kl_penalty(logprobs, ref_logprobs, kl_estimator)
        per_token = per_token + beta * kl
        stats["kl"] = ((kl * maskf).sum() / tokens).detach()
    stats["clip_fraction"] = ((clipped.to(maskf.dtype) * maskf).sum() / tokens).detach()
    return aggregate(per_token, mask, aggregation, max_length), stats
