"""The plugin manager: which rewards, samplers, filters, benchmarks and tasks exist.

Built-in plugins register through the same hooks as third-party ones (DESIGN
principle 4). Third-party packages are loaded from the ``r1`` entry-point group
unless ``R1_DISABLE_PLUGIN_AUTOLOAD=1`` (tests use it to stay hermetic). A plugin
can be blocked by name (config ``plugins.blocked``); two plugins offering the same
name for one kind is an error naming both.

``python -m r1.plugins`` prints every registered object with its provider.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Callable

import pluggy

import r1
from r1 import hookspecs
from r1.errors import PluginError

ENTRY_POINT_GROUP = "r1"
AUTOLOAD_ENV = "R1_DISABLE_PLUGIN_AUTOLOAD"

# The modules that make up r1's own plugins, registered like any other plugin.
BUILTIN_PLUGINS: tuple[str, ...] = (
    "r1.rewards",
    "r1.tasks",
    "r1.samplers",
    "r1.filters",
    "r1.benchmarks",
    "r1.algorithms",
)

# Plugin kind (the config group name) -> the hook that offers it.
KINDS: dict[str, str] = {
    "reward": "r1_rewards",
    "sampler": "r1_samplers",
    "filter": "r1_filters",
    "benchmark": "r1_benchmarks",
    "task": "r1_tasks",
    "advantage": "r1_advantages",
    "policy_loss": "r1_policy_losses",
    "kl_estimator": "r1_kl_estimators",
    "aggregation": "r1_loss_aggregations",
}


@dataclass(frozen=True)
class Entry:
    """One registered object: its name, how to build it, and who provides it."""

    kind: str
    name: str
    factory: Callable[..., Any]
    provider: str
    version: str


def lazy(target: str) -> Callable[..., Any]:
    """A factory for ``"package.module:Name"`` that imports the module only when called.

    Building the registry calls every plugin's hook; lazy factories keep that (and so
    ``--help``) from importing torch or sympy until something is actually built.
    """
    module_name, attribute = target.split(":")

    def factory(*args: Any, **kwargs: Any) -> Any:
        return getattr(importlib.import_module(module_name), attribute)(*args, **kwargs)

    factory.__name__ = attribute
    factory.__qualname__ = attribute
    factory.__doc__ = f"Build {target} (imported on first use)."
    factory.target = target  # type: ignore[attr-defined]
    return factory


def autoload_enabled() -> bool:
    return os.environ.get(AUTOLOAD_ENV, "").strip().lower() not in {"1", "true", "yes"}


def create_plugin_manager(blocked: Iterable[str] = (), autoload: bool | None = None) -> pluggy.PluginManager:
    """A fresh manager with the built-ins registered, then (optionally) the entry-point plugins.

    Args:
        blocked: plugin names to keep out (entry-point names, or built-in module names).
        autoload: load the ``r1`` entry-point group; defaults to ``not R1_DISABLE_PLUGIN_AUTOLOAD``.
    """
    pm = pluggy.PluginManager("r1")
    pm.add_hookspecs(hookspecs)
    for name in blocked:
        pm.set_blocked(name)
    for module_name in BUILTIN_PLUGINS:
        if not pm.is_blocked(module_name):
            pm.register(importlib.import_module(module_name), name=module_name)
    if autoload_enabled() if autoload is None else autoload:
        pm.load_setuptools_entrypoints(ENTRY_POINT_GROUP)
    return pm


def _versions(pm: pluggy.PluginManager) -> dict[str, str]:
    versions = {name: r1.__version__ for name in BUILTIN_PLUGINS}
    for plugin, dist in pm.list_plugin_distinfo():
        versions[pm.get_name(plugin) or repr(plugin)] = f"{dist.project_name} {dist.version}"
    return {name: (v if " " in v else f"r1 {v}") for name, v in versions.items()}


class Registry:
    """Everything the plugins offer, by kind and name, built once from a plugin manager."""

    def __init__(self, pm: pluggy.PluginManager) -> None:
        self.pm = pm
        versions = _versions(pm)
        self._entries: dict[str, dict[str, Entry]] = {}
        for kind, hook_name in KINDS.items():
            found: dict[str, Entry] = {}
            for impl in getattr(pm.hook, hook_name).get_hookimpls():
                offered = impl.function() or {}
                if not isinstance(offered, Mapping):
                    raise PluginError(f"plugin '{impl.plugin_name}' returned {type(offered).__name__} from {hook_name}; it must return a dict {{name: factory}}")
                for name, factory in offered.items():
                    if name in found:
                        raise PluginError(
                            f"{kind} '{name}' is offered by two plugins, '{found[name].provider}' and '{impl.plugin_name}'; "
                            f"uninstall one or block it with plugins.blocked=[{impl.plugin_name}]"
                        )
                    found[name] = Entry(kind, name, factory, impl.plugin_name, versions.get(impl.plugin_name, "?"))
            self._entries[kind] = dict(sorted(found.items()))

    def entries(self, kind: str) -> dict[str, Entry]:
        if kind not in self._entries:
            raise PluginError(f"unknown plugin kind '{kind}'; choose one of: {', '.join(KINDS)}")
        return self._entries[kind]

    def names(self, kind: str) -> list[str]:
        return list(self.entries(kind))

    def factory(self, kind: str, name: str) -> Callable[..., Any]:
        entries = self.entries(kind)
        if name not in entries:
            choices = ", ".join(entries) or "(none registered)"
            raise PluginError(f"unknown {kind} '{name}'; choose one of: {choices}")
        return entries[name].factory

    def build(self, kind: str, spec: Mapping[str, Any] | str, **overrides: Any) -> Any:
        """Build a plugin object from its config node (``name`` + options) or a bare name."""
        options = _plain(spec)
        if isinstance(options, str):
            options = {"name": options}
        if not isinstance(options, dict) or not options.get("name"):
            raise PluginError(f"a {kind} config needs a 'name' key naming the plugin; got {options!r}")
        options = {**options, **overrides}
        name = options.pop("name")
        options.pop("_target_", None)
        factory = self.factory(kind, name)
        try:
            return factory(**options)
        except TypeError as error:
            raise PluginError(f"{kind} '{name}' rejected its options {sorted(options)}: {error}") from error
        except ValueError as error:  # an option's value (a plugin's own check), not r1's config check
            raise PluginError(f"{kind} '{name}': {error}") from error

    def config_dirs(self) -> list[str]:
        return [d for d in self.pm.hook.r1_config_dir() if d]


def _plain(spec: Any) -> Any:
    """OmegaConf nodes become plain containers, so factories receive dicts and lists."""
    try:
        from omegaconf import DictConfig, ListConfig, OmegaConf

        if isinstance(spec, (DictConfig, ListConfig)):
            return OmegaConf.to_container(spec, resolve=True)
    except ImportError:  # pragma: no cover - omegaconf is a dependency
        pass
    return dict(spec) if isinstance(spec, Mapping) else spec


@lru_cache(maxsize=8)
def _cached_registry(blocked: tuple[str, ...], autoload: bool) -> Registry:
    return Registry(create_plugin_manager(blocked, autoload))


def get_registry(blocked: Iterable[str] = (), autoload: bool | None = None) -> Registry:
    """The registry for this process (cached per block list and autoload setting)."""
    return _cached_registry(tuple(sorted(blocked)), autoload_enabled() if autoload is None else autoload)


def build(kind: str, spec: Mapping[str, Any] | str, blocked: Iterable[str] = (), **overrides: Any) -> Any:
    """Shortcut: ``build("reward", cfg.reward)``."""
    return get_registry(blocked).build(kind, spec, **overrides)


def table(registry: Registry) -> list[tuple[str, str, str, str]]:
    """Rows ``(kind, name, provider, version)`` of everything registered."""
    return [(e.kind, e.name, e.provider, e.version) for kind in KINDS for e in registry.entries(kind).values()]


def main() -> None:
    from rich.console import Console
    from rich.table import Table

    registry = get_registry()
    out = Table(title="r1 plugins")
    for column in ("kind", "name", "provider", "version"):
        out.add_column(column)
    for row in table(registry):
        out.add_row(*row)
    console = Console(width=120)
    console.print(out)
    dirs = registry.config_dirs()
    if dirs:
        console.print("config folders added by plugins: " + ", ".join(dirs))
    if not autoload_enabled():
        console.print(f"({AUTOLOAD_ENV} is set: entry-point plugins were not loaded)")


if __name__ == "__main__":
    main()
