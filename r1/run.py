"""The command line: ``python -m r1.run [group=option ...] [key=value ...]``.

A thin Hydra entry (DESIGN principle 1): check the overrides, compose the
config, dispatch the phase, return its metric. User mistakes end with one line on
stderr and exit status 2; Hydra's own flags (``--help``, ``--cfg job``, ``-m``)
work as usual.
"""

from __future__ import annotations

import sys
from typing import Any

import hydra
from omegaconf import DictConfig
from omegaconf.errors import OmegaConfBaseException

from r1.errors import R1Error
from r1.overrides import check_overrides
from r1.paths import conf_dir

EXIT_USER_ERROR = 2


def fail(error: BaseException) -> None:
    """Print one line saying what went wrong and exit non-zero."""
    message = " ".join(str(error).split()) or type(error).__name__
    print(f"r1: error: {message}", file=sys.stderr)
    sys.exit(EXIT_USER_ERROR)


@hydra.main(version_base="1.3", config_path=str(conf_dir()), config_name="config")
def _hydra_main(cfg: DictConfig) -> Any:
    try:
        return run(cfg)
    except (R1Error, OmegaConfBaseException) as error:
        fail(error)


def run(cfg: DictConfig) -> Any:
    """Seed, then run the configured phase and return its summary."""
    import lightning

    from r1.phases import dispatch

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
