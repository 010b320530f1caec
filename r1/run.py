"""The command line: ``python -m r1.run [group=option ...] [key=value ...]``.

A thin Hydra entry (``docs/DESIGN.md``, principle 1): check the overrides, compose the
config, apply its ``runtime`` settings (:mod:`r1.runtime`), dispatch the phase,
return its metric. User mistakes end with one line on
stderr and exit status 2; Hydra's own flags (``--help``, ``--cfg job``, ``-m``)
work as usual.
"""

from __future__ import annotations

import secrets
import sys
from pathlib import Path
from typing import Any

import hydra
from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf, open_dict, read_write
from omegaconf.errors import OmegaConfBaseException

from r1.errors import ConfigError, R1Error, fail
from r1.overrides import check_overrides
from r1.paths import conf_dir


RUN_SUFFIX_BYTES = 3
"""Random bytes (6 hex digits) that end each run folder's name: runs started in the same second get their own."""

RUN_FOLDER_ATTEMPTS = 100
"""Suffixes tried before giving up (each clash is a 1 in 16 million event)."""


def new_run_folder(base: str) -> str:
    """``<base>-<6 random hex digits>``, created here and now: a folder no other run uses.

    Creating it exclusively makes a clash impossible, not just unlikely. A folder that
    cannot be created (a read-only disk, a path through a file) ends the run with one
    line, before Hydra tries to create it and fails with a traceback.
    """
    for _ in range(RUN_FOLDER_ATTEMPTS):
        path = Path(f"{base}-{secrets.token_hex(RUN_SUFFIX_BYTES)}")
        try:
            path.mkdir(parents=True, exist_ok=False)
        except FileExistsError:
            continue
        except OSError as error:
            fail(ConfigError(f"cannot create the run folder {path} ({error.strerror or error}); set paths.output_root=<a folder you can write to>"))
        return str(path)
    fail(ConfigError(f"no free run folder name next to {base} after {RUN_FOLDER_ATTEMPTS} tries; clean up {Path(base).parent}"))
    return base  # pragma: no cover - fail() exits


class RunFolder(Callback):
    """A Hydra callback (``hydra.callbacks`` in conf/config.yaml): each run gets a folder of its own.

    Hydra names run folders by the second, so two runs started in the same second would
    write into one. Before the run starts, the folder configured in ``hydra.run.dir``
    (``hydra.sweep.dir`` for ``-m``) gets a random suffix (:func:`new_run_folder`). A folder
    named on the command line (``hydra.run.dir=...``, as a distributed launcher names its
    ranks' folder) is used as it is.
    """

    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        self._claim(config, "run")

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        self._claim(config, "sweep")

    @staticmethod
    def _claim(config: DictConfig, mode: str) -> None:
        key = f"hydra.{mode}.dir"
        if any(override.lstrip("+~").split("=", 1)[0] == key for override in config.hydra.overrides.hydra):
            return
        folder = new_run_folder(str(OmegaConf.select(config, key)))
        with read_write(config.hydra), open_dict(config.hydra):
            OmegaConf.update(config, key, folder, merge=False)
            # Each job of a sweep composes its config again from these overrides: they must name the same folder.
            config.hydra.overrides.hydra.append(f"{key}={folder}")


@hydra.main(version_base="1.3", config_path=str(conf_dir()), config_name="config")
def _hydra_main(cfg: DictConfig) -> Any:
    try:
        return run(cfg)
    except (R1Error, OmegaConfBaseException) as error:
        fail(error)


def run(cfg: DictConfig) -> Any:
    """Apply the ``runtime`` settings, seed, then run the configured phase and return its summary."""
    import lightning

    from r1.phases import dispatch
    from r1.runtime import apply

    apply(cfg.get("runtime"))
    lightning.seed_everything(cfg.seed, verbose=False)
    return dispatch(cfg)


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else list(argv)
    try:
        check_overrides(args)
    except R1Error as error:
        fail(error)
    sys.argv = [sys.argv[0], *args]
    _hydra_main()


if __name__ == "__main__":
    main()
