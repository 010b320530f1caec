from __future__ import annotations

import pytest

from r1.errors import PluginError
from r1.hookspecs import hookimpl
from r1.plugins import BUILTIN_PLUGINS, KINDS, Registry, create_plugin_manager, get_registry, table


class _Reward:
    def __init__(self, scale: float = 1.0) -> None:
        self.scale = scale

    def __call__(self, completions, **fields):
        return [self.scale] * len(completions)


class PluginA:
    @hookimpl
    def r1_rewards(self):
        return {"shared_name": _Reward, "only_a": _Reward}


class PluginB:
    @hookimpl
    def r1_rewards(self):
        return {"shared_name": _Reward}


def _registry_with(*plugins, blocked=()):
    pm = create_plugin_manager(blocked=blocked, autoload=False)
    for plugin in plugins:
        if not pm.is_blocked(type(plugin).__name__):
            pm.register(plugin, name=type(plugin).__name__)
    return Registry(pm)


def test_builtins_register_through_the_same_hooks():
    registry = get_registry(autoload=False)
    providers = {e.provider for kind in KINDS for e in registry.entries(kind).values()}
    assert providers <= set(BUILTIN_PLUGINS)
    assert "arithmetic" in registry.names("task")
    assert {"accuracy", "format", "language", "hybrid"} <= set(registry.names("reward"))


def test_a_plugin_adds_a_reward_that_builds_with_its_options():
    registry = _registry_with(PluginA())
    reward = registry.build("reward", {"name": "only_a", "scale": 0.5})
    assert reward(["x", "y"]) == [0.5, 0.5]
    assert ("reward", "only_a", "PluginA", "?") in table(registry)


def test_two_plugins_offering_one_name_is_an_error_naming_both():
    with pytest.raises(PluginError, match="offered by two plugins, 'PluginA' and 'PluginB'"):
        _registry_with(PluginA(), PluginB())


def test_a_blocked_plugin_is_kept_out():
    registry = _registry_with(PluginA(), PluginB(), blocked=["PluginB"])
    assert "shared_name" in registry.names("reward")
    registry = create_plugin_manager(blocked=["r1.tasks"], autoload=False)
    assert "arithmetic" not in Registry(registry).names("task")


def test_unknown_names_list_the_choices():
    registry = get_registry(autoload=False)
    with pytest.raises(PluginError, match=r"unknown reward 'nope'; choose one of: .*accuracy"):
        registry.build("reward", {"name": "nope"})
    with pytest.raises(PluginError, match="needs a 'name'"):
        registry.build("reward", {"weights": {}})
    with pytest.raises(PluginError, match="rejected its options"):
        registry.build("task", {"name": "arithmetic", "no_such_option": 1})
    # a value the plugin itself refuses (ValueError in its constructor) names the plugin too
    with pytest.raises(PluginError, match=r"reward 'language': unknown language 'xx'"):
        registry.build("reward", {"name": "language", "language": "xx"})


def test_autoload_can_be_switched_off(monkeypatch):
    calls = []
    monkeypatch.setattr("pluggy.PluginManager.load_setuptools_entrypoints", lambda self, group, name=None: calls.append(group) or 0)
    monkeypatch.setenv("R1_DISABLE_PLUGIN_AUTOLOAD", "1")
    create_plugin_manager()
    assert calls == []
    monkeypatch.setenv("R1_DISABLE_PLUGIN_AUTOLOAD", "0")
    create_plugin_manager()
    assert calls == ["r1"]
