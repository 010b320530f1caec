"""Tokens per second of SFT steps on padded batches and on packed ones (``data.packing``), same data.

    python tools/bench_sft_packing.py                                    # tiny MoE, arithmetic task and a mix of lengths
    python tools/bench_sft_packing.py --model /tmp/standins/qwen3-dense-50m --data mixed --max-length 256
    python tools/build_standins.py /tmp/standins --only qwen3-dense-50m  # builds that stand-in (offline)
    python tools/bench_sft_packing.py --model dense --data gsm8k --max-length 384   # the realistic shape
    bash tools/compare_trl_sft.sh --model dense                          # beside TRL's SFTTrainer (calls this)

One SFT step here is what :class:`r1.phases.sft.SFTModule` does per micro-batch without
Lightning around it: the loss (:func:`r1.phases.sft.sft_loss`), its backward, gradient clipping at 1.0 and an AdamW
step. Both arms train a fresh copy of the same initial weights on the same batches (the
SFT batch sampler's, seeded), one collated by :class:`r1.data.sft.Collator` (padded to the
batch's longest example), the other by :class:`r1.data.packing.PackingCollator` (rows of at
most ``--max-length`` tokens). Throughput counts real tokens only (prompt + response + EOS),
so padding is work that does not count. Runs alternate (padded, packed, packed, padded, ...)
so drifting machine load hits both arms alike; the result is each arm's median and the
median of the paired ratios packed / padded.

Data sets: ``arithmetic`` is the default task's reference examples (short, similar
lengths: little padding to save); ``mixed`` gives examples whose response lengths spread
log-uniformly from 4 tokens to ``--max-length`` (much padding in a padded batch);
``gsm8k`` is the GSM8K test problems shipped in the package, each solution made an R1
response the way ``data.solution_field`` makes it (real lengths: 60-400 tokens).

``--model dense|moe`` is the untrained realistic stand-in (``tools/realistic_standin.py``).
``--write-examples FILE`` also writes the examples as JSONL rows of ``prompt`` (the
rendered chat prompt) and ``completion`` (the response), for ``tools/bench_trl_sft.py``.
"""

from __future__ import annotations

import argparse
import copy
import json
import random
import statistics
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
WORDS = "the of and to in is was for on that with as by at from his her an which or be are".split()


def arithmetic_examples(n: int, seed: int) -> tuple[list[str], list[str]]:
    """The arithmetic task's training examples, as ``conf/task/arithmetic.yaml`` sets it up."""
    from omegaconf import OmegaConf

    from r1.tasks.arithmetic import ArithmeticTask

    node = OmegaConf.to_container(OmegaConf.load(REPO / "conf" / "task" / "arithmetic.yaml"))
    samples = ArithmeticTask(**{key: value for key, value in node.items() if key != "name"}).samples("train", n, seed=seed)
    return [s["prompt"] for s in samples], [s["response"] for s in samples]


def mixed_examples(n: int, seed: int, tokenizer, max_tokens: int) -> tuple[list[str], list[str]]:
    """Prompts of 3-12 words and responses of 4 to ``max_tokens`` tokens, lengths spread log-uniformly."""
    rng = random.Random(seed)
    prompts, responses = [], []
    for _ in range(n):
        prompts.append(" ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 12))))
        tokens = int(round(4 * (max_tokens / 4) ** rng.random()))
        text = " ".join(rng.choice(WORDS) for _ in range(max_tokens))
        responses.append(tokenizer.decode(tokenizer(text, add_special_tokens=False)["input_ids"][:tokens]))
    return prompts, responses


def gsm8k_examples(n: int, seed: int) -> tuple[list[str], list[str]]:
    """The shipped GSM8K test problems and their solutions as R1 responses (``data.solution_field=answer``)."""
    from omegaconf import OmegaConf

    from bench_args import GSM8K
    from r1.data.datasets import load_training_set

    data = OmegaConf.to_container(OmegaConf.load(REPO / "conf" / "_data" / "default.yaml"))
    data.update(path=str(GSM8K), prompt_field="question",
                response_field=None, solution_field="answer", max_samples=n)
    table = load_training_set(data, None, seed).table
    return list(table["prompt"]), list(table["response"])


def load(model_path: str | None, seed: int):
    """``(model, tokenizer)``: a saved folder, a realistic stand-in (dense, moe), or the tiny DeepSeek-V3 MoE."""
    from r1.models import load_model

    from realistic_standin import PRESETS, realistic_standin

    if model_path in PRESETS:
        model_path = str(realistic_standin(model_path, base_only=True))
    if model_path:
        node = {"name_or_path": model_path, "tokenizer": None, "dtype": "float32", "attn_implementation": "sdpa", "trust_remote_code": False, "architecture": None}
        return load_model(node)
    from omegaconf import OmegaConf

    node = OmegaConf.load(REPO / "conf" / "model" / "tiny_moe.yaml")
    node = {key: node[key] for key in ("name_or_path", "tokenizer", "dtype", "attn_implementation", "trust_remote_code")}
    arch = OmegaConf.to_container(OmegaConf.load(REPO / "conf" / "model" / "tiny_moe.yaml").architecture, resolve=False)
    arch["seed"] = seed
    return load_model({**node, "architecture": arch})


def synchronize(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def run_arm(model, batches, lr: float, device: str) -> float:
    """Seconds to train ``model`` (a fresh copy) on ``batches``: loss, backward, clipping, AdamW step each."""
    from r1.phases.sft import sft_loss

    model = copy.deepcopy(model).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, foreach=True)
    batches = [{key: value.to(device) for key, value in batch.items()} for batch in batches]
    synchronize(device)
    start = time.perf_counter()
    for batch in batches:
        loss, _ = sft_loss(model, batch)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)  # phase.trainer.gradient_clip_val
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
    synchronize(device)
    return time.perf_counter() - start


