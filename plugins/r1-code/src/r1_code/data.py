"""Load HumanEval and MBPP records and turn them into r1 samples.

The bundled copies (``data/``, see each SOURCE.md) are the default, so nothing is downloaded
unless the user names a Hugging Face dataset (``hub_id``). A local ``path`` may be JSONL,
gzipped JSONL or Parquet in the original field layout (or the HF ``sanitized`` MBPP layout).
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

DATA_DIR = Path(__file__).with_name("data")
HUMANEVAL_FILE = DATA_DIR / "humaneval" / "HumanEval.jsonl.gz"
MBPP_FILE = DATA_DIR / "mbpp" / "mbpp.jsonl"

# The standard MBPP split by task_id (Austin et al. 2021, upstream README).
MBPP_SPLITS: dict[str, tuple[int, int]] = {
    "prompt": (1, 10),
    "test": (11, 510),
    "validation": (511, 600),
    "train": (601, 974),
    "all": (1, 974),
}

THINK_ANSWER = "<think>\n{think}\n</think>\n<answer>\n```python\n{code}\n```\n</answer>"


def read_records(path: str | Path) -> list[dict[str, Any]]:
    """Rows of a ``.jsonl``, ``.jsonl.gz`` (or ``.json.gz``) or ``.parquet`` file."""
    path = Path(path)
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq  # only needed for this format

        return pq.read_table(path).to_pylist()
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def load_hub(hub_id: str, split: str, config: str | None = None) -> list[dict[str, Any]]:
    """Rows of a Hugging Face dataset split; imported and called only when the user asks."""
    import datasets

    return list(datasets.load_dataset(hub_id, config, split=split))


def reference_response(think: str, code: str) -> str:
    """A response in r1's ``<think>…</think><answer>…</answer>`` template holding ``code``."""
    return THINK_ANSWER.format(think=think.strip(), code=code.rstrip())


def humaneval_prompt(code_prompt: str) -> str:
    """The user message for a HumanEval problem.

    It shows the stub and asks for the whole function (not only its body) in a fenced
    block, which is what chat models answer with; :func:`r1_code.judge.make_job` still
    accepts a bare body.
    """
    return (
        "Complete the following Python function. Give the complete function, with its "
        "signature and any imports it needs, in a ```python code block.\n\n"
        f"```python\n{code_prompt.rstrip()}\n```"
    )


def humaneval_sample(row: dict[str, Any]) -> dict[str, Any]:
    """An r1 sample from a HumanEval record (fields as in openai/human-eval)."""
    reference = row["prompt"] + row["canonical_solution"]
    return {
        "id": row["task_id"],
        "prompt": humaneval_prompt(row["prompt"]),
        "answer": reference,
        "response": reference_response(f"Implement `{row['entry_point']}` as its docstring describes.", reference),
        "test": row["test"],
        "entry_point": row["entry_point"],
        "preamble": row["prompt"],
    }


def mbpp_prompt(text: str, tests: list[str], show_tests: int | None = None) -> str:
    """The user message for an MBPP problem: the task and (some of) its tests.

    MBPP shows the tests because they fix the function's name and signature; showing only
    the first (``show_tests=1``) keeps a policy in training from hard-coding the rest.
    """
    shown = tests if show_tests is None else tests[:show_tests]
    lines = "\n".join(shown)
    return (
        f"{text.strip()}\nYour code should pass these tests:\n\n```python\n{lines}\n```\n\n"
        "Give the complete Python solution in a ```python code block."
    )


def mbpp_sample(row: dict[str, Any], show_tests: int | None = None) -> dict[str, Any]:
    """An r1 sample from an MBPP record (``full`` layout, or the HF ``sanitized`` one)."""
    text = row.get("text") or row.get("prompt") or ""
    tests = [t.replace("\r\n", "\n") for t in row["test_list"]]
    setup = row.get("test_setup_code") or "\n".join(row.get("test_imports") or [])
    code = row["code"].replace("\r\n", "\n").rstrip()
    return {
        "id": f"mbpp/{row['task_id']}",
        "prompt": mbpp_prompt(text, tests, show_tests),
        "answer": code,
        "response": reference_response(f"{text.strip()} The tests show the function's name and signature.", code),
        "tests": tests,
        "setup_code": setup.replace("\r\n", "\n"),
    }


def mbpp_rows(rows: list[dict[str, Any]], split: str) -> list[dict[str, Any]]:
    """The rows of a standard MBPP split, chosen by task_id."""
    if split not in MBPP_SPLITS:
        raise ValueError(f"unknown MBPP split {split!r}; choose from {sorted(MBPP_SPLITS)}")
    low, high = MBPP_SPLITS[split]
    return [r for r in rows if low <= int(r["task_id"]) <= high]
