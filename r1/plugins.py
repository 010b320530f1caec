"""The plugin manager: which rewards, samplers, filters, benchmarks, tasks and algorithms exist.

Built-in plugins register through the same hooks as third-party ones
(``docs/DESIGN.md``, principle 4). Third-party packages are loaded from the ``r1``
entry-point group unless ``R1_DISABLE_PLUGIN_AUTOLOAD=1`` (tests use it to stay
hermetic). Config ``plugins.blocked`` keeps plugins out, each named by its plugin
name (the provider column of ``python -m r1.plugins``) or by its package's name
(``r1-code``); a name that matches nothing is warned about in one line, and asking
for something a blocked plugin offers says so. Two plugins offering the same name
for one kind is an error naming both; so are two config files with the same name
(:func:`config_dirs`).

``python -m r1.plugins`` prints every registered object with its provider.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import inspect
import logging
import os
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable

import pluggy

import r1
from r1 import hookspecs
from r1.errors import PluginError, R1Error, fail
from r1.paths import conf_dir
from r1.settings import to_plain

ENTRY_POINT_GROUP = "r1"
AUTOLOAD_ENV = "R1_DISABLE_PLUGIN_AUTOLOAD"

log = logging.getLogger(__name__)

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


@dataclass(frozen=True)
class Installed:
    """One plugin of the ``r1`` entry-point group, as installed: names only, nothing imported yet."""

    name: str
    """The plugin's name: the entry point's name (``code`` for r1-code)."""
    package: str
    """The distribution that ships it, as pip names it (``r1-code``)."""
    load: Callable[[], Any]
    """Imports the plugin module (or object) the entry point names."""


def installed_plugins() -> list[Installed]:
    """Every plugin in the ``r1`` entry-point group of this environment (read from metadata, not imported).

    Distributions are walked as pluggy's ``load_setuptools_entrypoints`` walks them, so
    the names here are the plugins autoload registers.
    """
    found: dict[tuple[str, str], Installed] = {}
    for dist in importlib.metadata.distributions():
        for point in dist.entry_points:
            package = dist.metadata["name"] or ""
            if point.group == ENTRY_POINT_GROUP and (point.name, package) not in found:
                found[point.name, package] = Installed(point.name, package, point.load)
    return list(found.values())


def _package_key(name: str) -> str:
    """A distribution name as pip compares it (PEP 503): ``R1_Code`` and ``r1-code`` are one package."""
    return re.sub(r"[-_.]+", "-", name).lower()


def resolve_blocked(blocked: Iterable[str]) -> dict[str, str]:
    """The plugin names ``plugins.blocked`` keeps out, each mapped to the entry that named it.

    An entry is a plugin name (a built-in module such as ``r1.rewards``, or an entry
    point's name such as ``code``) or a package name (``r1-code``: every plugin that
    package installs); a name that is both blocks both. An entry that matches neither
    is still blocked as a plugin name (a plugin registered by hand under that name
    stays out), and one warning line lists such entries with the names that would match.
    """
    installed = installed_plugins()
    plugin_names = {*BUILTIN_PLUGINS, *(plugin.name for plugin in installed)}
    by_package: dict[str, list[str]] = {}
    for plugin in installed:
        by_package.setdefault(_package_key(plugin.package), []).append(plugin.name)
    resolved: dict[str, str] = {}
    unmatched: list[str] = []
    for entry in (str(e) for e in blocked):
        names = [entry] if entry in plugin_names else []
        names += by_package.get(_package_key(entry), [])
        if not names:
            unmatched.append(entry)
            names = [entry]
        for name in names:
            resolved.setdefault(name, entry)
    if unmatched:
        choices = [*BUILTIN_PLUGINS, *(f"{p.name} (package {p.package})" for p in installed)]
        log.warning(
            "plugins.blocked: %s matches no installed plugin or package, so it blocks nothing; installed: %s",
            ", ".join(repr(e) for e in unmatched), ", ".join(choices),
        )
    return resolved


class PluginManager(pluggy.PluginManager):
    """pluggy's manager for r1's hooks, remembering which plugins were blocked and by which entry.

    pluggy keeps a blocked plugin out without loading it; the registry needs the
    names to tell "blocked" from "unknown" when something is asked for.
    """

    def __init__(self) -> None:
        super().__init__(ENTRY_POINT_GROUP)
        self.add_hookspecs(hookspecs)
        self.blocked: dict[str, str] = {}  # blocked plugin name -> the plugins.blocked entry that named it

    def set_blocked(self, name: str, entry: str | None = None) -> None:
        super().set_blocked(name)
        self.blocked[name] = entry or name

    def unblock(self, name: str) -> bool:
        self.blocked.pop(name, None)
        return super().unblock(name)


def create_plugin_manager(blocked: Iterable[str] = (), autoload: bool | None = None) -> PluginManager:
    """A fresh manager with the built-ins registered, then (optionally) the entry-point plugins.

    Args:
        blocked: plugins to keep out: plugin names (entry-point names, built-in module
            names) or package names (see :func:`resolve_blocked`).
        autoload: load the ``r1`` entry-point group; defaults to ``not R1_DISABLE_PLUGIN_AUTOLOAD``.
    """
    pm = PluginManager()
    for name, entry in resolve_blocked(blocked).items():
        pm.set_blocked(name, entry)
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


def _offers(pm: pluggy.PluginManager, hook_name: str) -> Iterator[tuple[str, Any]]:
    """``(plugin name, what its hook returned)`` for every plugin implementing ``hook_name``."""
    for impl in getattr(pm.hook, hook_name).get_hookimpls():
        yield impl.plugin_name, impl.function()


def _load_blocked(name: str) -> Any | None:
    """The plugin object a blocked name stands for, imported only to say what it offers; None if it cannot be."""
    try:
        if name in BUILTIN_PLUGINS:
            return importlib.import_module(name)
        for plugin in installed_plugins():
            if plugin.name == name:
                return plugin.load()
    except Exception:  # a plugin is often blocked because it fails to import: that must not fail r1 again
        log.debug("blocked plugin %r could not be imported to list what it offers", name, exc_info=True)
    return None


def _blocked_offers(blocked: Mapping[str, str]) -> dict[str, dict[str, str]]:
    """kind -> name -> the ``plugins.blocked`` entry whose plugin offers it."""
    scratch = pluggy.PluginManager(ENTRY_POINT_GROUP)
    scratch.add_hookspecs(hookspecs)
    for name in blocked:
        plugin = _load_blocked(name)
        if plugin is None:
            continue
        try:
            scratch.register(plugin, name=name)
        except Exception:  # not a valid plugin: it offers nothing we could name
            log.debug("blocked plugin %r could not be registered to list what it offers", name, exc_info=True)
    offers: dict[str, dict[str, str]] = {}
    for kind, hook_name in KINDS.items():
        for plugin_name, offered in _offers(scratch, hook_name):
            if isinstance(offered, Mapping):
                for name in offered:
                    offers.setdefault(kind, {}).setdefault(str(name), blocked[plugin_name])
    return offers


def _accepts_registry(factory: Callable[..., Any]) -> bool:
    """Whether ``factory`` (or the object a :func:`lazy` factory stands for) has a ``registry`` parameter."""
    target = getattr(factory, "target", None)
    if isinstance(target, str):
        module_name, attribute = target.split(":")
        factory = getattr(importlib.import_module(module_name), attribute)
    try:
        parameter = inspect.signature(factory).parameters.get("registry")
    except (TypeError, ValueError):  # builtins and some C types have no signature
        return False
    return parameter is not None and parameter.kind in (parameter.POSITIONAL_OR_KEYWORD, parameter.KEYWORD_ONLY)


class Registry:
    """Everything the plugins offer, by kind and name, built once from a plugin manager."""

    def __init__(self, pm: pluggy.PluginManager) -> None:
        self.pm = pm
        self.blocked: dict[str, str] = dict(pm.blocked) if isinstance(pm, PluginManager) else {}  # as PluginManager.blocked
        self._blocked_offers: dict[str, dict[str, str]] | None = None  # kind -> name -> blocking entry, on first miss
        versions = _versions(pm)
        self._entries: dict[str, dict[str, Entry]] = {}
        for kind, hook_name in KINDS.items():
            found: dict[str, Entry] = {}
            for plugin_name, offered in _offers(pm, hook_name):
                offered = offered or {}
                if not isinstance(offered, Mapping):
                    raise PluginError(f"plugin '{plugin_name}' returned {type(offered).__name__} from {hook_name}; it must return a dict {{name: factory}}")
                for name, factory in offered.items():
                    if name in found:
                        raise PluginError(
                            f"{kind} '{name}' is offered by two plugins, '{found[name].provider}' and '{plugin_name}'; "
                            f"uninstall one or block it with plugins.blocked=[{plugin_name}]"
                        )
                    found[name] = Entry(kind, name, factory, plugin_name, versions.get(plugin_name, "?"))
            self._entries[kind] = dict(sorted(found.items()))

    def entries(self, kind: str) -> dict[str, Entry]:
        if kind not in self._entries:
            raise PluginError(f"unknown plugin kind '{kind}'; choose one of: {', '.join(KINDS)}")
        return self._entries[kind]

    def names(self, kind: str) -> list[str]:
        return list(self.entries(kind))

    def blocked_by(self, kind: str, name: str) -> str | None:
        """The ``plugins.blocked`` entry that keeps out the plugin offering ``name``, or None.

        Worked out on the first miss only: it imports the blocked plugins, which
        blocking otherwise spares.
        """
        if not self.blocked:
            return None
        if self._blocked_offers is None:
            self._blocked_offers = _blocked_offers(self.blocked)
        return self._blocked_offers.get(kind, {}).get(name)

    def factory(self, kind: str, name: str) -> Callable[..., Any]:
        entries = self.entries(kind)
        if name not in entries:
            blocker = self.blocked_by(kind, name)
            if blocker is not None:
                raise PluginError(f"{kind} '{name}' is provided by blocked plugin '{blocker}'; remove it from plugins.blocked to use it")
            choices = ", ".join(entries) or "(none registered)"
            raise PluginError(f"unknown {kind} '{name}'; choose one of: {choices}")
        return entries[name].factory

    def build(self, kind: str, spec: Mapping[str, Any] | str, **overrides: Any) -> Any:
        """Build a plugin object from its config node (``name`` + options) or a bare name.

        A factory whose signature declares a ``registry`` parameter receives this
        registry, so a plugin that builds others (a composite reward, a filter that
        loads benchmarks) sees the same plugins, ``plugins.blocked`` included.
        """
        options = to_plain(spec)
        if isinstance(options, str):
            options = {"name": options}
        if not isinstance(options, dict) or not options.get("name"):
            raise PluginError(f"a {kind} config needs a 'name' key naming the plugin; got {options!r}")
        options = {**options, **overrides}
        name = options.pop("name")
        options.pop("_target_", None)
        factory = self.factory(kind, name)
        given = sorted(options)
        if _accepts_registry(factory):
            options = {"registry": self, **options}
        try:
            return factory(**options)
        except TypeError as error:
            raise PluginError(f"{kind} '{name}' rejected its options {given}: {error}") from error
        except ValueError as error:  # an option's value (a plugin's own check), not r1's config check
            raise PluginError(f"{kind} '{name}': {error}") from error

    def config_dirs(self) -> list[str]:
        """The config folders of the plugins this registry holds (blocked ones left out)."""
        return [d for d in self.pm.hook.r1_config_dir() if d]


@lru_cache(maxsize=8)
def _cached_registry(blocked: tuple[str, ...], autoload: bool) -> Registry:
    return Registry(create_plugin_manager(blocked, autoload))


def get_registry(blocked: Iterable[str] = (), autoload: bool | None = None) -> Registry:
    """The registry for this process (cached per block list and autoload setting)."""
    return _cached_registry(tuple(sorted(str(b) for b in blocked)), autoload_enabled() if autoload is None else autoload)


@lru_cache(maxsize=2)
def _plugin_config_dirs(autoload: bool) -> tuple[tuple[str, str], ...]:
    """``(who offers it, folder)`` for every plugin config folder, e.g. ``("plugin 'code' (package r1-code)", ...)``."""
    pm = create_plugin_manager(autoload=autoload)
    packages = {plugin.name: plugin.package for plugin in installed_plugins()}
    found = []
    for plugin, folder in _offers(pm, "r1_config_dir"):
        if folder:
            package = f" (package {packages[plugin]})" if packages.get(plugin) else ""
            found.append((f"plugin '{plugin}'{package}", str(folder)))
    return tuple(found)


def config_dirs(autoload: bool | None = None) -> list[str]:
    """The config folders every installed plugin offers, for Hydra's search path.

    Blocked plugins' folders are included: Hydra's search path is fixed before the
    config, and so ``plugins.blocked``, is read, and this way ``reward=<theirs>`` of a
    blocked plugin composes and then fails with one line saying it is blocked, rather
    than "unknown". A plugin file named like one of r1's own (or another plugin's) would
    be silently shadowed, since Hydra takes the first it finds: that is an error
    naming both files (:func:`check_config_names`).
    """
    folders = _plugin_config_dirs(autoload_enabled() if autoload is None else autoload)
    check_config_names([("r1", str(conf_dir())), *folders])
    return [folder for _, folder in folders]


def check_config_names(folders: Iterable[tuple[str, str]]) -> None:
    """Raise :class:`PluginError` if two config folders hold a file of the same group and name.

    Args:
        folders: ``(owner, folder)`` pairs in search-path order; the owner says in the
            message whose folder it is (``r1``, ``plugin 'code' (package r1-code)``).
    """
    seen: dict[str, tuple[str, Path]] = {}
    for owner, folder in folders:
        root = Path(folder)
        if not root.is_dir():
            continue
        for path in sorted(root.rglob("*.yaml")):
            key = path.relative_to(root).as_posix()
            if key in seen:
                first_owner, first = seen[key]
                raise PluginError(
                    f"config file {key} of {owner} ({path}) has the same name as {first} from {first_owner}, "
                    f"which Hydra would use instead; rename the plugin's file or uninstall the plugin"
                )
            seen[key] = (owner, path)


def table(registry: Registry) -> list[tuple[str, str, str, str]]:
    """Rows ``(kind, name, provider, version)`` of everything registered."""
    return [(e.kind, e.name, e.provider, e.version) for kind in KINDS for e in registry.entries(kind).values()]


def main() -> None:
    from rich.console import Console
    from rich.table import Table

    try:
        config_dirs()
        registry = get_registry()
    except R1Error as error:
        fail(error)
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
