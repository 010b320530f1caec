"""The built-in algorithms, offered to r1's registry through the same hooks a third-party plugin uses.

``phase.advantage``, ``phase.policy_loss``, ``phase.kl_estimator`` and
``phase.aggregation`` name one entry each; a plugin adds an estimator or a loss by
implementing the hook (see ``plugins/r1-example``), with no edit here. Factories are
lazy, so building the registry imports no torch.
"""

from __future__ import annotations

import importlib
from typing import Any, Callable

from r1.hookspecs import hookimpl
from r1.plugins import lazy


def pure(target: str) -> Callable[[], Any]:
    """A factory with no options for the pure function ``"package.module:name"``, imported when built.

    Given an option, building fails with ``<name>() got an unexpected keyword argument``,
    which the registry reports in one line.
    """
    module_name, attribute = target.split(":")

    def factory() -> Any:
        return getattr(importlib.import_module(module_name), attribute)

    factory.__name__ = factory.__qualname__ = attribute
    factory.__doc__ = f"The pure function {target} (takes no options)."
    return factory


@hookimpl
def r1_advantages() -> dict[str, Callable[..., Any]]:
    """``grpo`` (options ``scale``, ``eps``) and ``rloo`` (no options)."""
    return {
        "grpo": lazy("r1.algorithms.advantages:GroupNormalised"),
        "rloo": lazy("r1.algorithms.advantages:LeaveOneOut"),
    }


@hookimpl
def r1_policy_losses() -> dict[str, Callable[..., Any]]:
    """``clip`` (options ``eps_low``, ``eps_high``)."""
    return {"clip": lazy("r1.algorithms.policy_loss:ClippedSurrogate")}


@hookimpl
def r1_kl_estimators() -> dict[str, Callable[..., Any]]:
    """``k1``, ``k2``, ``k3`` (no options)."""
    return {name: pure(f"r1.algorithms.kl:{name}") for name in ("k1", "k2", "k3")}


@hookimpl
def r1_loss_aggregations() -> dict[str, Callable[..., Any]]:
    """``grpo`` (sequence mean), ``bnpo`` and ``dapo`` (token mean), ``dr_grpo`` (constant length); no options."""
    return {
        "grpo": pure("r1.algorithms.aggregation:sequence_mean"),
        "bnpo": pure("r1.algorithms.aggregation:token_mean"),
        "dapo": pure("r1.algorithms.aggregation:token_mean"),
        "dr_grpo": pure("r1.algorithms.aggregation:constant_length"),
    }
