"""``python -m r1.moe <folder>``: how evenly a saved Mixture-of-Experts policy spreads its tokens.

Loads a saved Hugging Face folder (an SFT, GRPO or distillation output), runs
teacher-forced forwards over prompt + reference response for a sample of prompts (the
arithmetic task's held-out split by default, or a JSONL file's rows) and prints
:func:`r1.models.moe_stats.load_table`: per MoE layer the max/mean and min/mean load,
the experts that get almost nothing, the entropy of the shares, DeepSeek-V3's balancing
bias spread, then each expert's share. The counts are those of
:func:`r1.models.moe_stats.measure_expert_load`, which the pipeline report's
expert-load plot uses too.

User mistakes (a folder that is not a model, a dense model, a missing or malformed
prompt file) end with one line on stderr and exit status 2, as ``python -m r1.run`` does.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path
from typing import Any

from r1.errors import DataError, R1Error, fail


DEFAULT_PROMPTS = 64
"""Prompts measured unless ``--prompts`` says otherwise: a few thousand routed tokens, a second on the tiny model."""

DEFAULT_BATCH_SIZE = 16
"""Sequences per forward unless ``--batch-size`` says otherwise."""

def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m r1.moe", description="Expert load of a saved MoE model, per layer and expert.")
    p.add_argument("folder", help="a saved Hugging Face model folder (e.g. outputs/.../hf)")
    p.add_argument("--prompts", type=int, default=DEFAULT_PROMPTS, help=f"prompts to run (default {DEFAULT_PROMPTS})")
    p.add_argument("--task", default="arithmetic", help="'arithmetic' (its test split, conf/task/arithmetic.yaml) or a JSONL file with a prompt field")
    p.add_argument("--prompt-field", default="prompt", help="the JSONL field holding the user message (default prompt)")
    p.add_argument("--response-field", default="response", help="the JSONL field holding a reference response, appended when a row has it (default response)")
    p.add_argument("--max-length", type=int, default=None, help="tokens per sequence, longer ones are cut (default: the model's context length)")
    p.add_argument("--batch-size", type=int, default=DEFAULT_BATCH_SIZE, help=f"sequences per forward (default {DEFAULT_BATCH_SIZE})")
    p.add_argument("--seed", type=int, default=0, help="which prompts are drawn (default 0)")
    p.add_argument("--device", default="cpu", help="where the model runs: cpu, cuda, cuda:1, ... (default cpu)")
    return p


def jsonl_samples(path: str, n: int, seed: int, prompt_field: str, response_field: str) -> list[dict[str, Any]]:
    """``n`` rows of a JSONL file (all of them when it has fewer), drawn with ``seed``, as ``prompt`` / ``response`` samples."""
    file = Path(path).expanduser()
    if not file.is_file():
        raise DataError(f"--task '{path}' is neither 'arithmetic' nor an existing JSONL file; give a file with one JSON object per line")
    rows = []
    for number, line in enumerate(file.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError as error:
            raise DataError(f"{file}:{number} is not JSON ({error.msg}); give one JSON object per line") from error
        if not isinstance(row, dict) or not isinstance(row.get(prompt_field), str):
            raise DataError(f"{file}:{number} has no text field '{prompt_field}'; name the prompt field with --prompt-field")
        response = row.get(response_field)
        rows.append({"prompt": row[prompt_field], "response": response if isinstance(response, str) else ""})
    if not rows:
        raise DataError(f"{file} holds no rows; give a JSONL file with one JSON object per line")
    if len(rows) > n:
        rows = [rows[i] for i in sorted(random.Random(seed).sample(range(len(rows)), n))]
    return rows


def measure(args: argparse.Namespace) -> str:
    """The report ``main`` prints: what was measured, then the load table."""
    import torch

    from r1.models.loading import check_model_folder
    from r1.models.moe_stats import load_table, router_biases, saved_moe_layers
    from r1.phases.balance import held_out_arithmetic, load_saved, teacher_forced_load

    if args.prompts < 1:
        raise DataError(f"--prompts must be at least 1, got {args.prompts}")
    if args.batch_size < 1:
        raise DataError(f"--batch-size must be at least 1, got {args.batch_size}")
    folder = Path(args.folder).expanduser()
    if not folder.is_dir():
        raise DataError(f"'{args.folder}' is not a folder; give a saved Hugging Face model folder (e.g. outputs/.../hf)")
    check_model_folder(str(folder))
    if args.task == "arithmetic":
        try:
            samples, source = held_out_arithmetic(args.prompts, args.seed), "the arithmetic test split"
        except ValueError as error:
            raise DataError(f"--prompts {args.prompts}: {error}") from error
    else:
        samples = jsonl_samples(args.task, args.prompts, args.seed, args.prompt_field, args.response_field)
        source = str(args.task)
    if not saved_moe_layers(folder):
        raise DataError(f"'{args.folder}' has no MoE layers (a dense model); give a Mixture-of-Experts model's folder")
    model, tokenizer = load_saved(str(folder))
    try:
        model.to(torch.device(args.device))
    except (RuntimeError, AssertionError) as error:
        raise DataError(f"--device '{args.device}' cannot be used ({error}); use cpu or an available cuda device") from error
    max_length = args.max_length or int(getattr(model.config, "max_position_embeddings", 0) or 0) or None
    if max_length is None or max_length < 2:
        raise DataError("the model states no context length; give --max-length (tokens per sequence)")
    measured = teacher_forced_load(model, tokenizer, samples, args.batch_size, max_length)
    if measured is None:
        raise DataError(f"every prompt is at least --max-length {max_length} tokens long; raise --max-length")
    counts, sequences, tokens = measured
    return f"{sequences} prompts of {source}, {tokens:,} tokens\n{load_table(counts, router_biases(model))}"


def main(argv: list[str] | None = None) -> None:
    args = parser().parse_args(sys.argv[1:] if argv is None else list(argv))
    try:
        print(measure(args), flush=True)
    except R1Error as error:
        fail(error)


if __name__ == "__main__":
    main()
