"""Typed settings: a phase's YAML node read into a dataclass, checked in one place.

YAML is the only place a default lives (``conf/phase/<name>.yaml``). Each phase
declares the keys it reads as a dataclass with **no defaults** and a docstring per
field; :func:`build_settings` reads the node into it and turns every mistake into
one :class:`~r1.errors.ConfigError` line:

* a key the dataclass does not declare (a typo: ``phase.group_sise=8``);
* a key the YAML does not set (a settings class and its YAML drifted apart);
* a value of the wrong type (``phase.group_size=abc``, ``2.5``, a switch given as ``off``);
* a value outside its bounds, declared per field with :func:`bounded`
  (``phase.group_size=1``, ``optimizer.lr=-1``);
* a cross-field rule, checked in the class's own ``__post_init__`` by raising
  :class:`~r1.errors.ConfigError`.

Every phase builds its settings before it loads a model or runs a step, so a bad
value costs a second, not a cold-start SFT. ``tests/unit/test_settings.py`` diffs
every shipped phase YAML against its dataclass.

A field typed ``dict[str, Any]`` holds a plugin spec (``{name: grpo, scale: group}``)
or a Hydra ``_target_`` node: its contents are checked by whoever builds it (the
plugin registry, or ``hydra.utils.instantiate``).
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from collections.abc import Mapping
from typing import Any, Literal, TypeVar, Union

from r1.errors import ConfigError

T = TypeVar("T")

_BOUNDS_KEY = "r1_bounds"


def bounded(*, ge: float | None = None, gt: float | None = None, le: float | None = None, lt: float | None = None) -> Any:
    """A dataclass field (without a default) whose numeric value must lie within the given bounds.

    ``group_size: int = bounded(ge=2)``. ``None`` values pass (use ``int | None`` to allow them).
    """
    return dataclasses.field(metadata={_BOUNDS_KEY: {"ge": ge, "gt": gt, "le": le, "lt": lt}})


def to_plain(value: Any) -> Any:
    """OmegaConf nodes (and nested ones) as plain dicts and lists, resolved; anything else as it is."""
    try:
        from omegaconf import OmegaConf

        if OmegaConf.is_config(value):
            return OmegaConf.to_container(value, resolve=True)
    except ImportError:  # pragma: no cover - omegaconf is a dependency
        pass
    if isinstance(value, Mapping):
        return {key: to_plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_plain(item) for item in value]
    return value


def build_settings(cls: type[T], node: Any, prefix: str = "phase", extra: Mapping[str, Any] | None = None, ignore: tuple[str, ...] = ()) -> T:
    """Read a config node into the settings dataclass ``cls``, or raise one ``ConfigError`` line.

    Args:
        cls: a dataclass whose fields have no defaults (YAML holds them).
        node: the config node (``cfg.phase``), a ``DictConfig`` or a mapping.
        prefix: how the user spells the node on the command line, used in messages.
        extra: values that come from outside the node (``seed`` from the root config).
        ignore: keys of the node that are read elsewhere and are not fields.
    """
    values = to_plain(node) if node is not None else {}
    if not isinstance(values, dict):
        raise ConfigError(f"{prefix} must be a mapping of settings, not {type(values).__name__}")
    values = {key: value for key, value in values.items() if key not in ignore}
    values.update(extra or {})
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(values) - set(fields))
    if unknown:
        raise ConfigError(f"unknown setting {prefix}.{unknown[0]}; {prefix} takes: {', '.join(sorted(fields))}")
    missing = sorted(set(fields) - set(values))
    if missing:
        raise ConfigError(f"{prefix}.{missing[0]} is not set; add it to the phase's YAML or pass {prefix}.{missing[0]}=<value>")
    hints = typing.get_type_hints(cls)
    checked = {}
    for name, spec in fields.items():
        key = f"{prefix}.{name}"
        value = _check_type(key, values[name], hints[name])
        _check_bounds(key, value, spec.metadata.get(_BOUNDS_KEY))
        checked[name] = value
    return cls(**checked)


def settings_fields(cls: type) -> list[str]:
    """The names a settings class reads (for tests that diff it against YAML)."""
    return [f.name for f in dataclasses.fields(cls)]  # type: ignore[arg-type]


_WORDS = {int: "an integer", float: "a number", str: "a string"}


def _describe(expected: Any) -> str:
    origin = typing.get_origin(expected)
    if origin is Literal:
        return "one of " + ", ".join(repr(choice) for choice in typing.get_args(expected))
    if origin in (Union, types.UnionType):
        return " or ".join(_describe(arg) for arg in typing.get_args(expected))
    if expected is type(None):
        return "null"
    if expected is bool:
        return "true or false"
    if expected in _WORDS:
        return _WORDS[expected]
    if origin in (list, tuple):
        return "a list"
    if origin is dict or expected is dict:
        return "a mapping"
    return getattr(expected, "__name__", str(expected))


def _check_type(key: str, value: Any, expected: Any) -> Any:
    """``value`` converted to ``expected`` where that is lossless (an int for a float), else an error."""
    converted = _convert(value, expected)
    if converted is _MISMATCH:
        raise ConfigError(f"{key} must be {_describe(expected)}, not {value!r}")
    return converted


class _Mismatch:
    pass


_MISMATCH = _Mismatch()


def _convert(value: Any, expected: Any) -> Any:  # noqa: PLR0911 - one return per type form
    if expected is Any:
        return value
    origin = typing.get_origin(expected)
    if origin is Literal:
        return value if any(value == choice and type(value) is type(choice) for choice in typing.get_args(expected)) else _MISMATCH
    if origin in (Union, types.UnionType):
        for option in typing.get_args(expected):
            converted = _convert(value, option)
            if converted is not _MISMATCH:
                return converted
        return _MISMATCH
    if expected is type(None):
        return None if value is None else _MISMATCH
    if expected is bool:
        # A switch given as a word (``runtime.fast_paths=off``) arrives as the string "off".
        return value if isinstance(value, bool) else _MISMATCH
    if expected is int:
        return value if isinstance(value, int) and not isinstance(value, bool) else _MISMATCH
    if expected is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return _MISMATCH
        return float(value) if math.isfinite(value) else _MISMATCH
    if expected is str:
        return value if isinstance(value, str) else _MISMATCH
    if origin in (list, tuple) or expected in (list, tuple):
        if not isinstance(value, (list, tuple)):
            return _MISMATCH
        args = typing.get_args(expected)
        items = [_convert(item, args[0]) for item in value] if args else list(value)
        return _MISMATCH if any(item is _MISMATCH for item in items) else items
    if origin is dict or expected is dict:
        if not isinstance(value, dict):
            return _MISMATCH
        args = typing.get_args(expected)
        if not args:
            return value
        converted = {k: _convert(v, args[1]) for k, v in value.items()}
        return _MISMATCH if any(v is _MISMATCH for v in converted.values()) else converted
    return value if isinstance(value, expected) else _MISMATCH


def _check_bounds(key: str, value: Any, bounds: dict[str, float | None] | None) -> None:
    if not bounds or value is None or not isinstance(value, (int, float)):
        return
    rules = (("ge", "at least", lambda a, b: a >= b), ("gt", "more than", lambda a, b: a > b),
             ("le", "at most", lambda a, b: a <= b), ("lt", "less than", lambda a, b: a < b))
    for name, words, holds in rules:
        limit = bounds.get(name)
        if limit is not None and not holds(value, limit):
            shown = int(limit) if float(limit).is_integer() else limit
            raise ConfigError(f"{key} must be {words} {shown}, not {value!r}")


def differences(old: Any, new: Any, prefix: str = "") -> list[tuple[str, Any, Any]]:
    """``(dotted key, old value, new value)`` for every leaf that differs between two plain configs."""
    if isinstance(old, dict) and isinstance(new, dict):
        found = []
        for key in sorted({*old, *new}, key=str):
            found += differences(old.get(key), new.get(key), f"{prefix}{key}.")
        return found
    return [] if old == new else [(prefix.rstrip("."), old, new)]
