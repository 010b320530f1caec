"""Where a phase's starting policy comes from.

GRPO starts from a cold-start SFT model (FINDINGS: from a random model it has no
reward signal to learn from). ``phase.init_from``:

* ``auto`` (default): the ``model`` config if it names a checkpoint
  (``model.name_or_path``), else the SFT phase's output — run once and cached under
  ``<output_root>/cache/sft-<hash>/`` keyed by the whole SFT config (model, task, seed,
  SFT settings, with ``phase.sft`` overrides applied), so a second GRPO run reuses it;
* ``sft``: always the cached SFT model;
* ``model``: the ``model`` config as it is (R1-Zero: RL straight from the base);
* any other value: a path to a saved Hugging Face folder.
"""

from __future__ import annotations

from pathlib import Path

from omegaconf import DictConfig, OmegaConf, open_dict


def starting_policy(cfg: DictConfig) -> DictConfig:
    """The ``model`` config node to load the starting policy with."""
    init = str(cfg.phase.get("init_from", "auto"))
    if init == "model" or (init == "auto" and cfg.model.get("name_or_path")):
        return cfg.model
    if init in ("auto", "sft"):
        return from_folder(cfg.model, cached_sft(cfg))
    return from_folder(cfg.model, Path(init))


def from_folder(model_cfg: DictConfig, folder: Path) -> DictConfig:
    """A model config that loads the saved Hugging Face folder (weights and tokenizer)."""
    return OmegaConf.merge(model_cfg, {"name_or_path": str(folder), "tokenizer": None, "architecture": None, "dtype": "float32"})


def cached_sft(cfg: DictConfig) -> Path:
    """The SFT model for this model/task/seed, trained now if no earlier run left one."""
    from r1.phases import dispatch
    from r1.phases.common import config_hash
    from r1.phases.compose import compose_phase

    sft_cfg = compose_phase("sft", [str(o) for o in cfg.phase.get("sft") or []])
    folder = Path(cfg.paths.output_root) / "cache" / f"sft-{config_hash(sft_cfg)}"
    hf_dir = folder / "hf"
    if (hf_dir / "config.json").is_file():
        print(f"[start] reusing the cold-start SFT model in {hf_dir}", flush=True)
        return hf_dir
    print(f"[start] no cached SFT model for this config: running cold-start SFT into {folder}", flush=True)
    with open_dict(sft_cfg):
        sft_cfg.paths.run_dir = str(folder)
        sft_cfg.paths.output_root = str(cfg.paths.output_root)
    dispatch(sft_cfg)
    return hf_dir
