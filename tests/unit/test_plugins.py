from __future__ import annotations

import pytest

from r1.errors import PluginError
from r1.hookspecs import hookimpl
from r1.overrides import check_overrides
from r1.paths import conf_dir
from r1.plugins import (
    BUILTIN_PLUGINS,
    KINDS,
    Installed,
    Registry,
    _plugin_config_dirs,
    check_config_names,
    config_dirs,
    create_plugin_manager,
    get_registry,
    installed_plugins,
    lazy,
    resolve_blocked,
    table,
)


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


# --- plugins.blocked: package names, one warning line, and "blocked" rather than "unknown" ---


class FakePackagePlugin:
    """What an installed package's entry point would load (kept out of the registry unless asked for)."""

    @hookimpl
    def r1_rewards(self):
        return {"fake_reward": _Reward}


def _install(monkeypatch, *plugins):
    """Pretend ``plugins`` (``Installed`` records) are in the r1 entry-point group."""
    monkeypatch.setattr("r1.plugins.installed_plugins", lambda: list(plugins))


def test_blocked_accepts_plugin_and_package_names(monkeypatch):
    _install(monkeypatch, Installed("fake", "r1-fake", FakePackagePlugin))
    assert resolve_blocked(["r1-fake"]) == {"fake": "r1-fake"}
    assert resolve_blocked(["R1_Fake"]) == {"fake": "R1_Fake"}  # pip's spelling rules: one package
    assert resolve_blocked(["fake", "r1.tasks"]) == {"fake": "fake", "r1.tasks": "r1.tasks"}
    pm = create_plugin_manager(blocked=["r1-fake"], autoload=False)
    assert pm.is_blocked("fake") and not pm.is_blocked("r1-fake")


def test_a_package_named_like_one_of_its_plugins_is_blocked_whole(monkeypatch):
    _install(monkeypatch, Installed("r1-both", "r1-both", FakePackagePlugin), Installed("r1-both-algorithms", "r1-both", FakePackagePlugin))
    assert resolve_blocked(["r1-both"]) == {"r1-both": "r1-both", "r1-both-algorithms": "r1-both"}
    assert resolve_blocked(["r1-both-algorithms"]) == {"r1-both-algorithms": "r1-both-algorithms"}


def test_installed_plugins_come_from_package_metadata(tmp_path, monkeypatch):
    """A package as pip leaves it: a dist-info folder naming the module in the r1 group."""
    (tmp_path / "fake_pkg_plugin.py").write_text(
        "from r1.hookspecs import hookimpl\n\n@hookimpl\ndef r1_rewards():\n    return {'from_metadata': lambda: None}\n"
    )
    info = tmp_path / "fake_pkg-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: fake-pkg\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[r1]\nfake-plugin = fake_pkg_plugin\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert ("fake-plugin", "fake-pkg") in [(p.name, p.package) for p in installed_plugins()]
    assert resolve_blocked(["fake_pkg"]) == {"fake-plugin": "fake_pkg"}
    registry = Registry(create_plugin_manager(blocked=["fake-pkg"], autoload=False))
    with pytest.raises(PluginError, match="reward 'from_metadata' is provided by blocked plugin 'fake-pkg'"):
        registry.build("reward", "from_metadata")


def test_a_blocked_name_that_matches_nothing_is_one_warning_line(monkeypatch, caplog):
    _install(monkeypatch, Installed("fake", "r1-fake", FakePackagePlugin))
    with caplog.at_level("WARNING", logger="r1.plugins"):
        resolve_blocked(["r1-fake", "r1-cod", "nope"])
    (record,) = caplog.records
    message = record.getMessage()
    assert "\n" not in message
    assert "'r1-cod', 'nope' matches no installed plugin or package" in message
    assert "fake (package r1-fake)" in message and "r1.rewards" in message
    caplog.clear()
    with caplog.at_level("WARNING", logger="r1.plugins"):
        resolve_blocked(["r1-fake", "r1.tasks"])
    assert caplog.records == []


def test_asking_for_what_a_blocked_plugin_offers_says_blocked(monkeypatch):
    _install(monkeypatch, Installed("fake", "r1-fake", FakePackagePlugin))
    registry = Registry(create_plugin_manager(blocked=["r1-fake"], autoload=False))
    with pytest.raises(PluginError, match=r"^reward 'fake_reward' is provided by blocked plugin 'r1-fake'; remove it from plugins.blocked to use it$"):
        registry.build("reward", "fake_reward")
    with pytest.raises(PluginError, match="unknown reward 'nope'"):  # offered by no one: still unknown
        registry.build("reward", "nope")
    registry = Registry(create_plugin_manager(blocked=["r1.tasks"], autoload=False))
    with pytest.raises(PluginError, match="task 'arithmetic' is provided by blocked plugin 'r1.tasks'"):
        registry.build("task", {"name": "arithmetic"})


