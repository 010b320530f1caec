"""Measure GRPO speed: seconds per step, generated tokens/s, and the time split.

Runs the real ``phase=grpo`` for N steps with the given overrides, then times r1's
sampler and transformers' ``generate`` on the same model and batch (alternating, medians
of 5), and prints one JSON line::

    python tools/bench_grpo.py --model outputs/cache/sft-<hash>/hf --group-size 8 \\
        --prompts-per-step 4 --max-new-tokens 64 --steps 12 [hydra overrides ...]

``s_per_step`` and ``tokens_per_s`` are means over the GRPO steps after ``--warmup``;
``sampler_tokens_per_s`` / ``hf_generate_tokens_per_s`` (and their ratio,
``sampler_speedup_vs_generate``) compare generation alone on one batch.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

from bench_args import GSM8K, add_run_arguments  # tools/bench_args.py: flags shared with bench_trl_grpo.py


def parse() -> tuple[argparse.Namespace, list[str]]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=None, help="saved HF folder or Hub id; default: the cached cold-start SFT model")
    add_run_arguments(parser)
    parser.add_argument("--write-prompts", default=None,
                        help="write the prompts the run trained on, in order, as question/answer JSONL (TRL's side reads them)")
    parser.add_argument("--generation-repeats", type=int, default=5,
                        help="alternating sampler / generate timings after the run (0 = none; compare_trl.sh's realistic presets use 0)")
    return parser.parse_known_args()


def compose(overrides: list[str]):
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir

    from r1.paths import conf_dir

    with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
        return hydra_compose("config", overrides=overrides)


def generation_rates(model, tokenizer, prompts: list[str], group_size: int, max_new_tokens: int, repeats: int = 5) -> dict[str, float]:
    """Median generated tokens/s of r1's sampler and of transformers' ``generate`` on the same batch, taking turns
    (``tools/bench_sampler.py``, which also times vLLM)."""
    from bench_sampler import engine_call, take_turns

    calls = {name: engine_call(name, model, tokenizer, prompts, group_size, max_new_tokens) for name in ("hf", "generate")}
    rates, _ = take_turns(calls, repeats, seed=0, rows=len(prompts) * group_size)
    return {"r1": statistics.median(rates["hf"]), "hf": statistics.median(rates["generate"])}


def write_prompts(completions: Path, out: Path, group_size: int) -> None:
    """The run's prompts in the order it trained on them (one row per group) as ``question`` / ``answer`` JSONL."""
    rows = [json.loads(line) for line in completions.read_text(encoding="utf-8").splitlines()]
    with out.open("w", encoding="utf-8") as handle:
        for row in rows[::group_size]:
            handle.write(json.dumps({"question": row["prompt"], "answer": row["answer"]}) + "\n")


def main() -> None:
    args, overrides = parse()
    if args.threads:
        torch.set_num_threads(args.threads)
    os.environ.setdefault("R1_DISABLE_PLUGIN_AUTOLOAD", "1")
    from r1.data.chat import format_prompt
    from r1.models import load_model
    from r1.phases import dispatch
    from r1.plugins import get_registry

    with tempfile.TemporaryDirectory() as tmp:
        run_dir = Path(tmp) / "run"
        base = [
            "phase=grpo", "logger=none", f"phase.max_steps={args.steps}", "phase.val_prompts=0", "phase.progress_bar=false",
            f"phase.group_size={args.group_size}", f"phase.prompts_per_step={args.prompts_per_step}",
            f"phase.max_new_tokens={args.max_new_tokens}", f"paths.run_dir={run_dir}",
            f"phase.log_completions_every={1 if args.write_prompts else 0}",  # completions.jsonl: the prompts in order
            "phase.checkpoint_every=1000000",  # timing excludes checkpoint writes, as the TRL side has none
        ]
        if args.model:
            base += ["model=hf", f"model.name_or_path={args.model}", "model.dtype=float32"]
        if args.prompts == "gsm8k":  # the shipped test file as a local dataset (the preset's Hub id needs network)
            base += ["task=gsm8k", f"task.path={GSM8K}", "task.subset=null", "task.test_split=null"]
        cfg = compose(base + overrides)
        cfg.paths.output_root = str(Path(tmp) / "outputs") if args.model else cfg.paths.output_root
        started = time.perf_counter()
        summary = dispatch(cfg)
        wall = time.perf_counter() - started
        history = [json.loads(line) for line in (run_dir / "history.jsonl").read_text().splitlines()]
        if args.write_prompts:
            write_prompts(run_dir / "completions.jsonl", Path(args.write_prompts), args.group_size)
        # Every step after the warm-up, as TRL's side times them. The first step has no wall time (it runs from
        # one step's end to the next's), so with --warmup 0 the wall figure covers one step fewer.
        steps = [h for h in history if "time/step_s" in h][args.warmup:]
        walled = [h for h in steps if "time/wall_step_s" in h]
        if not walled:
            raise SystemExit(f"no step left to time: give --steps at least --warmup + 1 and at least 2 (got {args.steps} and {args.warmup})")
        mean = lambda key, rows=steps: sum(h[key] for h in rows) / len(rows)  # noqa: E731
        rates = None  # --generation-repeats 0: the JSON has nulls
        if args.generation_repeats > 0:
            model, tokenizer = load_model({"name_or_path": summary["hf_dir"], "dtype": "float32"})
            task = get_registry(autoload=False).build("task", cfg.task)
            prompts = [format_prompt(tokenizer, s["prompt"]) for s in task.samples("train", args.prompts_per_step, seed=123)]
            model.eval()
            rates = generation_rates(model, tokenizer, prompts, args.group_size, args.max_new_tokens, args.generation_repeats)
        result = {
            "s_per_step": round(mean("time/wall_step_s", walled), 4),  # step to step, Lightning's loop included
            "s_per_step_inner": round(mean("time/step_s"), 4),  # generation -> optimizer step: TRL's inner span
            "tokens_per_s": round(mean("perf/tokens_per_s"), 1),
            # the same batch through r1's sampler and through transformers' generate, alternating
            "sampler_tokens_per_s": round(rates["r1"], 1) if rates else None,
            "hf_generate_tokens_per_s": round(rates["hf"], 1) if rates else None,
            "sampler_speedup_vs_generate": round(rates["r1"] / rates["hf"], 2) if rates else None,
            # train includes reference (the reference model's forward); the rest of train is the policy's forward,
            # backward and the optimizer step
            "split": {k: round(mean(f"time/{k}_s"), 4) for k in ("generate", "score", "train", "reference") if f"time/{k}_s" in steps[0]},
            "completion_length_mean": round(mean("completion/length_mean"), 1),
            "steps_timed": len(steps),
            "wall_s": round(wall, 1),
            "group_size": args.group_size,
            "prompts_per_step": args.prompts_per_step,
            "max_new_tokens": args.max_new_tokens,
            "threads": torch.get_num_threads(),
            "prompts": args.prompts,
        }
    print(json.dumps(result))


if __name__ == "__main__":
    sys.exit(main())
