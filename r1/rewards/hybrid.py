"""``hybrid``: a weighted sum of named rewards, each also reported on its own.

``r_total = Σ weight · component``; the weights R1 uses (``accuracy 1.0 + format
0.3 + language 0.2``) are in ``conf/reward/hybrid.yaml``. Components are built by
the plugin registry that builds the hybrid, so a plugin's reward can be a component
too, and a blocked plugin's cannot.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from r1.rewards.scoring import RewardResult, safe_call
from r1.settings import to_plain

if TYPE_CHECKING:
    from r1.plugins import Registry

CORRECTNESS = "accuracy"
"""The component whose 1.0 means "correct" for ``gate_format_on_correct``."""


class HybridReward:
    """Weighted sum of component rewards.

    Args:
        weights: ``{component: weight}``; which components exist and how much each
            counts. A weight of 0 keeps the component in the logs but out of the total.
        components: ``{component: {option: value}}`` passed to each component's
            factory. A ``name`` option picks the factory, so one reward can appear
            twice (``{strict_format: {name: format, strict: true}}``).
        gate_format_on_correct: Count every component other than ``accuracy``
            only where the answer is correct. An additive format bonus, once
            normalised within a group, can rank a long wrong answer with good
            format above a short correct one; gating removes that incentive.
        registry: The plugin registry that builds the components (r1's registry
            passes itself when it builds a hybrid reward).

    Samples: a component's ``None`` (not applicable) is left out of the sum; the
    total is ``None`` when no component applies, when a component raised on the
    sample, or when gating is on and correctness is unknown (no gold answer).
    """

    name = "hybrid"

    def __init__(
        self,
        weights: Mapping[str, float],
        *,
        registry: Registry,
        components: Mapping[str, Mapping[str, Any]] | None = None,
        gate_format_on_correct: bool = False,
    ) -> None:
        options = to_plain(components) or {}
        self.weights = {str(k): float(v) for k, v in to_plain(weights).items()}
        self.gate_format_on_correct = bool(gate_format_on_correct)
        unused = sorted(set(options) - set(self.weights))
        if unused:
            warnings.warn(f"hybrid reward: options for {unused} ignored, they have no weight", stacklevel=2)
        self.rewards = {name: _build(name, dict(options.get(name) or {}), registry) for name in self.weights}
        self._gate = None
        if self.gate_format_on_correct and CORRECTNESS not in self.rewards:
            self._gate = _build(CORRECTNESS, dict(options.get(CORRECTNESS) or {}), registry)

    def score(self, completions: list[str], **fields: Any) -> RewardResult:
        """Total, per-component scores (unweighted) and error count for a batch."""
        n = len(completions)
        components: dict[str, list[float | None]] = {}
        failed = [False] * n
        errors = 0
        for name, reward in self.rewards.items():
            values, bad = safe_call(reward, completions, fields)
            components[name] = values
            errors += sum(bad)
            failed = [f or b for f, b in zip(failed, bad)]
        correct = components.get(CORRECTNESS)
        if self._gate is not None:
            correct, bad = safe_call(self._gate, completions, fields)
            errors += sum(bad)
            failed = [f or b for f, b in zip(failed, bad)]
        total = [None if failed[i] else self._combine(components, correct, i) for i in range(n)]
        return RewardResult(total, components, errors)

    def components(self, completions: list[str], **fields: Any) -> dict[str, list[float | None]]:
        """Each component's unweighted scores, for logging."""
        return self.score(completions, **fields).components

    def __call__(self, completions: list[str], **fields: Any) -> list[float | None]:
        """The weighted totals."""
        return self.score(completions, **fields).total

    def _combine(
        self, components: dict[str, list[float | None]], correct: list[float | None] | None, i: int
    ) -> float | None:
        """Weighted sum for sample ``i``, applying the correctness gate."""
        is_correct = None if correct is None else correct[i]
        if self.gate_format_on_correct and is_correct is None:
            return None
        total, applicable = 0.0, False
        for name, weight in self.weights.items():
            value = components[name][i]
            if value is None:
                continue
            applicable = True
            if self.gate_format_on_correct and name != CORRECTNESS and is_correct < 1.0:  # type: ignore[operator]
                continue
            total += weight * value
        return total if applicable else None


def _build(name: str, options: dict[str, Any], registry: Registry) -> Any:
    """Build component ``name`` (or the reward named by its ``name`` option)."""
    return registry.build("reward", {"name": options.pop("name", name), **options})