def test_a_blocked_plugin_that_cannot_be_imported_leaves_unknown_names_unknown(monkeypatch):
    def broken():
        raise ImportError("no module named 'vllm'")

    _install(monkeypatch, Installed("broken", "r1-broken", broken))
    registry = Registry(create_plugin_manager(blocked=["r1-broken"], autoload=False))
    with pytest.raises(PluginError, match="unknown reward 'fake_reward'"):
        registry.build("reward", "fake_reward")


# --- plugins that compose others receive the registry ---


class Composite:
    """A reward built from another one, as the hybrid reward is."""

    def __init__(self, inner: str, registry) -> None:
        self.registry = registry
        self.inner = registry.build("reward", inner)


def composite_without_registry(inner: str = "x"):
    return inner


class ComposingPlugin:
    @hookimpl
    def r1_rewards(self):
        return {
            "composite": Composite,
            "lazy_composite": lazy("tests.unit.test_plugins:Composite"),
            "plain": composite_without_registry,
        }


def test_factories_declaring_registry_receive_the_registry_that_builds_them():
    registry = _registry_with(ComposingPlugin(), PluginA())
    built = registry.build("reward", {"name": "composite", "inner": "only_a"})
    assert built.registry is registry and built.inner(["x"]) == [1.0]
    assert registry.build("reward", {"name": "lazy_composite", "inner": "only_a"}).registry is registry
    assert registry.build("reward", {"name": "plain", "inner": "y"}) == "y"  # no registry parameter, none passed


def test_a_composing_plugin_honours_the_block_list():
    registry = _registry_with(ComposingPlugin(), blocked=["r1.rewards"])
    with pytest.raises(PluginError, match="reward 'accuracy' is provided by blocked plugin 'r1.rewards'"):
        registry.build("reward", {"name": "composite", "inner": "accuracy"})


# --- plugin config files may not shadow r1's own ---


def _conf(root, *files):
    for name in files:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("name: x\n")
    return str(root)


def test_a_plugin_config_file_named_like_a_builtin_is_an_error_naming_both(tmp_path, monkeypatch):
    plugin_dir = _conf(tmp_path / "evil", "reward/accuracy.yaml", "reward/evil.yaml")
    monkeypatch.setattr("r1.plugins._plugin_config_dirs", lambda autoload: (("plugin 'evil' (package r1-evil)", plugin_dir),))
    ours = conf_dir() / "reward" / "accuracy.yaml"
    with pytest.raises(PluginError) as caught:
        config_dirs()
    message = str(caught.value)
    assert "\n" not in message
    assert f"config file reward/accuracy.yaml of plugin 'evil' (package r1-evil) ({plugin_dir}/reward/accuracy.yaml)" in message
    assert f"same name as {ours} from r1" in message
    with pytest.raises(PluginError, match="reward/accuracy.yaml of plugin 'evil'"):
        check_overrides([])  # the command line reports it in one line before Hydra builds its search path


def test_two_plugins_with_one_config_file_name_is_an_error_and_distinct_names_are_fine(tmp_path):
    first = _conf(tmp_path / "a", "reward/mine.yaml")
    second = _conf(tmp_path / "b", "reward/mine.yaml")
    with pytest.raises(PluginError, match=r"reward/mine.yaml of plugin 'b' .* from plugin 'a'"):
        check_config_names([("plugin 'a'", first), ("plugin 'b'", second)])
    check_config_names([("r1", str(conf_dir())), ("plugin 'a'", first), ("plugin 'c'", _conf(tmp_path / "c", "reward/theirs.yaml"))])


def test_config_folders_are_found_when_two_plugins_clash_on_a_name_and_blocking_one_resolves_it(tmp_path, monkeypatch):
    """Hydra's search path needs the folders before plugins.blocked is read, so collecting them
    must not fail on a clash of plugin names; the registry, built with the block list, reports it."""
    folder = _conf(tmp_path / "b", "reward/mine.yaml")

    class PluginBWithConfig(PluginB):
        @hookimpl
        def r1_config_dir(self):
            return folder

    def load(self, group, name=None):
        self.register(PluginA(), name="PluginA")
        self.register(PluginBWithConfig(), name="PluginB")
        return 2

    monkeypatch.setattr("pluggy.PluginManager.load_setuptools_entrypoints", load)
    _plugin_config_dirs.cache_clear()
    try:
        assert config_dirs(autoload=True) == [folder]
        with pytest.raises(PluginError, match="offered by two plugins"):
            Registry(create_plugin_manager(autoload=True))
        registry = Registry(create_plugin_manager(blocked=["PluginB"], autoload=True))
        assert registry.entries("reward")["shared_name"].provider == "PluginA"
        assert registry.config_dirs() == []  # the blocked plugin's folder is not the registry's
    finally:
        _plugin_config_dirs.cache_clear()
