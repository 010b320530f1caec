"""Every phase YAML and its settings dataclass name the same keys, and a wrong value is one line before any work.

YAML is the only place a default lives (r1/settings.py): a key added to a phase's
YAML without a field, or a field without a key, fails here, as does a shipped value
its own dataclass rejects.
"""

from __future__ import annotations

import copy
import dataclasses
import importlib
import typing
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from r1.paths import conf_dir
from r1.phases.common import read_settings

SETTINGS: dict[str, str] = {
    "sft": "r1.phases.sft:SFTSettings",
    "distill": "r1.phases.distill:DistillSettings",
    "rejection": "r1.phases.rejection:RejectionSettings",
    "eval": "r1.phases.evaluate:EvalSettings",
    "pipeline": "r1.phases.pipeline:PipelineSettings",
    "grpo": "r1.phases.grpo:GRPOSettings",
}
"""Phase name (``conf/phase/<name>.yaml``) -> the dataclass its runner reads the ``phase`` node into."""

ROOT_VALUES = ("seed",)
"""Fields a settings class may take from the root config instead of the phase node (passed as ``extra``)."""

PHASE_FILES = sorted(path.stem for path in (conf_dir() / "phase").glob("*.yaml"))


def settings_class(name: str) -> type:
    module, attribute = SETTINGS[name].split(":")
    return getattr(importlib.import_module(module), attribute)


def compose_with(*overrides: str):
    with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
        return compose("config", overrides=list(overrides))


def key_differences(cls: type, node: dict, prefix: str) -> list[str]:
    """``+key`` for each YAML key without a field, ``-key`` for each field without a YAML key, nested settings included."""
    hints = typing.get_type_hints(cls)
    fields = {f.name for f in dataclasses.fields(cls)} - (set(ROOT_VALUES) - set(node))
    found = [f"+{prefix}.{key}" for key in sorted(set(node) - fields)] + [f"-{prefix}.{key}" for key in sorted(fields - set(node))]
    for key in sorted(fields & set(node)):
        if dataclasses.is_dataclass(hints[key]) and isinstance(node[key], dict):
            found += key_differences(hints[key], node[key], f"{prefix}.{key}")
    return found


def test_every_phase_yaml_has_a_settings_class():
    assert set(PHASE_FILES) == set(SETTINGS), "add the new phase's settings class to SETTINGS"


@pytest.mark.parametrize("phase", PHASE_FILES)
def test_yaml_keys_are_the_settings_fields(phase):
    cfg = compose_with(f"phase={phase}")
    node = OmegaConf.to_container(cfg.phase, resolve=True)
    assert key_differences(settings_class(phase), node, "phase") == []


@pytest.mark.parametrize("phase", PHASE_FILES)
def test_shipped_yaml_builds_its_settings(phase):
    cfg = compose_with(f"phase={phase}")
    cls = settings_class(phase)
    extra = {key: cfg[key] for key in ROOT_VALUES if key in {f.name for f in dataclasses.fields(cls)}}
    settings = read_settings(cls, cfg.phase, extra=extra)
    assert settings.name == phase


def test_data_yaml_keys_are_the_data_settings_fields():
    from r1.data.datasets import DataSettings

    cfg = compose_with("phase=sft")
    node = OmegaConf.to_container(cfg.data, resolve=True)
    assert key_differences(DataSettings, node, "data") == []
    assert read_settings(DataSettings, cfg.data, prefix="data").max_length > 0


@pytest.fixture(scope="module")
def composed():
    """``phase -> composed config``, each composed once for the cases below."""
    cache: dict[str, object] = {}

    def get(phase: str):
        if phase not in cache:
            cache[phase] = compose_with(f"phase={phase}")
        return copy.deepcopy(cache[phase])

    return get


