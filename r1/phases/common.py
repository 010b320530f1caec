"""What every phase needs around its LightningModule: run folder, logger, trainer, export.

Shared behaviour lives in functions, not a base class (docs/DESIGN.md). So do the rules every
phase follows the same way: how settings are read, how a run folder is named and marked
finished, and how the same command resumes an interrupted run.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import typing
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from omegaconf import DictConfig, OmegaConf

from r1.errors import ConfigError
from r1.settings import build_settings, to_plain

T = TypeVar("T")


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

    options = to_plain(node)
    if "offline" in options and options["offline"] is None:
        options["offline"] = not (os.environ.get("WANDB_API_KEY") or os.environ.get("WANDB_MODE") == "online")
    if "save_dir" in options:
        options["save_dir"] = str(run_dir(cfg))
    if "name" in options and options["name"] is None:
        options["name"] = str(cfg.phase.name)
    logger = instantiate(options)
    try:
        config = to_plain(cfg)
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
    options = to_plain(cfg.trainer) if cfg.get("trainer") else {}
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


# ----------------------------------------------------------------------------- settings


def read_settings(cls: type[T], node: Any, prefix: str = "phase", extra: Mapping[str, Any] | None = None) -> T:
    """:func:`r1.settings.build_settings`, with each field typed as a settings dataclass read from its own sub-node.

    ``phase.checkpoint: {every_n_steps: 100, keep: 1}`` becomes a ``CheckpointSettings``
    checked like the phase itself, so a mistake names its full key (``phase.checkpoint.keep``).
    """
    values = to_plain(node) if node is not None else {}
    if isinstance(values, dict):
        hints = typing.get_type_hints(cls)
        for spec in dataclasses.fields(cls):  # type: ignore[arg-type]
            nested, key = hints[spec.name], f"{prefix}.{spec.name}"
            if not (dataclasses.is_dataclass(nested) and spec.name in values):
                continue
            if not isinstance(values[spec.name], Mapping):
                raise ConfigError(f"{key} must be a mapping of settings, not {values[spec.name]!r}")
            values[spec.name] = read_settings(nested, values[spec.name], key)
    return build_settings(cls, values, prefix=prefix, extra=extra)


def check_learning_rate(optimizer: Mapping[str, Any], key: str = "phase.optimizer") -> None:
    """A one-line error unless an optimizer node's ``lr`` (when it sets one) is a positive number.

    For a phase's ``__post_init__``: the optimizer is a ``_target_`` node whose other
    options the optimizer itself checks, but a zero or negative rate would train nothing
    without a word.
    """
    lr = optimizer.get("lr")
    if lr is not None and (isinstance(lr, bool) or not isinstance(lr, (int, float)) or lr <= 0):
        raise ConfigError(f"{key}.lr must be a number more than 0, not {lr!r}")


# ----------------------------------------------------------------------------- the run-folder digest

DIGEST_CHARS = 12
"""Hex characters of a config digest in folder names: short to read, and 48 bits make clashes negligible."""

VOLATILE_KEYS = ("hydra", "paths", "logger", "ckpt_path")
"""Root config nodes that do not change what a run computes: where outputs go, how they are logged, what to resume from."""


def digest(content: Any) -> str:
    """The one digest of r1: a short stable hash of plain data (JSON with sorted keys)."""
    import hashlib
    import json

    return hashlib.sha256(json.dumps(content, sort_keys=True, default=str).encode()).hexdigest()[:DIGEST_CHARS]


def config_hash(cfg: DictConfig, *keys: str) -> str:
    """The :func:`digest` of the config nodes at ``keys`` (all of it, less :data:`VOLATILE_KEYS`, when none are given).

    Used to find the folder of an earlier run of the same command (to resume it, or to
    reuse a finished stage) without depending on Hydra's time-stamped run folders.
    """
    import copy

    if keys:
        return digest({key: to_plain(OmegaConf.select(cfg, key)) for key in keys})
    node = copy.deepcopy(cfg)
    OmegaConf.set_struct(node, False)
    for volatile in VOLATILE_KEYS:
        node.pop(volatile, None)
    return digest(to_plain(node))


# ----------------------------------------------------------------------------- the done marker

DONE_FILE = "done.json"
"""Written into a folder once the work it holds has finished and every output is saved."""


def atomic_write(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` so that a reader (or a resumed job) sees all of it or nothing.

    The bytes go to a hidden temporary file in the same folder, are fsync'd, and the
    file is renamed over ``path`` (atomic on POSIX); the folder is fsync'd so the
    rename itself survives a crash.
    """
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
    try:
        fd = os.open(path.parent, os.O_RDONLY)
    except OSError:  # pragma: no cover - folders cannot be opened on some platforms
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def mark_done(folder: str | Path, summary: Mapping[str, Any]) -> Path:
    """Mark ``folder``'s work finished, recording its ``summary``; call it only after every output is saved.

    One convention for every folder r1 reuses: a pipeline stage, a cached cold-start
    SFT model, a rejection run, a phase's resume state. A folder without the marker
    is unfinished, whatever else it holds.
    """
    import json

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / DONE_FILE
    atomic_write(path, json.dumps(dict(summary), indent=2, default=str) + "\n")
    return path


