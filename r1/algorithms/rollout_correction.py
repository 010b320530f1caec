"""Train/inference mismatch: how far the sampler's log-probs are from the trainer's, and a correction.

GRPO's importance ratio assumes the tokens were sampled by the policy the trainer scores
(π_old). With a separate inference engine (vLLM's kernels, bf16, another batch shape) the
sampler's distribution π_sampler differs slightly from the trainer's π_old, and the
update is silently off-policy. Yao et al. ("Your efficient RL framework secretly brings
you off-policy RL training", 2025) measure the gap and correct it with truncated
importance sampling (TIS): each token's policy-gradient term is weighted by
``min(π_old(y) / π_sampler(y), C)``, detached, so a token the engine over-sampled counts
less and no weight explodes. verl (``rollout_is``) and TRL
(``vllm_importance_sampling_correction``) offer the same; r1 turns it on with
``phase.rollout_correction=tis`` and ``phase.rollout_correction_cap``.

All tensors are ``(B, T)`` over completion tokens, with the mask of tokens that count.
"""

from __future__ import annotations

import torch


def mismatch_stats(
    trainer_logprobs: torch.Tensor, sampler_logprobs: torch.Tensor, mask: torch.Tensor, cap: float | None = None
) -> dict[str, float]:
    """How far the sampler's log-probs of the sampled tokens are from the trainer's.

    Returns:
        ``logprob_diff_mean``: mean over counted tokens of ``|log π_old − log π_sampler|``;
        ``logprob_diff_max``: the largest single token's;
        ``kl``: the k3 estimate of KL(π_sampler ‖ π_old) per token (tokens were drawn from
        the sampler), non-negative and 0 only when the two agree;
        ``ratio_mean``: mean of ``π_old / π_sampler`` (1 when they agree);
        ``ratio_over_cap``: share of tokens whose ratio exceeds ``cap`` (what TIS truncates; 0 without a cap).
        All 0 (ratio 1) when no token counts.
    """
    maskb = mask.bool()
    if not bool(maskb.any()):
        return {"logprob_diff_mean": 0.0, "logprob_diff_max": 0.0, "kl": 0.0, "ratio_mean": 1.0, "ratio_over_cap": 0.0}
    log_ratio = (trainer_logprobs.detach().float() - sampler_logprobs.float())[maskb]
    ratio = log_ratio.exp()
    return {
        "logprob_diff_mean": float(log_ratio.abs().mean()),
        "logprob_diff_max": float(log_ratio.abs().max()),
        "kl": float((ratio - 1.0 - log_ratio).mean()),
        "ratio_mean": float(ratio.mean()),
        "ratio_over_cap": float((ratio > cap).float().mean()) if cap is not None else 0.0,
    }


def truncated_importance_weights(trainer_logprobs: torch.Tensor, sampler_logprobs: torch.Tensor, cap: float) -> torch.Tensor:
    """``(B, T)`` TIS weights ``min(exp(log π_old − log π_sampler), cap)``, with no gradient.

    ``trainer_logprobs`` are the trainer's log-probs under the policy that sampled (π_old),
    not the ones being optimised: the weight corrects which tokens were drawn, and the
    PPO ratio still measures how far this update moved the policy.
    """
    if cap <= 0:
        raise ValueError(f"the truncation cap must be positive, not {cap!r}")
    return torch.exp(trainer_logprobs.detach().float() - sampler_logprobs.float()).clamp(max=cap)
