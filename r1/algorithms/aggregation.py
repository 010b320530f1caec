"""Loss aggregations: a ``(B, T)`` per-token loss reduced to the scalar that is minimised (``phase.aggregation``).

Each is a pure ``(per_token, mask, max_length) -> scalar`` function
(:class:`r1.protocols.LossAggregation`). They differ in how much one token of a long
completion weighs against one of a short completion.
"""

from __future__ import annotations

import torch


def sequence_mean(per_token: torch.Tensor, mask: torch.Tensor, max_length: int) -> torch.Tensor:
    """``grpo``: mean over each sequence's tokens, then over sequences (the paper's form; a long sequence's tokens each weigh less)."""
    maskf = mask.to(per_token.dtype)
    return ((per_token * maskf).sum(dim=1) / maskf.sum(dim=1).clamp(min=1.0)).mean()


def token_mean(per_token: torch.Tensor, mask: torch.Tensor, max_length: int) -> torch.Tensor:
    """``bnpo`` / ``dapo``: mean over all tokens of the batch (each token weighs the same)."""
    maskf = mask.to(per_token.dtype)
    return (per_token * maskf).sum() / maskf.sum().clamp(min=1.0)


def constant_length(per_token: torch.Tensor, mask: torch.Tensor, max_length: int) -> torch.Tensor:
    """``dr_grpo``: the sum over all tokens divided by ``B · max_length``, a constant, so the loss has no length bias (Dr. GRPO)."""
    maskf = mask.to(per_token.dtype)
    return (per_token * maskf).sum() / (per_token.shape[0] * max_length)
