"""The realistic-shape stand-ins of the speed comparisons: built offline, then briefly SFT-trained.

    python tools/realistic_standin.py dense          # qwen3-dense-25m, 25.2 M parameters
    python tools/realistic_standin.py moe            # qwen3-moe-25m, 25.2 M active of 81.8 M
    python tools/realistic_standin.py dense --print-base   # the untrained folder (SFT benchmarks start from it)

Prints the folder of the trained model (an HF ``save_pretrained`` folder with its
tokenizer) as its last line; ``tools/compare_trl.sh --model dense|moe`` and
``tools/bench_sampler.py --model dense|moe`` call it. The result is cached under
``--out`` (default ``outputs/realistic``): a second call with the same settings
prints the folder at once.

Why SFT at all: a randomly initialised model never emits EOS, so every completion
runs to the length cap, the slowest and least realistic case (a padding-free or
early-exiting sampler has nothing to drop). A brief SFT (:data:`SFT_STEPS` steps of
8 examples, lr 1e-3, packed rows of 384 tokens; 1-2 minutes here) on the GSM8K test
problems shipped in the package, each written as ``<think>`` worked solution
``</think><answer>`` N ``</answer>``, teaches the template's shape but not the
arithmetic: sampled at temperature 1 with a cap of 256 tokens, completions then end
anywhere from a few tokens to the cap (measured: 7-256 tokens, mean 85-113, one in
five to eight truncated), as a real policy's do early in RL. Rewards stay near zero,
which does not matter for timing: no side drops tied groups by default.

The SFT is r1's own ``phase=sft`` with ``model=hf``, so this also exercises the
your-model path on a Qwen3 architecture.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import build_standins  # tools/build_standins.py
from bench_args import GSM8K  # tools/bench_args.py: the shipped GSM8K test file

REPO = Path(__file__).resolve().parents[1]
DEFAULT_OUT = REPO / "outputs" / "realistic"
"""Where stand-ins and their SFT runs are kept unless ``--out`` says otherwise."""
PRESETS = {"dense": "qwen3-dense-25m", "moe": "qwen3-moe-25m"}
"""``--model`` presets of the speed comparisons -> stand-in names in ``tools/build_standins.py``."""
SFT_STEPS = 30


def sft_overrides(base: Path, run_dir: Path, steps: int) -> list[str]:
    """The ``python -m r1.run`` overrides of the brief SFT (every number of it is here)."""
    return [
        "phase=sft", "model=hf", f"model.name_or_path={base}", "model.dtype=float32",
        f"data.path={GSM8K}", "data.prompt_field=question", "data.response_field=null", "data.solution_field=answer",
        "data.max_length=384", "data.packing=true", "data.val_size=0",
        f"phase.max_steps={steps}", "phase.batch_size=8", "phase.optimizer.lr=1e-3", "phase.scheduler.warmup_steps=5",
        "phase.val_at_start=false", "phase.val_every_steps=null", "phase.checkpoint.every_n_steps=null",
        "logger=csv", f"paths.run_dir={run_dir}", "seed=0",
    ]


def realistic_standin(kind: str, out: Path = DEFAULT_OUT, steps: int = SFT_STEPS, base_only: bool = False) -> Path:
    """The folder of stand-in ``kind`` (``dense`` or ``moe``), SFT-trained for ``steps`` unless ``base_only``; cached."""
    if kind not in PRESETS:
        raise SystemExit(f"unknown stand-in preset '{kind}'; choose from: {', '.join(PRESETS)}")
    name = PRESETS[kind]
    base = out / name
    if not (base / "config.json").is_file():
        build_standins.build_standins(out, [name])
    if base_only:
        return base
    run_dir = out / f"{name}-sft{steps}"
    recipe = {"overrides": sft_overrides(base, run_dir, steps)}
    stamp = run_dir / "recipe.json"
    trained = run_dir / "hf"
    if (trained / "config.json").is_file() and stamp.is_file() and json.loads(stamp.read_text()) == recipe:
        return trained
    print(f"[realistic_standin] SFT of {name} for {steps} steps into {run_dir}", file=sys.stderr)
    env = {**os.environ, "R1_DISABLE_PLUGIN_AUTOLOAD": "1"}
    done = subprocess.run([sys.executable, "-m", "r1.run", *recipe["overrides"]], cwd=REPO, env=env,
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if done.returncode != 0 or not (trained / "config.json").is_file():
        tail = "\n".join(done.stderr.strip().splitlines()[-15:])
        raise SystemExit(f"the stand-in's SFT failed (exit {done.returncode}):\n{tail}")
    stamp.write_text(json.dumps(recipe))
    return trained


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("kind", choices=list(PRESETS), help="dense (qwen3-dense-25m) or moe (qwen3-moe-25m)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="where stand-ins and their SFT runs are kept")
    parser.add_argument("--sft-steps", type=int, default=SFT_STEPS)
    parser.add_argument("--print-base", action="store_true", help="build the untrained stand-in only and print its folder")
    args = parser.parse_args(argv)
    print(realistic_standin(args.kind, args.out.resolve(), args.sft_steps, args.print_base))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
