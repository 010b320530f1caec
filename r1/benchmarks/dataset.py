"""``benchmark=dataset``: any prompt dataset with gold answers, scored like the math benchmarks.

A held-out set of one's own (a JSONL/Parquet file, a folder, a ``save_to_disk``
folder or a Hub id) is pointed at the way a prompt dataset is: ``path``, ``split``,
``subset`` and the ``*_column`` keys. Rows are read with
:func:`r1.data.datasets.read_table` (a missing path or an unreachable Hub id is one
:class:`~r1.errors.DataError` line), and each becomes a problem of a
:class:`~r1.benchmarks.math.MathBenchmark`, verified by the same answer checker.

Real datasets have gaps (a scraped answer missing, a solution without a
``\\boxed{}``): such rows are skipped with a warning and counted in
``skipped_rows``, which the eval phase can report next to the results.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from r1.benchmarks.math import MathBenchmark
from r1.errors import ConfigError


class DatasetBenchmark(MathBenchmark):
    """The problems of any dataset with a prompt column and a gold answer (or worked solution) column.

    Args:
        path: A data file, a folder of files, a ``save_to_disk`` folder or a Hub id.
        split: The split of a Hub dataset or a saved ``DatasetDict`` (a single file has one).
        subset: The Hub dataset's configuration (``main`` for ``openai/gsm8k``), if it has several.
        prompt_column: The column with the problem text (:class:`MathBenchmark`'s ``problem_field``).
        answer_column: The column with the gold answer (``answer_field``); null = none.
        solution_column: A column with a worked solution, whose stated answer is the gold
            one where ``answer_column`` is absent or empty (``solution_field``); null = none.
        id_column: A column with a stable id (``id_field``); null = the row number.
        title: How the results table names it; null = the file's name, or the Hub id.
        options: The math benchmarks' own options (``k``, ``limit``, ``prompt_style``,
            ``prompt_template``, ``extraction``, ``lenient``, ``max_new_tokens``).
    """

    field_keys: Mapping[str, str] = {
        "problem_field": "benchmark.prompt_column",
        "answer_field": "benchmark.answer_column",
        "solution_field": "benchmark.solution_column",
        "id_field": "benchmark.id_column",
    }

    def __init__(
        self,
        path: str,
        split: str,
        subset: str | None,
        prompt_column: str,
        answer_column: str | None,
        solution_column: str | None,
        id_column: str | None,
        title: str | None = None,
        **options: Any,
    ) -> None:
        if not path or str(path) == "???":
            raise ConfigError("benchmark=dataset needs benchmark.path: a JSONL/Parquet file, a datasets folder or a Hub id")
        path = str(path)
        super().__init__(
            "dataset",
            title=title or default_title(path),
            path=path,
            problem_field=prompt_column,
            answer_field=answer_column,
            solution_field=solution_column,
            id_field=id_column,
            skip_unanswered=True,
            **options,
        )
        self.split = split
        self.subset = subset

    def read_rows(self) -> tuple[Sequence[Mapping[str, Any]], list[str], str]:
        """The rows of ``path`` (``split``, ``subset``) as :func:`r1.data.datasets.read_table` reads them."""
        from r1.data.datasets import read_table

        table = read_table(self.path, self.split, self.subset)
        return table, list(table.column_names), f"benchmark 'dataset' ({self.path})"


def default_title(path: str) -> str:
    """A results-table name for ``path``: a local file's or folder's name, or the Hub id itself."""
    from r1.data.datasets import looks_local

    local = Path(path).expanduser()
    return local.name if local.exists() or looks_local(path) else path
