"""What every phase needs around its LightningModule: run folder, logger, trainer, export.

Shared behaviour lives in functions, not a base class (DESIGN principle 8).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from r1.errors import ConfigError


def run_dir(cfg: DictConfig) -> Path:
    """This run's folder.

    ``paths.run_dir`` when set (the pipeline sets it to give each stage its own folder,
    and a phase can be pointed at a folder to resume into), else Hydra's
    ``runtime.output_dir`` inside ``python -m r1.run``.
    """
    fixed = OmegaConf.select(cfg, "paths.run_dir", default=None)
    if fixed:
        path = Path(fixed)
        path.mkdir(parents=True, exist_ok=True)
        return path
    try:
        from hydra.core.hydra_config import HydraConfig

        if HydraConfig.initialized():
            return Path(HydraConfig.get().runtime.output_dir)
    except ImportError:  # pragma: no cover
        pass
    folder = OmegaConf.select(cfg, "paths.output_dir", throw_on_resolution_failure=False)
    if not folder:
        raise ConfigError("paths.output_dir is not set; run through `python -m r1.run` or set paths.output_dir=<folder>")
    path = Path(folder)
    path.mkdir(parents=True, exist_ok=True)
    return path


def build_logger(cfg: DictConfig) -> Any:
    """The Lightning logger the ``logger`` group describes, or ``False`` for none.

    ``logger=wandb`` runs offline unless an API key is configured, so a machine
    without network still records the run (``wandb sync`` uploads it later). Logs go
    to this run's folder, and the whole resolved config is recorded as hyperparameters.
    """
    node = cfg.get("logger")
    if not node or node.get("_target_") is None:
        return False
    from hydra.utils import instantiate

    options = OmegaConf.to_container(node, resolve=True)
    if "offline" in options and options["offline"] is None:
        options["offline"] = not (os.environ.get("WANDB_API_KEY") or os.environ.get("WANDB_MODE") == "online")
    if "save_dir" in options:
        options["save_dir"] = str(run_dir(cfg))
    if "name" in options and options["name"] is None:
        options["name"] = str(cfg.phase.name)
    logger = instantiate(options)
    try:
        config = OmegaConf.to_container(cfg, resolve=True, throw_on_missing=False)
        config.pop("hydra", None)
        logger.log_hyperparams(config)
    except Exception as error:  # a config the logger cannot store must not stop the run
        print(f"[logger] could not record the config: {error}", flush=True)
    return logger


def finish_logging() -> None:
    """End the active W&B run, so that the next phase in this process starts its own."""
    import sys

    wandb = sys.modules.get("wandb")
    if wandb is not None and getattr(wandb, "run", None) is not None:
        wandb.finish()


def quiet_lightning() -> None:
    """Keep Lightning's start-up chatter (device banners, tips) out of the run's output.

    Known-harmless warnings are silenced too: a frozen reference model is in eval mode
    on purpose, and the step-index dataloaders of the RL phases have no workers to tune.
    """
    import logging
    import warnings

    for name in ("lightning.pytorch", "lightning.fabric", "lightning"):
        logging.getLogger(name).setLevel(logging.WARNING)
    for pattern in (".*module\\(s\\) in eval mode.*", ".*does not have many workers.*", ".*isinstance\\(treespec, LeafSpec\\).*",
                    ".*litlogger.*", ".*ckpt_path.*callbacks used to create the checkpoint.*", ".*is not resumable.*"):
        warnings.filterwarnings("ignore", message=pattern)


def build_trainer(cfg: DictConfig, model: Any = None, **phase_options: Any):
    """A ``lightning.Trainer`` from the ``trainer`` group plus the phase's own options.

    ``model`` is the built model (or a list: [student, teacher]); strategies that shard it
    (``trainer=fsdp``) take their wrapping unit from it (see r1/scale.py).
    """
    import lightning
    from lightning.fabric.utilities.exceptions import MisconfigurationException

    from r1.scale import build_strategy

    quiet_lightning()
    options = OmegaConf.to_container(cfg.trainer, resolve=True) if cfg.get("trainer") else {}
    options["strategy"] = build_strategy(options, model)
    options.update(phase_options)
    options.setdefault("logger", build_logger(cfg))
    options.setdefault("default_root_dir", str(run_dir(cfg)))
    options.setdefault("enable_model_summary", False)
    try:
        return lightning.Trainer(**options)
    except (TypeError, ValueError, MisconfigurationException) as error:
        raise ConfigError(f"trainer options {sorted(options)} were rejected: {error}") from error


def save_hf(model, tokenizer, folder: str | Path) -> Path:
    """Save a Hugging Face folder (config, safetensors, tokenizer) the next phase loads unchanged."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(folder))
    tokenizer.save_pretrained(str(folder))
    return folder


def config_hash(cfg: DictConfig, *keys: str) -> str:
    """A short stable hash of the config nodes at ``keys`` (all of it when none are given).

    Used to find the folder of an earlier run of the same command (to resume it, or to
    reuse a finished stage) without depending on Hydra's time-stamped run folders.
    Where outputs go, how they are logged and which checkpoint to resume from do not
    change what is computed, so they are left out.
    """
    import copy
    import hashlib
    import json

    def plain(node: Any) -> Any:
        if OmegaConf.is_config(node):
            return OmegaConf.to_container(node, resolve=True, throw_on_missing=False)
        return node

    if keys:
        content = {key: plain(OmegaConf.select(cfg, key)) for key in keys}
    else:
        node = copy.deepcopy(cfg)
        OmegaConf.set_struct(node, False)
        for volatile in ("hydra", "paths", "logger", "ckpt_path"):
            node.pop(volatile, None)
        content = plain(node)
    return hashlib.sha256(json.dumps(content, sort_keys=True, default=str).encode()).hexdigest()[:12]
