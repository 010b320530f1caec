"""How ``task=dataset`` copes with a big prompt dataset: time and memory before the first GRPO step.

    python tools/bench_dataset_task.py [--rows 1000000] [--format parquet|jsonl] [--steps 100]

Writes a GSM8K-shaped file of ``--rows`` rows to a temporary folder, then measures, in
this process: building the task (``datasets`` maps the file; JSONL is converted to an
Arrow cache once, Parquet is mapped as it is), drawing ``--steps`` GRPO steps of 8 prompts
through the prompt schedule with the token cap on (each drawn prompt is rendered and
tokenised), and the memory each adds: the process's own heap apart from the
pages of memory-mapped files (which the kernel can drop and re-read). Rows are never copied into Python:
what grows with the row count is one index array per split (8 bytes a row) and the
schedule's shuffled order of the rows.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def memory_mb() -> dict[str, float]:
    """This process's resident memory in MB: ``anon`` (its own heap: Python objects, arrays) and ``file`` (mapped files' pages)."""
    fields = {"RssAnon:": "anon", "RssFile:": "file"}
    out = {"anon": 0.0, "file": 0.0}
    for line in Path("/proc/self/status").read_text().splitlines():
        key = line.split(":")[0] + ":"
        if key in fields:
            out[fields[key]] = int(line.split()[1]) / 1024
    return out


def grown(base: dict[str, float]) -> str:
    now = memory_mb()
    return f"+{now['anon'] - base['anon']:.0f} MB heap, +{now['file'] - base['file']:.0f} MB mapped file pages"


def write_rows(folder: Path, rows: int, fmt: str) -> Path:
    import pyarrow as pa
    import pyarrow.parquet as pq

    questions = pa.array([f"Tom has {i} apples and buys {i % 97} more. How many apples does he have now?" for i in range(rows)])
    answers = pa.array([f"He has {i} + {i % 97} = {i + i % 97} apples.\n#### {i + i % 97}" for i in range(rows)])
    table = pa.table({"question": questions, "answer": answers})
    if fmt == "parquet":
        path = folder / "rows.parquet"
        pq.write_table(table, path)
    else:
        path = folder / "rows.jsonl"
        with open(path, "w", encoding="utf-8") as out:
            for q, a in zip(questions.to_pylist(), answers.to_pylist()):
                out.write(json.dumps({"question": q, "answer": a}) + "\n")
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--format", choices=("parquet", "jsonl"), default="parquet")
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--write-to", type=Path, default=None, help=argparse.SUPPRESS)  # the child process that writes the file
    args = parser.parse_args()
    if args.write_to is not None:
        write_rows(args.write_to, args.rows, args.format)
        return

    from r1.data.chat import PromptFormat, PromptSettings
    from r1.models import load_tiny_tokenizer
    from r1.phases.grpo import PromptSchedule
    from r1.phases.prompting import PromptScreen
    from r1.tasks.dataset import DatasetTask

    with tempfile.TemporaryDirectory() as tmp:
        # Written by a child process, so that building the rows leaves nothing in this one's heap.
        command = [sys.executable, __file__, "--rows", str(args.rows), "--format", args.format, "--write-to", tmp]
        subprocess.run(command, check=True)
        path = next(Path(tmp).glob("rows.*"))
        print(f"{args.rows:,} rows, {args.format}: {path.stat().st_size / 1e6:.0f} MB on disk")
        tokenizer = load_tiny_tokenizer()
        base = memory_mb()
        start = time.perf_counter()
        task = DatasetTask(
            path=str(path), subset=None, split="train", test_split=None, test_size=500, split_seed=0, prompt_column="question",
            answer_column="answer", solution_column=None, messages_column=None, id_column=None, level_column=None, levels=None,
            max_samples=None, extraction="template",
        )
        built = time.perf_counter()
        import pyarrow as pa

        print(f"task built in {built - start:.1f} s, {grown(base)}")
        print(
            f"  Arrow buffers held in memory: {pa.total_allocated_bytes() / 1e6:.0f} MB (peak {pa.default_memory_pool().max_memory() / 1e6:.0f} MB "
            "while datasets wrote its Arrow cache; the heap keeps that freed memory for reuse)"
        )
        screen = PromptScreen(PromptFormat(tokenizer, PromptSettings(style="chat", template=None, system_prompt=None, max_tokens=256)))
        schedule = PromptSchedule(task.samples("train", None), 8, seed=0, screen=screen)
        first = schedule.step(0)
        stepped = time.perf_counter()
        print(f"first step's prompts in {stepped - built:.2f} s (the epoch's shuffle included), {grown(base)}")
        for step in range(1, args.steps):
            schedule.step(step)
        done = time.perf_counter()
        print(f"{args.steps} steps of 8 prompts: {1000 * (done - stepped) / max(args.steps - 1, 1):.2f} ms a step, {grown(base)}")
        print(f"a drawn prompt: {first[0]['prompt'][:60]!r} -> answer {first[0]['answer']}")


if __name__ == "__main__":
    main()
