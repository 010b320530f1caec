"""The default recipe with and without MoE load balancing, side by side over seeds.

    python tools/compare_moe_balance.py [--seeds 0 1 2] [--threads 1]

For each seed, runs ``python -m r1.run seed=<s> logger=none`` twice, alternating: once
with balancing off (``model.balance.bias_update_speed=0 model.balance.seq_aux_weight=0``),
once as shipped (``conf/model/tiny_moe.yaml``). Each pipeline's ``report.json`` gives
held-out pass@1 of the SFT and GRPO models and their expert load, measured on 64
held-out problems (:func:`r1.phases.pipeline._expert_loads`). Prints one Markdown table:
per run, pass@1 and the worst layer's max/mean and min/mean load, on the reference responses
of 64 held-out problems and, for GRPO, in its own training forwards (its last 10 steps, from
history.jsonl). Each pipeline takes about 4 minutes on two CPU cores; run nothing else
meanwhile.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
OFF = ["model.balance.bias_update_speed=0", "model.balance.seq_aux_weight=0"]
STARVED = 0.25
"""An expert below this share of its layer's mean load counts as starved (the target: none)."""


def run(seed: int, balanced: bool, threads: int | None, root: Path) -> dict:
    command = [sys.executable, "-m", "r1.run", f"seed={seed}", "logger=none", f"paths.output_root={root}", *([] if balanced else OFF)]
    env = {**os.environ, **({"OMP_NUM_THREADS": str(threads)} if threads else {})}
    started = time.perf_counter()
    result = subprocess.run(command, cwd=REPO, capture_output=True, text=True, env=env)
    if result.returncode != 0:
        raise SystemExit(f"seed {seed} ({'on' if balanced else 'off'}) failed:\n{result.stderr[-3000:]}")
    report_path = re.search(r"\[pipeline\] report: (\S+)", result.stdout).group(1)
    report = json.loads(Path(report_path).with_name("report.json").read_text())
    report["wall_s"] = time.perf_counter() - started
    return report


LAST_STEPS = 10
"""GRPO steps whose training-forward load is averaged for the "GRPO trained on" columns."""


def training_load(history: Path) -> tuple[float, float]:
    """Mean over GRPO's last steps of the worst layer's max/mean and min/mean load, in its own training forwards."""
    rows = [json.loads(line) for line in history.read_text().splitlines()]
    rows = [r for r in rows if "moe/max_mean" in r][-LAST_STEPS:]
    layers = sorted({key.split("/")[1] for r in rows for key in r if key.startswith("moe/layer")})
    worst_max = sum(r["moe/max_mean"] for r in rows) / len(rows)
    worst_min = sum(min(r[f"moe/{layer}/min_mean"] for layer in layers) for r in rows) / len(rows)
    return worst_max, worst_min


def row(seed: int, balanced: bool, report: dict) -> str:
    load = report["expert_load"]
    scores = report["scores"]
    cells = [str(seed), "on" if balanced else "off"]
    for stage in ("sft", "grpo"):
        cells.append(f"{100 * scores[stage]['pass@1']:.1f}")
    for stage in ("sft", "grpo"):
        layers = load[stage]
        cells += [f"{max(r['max_mean'] for r in layers.values()):.2f}", f"{min(r['min_mean'] for r in layers.values()):.2f}"]
    trained = training_load(Path(report["folder"]) / "grpo" / "history.jsonl")
    cells += [f"{trained[0]:.2f}", f"{trained[1]:.2f}"]
    cells.append(f"{report['wall_s'] / 60:.1f} min")
    return "| " + " | ".join(cells) + " |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--threads", type=int, default=None, help="OMP_NUM_THREADS for the runs (default: unset)")
    parser.add_argument("--output-root", type=Path, default=REPO / "outputs" / "moe_balance")
    parser.add_argument("--variants", nargs="+", choices=("off", "on"), default=["off", "on"], help="which runs per seed (default both)")
    args = parser.parse_args()
    lines = [
        "| seed | balance | SFT pass@1 | GRPO pass@1 | SFT max/mean | SFT min/mean | GRPO max/mean | GRPO min/mean "
        "| GRPO trained on: max/mean | min/mean | wall |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for seed in args.seeds:
        for balanced in [variant == "on" for variant in args.variants]:
            report = run(seed, balanced, args.threads, args.output_root)
            lines.append(row(seed, balanced, report))
            print(lines[-1], flush=True)
    print("\n".join(lines))
    print(
        f"(max/mean and min/mean: the worst MoE layer, on 64 held-out problems' reference responses; min/mean >= {STARVED} means no "
        f"expert below {int(100 * STARVED)} % of mean load. 'GRPO trained on': the same over GRPO's own training forwards, its last {LAST_STEPS} steps)"
    )


if __name__ == "__main__":
    main()