# Mistakes only a rule across keys, a nested node or a built object catches: checked on the settings directly.
RULES = [
    ("sft", "phase.checkpoint.keep", -2, r"^phase.checkpoint.keep must be at least -1, not -2$"),
    ("sft", "phase.scheduler.decay", "sudden", r"^phase.scheduler.decay 'sudden' is not one of: constant, cosine, linear$"),
    ("sft", "phase.scheduler.warmup", 3, r"^phase.scheduler cannot be built: .*warmup"),
    ("sft", "data.max_length", 1, r"^data.max_length must be at least 2, not 1$"),
    ("sft", "phase.optimizer.lr", 0, r"^phase.optimizer.lr must be a number more than 0, not 0$"),
    ("distill", "phase.kd.weight", 0.5, r"^phase.kd.weight > 0 needs a teacher"),
    ("distill", "phase.kd", 3, r"^phase.kd must be a mapping of settings, not 3$"),
    ("pipeline", "phase.stages", ["distill"], r"^the distill stage needs the rejection stage's dataset"),
    ("pipeline", "phase.evaluate", ["teacher"], r"^unknown model\(s\) to evaluate \['teacher'\]"),
]


@pytest.mark.parametrize(("phase", "key", "value", "message"), RULES, ids=[f"{p}:{k}={v}" for p, k, v, _ in RULES])
def test_rules_across_keys_are_one_line(composed, phase, key, value, message):
    from r1.data.datasets import DataSettings
    from r1.errors import ConfigError
    from r1.phases.sft import read_sft_settings

    cfg = composed(phase)
    OmegaConf.set_struct(cfg, False)
    OmegaConf.update(cfg, key, value, merge=False)
    with pytest.raises(ConfigError, match=message):
        if phase == "sft":
            read_sft_settings(cfg)
        else:
            read_settings(settings_class(phase), cfg.phase)
            read_settings(DataSettings, cfg.get("data"), prefix="data")


# ----------------------------------------------------------------------------- through the command line

# Per phase: an unknown key, a wrong type, a value out of bounds. Each is caught while the settings
# are read, before a model loads or a folder is made, so the whole set takes seconds.
ERRORS = [
    ("sft", ["+phase.bogus=1"], "unknown setting phase.bogus; phase takes: batch_size, checkpoint,"),
    ("sft", ["phase.max_steps=abc"], "phase.max_steps must be an integer, not 'abc'"),
    ("sft", ["phase.batch_size=0"], "phase.batch_size must be at least 1, not 0"),
    ("distill", ["+phase.kd.bogus=1"], "unknown setting phase.kd.bogus; phase.kd takes: temperature, weight"),
    ("distill", ["phase.val_at_start=off"], "phase.val_at_start must be true or false, not 'off'"),
    ("distill", ["phase.kd.weight=1.5"], "phase.kd.weight must be at most 1, not 1.5"),
    ("rejection", ["+phase.bogus=1"], "unknown setting phase.bogus"),
    ("rejection", ["phase.temperature=hot"], "phase.temperature must be a number, not 'hot'"),
    ("rejection", ["phase.top_p=0"], "phase.top_p must be more than 0, not 0"),
    ("eval", ["+phase.bogus=1"], "unknown setting phase.bogus"),
    ("eval", ["phase.batch_size=many"], "phase.batch_size must be an integer, not 'many'"),
    ("eval", ["phase.k=0"], "phase.k must be at least 1, not 0"),
    ("pipeline", ["+phase.bogus=1"], "unknown setting phase.bogus"),
    ("pipeline", ["phase.sft=3"], "phase.sft must be a list, not 3"),
    ("pipeline", ["phase.stages=[sft,nope]"], "unknown pipeline stage(s) ['nope']"),
    ("grpo", ["+phase.bogus=1"], "unknown setting phase.bogus"),
]


@pytest.mark.parametrize(("phase", "overrides", "expected"), ERRORS, ids=[f"{p}:{' '.join(o)}" for p, o, _ in ERRORS])
def test_a_wrong_setting_is_one_line_and_exit_2(cli_error, tmp_path, phase, overrides, expected):
    line = cli_error(f"phase={phase}", *overrides, f"paths.output_root={tmp_path}", "logger=none")
    assert expected in line, line
    assert not list(Path(tmp_path).glob("state/*"))  # read before any work: not even a resume state was made
