"""Build a model with a fixed initialisation seed, leaving the global RNG as it was."""

from __future__ import annotations

from typing import Callable, TypeVar

import torch

T = TypeVar("T")


def seeded(build: Callable[[], T], seed: int) -> T:
    """``build()`` under ``torch.manual_seed(seed)``; the caller's RNG state is restored after.

    The same arguments then give the same weights, whatever ran before (a test checks it).
    """
    state = torch.random.get_rng_state()
    torch.manual_seed(seed)
    try:
        return build()
    finally:
        torch.random.set_rng_state(state)
