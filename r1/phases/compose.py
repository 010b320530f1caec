"""Compose the config of another phase, as ``python -m r1.run phase=<name> ...`` would.

The pipeline and GRPO's automatic cold start run other phases. Composing them
through Hydra (rather than loading one YAML file) keeps each phase's own
defaults list, the user's command-line overrides and plugin config folders.
"""

from __future__ import annotations

from collections.abc import Iterable

from omegaconf import DictConfig

from r1.paths import conf_dir


def user_overrides(exclude_prefixes: Iterable[str] = ("phase", "hydra", "paths.run_dir", "ckpt_path")) -> list[str]:
    """The overrides the user gave on the command line (none outside ``python -m r1.run``).

    Overrides of the current phase (``phase=…``, ``phase.x=…``) are left out: they
    belong to the phase that is running, not to the one being composed.
    """
    from hydra.core.hydra_config import HydraConfig

    if not HydraConfig.initialized():
        return []
    prefixes = tuple(exclude_prefixes)
    out = []
    for text in HydraConfig.get().overrides.task:
        key = text.lstrip("+~").split("=", 1)[0]
        if not any(key == p or key.startswith(p + ".") or key.startswith(p + "@") for p in prefixes):
            out.append(text)
    return out


def compose_phase(phase: str, overrides: Iterable[str] = ()) -> DictConfig:
    """The full config of ``phase`` with the user's overrides, then ``overrides``."""
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    all_overrides = [*user_overrides(), f"phase={phase}", *overrides]
    if GlobalHydra.instance().is_initialized():
        return _with_own_phase(compose("config", overrides=all_overrides), compose("config", overrides=[f"phase={phase}", *overrides]))
    with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
        return _with_own_phase(compose("config", overrides=all_overrides), compose("config", overrides=[f"phase={phase}", *overrides]))


def _with_own_phase(cfg: DictConfig, own: DictConfig) -> DictConfig:
    """``cfg`` with its ``phase`` node replaced by ``own``'s: the phase's YAML plus ``overrides`` only.

    An experiment (``experiment=smoke``) sets keys of the phase it was written for (the
    pipeline's ``label``, its stage lists); merged into another phase's node they would be
    unknown settings there. Model, task, reward and every other group keep the user's choices.
    """
    from omegaconf import open_dict

    with open_dict(cfg):
        cfg.phase = own.phase
    return cfg
