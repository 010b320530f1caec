"""Per-token log-probabilities and entropy from logits (pure tensor functions)."""

from __future__ import annotations

import torch


def token_logprobs(logits: torch.Tensor, tokens: torch.Tensor, temperature: float = 1.0) -> torch.Tensor:
    """Log-prob of each of ``tokens`` under ``softmax(logits / temperature)``.

    Args:
        logits: ``(B, T, V)`` predicting ``tokens``, already aligned (logits[:, t] → tokens[:, t]).
        tokens: ``(B, T)``.
        temperature: the sampling temperature, so that training sees the same
            distribution the rollouts were drawn from.

    Returns:
        ``(B, T)``.
    """
    scaled = logits.float() / temperature if temperature not in (0.0, 1.0) else logits.float()
    # log_softmax(x)[y] = x[y] - logsumexp(x): avoids materialising a (B, T, V) log-softmax
    return scaled.gather(-1, tokens.unsqueeze(-1)).squeeze(-1) - torch.logsumexp(scaled, dim=-1)


def token_entropy(logits: torch.Tensor) -> torch.Tensor:
    """``(B, T)`` entropy of each next-token distribution (a collapse detector during RL)."""
    logp = torch.log_softmax(logits.float(), dim=-1)
    return -(logp.exp() * logp).sum(dim=-1)
