"""Per-token estimators of KL(πθ ‖ π_ref) from samples of πθ (Schulman's k1, k2, k3; ``phase.kl_estimator``).

Each is a pure ``(logprobs, ref_logprobs) -> (B, T)`` function
(:class:`r1.protocols.KLEstimator`). With ``d = log π_ref − log πθ``:
``k1 = −d`` (unbiased, can be negative), ``k2 = d²/2`` (low variance, biased),
``k3 = exp(d) − d − 1`` (unbiased and ≥ 0; the GRPO paper's choice).
"""

from __future__ import annotations

import torch


def k1(logprobs: torch.Tensor, ref_logprobs: torch.Tensor) -> torch.Tensor:
    """``log πθ − log π_ref``: unbiased, but a single sample can be negative."""
    return logprobs - ref_logprobs


def k2(logprobs: torch.Tensor, ref_logprobs: torch.Tensor) -> torch.Tensor:
    """``(log π_ref − log πθ)² / 2``: low variance, biased."""
    return 0.5 * (ref_logprobs - logprobs) ** 2


def k3(logprobs: torch.Tensor, ref_logprobs: torch.Tensor) -> torch.Tensor:
    """``exp(d) − d − 1`` with ``d = log π_ref − log πθ``: unbiased and never negative."""
    delta = ref_logprobs - logprobs
    return torch.exp(delta) - delta - 1.0
