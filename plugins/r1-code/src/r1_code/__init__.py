"""r1-code: code reasoning for r1 — a sandbox for model-written Python, the ``code`` reward,
the HumanEval and MBPP benchmarks and the ``code_mbpp`` task, as a separately installed plugin.
"""

from __future__ import annotations

from r1_code.benchmarks import MBPP, HumanEval
from r1_code.extract import extract_code
from r1_code.reward import CodeReward
from r1_code.sandbox import ExecResult, capabilities, run_program, run_programs
from r1_code.task import MBPPTask

__version__ = "0.1.0"

__all__ = [
    "MBPP",
    "CodeReward",
    "ExecResult",
    "HumanEval",
    "MBPPTask",
    "capabilities",
    "extract_code",
    "run_program",
    "run_programs",
]
