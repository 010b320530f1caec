"""Command-line flags that r1's and TRL's GRPO benchmarks share.

``tools/compare_trl.sh`` passes the same flags to ``bench_grpo.py`` (r1's venv) and
``bench_trl_grpo.py`` (TRL's venv, where r1 is not installed), so they are defined once,
here, with the standard library only.
"""

from __future__ import annotations

import argparse


def add_run_arguments(parser: argparse.ArgumentParser) -> None:
    """The GRPO step both benchmarks time: group size, prompts per step, lengths, steps, threads."""
    parser.add_argument("--group-size", type=int, default=8)
    parser.add_argument("--prompts-per-step", type=int, default=4)
    parser.add_argument("--max-new-tokens", type=int, default=64)
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
