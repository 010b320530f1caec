"""Phase dispatch: the phase config's ``name`` picks the runner.

A runner is ``run(cfg) -> dict`` (the phase's summary metrics). Phases that are
config options but not built yet stop with one clear line, never a fake run.
"""

from __future__ import annotations

import importlib
from typing import Any

from omegaconf import DictConfig

from r1.errors import ConfigError, NotImplementedPhase

# phase name -> "module:function" of its runner.
RUNNERS: dict[str, str] = {
    "grpo": "r1.phases.grpo:run",
    "sft": "r1.phases.sft:run",
    "distill": "r1.phases.distill:run",
    "eval": "r1.phases.evaluate:run",
    "rejection": "r1.phases.rejection:run",
}

# Phases that exist as config options and are being built, with what they will do.
PLANNED: dict[str, str] = {
    "sft": "cold-start SFT on chain-of-thought examples",
    "grpo": "GRPO with the hybrid reward",
    "rejection": "rejection sampling into a filtered dataset",
    "distill": "distillation into a smaller student",
    "eval": "pass@1 / pass@k benchmarks",
    "pipeline": "the whole recipe: SFT -> GRPO -> rejection sampling -> distillation -> evaluation",
}


def dispatch(cfg: DictConfig) -> Any:
    """Run the phase ``cfg.phase.name`` and return its summary."""
    name = cfg.phase.name
    if name in RUNNERS:
        module_name, function_name = RUNNERS[name].split(":")
        return getattr(importlib.import_module(module_name), function_name)(cfg)
    if name in PLANNED and name not in RUNNERS:
        available = ", ".join(RUNNERS) or "none yet"
        raise NotImplementedPhase(f"phase '{name}' ({PLANNED[name]}) is not implemented in this version of r1; phases available now: {available}")
    raise ConfigError(f"unknown phase '{name}'; choose one of: {', '.join([*RUNNERS, *PLANNED])}")
