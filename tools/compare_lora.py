"""GRPO with LoRA against full fine-tuning, from the same cold-start SFT model, over seeds.

    python tools/compare_lora.py [--seeds 0 1 2] [--threads 1] [--lora experiment=grpo_lora]

For each seed, runs ``python -m r1.run phase=grpo seed=<s> logger=none`` twice,
alternating: full fine-tuning (``conf/phase/grpo.yaml`` as it is) and LoRA (the
``--lora`` overrides, by default ``experiment=grpo_lora``). Both start from the same
cold-start SFT model, trained fully once per seed and cached (``phase.sft`` keeps LoRA
off for it), so the held-out accuracy before GRPO is the same for both, and what
differs is GRPO alone. Each run is a process of its own, one at a time (two torch
processes on two cores slow each other many times over).

Prints one Markdown row per run: held-out greedy pass@1 before and after GRPO, the
gain, GRPO's own seconds (``summary.json``: the fit, without loading or export) and
trainable parameters; then per seed the LoRA gain and time against full fine-tuning's.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
FULL_SFT = "phase.sft=['phase.max_steps=300','model.lora.enabled=false']"
"""The cold-start SFT both variants start from: conf/phase/grpo.yaml's, with LoRA off (the built-in model starts random)."""


def run(seed: int, overrides: list[str], threads: int | None, root: Path) -> dict:
    command = [sys.executable, "-m", "r1.run", "phase=grpo", f"seed={seed}", "logger=none", "phase.progress_bar=false",
               f"paths.output_root={root}", FULL_SFT, *overrides]
    env = dict(os.environ, **({"OMP_NUM_THREADS": str(threads)} if threads else {}))
    result = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"seed {seed} {' '.join(overrides) or 'full'} failed:\n{result.stderr[-3000:]}")
    (summary,) = sorted(root.glob("grpo/*/*/summary.json"), key=lambda p: p.stat().st_mtime)[-1:]
    return json.loads(summary.read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--threads", type=int, default=None, help="OMP_NUM_THREADS for the runs (default: torch's own)")
    parser.add_argument("--lora", nargs="+", default=["experiment=grpo_lora"], help="overrides that make the LoRA run")
    parser.add_argument("--variants", nargs="+", choices=("full", "lora"), default=["full", "lora"])
    parser.add_argument("--output-root", type=Path, default=None, help="where runs go (default: a temporary folder)")
    args = parser.parse_args()
    root = args.output_root or Path(tempfile.mkdtemp(prefix="r1-lora-"))
    print(f"runs under {root}; LoRA = {' '.join(args.lora)}", flush=True)
    print("| seed | GRPO | pass@1 before | pass@1 after | gain (pts) | GRPO s | trainable params |\n|---|---|---|---|---|---|---|", flush=True)
    results: dict[tuple[int, str], dict] = {}
    for seed in args.seeds:
        for variant in args.variants:
            summary = run(seed, args.lora if variant == "lora" else [], args.threads, root)
            results[seed, variant] = summary
            before, after = summary["initial/accuracy"], summary["final/accuracy"]
            print(f"| {seed} | {variant} | {before:.3f} | {after:.3f} | {100 * (after - before):+.1f} | {summary['seconds']:.0f} | "
                  f"{summary['model/trainable_parameters']:,} |", flush=True)
    for seed in args.seeds:
        if (seed, "full") in results and (seed, "lora") in results:
            full, lora = results[seed, "full"], results[seed, "lora"]
            print(f"seed {seed}: LoRA time / full time = {lora['seconds'] / full['seconds']:.2f}", flush=True)


if __name__ == "__main__":
    main()