def read_done(folder: str | Path) -> dict[str, Any] | None:
    """The summary :func:`mark_done` recorded in ``folder``, or None while the work is unfinished."""
    import json

    path = Path(folder) / DONE_FILE
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


def is_done(folder: str | Path) -> bool:
    """Whether :func:`mark_done` marked ``folder`` finished."""
    return (Path(folder) / DONE_FILE).is_file()


# ----------------------------------------------------------------------------- resuming

FOLDER_CHECKPOINT_MARKERS = (".metadata", "latest")
"""Files a sharded checkpoint folder gets last: ``.metadata`` (torch.distributed.checkpoint, FSDP), ``latest`` (DeepSpeed)."""


@dataclass(frozen=True)
class ResumeState:
    """Where a training phase keeps its checkpoints, and which one it resumes from."""

    dir: Path
    """``<output_root>/state/<phase>-<config hash>/``: the same command finds the same folder."""
    checkpoints: Path
    """``dir/checkpoints``: where the phase's checkpoint callback writes."""
    ckpt_path: str | None
    """``ckpt_path=`` when given, else the newest intact checkpoint of an unfinished run, else None (start afresh)."""


def resume_state(cfg: DictConfig, phase: str, run_folder: Path) -> ResumeState:
    """The resume rule every training phase shares: run the same command again and it continues.

    Checkpoints live under ``<output_root>/state/<phase>-<config hash>/``, outside the
    time-stamped run folder, so a second run of the same command finds them:

    * ``ckpt_path=<file>`` resumes from that file (a one-line error if it does not exist);
    * else an unfinished run (no :data:`DONE_FILE`) resumes from its newest intact checkpoint
      (a file killed mid-write is skipped);
    * else the run starts afresh, replacing a finished run's checkpoints.

    The phase calls :func:`mark_done` on ``dir`` once its outputs are saved.
    """
    from r1.errors import DataError

    state_dir = Path(str(cfg.paths.output_root)) / "state" / f"{phase}-{config_hash(cfg)}"
    checkpoints = state_dir / "checkpoints"
    checkpoints.mkdir(parents=True, exist_ok=True)
    chosen = cfg.get("ckpt_path")
    if chosen:
        path = Path(str(chosen)).expanduser()
        if not path.exists():  # a sharded checkpoint is a folder
            raise DataError(f"ckpt_path '{chosen}' does not exist; give a checkpoint of an earlier run (in {checkpoints}) or leave it unset to resume this config's own")
        (state_dir / DONE_FILE).unlink(missing_ok=True)  # the folder now holds an unfinished run
        ckpt_path: str | None = str(path)
    elif not is_done(state_dir) and (newest := newest_intact_checkpoint(checkpoints)) is not None:
        ckpt_path = str(newest)
        print(f"[{phase}] resuming the unfinished run from {ckpt_path}", flush=True)
    else:
        (state_dir / DONE_FILE).unlink(missing_ok=True)
        for old in checkpoints.iterdir():
            shutil.rmtree(old) if old.is_dir() else old.unlink()
        ckpt_path = None
    (state_dir / "run_dir.txt").write_text(f"{run_folder}\n", encoding="utf-8")
    return ResumeState(state_dir, checkpoints, ckpt_path)


def newest_intact_checkpoint(folder: Path) -> Path | None:
    """The most recently written checkpoint in ``folder`` that was written completely, or None.

    The newest, not always ``last.ckpt``: a run killed between writing ``step<N>.ckpt`` and
    refreshing ``last.ckpt`` has its latest state only in the former.
    """
    candidates = sorted(folder.glob("*.ckpt"), key=lambda path: path.stat().st_mtime_ns, reverse=True)
    return next((path for path in candidates if is_intact_checkpoint(path)), None)


def is_intact_checkpoint(path: Path) -> bool:
    """Whether a checkpoint was written to the end: a ``torch.save`` zip file with its closing directory, or a
    sharded folder with its final marker (:data:`FOLDER_CHECKPOINT_MARKERS`)."""
    if path.is_dir():
        return any((path / marker).is_file() for marker in FOLDER_CHECKPOINT_MARKERS)
    return zipfile.is_zipfile(path)