def bench(args: argparse.Namespace, data: str) -> dict:
    from r1.data.packing import PackingCollator
    from r1.data.sft import Collator, ResumableBatchSampler, tokenize_examples

    model, tokenizer = load(args.model, args.seed)
    model.to(args.device)
    if data == "arithmetic":
        prompts, responses = arithmetic_examples(args.examples, args.seed)
    elif data == "gsm8k":
        prompts, responses = gsm8k_examples(args.examples, args.seed)
    else:
        prompts, responses = mixed_examples(args.examples, args.seed, tokenizer, args.max_length)
    examples = tokenize_examples(tokenizer, prompts, responses, max_length=args.max_length)
    if args.write_examples:
        from r1.data.chat import format_prompt

        with open(args.write_examples, "w", encoding="utf-8") as handle:
            for prompt, response in zip(prompts, responses):
                handle.write(json.dumps({"prompt": format_prompt(tokenizer, prompt), "completion": response}) + "\n")
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    sampler = iter(ResumableBatchSampler(len(examples), args.batch_size, seed=args.seed))
    chosen = [[examples[i] for i in next(sampler)] for _ in range(args.warmup + args.steps)]
    arms = {"padded": [Collator(pad, True)(b) for b in chosen], "packed": [PackingCollator(pad, True, args.max_length)(b) for b in chosen]}
    tokens = sum(int(ids.numel()) for batch in chosen[args.warmup :] for ids, _ in batch)
    slots = {name: sum(b["input_ids"].numel() for b in batches[args.warmup :]) for name, batches in arms.items()}
    for batches in arms.values():
        run_arm(model, batches[: args.warmup], args.lr, args.device)  # first-call costs out of the timings
    rates: dict[str, list[float]] = {"padded": [], "packed": []}
    for repeat in range(args.repeats):
        order = ("padded", "packed") if repeat % 2 == 0 else ("packed", "padded")
        for name in order:
            rates[name].append(tokens / run_arm(model, arms[name][args.warmup :], args.lr, args.device))
    ratios = [packed / padded for padded, packed in zip(rates["padded"], rates["packed"])]
    lengths = examples.lengths().float()
    return {
        "data": data,
        "model": args.model or "tiny_moe (conf/model/tiny_moe.yaml)",
        "parameters": sum(p.numel() for p in model.parameters()),
        "examples_tokens_mean": round(float(lengths.mean()), 1),
        "examples_tokens_max": int(lengths.max()),
        "device": args.device,
        "threads": torch.get_num_threads(),
        "steps": args.steps,
        "batch_size": args.batch_size,
        "padding_share": {name: round(1 - tokens / slots[name], 3) for name in slots},
        "tokens_per_s_median": {name: round(statistics.median(values), 1) for name, values in rates.items()},
        "packed_over_padded_median": round(statistics.median(ratios), 3),
        "ratios": [round(r, 3) for r in ratios],
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=None, help="a saved Hugging Face folder, or dense / moe (realistic stand-ins); default: the tiny MoE")
    parser.add_argument("--data", choices=["arithmetic", "mixed", "gsm8k", "both"], default="both", help="both = arithmetic and mixed")
    parser.add_argument("--write-examples", default=None, help="also write the examples here as prompt/completion JSONL (for TRL)")
    parser.add_argument("--max-length", type=int, default=256, help="data.max_length: the examples' cap and a packed row's capacity")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--examples", type=int, default=512)
    parser.add_argument("--steps", type=int, default=6, help="timed SFT steps per run")
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=4, help="runs of each arm, alternated")
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    for data in (["arithmetic", "mixed"] if args.data == "both" else [args.data]):
        print(json.dumps(bench(args, data)), flush=True)


if __name__ == "__main__":
    main()
