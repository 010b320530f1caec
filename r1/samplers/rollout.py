"""The result of sampling, :class:`r1.protocols.Rollout`, under the name the samplers import it by.

The definition lives with the other contracts in :mod:`r1.protocols`, so a sampler
plugin and every caller code against one documented class.
"""

from __future__ import annotations

from r1.protocols import Rollout

__all__ = ["Rollout"]
