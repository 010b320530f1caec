"""Several tasks as one, by ratio: the prompts of R1's last RL stage, reasoning and general together.

``task=mixture`` draws each split from its member tasks in proportion to their ratios and
shuffles them together; every sample carries ``task: <member name>``, which a routing reward
(``reward=by_task``) reads to score it with that member's reward.

A correct response must satisfy every member's checker (:meth:`MixtureTask.check`): the
task protocol's ``check(response, answer)`` sees no sample, and the strictest reading keeps a
lenient checker (the symbolic one takes ``dog`` for ``DOG``) from passing a wrong general
answer. Numbers, the answers the members share, pass every checker alike.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from typing import Any

from r1.errors import ConfigError
from r1.protocols import Sample, Task


class MixtureTask:
    """Member tasks mixed by ratio.

    Args:
        members: member name -> its task config node (``name`` and options), as ``conf/task/<name>.yaml`` holds.
        ratios: member name -> its share of the samples (any positive weights; normalised).
        registry: the plugin registry that builds the members (r1's own when omitted).
    """

    name = "mixture"

    def __init__(self, members: Mapping[str, Mapping[str, Any]], ratios: Mapping[str, float], *, registry: Any = None) -> None:
        if not members:
            raise ConfigError("task.members is empty: name at least one task, e.g. members: {arithmetic: {name: arithmetic}}")
        if set(ratios) != set(members):
            raise ConfigError(f"task.ratios must give one ratio per member: members {sorted(members)}, ratios {sorted(ratios)}")
        bad = {k: v for k, v in ratios.items() if isinstance(v, bool) or not isinstance(v, (int, float)) or v < 0}
        if bad or not any(float(v) > 0 for v in ratios.values()):
            raise ConfigError(f"task.ratios must be non-negative numbers, not all zero, got {dict(ratios)}")
        if registry is None:
            from r1.plugins import get_registry

            registry = get_registry()
        self.members: dict[str, Task] = {}
        for member, node in members.items():
            if (node or {}).get("name") == self.name:
                raise ConfigError(f"task.members.{member} is itself a mixture; list its members here instead")
            self.members[member] = registry.build("task", node)
        total = sum(float(v) for v in ratios.values())
        self.ratios = {member: float(ratios[member]) / total for member in self.members}

    def counts(self, n: int) -> dict[str, int]:
        """How many of ``n`` samples each member gives: shares by ratio, remainders to the largest fractions."""
        exact = {member: n * share for member, share in self.ratios.items()}
        counts = {member: int(value) for member, value in exact.items()}
        for member in sorted(exact, key=lambda m: exact[m] - counts[m], reverse=True)[: n - sum(counts.values())]:
            counts[member] += 1
        return counts

    def samples(self, split: str, n: int | None, seed: int = 0) -> Sequence[Sample]:
        """``n`` samples of ``split``, each member's share drawn with the same seed, tagged ``task`` and shuffled together."""
        if n is None:
            raise ValueError("a mixture needs a number of samples (its members are mixed by ratio)")
        mixed: list[Sample] = []
        for member, count in self.counts(int(n)).items():
            if count == 0:
                continue
            for sample in self.members[member].samples(split, count, seed=seed):
                mixed.append({**sample, "task": member, "id": f"{member}/{sample.get('id')}"})
        random.Random(f"mixture/{split}/{seed}").shuffle(mixed)
        return mixed

    def check(self, response: str, answer: str) -> bool:
        """Correct only when every member's checker says so (the protocol's check sees no sample to route by)."""
        return all(task.check(response, answer) for task in self.members.values())
