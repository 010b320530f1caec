"""r1-code's hook implementations, found through the ``r1`` entry-point group.

Factories are the classes themselves, so r1 builds ``CodeReward(**options)`` and so on from
the YAML files in ``conf/`` (offered to Hydra by :func:`r1_config_dir`).
"""

from __future__ import annotations

from pathlib import Path

from r1.hookspecs import Factory, hookimpl

from r1_code.benchmarks import MBPP, HumanEval
from r1_code.reward import CodeReward
from r1_code.task import MBPPTask

CONF_DIR = Path(__file__).with_name("conf")


@hookimpl
def r1_rewards() -> dict[str, Factory]:
    """The ``code`` reward (tests run in the sandbox)."""
    return {"code": CodeReward}


@hookimpl
def r1_benchmarks() -> dict[str, Factory]:
    """``humaneval`` and ``mbpp``."""
    return {"humaneval": HumanEval, "mbpp": MBPP}


@hookimpl
def r1_tasks() -> dict[str, Factory]:
    """``code_mbpp``: MBPP's train split for GRPO, its test split held out."""
    return {"code_mbpp": MBPPTask}


@hookimpl
def r1_config_dir() -> str | None:
    """``reward=code``, ``benchmark=humaneval|mbpp`` and ``task=code_mbpp``."""
    return str(CONF_DIR)
