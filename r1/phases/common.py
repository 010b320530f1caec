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
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from omegaconf import DictConfig, OmegaConf

from r1.errors import ConfigError, DataError
from r1.phases.checkpoints import checkpoint_problem, newest_intact_checkpoint
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
        return make_folder(Path(fixed), "paths.run_dir")
    try:
        from hydra.core.hydra_config import HydraConfig

        if HydraConfig.initialized():
            return Path(HydraConfig.get().runtime.output_dir)
    except ImportError:  # pragma: no cover
        pass
    folder = OmegaConf.select(cfg, "paths.output_dir", throw_on_resolution_failure=False)
    if not folder:
        raise ConfigError("paths.output_dir is not set; run through `python -m r1.run` or set paths.output_dir=<folder>")
    return make_folder(Path(folder), "paths.output_dir")


def make_folder(path: Path, key: str) -> Path:
    """``path`` created (with its parents), or a one-line error naming the setting to change."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ConfigError(f"cannot create the folder {path} ({error.strerror or error}); set {key} to a folder you can write to") from error
    return path


def build_logger(cfg: DictConfig) -> Any:
    """The Lightning logger the ``logger`` group describes, or ``False`` for none.

    ``logger=wandb`` runs offline unless an API key is configured, so a machine
    without network still records the run (``wandb sync`` uploads it later). Logs go
    to this run's folder, and the whole resolved config is recorded as hyperparameters.
    W&B never stops or stalls a run (:func:`start_wandb`).
    """
    node = cfg.get("logger")
    if not node or node.get("_target_") is None:
        return False
    from hydra.utils import instantiate

    options = to_plain(node)
    if "save_dir" in options:
        options["save_dir"] = str(run_dir(cfg))
    if "name" in options and options["name"] is None:
        options["name"] = str(cfg.phase.name)
    if str(options["_target_"]).endswith(".WandbLogger"):
        logger = start_wandb(options)
    else:
        logger = instantiate(options)
    try:
        config = to_plain(cfg)
        config.pop("hydra", None)
        logger.log_hyperparams(config)
    except Exception as error:  # a config the logger cannot store must not stop the run
        print(f"[logger] could not record the config: {_one_line(error)}", flush=True)
    return logger


def start_wandb(options: dict[str, Any]) -> Any:
    """A started ``WandbLogger``: online when asked and reachable, else offline, after one warning line.

    Online runs need an API key and the W&B server. Without either, ``wandb.init`` retries
    for minutes and then raises; here the server is first probed (a TCP connection, at most
    ``init_timeout`` seconds), ``wandb.init`` itself is bounded by the same timeout, and any
    failure to start online becomes one warning line and an offline run in the run folder
    (``wandb sync`` uploads it later). A W&B setting that breaks even an offline run (an
    unknown ``WANDB_MODE``, a bad ``logger.*`` option) is one :class:`ConfigError` line.
    """
    import wandb
    from hydra.utils import instantiate

    if "init_timeout" not in options:
        raise ConfigError("logger.init_timeout is not set; add it to the logger's YAML (seconds W&B may take to start before the run logs offline)")
    timeout = options.pop("init_timeout")
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0:
        raise ConfigError(f"logger.init_timeout must be a number of seconds more than 0, not {timeout!r}")
    if options.get("offline") is None:
        options["offline"] = not (os.environ.get("WANDB_API_KEY") or os.environ.get("WANDB_MODE") == "online")
    if not options["offline"]:
        problem = wandb_unreachable(float(timeout))
        if problem is not None:
            print(f"[logger] W&B is unreachable ({problem}); logging offline to {options.get('save_dir')}/wandb (upload later with `wandb sync`)", flush=True)
            options["offline"] = True
    try:
        return _started_wandb(instantiate, wandb, options, float(timeout))
    except Exception as error:
        if options["offline"]:
            raise ConfigError(f"W&B cannot start even offline: {_one_line(error)}; fix the W&B settings (the WANDB_* variables, logger.*) or choose logger=csv or logger=none") from error
        print(f"[logger] W&B could not start online ({_one_line(error)}); logging offline to {options.get('save_dir')}/wandb (upload later with `wandb sync`)", flush=True)
    options["offline"] = True
    try:
        return _started_wandb(instantiate, wandb, options, float(timeout))
    except Exception as error:
        raise ConfigError(f"W&B cannot start even offline: {_one_line(error)}; fix the W&B settings (the WANDB_* variables, logger.*) or choose logger=csv or logger=none") from error


def _started_wandb(instantiate: Any, wandb: Any, options: dict[str, Any], timeout: float) -> Any:
    """A ``WandbLogger`` whose W&B run has started (``wandb.init`` bounded by ``timeout`` seconds)."""
    mode = "offline" if options["offline"] else "online"
    # The mode goes to wandb.init itself: the WANDB_MODE variable WandbLogger's own switch sets
    # is ignored (with a warning) once W&B has started in this process, as after a failed online start.
    logger = instantiate({**options, "offline": False, "mode": mode, "settings": wandb.Settings(init_timeout=timeout)})
    # WandbLogger passes anonymous=None, which W&B answers with a deprecation warning on every run.
    getattr(logger, "_wandb_init", {}).pop("anonymous", None)
    logger.experiment  # noqa: B018 - starts the run here, where a failure can be handled
    return logger


def wandb_unreachable(timeout: float) -> str | None:
    """Why the W&B server (``WANDB_BASE_URL``, else W&B's cloud) cannot be reached, or None when a connection opens."""
    import socket
    from urllib.parse import urlsplit

    url = urlsplit(os.environ.get("WANDB_BASE_URL") or WANDB_CLOUD)
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        with socket.create_connection((url.hostname or "", port), timeout=timeout):
            return None
    except OSError as error:
        return f"{url.hostname}:{port}: {error.strerror or type(error).__name__}"


WANDB_CLOUD = "https://api.wandb.ai"
"""W&B's own server, used when ``WANDB_BASE_URL`` names no other."""


def _one_line(error: BaseException) -> str:
    """An exception's message as one line (W&B's span several)."""
    return " ".join(str(error).split()) or type(error).__name__


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
    (``trainer=fsdp``) take their wrapping unit from it (see r1/scale.py). Every trainer
    carries r1's guards (:func:`guards`), so no phase can train on or save NaN weights.
    """
    import lightning
    from lightning.fabric.utilities.exceptions import MisconfigurationException

    from r1.scale import build_strategy

    quiet_lightning()
    options = to_plain(cfg.trainer) if cfg.get("trainer") else {}
    options["strategy"] = build_strategy(options, model)
    options.update(phase_options)
    options["callbacks"] = [*(options.get("callbacks") or []), *guards(cfg)]
    options.setdefault("logger", build_logger(cfg))
    options.setdefault("default_root_dir", str(run_dir(cfg)))
    options.setdefault("enable_model_summary", False)
    try:
        return lightning.Trainer(**options)
    except (TypeError, ValueError, MisconfigurationException) as error:
        raise ConfigError(f"trainer options {sorted(options)} were rejected: {error}") from error


def guards(cfg: DictConfig) -> list[Any]:
    """The callbacks every trainer carries (:mod:`r1.phases.guards`): a NaN/inf guard and the settings record."""
    from r1.phases.guards import FiniteGuard, SettingsRecord

    return [FiniteGuard(), SettingsRecord(run_settings(cfg), str(OmegaConf.select(cfg, "phase.name", default="train")))]


def save_hf(model, tokenizer, folder: str | Path, merge_adapter: bool = True) -> Path:
    """Save a Hugging Face folder (config, safetensors, tokenizer) the next phase loads unchanged; returns it.

    Weights holding NaN or infinity are refused (a one-line :class:`~r1.errors.TrainingError`),
    and the saved folder is read back (:func:`r1.models.loading.hf_folder_problem`), so a
    done-marker written after this call never vouches for a broken model.

    A LoRA model (``model.lora``) also writes its adapter alone to ``adapter/`` next to
    ``folder``; ``folder`` then holds a merged copy, or, with ``merge_adapter=False``, is
    not written and the adapter folder is returned (the next phase loads it on its base).
    """
    from transformers.utils import logging as hf_logging

    from r1.models.loading import hf_folder_problem
    from r1.models.lora import has_lora, merged_copy, save_adapter
    from r1.errors import TrainingError
    from r1.phases.guards import first_non_finite, non_finite

    folder = Path(folder)
    if non_finite(model.parameters()):
        raise TrainingError(f"the trained weights ({first_non_finite(model.named_parameters())}) hold NaN or infinite values; {folder} was not written")
    if has_lora(model):
        adapter = save_adapter(model, tokenizer, folder.parent / "adapter")
        if not merge_adapter:
            return adapter
        model = merged_copy(model)
    folder.mkdir(parents=True, exist_ok=True)
    shown = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()  # a bar per saved shard says nothing the summary does not
    try:
        model.save_pretrained(str(folder))
        tokenizer.save_pretrained(str(folder))
    finally:
        if shown:
            hf_logging.enable_progress_bar()
    problem = hf_folder_problem(folder)
    if problem is not None:
        raise DataError(f"the model saved to {folder} does not read back ({problem}); is the disk full?")
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


def run_settings(cfg: DictConfig) -> dict[str, Any]:
    """The config as plain data, less :data:`VOLATILE_KEYS`: what decides what a run computes."""
    import copy

    node = copy.deepcopy(cfg)
    OmegaConf.set_struct(node, False)
    for volatile in VOLATILE_KEYS:
        node.pop(volatile, None)
    return to_plain(node)


def config_hash(cfg: DictConfig, *keys: str) -> str:
    """The :func:`digest` of the config nodes at ``keys`` (all of it, less :data:`VOLATILE_KEYS`, when none are given).

    Used to find the folder of an earlier run of the same command (to resume it, or to
    reuse a finished stage) without depending on Hydra's time-stamped run folders.
    """
    if keys:
        return digest({key: to_plain(OmegaConf.select(cfg, key)) for key in keys})
    return digest(run_settings(cfg))


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
    release_folder(folder)
    return path


def read_done(folder: str | Path) -> dict[str, Any] | None:
    """The summary :func:`mark_done` recorded in ``folder``, or None while the work is unfinished."""
    import json

    path = Path(folder) / DONE_FILE
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


def is_done(folder: str | Path) -> bool:
    """Whether :func:`mark_done` marked ``folder`` finished."""
    return (Path(folder) / DONE_FILE).is_file()


# ----------------------------------------------------------------------------- one run per folder

LOCK_FILE = ".lock"
"""The file in a folder that a run holds a lock on while it works there (:func:`lock_folder`)."""

RANK_VARIABLES = ("RANK", "LOCAL_RANK", "NODE_RANK", "SLURM_PROCID")
"""Environment variables that launchers set to a process's rank; any of them above 0 marks a non-first process."""

_held: dict[Path, int] = {}
"""Folders this process holds the lock of -> the open lock file's descriptor."""


def lock_folder(folder: str | Path, key: str = "paths.output_root") -> None:
    """Create ``folder`` and claim it for this process, or refuse in one line while another run works in it.

    Two runs of the same resumable command would otherwise write the same checkpoints or
    chunks over each other. The claim is an ``fcntl.flock`` on ``folder/.lock``, held until
    :func:`release_folder` (``mark_done`` calls it) or the process ends: the kernel drops
    it even after ``kill -9``, so a dead run never blocks the next. Claiming a folder twice in
    one process is a no-op, and only the first process of a distributed job claims (the
    others are its ranks, running the same command). Off POSIX nothing is locked. A folder
    that cannot be created is a one-line error naming ``key``, the setting that places it.
    """
    folder = make_folder(Path(folder).absolute(), key)
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        return
    if folder in _held or any(os.environ.get(name, "0") not in ("", "0") for name in RANK_VARIABLES):
        return
    fd = os.open(folder / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
        os.close(fd)
        raise ConfigError(
            f"another run is using {folder} (pid {holder}); wait for it to finish or stop it, or run with another paths.output_root"
        ) from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    _held[folder] = fd


def release_folder(folder: str | Path) -> None:
    """Give up this process's claim on ``folder`` (nothing happens when it holds none)."""
    fd = _held.pop(Path(folder).absolute(), None)
    if fd is not None:
        os.close(fd)  # closing the only descriptor drops the flock


# ----------------------------------------------------------------------------- resuming

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

    * ``ckpt_path=<file>`` resumes from that file (a one-line error if it is missing, empty
      or not a whole checkpoint);
    * else an unfinished run (no :data:`DONE_FILE`) resumes from its newest intact checkpoint,
      saying in one line which newer ones it skipped as damaged (a file killed mid-write);
    * else the run starts afresh, replacing a finished run's checkpoints.

    The folder is claimed for this process (:func:`lock_folder`): a second run of the same
    command meanwhile is refused in one line instead of writing the same checkpoints. The
    phase calls :func:`mark_done` on ``dir`` once its outputs are saved, which releases it.
    """
    state_dir = Path(str(cfg.paths.output_root)) / "state" / f"{phase}-{config_hash(cfg)}"
    checkpoints = state_dir / "checkpoints"
    chosen = explicit_checkpoint(cfg.get("ckpt_path"), checkpoints)
    lock_folder(state_dir)
    checkpoints.mkdir(parents=True, exist_ok=True)
    if chosen is not None:
        (state_dir / DONE_FILE).unlink(missing_ok=True)  # the folder now holds an unfinished run
        ckpt_path: str | None = str(chosen)
    elif not is_done(state_dir) and (newest := newest_intact_checkpoint(checkpoints, phase)) is not None:
        ckpt_path = str(newest)
        print(f"[{phase}] resuming the unfinished run from {ckpt_path}", flush=True)
    else:
        (state_dir / DONE_FILE).unlink(missing_ok=True)
        for old in checkpoints.iterdir():
            shutil.rmtree(old) if old.is_dir() else old.unlink()
        ckpt_path = None
    (state_dir / "run_dir.txt").write_text(f"{run_folder}\n", encoding="utf-8")
    return ResumeState(state_dir, checkpoints, ckpt_path)


def explicit_checkpoint(value: Any, checkpoints: Path) -> Path | None:
    """``ckpt_path`` as a checkpoint to resume from, None when unset, or a one-line error saying what is wrong with it."""
    if value is None:
        return None
    text = str(value).strip()
    hint = f"give a checkpoint of an earlier run (e.g. in {checkpoints}) or leave ckpt_path unset to resume this config's own"
    if not text:
        raise ConfigError(f"ckpt_path is empty; {hint}")
    path = Path(text).expanduser()
    if not path.exists():  # a sharded checkpoint is a folder
        raise DataError(f"ckpt_path '{text}' does not exist; {hint}")
    problem = checkpoint_problem(path)
    if problem is not None:
        raise DataError(f"ckpt_path '{text}' cannot be resumed from: {problem}; {hint}")
    return path
