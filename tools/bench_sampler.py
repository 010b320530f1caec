"""Generated tokens/s of rollout engines on one model and one batch: r1's samplers and transformers' ``generate``.

    python tools/bench_sampler.py --model dense                        # hf sampler vs generate, realistic dense stand-in
    python tools/bench_sampler.py --model moe
    python tools/bench_sampler.py --model MODEL_DIR --prompts arithmetic --max-new-tokens 64
    # vLLM (in a virtualenv with plugins/r1-vllm[cpu], e.g. the one tools/vllm_check.sh builds):
    .venv-vllm/bin/python tools/bench_sampler.py --model dense --engines hf,generate,vllm

``--model dense|moe`` is a realistic stand-in (``tools/realistic_standin.py``: 25 M
parameters, briefly SFT-trained so completion lengths vary). The batch is GRPO's: P
prompts (GSM8K test questions by default), G samples each, temperature 1, at most N new
tokens, stopping at EOS or ``</answer>``. Each engine runs once to warm up (vLLM builds
its engine then), then the engines take turns ``--repeats`` times, the order rotating
each round, so a machine whose speed drifts slows all alike. Tokens are every generated
token up to and including the stop token; the time is the whole call, as a trainer
sees it (for r1's samplers: encoding, the rollout tensors and log-probs included).

Prints one JSON line: each engine's median tokens/s and mean completion length, and each
engine's median paired ratio over ``generate`` (same round).

Engines: ``hf`` (``sampler=hf``, r1's default), ``generate`` (``model.generate`` with
sampling arguments that match), ``vllm`` (``sampler=vllm sampler.dtype=float32``, the
engine colocated in this process; needs the plugin).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import time
from collections.abc import Callable

import torch

from bench_args import gsm8k_rows

ENGINES = ("hf", "generate", "vllm")


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True, help="dense | moe (realistic stand-ins) or a saved HF folder")
    parser.add_argument("--engines", default="hf,generate", help=f"comma-separated, from: {', '.join(ENGINES)}")
    parser.add_argument("--prompts", choices=("gsm8k", "arithmetic"), default="gsm8k")
    parser.add_argument("--group-size", type=int, default=8)
    parser.add_argument("--prompts-per-step", type=int, default=4)
    parser.add_argument("--max-new-tokens", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    args.engines = [name.strip() for name in args.engines.split(",") if name.strip()]
    unknown = [name for name in args.engines if name not in ENGINES]
    if unknown or not args.engines:
        parser.error(f"unknown engine '{unknown[0] if unknown else ''}'; choose from: {', '.join(ENGINES)}")
    return args


def model_folder(name: str) -> str:
    """A preset's trained stand-in folder, or ``name`` itself."""
    from realistic_standin import PRESETS, realistic_standin

    if name in PRESETS:
        return str(realistic_standin(name))
    if not os.path.isdir(name):
        raise SystemExit(f"no such model folder: {name} (give a folder, or dense / moe)")
    return name


def batch_prompts(kind: str, tokenizer, count: int, seed: int) -> list[str]:
    """``count`` rendered prompts: GSM8K test questions, or the arithmetic task's training sums."""
    from r1.data.chat import format_prompt

    if kind == "gsm8k":
        questions = [row["question"] for row in random.Random(seed).sample(gsm8k_rows(), count)]
    else:
        from bench_sft_packing import arithmetic_examples

        questions = arithmetic_examples(count, seed)[0]
    return [format_prompt(tokenizer, question) for question in questions]


def r1_sampler(overrides: list[str]):
    """A sampler built the way a run builds it, from the composed ``sampler`` config node."""
    from hydra import compose, initialize_config_dir

    from r1.paths import conf_dir
    from r1.plugins import get_registry

    with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
        cfg = compose("config", overrides=overrides)
    return get_registry().build("sampler", cfg.sampler)


def engine_call(name: str, model, tokenizer, prompts: list[str], group_size: int, max_new_tokens: int) -> Callable[[int], tuple[int, float]]:
    """A function of a seed that generates the batch (``group_size`` samples of each prompt) once: (tokens generated, seconds)."""
    from r1.samplers.hf import encode_prompts, stop_token_ids

    if name == "generate":
        ids, mask = encode_prompts(tokenizer, [p for p in prompts for _ in range(group_size)])
        stops = stop_token_ids(tokenizer, ["</answer>"])

        def run(seed: int) -> tuple[int, float]:
            torch.manual_seed(seed)
            start = time.perf_counter()
            out = model.generate(input_ids=ids, attention_mask=mask, max_new_tokens=max_new_tokens, do_sample=True, temperature=1.0,
                                 top_p=1.0, top_k=0, eos_token_id=stops, pad_token_id=tokenizer.pad_token_id)
            seconds = time.perf_counter() - start
            new = out[:, ids.shape[1]:]
            stopped = torch.isin(new, torch.tensor(stops))
            # tokens up to and including the first stop token (or all of them)
            lengths = torch.where(stopped.any(1), stopped.float().argmax(1) + 1, torch.full((new.shape[0],), new.shape[1]))
            return int(lengths.sum()), seconds

        return run
    sampler = r1_sampler(["sampler=hf"] if name == "hf" else ["sampler=vllm", "sampler.dtype=float32"])

    def run(seed: int) -> tuple[int, float]:
        start = time.perf_counter()
        rollout = sampler.generate(model, tokenizer, prompts, num_samples=group_size, max_new_tokens=max_new_tokens,
                                   temperature=1.0, top_p=1.0, seed=seed, return_logprobs=True)
        return int(rollout.completion_mask.sum()), time.perf_counter() - start

    return run


def take_turns(calls: dict[str, Callable[[int], tuple[int, float]]], repeats: int, seed: int, rows: int):
    """Each engine once to warm up, then ``repeats`` rounds in a rotating order: tokens/s and mean length per run."""
    for call in calls.values():  # warm-up (vLLM builds its engine here)
        call(seed)
    rates: dict[str, list[float]] = {name: [] for name in calls}
    lengths: dict[str, list[float]] = {name: [] for name in calls}
    order = list(calls)
    for round_index in range(repeats):
        shift = round_index % len(order)
        for name in order[shift:] + order[:shift]:
            tokens, seconds = calls[name](seed + 1 + round_index)
            rates[name].append(tokens / seconds)
            lengths[name].append(tokens / rows)
    return rates, lengths


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    from r1.models import load_model

    folder = model_folder(args.model)
    model, tokenizer = load_model({"name_or_path": folder, "dtype": "float32"})
    model.eval()
    prompts = batch_prompts(args.prompts, tokenizer, args.prompts_per_step, args.seed)
    calls = {name: engine_call(name, model, tokenizer, prompts, args.group_size, args.max_new_tokens) for name in args.engines}
    rates, lengths = take_turns(calls, args.repeats, args.seed, rows=len(prompts) * args.group_size)
    result = {
        "model": folder,
        "tokens_per_s": {name: round(statistics.median(values), 1) for name, values in rates.items()},
        "completion_length_mean": {name: round(statistics.fmean(values), 1) for name, values in lengths.items()},
        "runs_tokens_per_s": {name: [round(v, 1) for v in values] for name, values in rates.items()},
    }
    if "generate" in rates:
        result["over_generate_paired_median"] = {
            name: round(statistics.median(a / b for a, b in zip(values, rates["generate"])), 2)
            for name, values in rates.items() if name != "generate"
        }
    result.update(group_size=args.group_size, prompts_per_step=args.prompts_per_step, max_new_tokens=args.max_new_tokens,
                  prompts=args.prompts, repeats=args.repeats, threads=torch.get_num_threads())
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
