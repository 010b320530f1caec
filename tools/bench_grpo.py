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
import sys
import tempfile
import time
from pathlib import Path

import torch

from bench_args import add_run_arguments  # tools/bench_args.py: flags shared with bench_trl_grpo.py


def parse() -> tuple[argparse.Namespace, list[str]]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=None, help="saved HF folder or Hub id; default: the cached cold-start SFT model")
    add_run_arguments(parser)
    return parser.parse_known_args()


def compose(overrides: list[str]):
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir

    from r1.paths import conf_dir

    with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
        return hydra_compose("config", overrides=overrides)


def generation_rates(model, tokenizer, prompts: list[str], group_size: int, max_new_tokens: int, repeats: int = 5) -> dict[str, float]:
    """Generated tokens/s of r1's sampler and of transformers' ``generate`` on the same batch.

    Both sample G completions of each prompt at temperature 1, stop at EOS or </answer>, and
    count tokens up to and including the stop token. The two alternate ``repeats`` times after
    one warm-up each, and the medians are reported, so a noisy machine slows both alike.
    """
    import statistics

    from r1.samplers.hf import HFSampler, encode_prompts, stop_token_ids

    ids, mask = encode_prompts(tokenizer, [p for p in prompts for _ in range(group_size)])
    stops = stop_token_ids(tokenizer, ["</answer>"])
    sampler = HFSampler()

    def generate() -> float:
        start = time.perf_counter()
        out = model.generate(input_ids=ids, attention_mask=mask, max_new_tokens=max_new_tokens, do_sample=True, temperature=1.0, top_p=1.0,
                             top_k=0, eos_token_id=stops, pad_token_id=tokenizer.pad_token_id)
        seconds = time.perf_counter() - start
        new = out[:, ids.shape[1]:]
        stopped = torch.isin(new, torch.tensor(stops))
        # tokens up to and including the first stop token (or all of them)
        first_stop = torch.where(stopped.any(1), stopped.float().argmax(1) + 1, torch.full((new.shape[0],), new.shape[1]))
        return float(first_stop.sum()) / seconds

    def ours(seed: int) -> float:
        out = sampler.generate(model, tokenizer, prompts, num_samples=group_size, max_new_tokens=max_new_tokens, temperature=1.0, seed=seed)
        return out.stats["tokens_per_s"]

    generate(), ours(0)  # warm-up
    hf, r1 = [], []
    for i in range(repeats):
        r1.append(ours(i + 1))
        hf.append(generate())
    return {"r1": statistics.median(r1), "hf": statistics.median(hf)}


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
            f"phase.max_new_tokens={args.max_new_tokens}", f"paths.run_dir={run_dir}", "phase.log_completions_every=0",
            "phase.checkpoint_every=1000000",  # timing excludes checkpoint writes, as the TRL side has none
        ]
        if args.model:
            base += ["model=hf", f"model.name_or_path={args.model}", "model.dtype=float32"]
        cfg = compose(base + overrides)
        cfg.paths.output_root = str(Path(tmp) / "outputs") if args.model else cfg.paths.output_root
        started = time.perf_counter()
        summary = dispatch(cfg)
        wall = time.perf_counter() - started
        history = [json.loads(line) for line in (run_dir / "history.jsonl").read_text().splitlines()]
        steps = [h for h in history if "time/wall_step_s" in h][args.warmup:]
        mean = lambda key: sum(h[key] for h in steps) / len(steps)  # noqa: E731
        model, tokenizer = load_model({"name_or_path": summary["hf_dir"], "dtype": "float32"})
        task = get_registry(autoload=False).build("task", cfg.task)
        prompts = [format_prompt(tokenizer, s["prompt"]) for s in task.samples("train", args.prompts_per_step, seed=123)]
        model.eval()
        rates = generation_rates(model, tokenizer, prompts, args.group_size, args.max_new_tokens)
        result = {
            "s_per_step": round(mean("time/wall_step_s"), 4),
            "s_per_step_inner": round(mean("time/step_s"), 4),
            "tokens_per_s": round(mean("perf/tokens_per_s"), 1),
            # the same batch through r1's sampler and through transformers' generate, alternating
            "sampler_tokens_per_s": round(rates["r1"], 1),
            "hf_generate_tokens_per_s": round(rates["hf"], 1),
            "sampler_speedup_vs_generate": round(rates["r1"] / rates["hf"], 2),
            "split": {k: round(mean(f"time/{k}_s"), 4) for k in ("generate", "score", "train")},
            "completion_length_mean": round(mean("completion/length_mean"), 1),
            "steps_timed": len(steps),
            "wall_s": round(wall, 1),
            "group_size": args.group_size,
            "prompts_per_step": args.prompts_per_step,
            "max_new_tokens": args.max_new_tokens,
            "threads": torch.get_num_threads(),
        }
    print(json.dumps(result))


if __name__ == "__main__":
    sys.exit(main())
