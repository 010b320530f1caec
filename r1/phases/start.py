"""Where a phase's starting policy comes from: the same rule for every phase that needs a trained one.

GRPO starts from a cold-start SFT model (from a random model it has no reward signal
to learn from; docs/FINDINGS.md). Rejection sampling starts from the RL model, as
R1's third stage did. Both read ``phase.init_from``:

* ``auto`` (default): the ``model`` config if it names a checkpoint (``model.name_or_path``),
  else the phase's trained predecessor of this config:

  - GRPO: the cold-start SFT model, trained now if no earlier run left one, and cached
    under ``<output_root>/cache/sft-<hash>/`` keyed by the whole SFT config (model, task,
    seed, SFT settings, with ``phase.sft`` overrides applied), so a second GRPO run reuses it;
  - rejection: the finished GRPO run of this config (``phase.grpo`` overrides applied), else
    the cold-start SFT model that GRPO run starts from; never trained here: with neither,
    one line says what to run first;

* ``sft`` / ``grpo``: that cached model only;
* ``model``: the ``model`` config as it is (R1-Zero: RL straight from the base);
* any other value: a path to a saved Hugging Face folder.

A finished run is found by its done marker (:func:`r1.phases.common.mark_done`): in its
cache folder, or in the resume state ``<output_root>/state/<phase>-<hash>/`` every
training phase keeps (:func:`r1.phases.common.resume_state`); its exported folder must
still be whole (config and every weight file complete), or it is passed over.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from omegaconf import DictConfig, OmegaConf, open_dict

from r1.errors import ConfigError, DataError

CACHED = ("auto", "sft", "grpo")
"""``init_from`` values that pick a trained model by the config, not by a path."""


def starting_policy(cfg: DictConfig) -> DictConfig:
    """GRPO's starting policy: the ``model`` config node to load (``phase.init_from``, ``phase.sft``)."""
    init = str(cfg.phase.init_from)
    if init == "model" or (init == "auto" and cfg.model.get("name_or_path")):
        return cfg.model
    if init in ("auto", "sft"):
        return from_folder(cfg.model, cached_sft(cfg, [str(o) for o in cfg.phase.sft]))
    return from_folder(cfg.model, existing_folder(init))


def sampling_policy(cfg: DictConfig, init_from: str, grpo_overrides: Sequence[str]) -> DictConfig:
    """Rejection sampling's policy: the given model, else the finished GRPO run, else its cold-start SFT model.

    Nothing is trained here: when no trained model of this config exists, a one-line
    :class:`ConfigError` says what to run first.
    """
    if init_from == "model" or (init_from == "auto" and cfg.model.get("name_or_path")):
        return cfg.model
    if init_from not in CACHED:
        return from_folder(cfg.model, existing_folder(init_from))
    from r1.phases.compose import compose_phase

    grpo_cfg = compose_phase("grpo", [str(o) for o in grpo_overrides])
    candidates = {"grpo": grpo_cfg, "sft": compose_phase("sft", [str(o) for o in grpo_cfg.phase.sft])}
    wanted = ["grpo", "sft"] if init_from == "auto" else [init_from]
    for phase in wanted:
        folder = finished_model(Path(str(cfg.paths.output_root)), phase, candidates[phase])
        if folder is not None:
            print(f"[start] sampling from the {phase.upper()} model in {folder}", flush=True)
            return from_folder(cfg.model, folder)
    what = " or ".join({"grpo": "no finished GRPO run", "sft": "no cold-start SFT model"}[p] for p in wanted)
    raise ConfigError(
        f"{what} matches this config under {cfg.paths.output_root}; run `python -m r1.run phase=grpo` first with the same options "
        "(it trains the cold-start SFT model too), or set phase.init_from=model (the untrained `model`) or phase.init_from=<saved folder>"
    )


def from_folder(model_cfg: DictConfig, folder: Path) -> DictConfig:
    """A model config that loads the saved Hugging Face folder (weights and tokenizer)."""
    return OmegaConf.merge(model_cfg, {"name_or_path": str(folder), "tokenizer": None, "architecture": None, "dtype": "float32"})


def existing_folder(path: str) -> Path:
    """``path`` as a folder, or a one-line error when nothing is there."""
    folder = Path(path).expanduser()
    if not folder.exists():
        raise DataError(f"phase.init_from '{path}' does not exist; give a saved Hugging Face folder (e.g. <run>/hf), or one of: auto, {', '.join(CACHED[1:])}, model")
    return folder


def finished_model(output_root: Path, phase: str, phase_cfg: DictConfig) -> Path | None:
    """The Hugging Face folder a finished run of ``phase_cfg`` exported, or None.

    Looks in the cache folder (``cache/<phase>-<hash>``) and the resume state
    (``state/<phase>-<hash>``) of that config; the exported folder must still exist.
    """
    from r1.phases.common import config_hash, read_done

    from r1.models.loading import hf_folder_problem

    key = f"{phase}-{config_hash(phase_cfg)}"
    for folder in (output_root / "cache" / key, output_root / "state" / key):
        summary = read_done(folder) or {}
        hf_dir = summary.get("hf_dir")
        if not hf_dir or not Path(hf_dir).is_dir():
            continue
        problem = hf_folder_problem(hf_dir)
        if problem is None:
            return Path(hf_dir)
        print(f"[start] passing over the {phase.upper()} model in {hf_dir}: {problem}", flush=True)
    return None


def cached_sft(cfg: DictConfig, overrides: Sequence[str]) -> Path:
    """The SFT model for this model/task/seed (with ``overrides``), trained now if no earlier run left one.

    The cache is marked done only after the model was saved and read back (``save_hf``), and
    it is reused only while its folder is still whole (:func:`r1.models.loading.hf_folder_problem`):
    a cache with truncated weights is trained again, with one line saying so.
    """
    from r1.models.loading import hf_folder_problem
    from r1.phases import dispatch
    from r1.phases.common import DONE_FILE, config_hash, is_done, mark_done
    from r1.phases.compose import compose_phase

    sft_cfg = compose_phase("sft", overrides)
    folder = Path(cfg.paths.output_root) / "cache" / f"sft-{config_hash(sft_cfg)}"
    hf_dir = folder / "hf"
    if is_done(folder):
        problem = hf_folder_problem(hf_dir)
        if problem is None:
            print(f"[start] reusing the cold-start SFT model in {hf_dir}", flush=True)
            return hf_dir
        print(f"[start] the cached cold-start SFT model in {hf_dir} is broken ({problem}): training it again", flush=True)
        (folder / DONE_FILE).unlink()
    else:
        print(f"[start] no cached SFT model for this config: running cold-start SFT into {folder}", flush=True)
    with open_dict(sft_cfg):
        sft_cfg.paths.run_dir = str(folder)
        sft_cfg.paths.output_root = str(cfg.paths.output_root)
    summary = dispatch(sft_cfg)
    if "hf_dir" in summary:  # the rank that exported the model
        mark_done(folder, summary)
    return hf_dir
