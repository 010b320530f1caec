"""Phase dispatch: the phase config's ``name`` picks the runner.

A runner is ``run(cfg) -> dict``: it writes its outputs to the run folder and
returns the phase's summary (metrics and output paths).
"""

from __future__ import annotations

import importlib
from typing import Any

from omegaconf import DictConfig

from r1.errors import ConfigError

# phase name -> "module:function" of its runner.
RUNNERS: dict[str, str] = {
    "sft": "r1.phases.sft:run",
    "grpo": "r1.phases.grpo:run",
    "rejection": "r1.phases.rejection:run",
    "distill": "r1.phases.distill:run",
    "eval": "r1.phases.evaluate:run",
    "pipeline": "r1.phases.pipeline:run",
}


def dispatch(cfg: DictConfig) -> Any:
    """Run the phase ``cfg.phase.name`` and return its summary.

    Process-wide ``runtime`` settings are ``r1.run``'s to apply, once, before the first phase.
    """
    name = cfg.phase.name
    if name not in RUNNERS:
        raise ConfigError(f"unknown phase '{name}'; choose one of: {', '.join(RUNNERS)}")
    module_name, function_name = RUNNERS[name].split(":")
    return getattr(importlib.import_module(module_name), function_name)(cfg)
