"""Every hook an r1 plugin can implement.

r1 asks plugins for the *things* it builds: rewards, samplers, filters, benchmarks
and tasks, plus extra Hydra config options. Each ``r1_<kind>s`` hook returns a
mapping ``{name: factory}``; r1 merges the mappings of all plugins (built-ins
included, they register through these same hooks) and builds an object with
``factory(**options)``, where ``options`` are the keys of the chosen YAML file
other than ``name``. Two plugins offering the same name is an error naming both.

Bodies are docstrings only, as in pytest's ``hookspec.py``: the docstring is the
contract. Implement a hook with ``@r1.hookimpl`` in a module or class, and
expose it through the ``r1`` entry-point group of your package's pyproject::

    [project.entry-points.r1]
    my_plugin = "my_package.plugin"
"""

from __future__ import annotations

from typing import Any, Callable

import pluggy

hookspec = pluggy.HookspecMarker("r1")
hookimpl = pluggy.HookimplMarker("r1")

Factory = Callable[..., Any]


@hookspec
def r1_rewards() -> dict[str, Factory]:
    """Offer reward functions, called once when the registry is first built.

    Returns:
        ``{name: factory}``. ``factory(**options)`` returns a reward: a callable
        ``reward(completions: list[str], **fields: list) -> list[float | None]``
        that scores a batch. ``fields`` are the sample's columns (``prompt``,
        ``answer``, ...), each a list aligned with ``completions``; a reward
        ignores fields it does not need (accept ``**fields``). ``None`` means
        "not applicable to this sample". See :class:`r1.protocols.Reward`.
    """


@hookspec
def r1_samplers() -> dict[str, Factory]:
    """Offer samplers (rollout generators used by GRPO, rejection sampling and eval).

    Returns:
        ``{name: factory}``; ``factory(**options)`` returns an object following
        :class:`r1.protocols.Sampler`.
    """


@hookspec
def r1_filters() -> dict[str, Factory]:
    """Offer rejection-sampling filters.

    Returns:
        ``{name: factory}``; ``factory(**options)`` returns an object following
        :class:`r1.protocols.Filter`: ``filter(samples: list[dict]) -> list[bool]``
        (True keeps the sample).
    """


@hookspec
def r1_benchmarks() -> dict[str, Factory]:
    """Offer evaluation suites.

    Returns:
        ``{name: factory}``; ``factory(**options)`` returns an object following
        :class:`r1.protocols.Benchmark`.
    """


@hookspec
def r1_tasks() -> dict[str, Factory]:
    """Offer training tasks (prompt sources with gold answers and reference responses).

    Returns:
        ``{name: factory}``; ``factory(**options)`` returns an object following
        :class:`r1.protocols.Task`.
    """


@hookspec
def r1_advantages() -> dict[str, Factory]:
    """Offer advantage estimators (``phase.advantage: {name: grpo, scale: group, eps: 1.0e-4}``).

    Returns:
        ``{name: factory}``; ``factory(**options)`` returns an object following
        :class:`r1.protocols.AdvantageEstimator`: a pure function
        ``(rewards: Tensor (N,), group_size: int) -> Tensor (N,)`` over rewards
        grouped by prompt (``rewards[i * G + j]`` is response ``j`` of prompt ``i``),
        with an int attribute ``min_group_size`` (the smallest G it is defined for).
    """


@hookspec
def r1_policy_losses() -> dict[str, Factory]:
    """Offer policy losses (``phase.policy_loss: {name: clip, eps_low: 0.2, eps_high: 0.2}``).

    Returns:
        ``{name: factory}``; ``factory(**options)`` returns an object following
        :class:`r1.protocols.PolicyLoss`: a pure function
        ``(logprobs, old_logprobs, advantages, mask) -> (per_token_loss, clipped)``,
        tensors ``(B, T)`` over completion tokens (``advantages`` is ``(B,)``), where
        ``clipped`` is a bool ``(B, T)`` of tokens whose clip was active.
    """


@hookspec
def r1_kl_estimators() -> dict[str, Factory]:
    """Offer per-token KL estimators (``phase.kl_estimator: k3``).

    Returns:
        ``{name: factory}``; ``factory(**options)`` returns an object following
        :class:`r1.protocols.KLEstimator`: ``(logprobs, ref_logprobs) -> Tensor (B, T)``,
        an estimate of KL(policy ‖ reference) from samples of the policy.
    """


@hookspec
def r1_loss_aggregations() -> dict[str, Factory]:
    """Offer loss aggregations (``phase.aggregation: grpo``).

    Returns:
        ``{name: factory}``; ``factory(**options)`` returns an object following
        :class:`r1.protocols.LossAggregation`:
        ``(per_token: Tensor (B, T), mask: Tensor (B, T), max_length: int) -> Tensor ()``.
    """


@hookspec
def r1_config_dir() -> str | None:
    """Offer a folder of Hydra config options, so ``reward=my_reward`` works after ``pip install``.

    The folder holds one sub-folder per config group (``reward/``, ``benchmark/``,
    ``task/``, ...) with one YAML file per option, laid out like r1's own
    ``conf/``. r1 adds every folder returned here to Hydra's search path before
    composing the config. Return ``None`` to add nothing.
    """
