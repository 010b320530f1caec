"""``by_task``: each sample scored by the reward of its route, picked by one of its fields.

DeepSeek-R1's last RL stage trains on reasoning and general prompts together, with
rule-based rewards for the first and other rewards for the second. Here a sample
field (``task`` by default, which every built-in task's samples carry) names the
route; each route is any reward node, built by the same plugin registry::

    name: by_task
    field: task
    routes:
      arithmetic: {name: hybrid, weights: {accuracy: 1.0, format: 0.3, language: 0.2}}
      general: {name: exact_match}
    default: null   # or a reward node, for samples whose field matches no route

Each route's reward is called once per batch, on its rows only (with their fields),
and the scores go back in the batch's order. Every route's components are reported
as ``by_task/<route>/<component>`` in every batch (``None`` on other routes' rows),
so the logged keys never depend on which tasks a batch happened to hold.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from r1.errors import ConfigError, PluginError
from r1.rewards.scoring import RewardResult, column, reward_name, score_batch
from r1.settings import to_plain

if TYPE_CHECKING:
    from r1.plugins import Registry

DEFAULT_ROUTE = "default"
"""The route name under which the ``default`` reward's components are reported."""


class ByTaskReward:
    """Routes each sample to a sub-reward by the value of one of its fields.

    Args:
        field: The sample column whose value names the route (``task``).
        routes: ``{value: reward node}``; a node is ``{name: <reward>, <option>: ...}`` or a bare name.
        default: The reward node for samples whose field is absent or matches no route;
            ``None`` makes such a sample an error (one line naming the value and the routes).
        registry: The plugin registry that builds the routes' rewards (r1's registry
            passes itself when it builds this reward).
    """

    name = "by_task"

    def __init__(
        self,
        field: str,
        routes: Mapping[str, Any],
        *,
        registry: Registry,
        default: Mapping[str, Any] | str | None = None,
    ) -> None:
        self.field = str(field)
        plain = to_plain(routes)
        if not isinstance(plain, Mapping) or not plain:
            raise ValueError(f"routes must map {self.field} values to reward nodes, e.g. {{general: {{name: exact_match}}}}; got {plain!r}")
        if DEFAULT_ROUTE in plain:
            raise ValueError(f"'{DEFAULT_ROUTE}' names the default reward's route; set the reward's 'default' key instead of a route of that name")
        self.routes = {str(value): build_route(str(value), node, registry) for value, node in plain.items()}
        default = to_plain(default)
        self.default = None if default is None else build_route(DEFAULT_ROUTE, default, registry)

    def score(self, completions: list[str], **fields: Any) -> RewardResult:
        """Totals in the batch's order, every route's components, and the scorings that raised.

        Raises:
            ConfigError: a sample has no value in ``field``, or one no route names, and there is no default.
        """
        n = len(completions)
        rows = self.route_rows(column(fields, self.field, n), n)
        total: list[float | None] = [None] * n
        components: dict[str, list[float | None]] = {}
        errors = 0
        for route, reward in self.rewards().items():
            picked = rows.get(route, [])
            result = score_batch(reward, [completions[i] for i in picked], take_rows(fields, picked, n), name=reward_name(reward))
            errors += result.errors
            for i, value in zip(picked, result.total):
                total[i] = value
            for component, values in result.components.items():
                spread: list[float | None] = [None] * n
                for i, value in zip(picked, values):
                    spread[i] = value
                components[f"{self.name}/{route}/{component}"] = spread
        return RewardResult(total, components, errors)

    def components(self, completions: list[str], **fields: Any) -> dict[str, list[float | None]]:
        """Every route's components, for logging."""
        return self.score(completions, **fields).components

    def __call__(self, completions: list[str], **fields: Any) -> list[float | None]:
        """Each sample's score from its route's reward."""
        return self.score(completions, **fields).total

    def rewards(self) -> dict[str, Any]:
        """Every route's reward by route name, the default's (when set) under :data:`DEFAULT_ROUTE`."""
        return {**self.routes, **({DEFAULT_ROUTE: self.default} if self.default is not None else {})}

    def route_rows(self, values: list[Any] | None, n: int) -> dict[str, list[int]]:
        """``{route: row indices}`` for a batch whose ``field`` column is ``values`` (``None``: the batch has no such column)."""
        rows: dict[str, list[int]] = {}
        for i in range(n):
            value = None if values is None else values[i]
            route = str(value) if value is not None and str(value) in self.routes else None
            if route is None and self.default is None:
                raise ConfigError(self.unrouted(value, i))
            rows.setdefault(route or DEFAULT_ROUTE, []).append(i)
        return rows

    def unrouted(self, value: Any, i: int) -> str:
        """The one-line error for sample ``i``, whose ``field`` value ``value`` has no route and no default."""
        known = ", ".join(self.routes)
        if value is None:
            return (
                f"reward by_task: sample {i} has no '{self.field}' field to route by (routes: {known}); "
                f"give every sample one or set reward.default to a reward node"
            )
        return (
            f"reward by_task: no route for {self.field}={value!r} (routes: {known}); "
            f"add reward.routes.{value}=<reward node> or set reward.default to a reward node"
        )


def build_route(route: str, node: Any, registry: Registry) -> Any:
    """The reward of one route from its node, or a one-line error naming the route."""
    if isinstance(node, str):
        node = {"name": node}
    if not isinstance(node, Mapping) or not node.get("name"):
        raise ValueError(f"route '{route}' needs a reward node such as {{name: accuracy}}, got {node!r}")
    try:
        return registry.build("reward", dict(node))
    except PluginError as error:
        raise PluginError(f"reward by_task, route '{route}': {error}") from error


def take_rows(fields: Mapping[str, Any], rows: Sequence[int], n: int) -> dict[str, Any]:
    """The fields of ``rows`` (as lists in that order); values that are not aligned with the batch pass through."""
    return {
        key: [value[i] for i in rows] if isinstance(value, Sequence) and not isinstance(value, (str, bytes)) and len(value) == n else value
        for key, value in fields.items()
    }
