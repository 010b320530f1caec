"""The algorithms as small pure tensor functions, each tested against hand-computed values.

Nothing here knows about models, configs or Lightning: a user replaces one part (say,
the advantage estimator) without copying a trainer. The parts GRPO composes are
plugins: this package registers the built-ins through the ``r1_advantages``,
``r1_policy_losses``, ``r1_kl_estimators`` and ``r1_loss_aggregations`` hooks
(:mod:`r1.algorithms.plugin`), exactly as a third-party package would.
"""

from __future__ import annotations

from r1.algorithms.plugin import r1_advantages, r1_kl_estimators, r1_loss_aggregations, r1_policy_losses

__all__ = ["r1_advantages", "r1_kl_estimators", "r1_loss_aggregations", "r1_policy_losses"]
