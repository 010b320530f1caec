"""Command-line flags that r1's and TRL's GRPO benchmarks share.

``tools/compare_trl.sh`` passes the same flags to ``bench_grpo.py`` (r1's venv) and
``bench_trl_grpo.py`` (TRL's venv, where r1 is not installed), so they are defined once,
here, with the standard library only.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

GSM8K = Path(__file__).resolve().parents[1] / "r1" / "benchmarks" / "data" / "gsm8k" / "test.jsonl"
"""The GSM8K test problems shipped in the package: the prompts of the realistic shape (``--prompts gsm8k``)."""


def add_run_arguments(parser: argparse.ArgumentParser) -> None:
    """The GRPO step both benchmarks time: group size, prompts per step, lengths, steps, threads."""
    parser.add_argument("--group-size", type=int, default=8)
    parser.add_argument("--prompts-per-step", type=int, default=4)
    parser.add_argument("--max-new-tokens", type=int, default=64)
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    parser.add_argument(
        "--prompts", choices=("arithmetic", "gsm8k"), default="arithmetic",
        help="arithmetic: the default task's sums (tiny shape); gsm8k: the shipped GSM8K test questions (realistic shape)",
    )


TRL_CPU_RUN = {
    "use_cpu": True, "bf16": False, "fp16": False, "report_to": "none", "save_strategy": "no",
    "disable_tqdm": True, "dataloader_num_workers": 0,
}
"""What both TRL benchmarks give their trainer config: one float32 CPU process, no reporting, no checkpoints."""


def gsm8k_rows() -> list[dict]:
    """The shipped GSM8K test file as question / gold-answer rows (the number after ``####``, commas dropped)."""
    rows = []
    for line in GSM8K.read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        rows.append({"question": record["question"], "answer": record["answer"].rsplit("####", 1)[-1].strip().replace(",", "")})
    return rows
