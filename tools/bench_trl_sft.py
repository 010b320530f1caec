"""Tokens/s of TRL's SFTTrainer on given examples, to set beside ``tools/bench_sft_packing.py``.

Runs inside TRL's virtual environment (``tools/compare_trl_sft.sh`` makes it and calls
this); it does not import r1. Reads the JSONL that ``bench_sft_packing.py
--write-examples`` wrote (``prompt``: the rendered chat prompt, ``completion``: the
response), so both sides train on the same text, and prints one JSON line::

    python tools/bench_trl_sft.py --model FOLDER --examples ex.jsonl --packing false --batch-size 16 --max-length 384

The matched settings: prompt-completion data with the loss on the completion only, EOS
appended to each completion, examples cut at ``--max-length`` tokens, AdamW (lr 1e-4,
no weight decay, a constant schedule), gradient clipping at 1.0, float32, one optimizer
step per batch. ``--packing false`` pads each batch to its longest example (TRL's
default); ``--packing true`` is TRL's own packing (best-fit decreasing into rows of
``--max-length`` tokens, padding-free, position ids restarting per example), with as
many rows per step as hold ``--batch-size`` examples of the data's mean length, so a
step sees about as many tokens either way.

``tokens_per_s`` counts real tokens (prompt + completion + EOS, no padding) over the
``on_step_begin`` -> ``on_step_end`` spans after ``--warmup`` steps: forward, backward,
clipping and the optimizer step, as r1's benchmark times them (collation is outside
both).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import statistics
import sys
import tempfile
import time

from bench_args import TRL_CPU_RUN  # tools/bench_args.py: settings shared with bench_trl_grpo.py


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True, help="saved HF folder (model + tokenizer)")
    parser.add_argument("--examples", required=True, help="JSONL of prompt / completion rows")
    parser.add_argument("--packing", choices=("false", "true"), default="false")
    parser.add_argument("--batch-size", type=int, default=16, help="examples per step (packed: rows holding about this many)")
    parser.add_argument("--max-length", type=int, default=384)
    parser.add_argument("--steps", type=int, default=6, help="timed steps")
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    return parser.parse_args()


def main() -> None:
    args = parse()
    import torch
    import transformers
    import trl
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer, TrainerCallback
    from trl import SFTConfig, SFTTrainer

    if args.threads:
        torch.set_num_threads(args.threads)
    transformers.logging.set_verbosity_error()
    packing = args.packing == "true"
    tokenizer = AutoTokenizer.from_pretrained(args.model)
    model = AutoModelForCausalLM.from_pretrained(args.model, dtype=torch.float32, attn_implementation="sdpa")
    with open(args.examples, encoding="utf-8") as handle:
        rows = [json.loads(line) for line in handle]
    rows_per_step = args.batch_size
    if packing:  # as many rows of max_length as hold batch_size examples of the mean length (+1: the EOS TRL appends)
        lengths = [min(args.max_length, len(tokenizer(r["prompt"] + r["completion"], add_special_tokens=False)["input_ids"]) + 1) for r in rows]
        rows_per_step = max(1, math.ceil(args.batch_size * statistics.fmean(lengths) / args.max_length))
    pad_id = tokenizer.pad_token_id

    class StepTimer(TrainerCallback):
        def __init__(self) -> None:
            self.begin = 0.0
            self.spans: list[float] = []
            self.tokens: list[int] = []
            self.pending = 0

        def on_step_begin(self, *_, **__):
            self.begin = time.perf_counter()

        def on_step_end(self, *_, **__):
            self.spans.append(time.perf_counter() - self.begin)
            self.tokens.append(self.pending)
            self.pending = 0

    timer = StepTimer()
    with tempfile.TemporaryDirectory() as tmp:
        config = SFTConfig(
            output_dir=tmp,
            max_length=args.max_length,
            packing=packing,
            completion_only_loss=True,
            per_device_train_batch_size=rows_per_step,
            gradient_accumulation_steps=1,
            learning_rate=args.lr,
            lr_scheduler_type="constant",
            warmup_steps=0,
            weight_decay=0.0,
            max_grad_norm=1.0,
            max_steps=args.warmup + args.steps,
            logging_steps=10_000,
            seed=args.seed,
            **TRL_CPU_RUN,
        )
        trainer = SFTTrainer(model=model, args=config, train_dataset=Dataset.from_list(rows), processing_class=tokenizer, callbacks=[timer])
        original_step = trainer.training_step

        def counted_step(model, inputs, *rest, **kwargs):
            ids = inputs["input_ids"]
            timer.pending += int((ids != pad_id).sum()) if pad_id is not None else int(ids.numel())
            return original_step(model, inputs, *rest, **kwargs)

        trainer.training_step = counted_step
        started = time.perf_counter()
        with contextlib.redirect_stdout(sys.stderr):
            trainer.train()
        wall = time.perf_counter() - started
    spans, tokens = timer.spans[args.warmup:], timer.tokens[args.warmup:]
    if not spans:
        raise SystemExit(f"no steps left to time: {len(timer.spans)} steps, warmup {args.warmup}")
    print(json.dumps({
        "side": f"trl-{'packed' if packing else 'padded'}",
        "tokens_per_s": round(sum(tokens) / sum(spans), 1),
        "tokens_per_step": round(statistics.fmean(tokens), 1),
        "s_per_step": round(statistics.fmean(spans), 4),
        "rows_per_step": rows_per_step,
        "steps_timed": len(spans),
        "wall_s": round(wall, 1),
        "max_length": args.max_length,
        "threads": torch.get_num_threads(),
        "trl_version": trl.__version__,
        "transformers_version": transformers.__version__,
    }))


if __name__ == "__main__":
    sys.exit(main())
