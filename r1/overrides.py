"""Check command-line overrides before Hydra sees them, so mistakes end in one line.

Hydra reports an unknown option or a malformed override as a multi-line message
or a traceback; r1 checks the overrides first and raises a :class:`ConfigError`
naming what was wrong and the valid choices, e.g.::

    r1: error: unknown reward 'nope'; choose one of: accuracy, format, hybrid, ... (reward=<option>)
"""

from __future__ import annotations

from pathlib import Path

from r1.errors import ConfigError
from r1.paths import conf_dir

# Hydra's own flags, and whether each takes a value.
_FLAGS_WITH_VALUE = {"--cfg", "-c", "--package", "-p", "--config-path", "-cp", "--config-name", "-cn",
                     "--config-dir", "-cd", "--info", "-i", "--shell-completion", "-sc", "--experimental-rerun"}
_MODE_FLAGS = {"--run", "-r", "--multirun", "-m", "--cfg", "-c", "--info", "-i", "--shell-completion", "-sc"}
_FLAGS = {"--help", "-h", "--hydra-help", "--version", "--resolve", "--multirun", "-m", "--run", "-r"}


def split_overrides(args: list[str]) -> tuple[list[str], bool]:
    """The override arguments among ``args``, and whether the command is a multirun."""
    overrides, multirun, skip = [], False, False
    for arg in args:
        if skip:
            skip = False
            continue
        if arg in _FLAGS_WITH_VALUE:
            skip = arg not in {"--info", "-i"}  # --info takes an optional value; only in `--info=x` form here
            continue
        if arg.split("=", 1)[0] in _FLAGS_WITH_VALUE or arg in _FLAGS:
            multirun = multirun or arg in {"--multirun", "-m"}
            continue
        overrides.append(arg)
    return overrides, multirun


def group_options(search_dirs: list[Path] | None = None) -> dict[str, list[str]]:
    """Every config group and its options, from r1's ``conf/`` and the plugins' config folders."""
    if search_dirs is None:
        from r1.plugins import config_dirs

        search_dirs = [conf_dir(), *(Path(d) for d in config_dirs())]
    groups: dict[str, set[str]] = {}
    for root in search_dirs:
        for group_dir in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith((".", "_"))):
            options = groups.setdefault(group_dir.name, set())
            options.update(f.stem for f in group_dir.glob("*.yaml"))
    return {group: sorted(options) for group, options in groups.items()}


def check_overrides(args: list[str]) -> None:
    """Raise :class:`ConfigError` for a malformed override or an unknown group option.

    Also raises :class:`r1.errors.PluginError` when a plugin's config file has the name
    of one of r1's own, here (one line) rather than from Hydra's search path (a traceback).
    """
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.core.override_parser.types import ChoiceSweep
    from hydra.errors import OverrideParseException

    modes = [a for a in args if a.split("=", 1)[0] in _MODE_FLAGS]
    if len(modes) > 1:
        raise ConfigError(f"use only one of --run, --multirun/-m, --cfg, --info, --shell-completion at a time (got {' '.join(modes)})")
    groups = group_options()
    overrides, multirun = split_overrides(args)
    if not overrides:
        return
    parser = OverridesParser.create()
    parsed = []
    for text in overrides:
        try:
            parsed.extend(parser.parse_overrides([text]))
        except OverrideParseException as error:
            reason = str(error).splitlines()[0]
            raise ConfigError(f"cannot parse override '{text}': {reason}; write key=value or group=option") from error
    for override in parsed:
        group = override.key_or_group
        if override.is_delete() or group not in groups or override.package is not None:
            continue
        value = override.value()
        if isinstance(value, ChoiceSweep):
            values = [str(v) for v in value.list]
        elif isinstance(value, str):
            values = [value]
        elif value is None:
            values = [] if group == "experiment" else ["null"]
        else:
            continue  # range or glob sweeps: Hydra expands and reports them
        for option in values:
            if option not in groups[group]:
                raise ConfigError(f"unknown {group} '{option}'; choose one of: {', '.join(groups[group])} ({group}=<option>)")
    if not multirun:
        _check_composition(overrides)


def _check_composition(overrides: list[str]) -> None:
    """Compose once with the overrides, turning Hydra's multi-line errors into one line."""
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    try:
        with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
            compose("config", overrides=overrides)
    except Exception as error:  # Hydra and OmegaConf raise many types; all mean a bad override here
        lines = [line.strip() for line in str(error).splitlines() if line.strip()]
        raise ConfigError("; ".join(lines[:3]) or type(error).__name__) from error
    finally:
        GlobalHydra.instance().clear()
