"""``task=dataset``: prompts and gold answers from any dataset: a file, a ``datasets`` folder or a Hub id.

This is how a user brings their own data to GRPO, rejection sampling and evaluation,
as TRL's ``train_dataset``, open-r1's ``dataset_name`` and verl's parquet files do::

    python -m r1.run phase=grpo task=dataset task.path=data/train.jsonl \\
        task.prompt_column=question task.answer_column=answer

Columns are mapped in YAML (``conf/task/dataset.yaml``). A row's user message is
``prompt_column``, or the last user turn of ``messages_column``; its gold answer is
``answer_column``, else the answer a worked ``solution_column`` states (``#### N`` or
``\\boxed{}``, read by r1's own extractor), else the one the last assistant message
states. A row with no usable answer gets ``answer: None`` (and one without a user message
``prompt: None``); the phases skip and count such rows (:mod:`r1.phases.prompting`).

**Nothing is read whole.** ``datasets`` keeps the rows in a memory-mapped Arrow file;
this task holds only an index array per split (8 bytes a row) and reads a row when a
phase asks for it (:class:`RowView`). Filtering by level reads that one column.

**Splits are fixed by the data, not the run.** When the source has a test split
(``test_split``) it is used; otherwise ``test_size`` rows are held out by a permutation
seeded with ``split_seed``, before any filter, so changing ``levels`` or
``max_samples`` never moves a row between train and test, and no run seed can leak a
test row into training. Each split is kept in that permuted order, so its first ``n``
rows are a random sample of it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from r1.data.datasets import looks_local, read_table
from r1.data.rows import gold_of_row, message_text, prompt_of_messages
from r1.errors import ConfigError, DataError
from r1.math import check_extraction
from r1.protocols import Sample

SPLITS = ("train", "test")

_TRAILING_NUMBER = re.compile(r"(\d+)\s*$")


class RowView(Sequence[Sample]):
    """A read-only sequence of samples over rows of a dataset, read one at a time when indexed."""

    def __init__(self, task: DatasetTask, table: Any, indices: np.ndarray) -> None:
        self.task, self.table, self.indices = task, table, indices

    def __len__(self) -> int:
        return int(self.indices.shape[0])

    def __getitem__(self, index):  # type: ignore[override]
        if isinstance(index, slice):
            return RowView(self.task, self.table, self.indices[index])
        return self.task.sample_of(self.table[int(self.indices[index])], int(self.indices[index]))

    def __iter__(self) -> Iterator[Sample]:
        for i in range(len(self)):
            yield self[i]


class DatasetTask:
    """Verifiable problems read from a dataset (see the module docstring and ``conf/task/dataset.yaml``).

    Args:
        path: a JSONL / JSON / Parquet / CSV file, a ``save_to_disk`` folder, or a Hub id.
        subset: the Hub dataset's configuration (``main`` for GSM8K), if it has several.
        split: the source split training prompts come from.
        test_split: a source split of held-out prompts; null = hold out ``test_size`` rows of ``split``.
        test_size: rows held out when ``test_split`` is null: a count (>= 1) or a fraction (< 1); 0 = none.
        split_seed: seeds the held-out rows and the order within each split (not the run's seed).
        prompt_column: the column with the user message (ignored when ``messages_column`` is set).
        answer_column: the column with the gold final answer; null = none.
        solution_column: a worked solution the gold answer is read from when there is no answer column.
        messages_column: a chat-format column; its last user turn is the prompt.
        id_column: a column with a stable id per row; null = the row number in the source.
        level_column: a difficulty column to filter on; null = no filter.
        levels: the ``level_column`` values to keep (``[4, 5]`` keeps ``4``, ``"4"`` and ``"Level 4"``).
        max_samples: keep a fixed random subset of this many rows per split; null = all.
        extraction: where :meth:`check` looks for a response's answer (``template`` | ``boxed`` | ``any``).
        hub_hint: how to get the data when the Hub cannot be reached (presets name their source).
    """

    name = "dataset"

    def __init__(
        self,
        path: str,
        subset: str | None,
        split: str,
        test_split: str | None,
        test_size: float,
        split_seed: int,
        prompt_column: str | None,
        answer_column: str | None,
        solution_column: str | None,
        messages_column: str | None,
        id_column: str | None,
        level_column: str | None,
        levels: Sequence[Any] | None,
        max_samples: int | None,
        extraction: str,
        hub_hint: str | None = None,
    ) -> None:
        if not path or path == "???":
            raise ConfigError("task.path is required for task=dataset: a JSONL/Parquet/CSV file, a `datasets` folder or a Hub id")
        if isinstance(test_size, bool) or not isinstance(test_size, (int, float)) or test_size < 0:
            raise ConfigError(f"task.test_size must be a row count (>= 1), a fraction (< 1) or 0, not {test_size!r}")
        if max_samples is not None and (isinstance(max_samples, bool) or int(max_samples) < 1):
            raise ConfigError(f"task.max_samples must be at least 1 (or null), not {max_samples!r}")
        if (level_column is None) != (levels is None):
            raise ConfigError("task.level_column and task.levels go together: name the column and the levels to keep, or neither")
        if prompt_column is None and messages_column is None:
            raise ConfigError("task=dataset needs task.prompt_column or task.messages_column to find the user message")
        self.path, self.extraction = str(path), check_extraction(extraction)
        self.columns = {
            "prompt_column": None if messages_column else prompt_column,
            "answer_column": answer_column,
            "solution_column": solution_column,
            "messages_column": messages_column,
            "id_column": id_column,
            "level_column": level_column,
        }
        train_table = self._read(split, subset, hub_hint)
        self._check_columns(train_table)
        rng = np.random.default_rng(int(split_seed))
        order = rng.permutation(len(train_table))
        if test_split is not None:
            if Path(self.path).expanduser().is_file():
                raise ConfigError(
                    f"'{path}' is one file, with no '{test_split}' split (task.test_split); set task.test_split=null to hold out "
                    "task.test_size of its rows, or point task.path at a folder that has both splits"
                )
            test_table = self._read(test_split, subset, hub_hint)
            self._check_columns(test_table)
            test_order = rng.permutation(len(test_table))
            self.tables = {"train": train_table, "test": test_table}
            self.indices = {"train": order, "test": test_order}
        else:
            held_out = int(test_size) if test_size >= 1 else int(round(test_size * len(train_table)))
            if held_out >= len(train_table):
                raise ConfigError(f"task.test_size={test_size} holds out all {len(train_table)} rows of '{path}'; lower it")
            self.tables = {"train": train_table, "test": train_table}
            self.indices = {"train": order[held_out:], "test": order[:held_out]}
        if level_column is not None:
            wanted = {str(level) for level in levels}  # type: ignore[union-attr]
            for part in SPLITS:
                self.indices[part] = self.indices[part][level_mask(self.tables[part], level_column, wanted)[self.indices[part]]]
            if len(self.indices["train"]) == 0:
                raise DataError(f"dataset '{path}': no row has {level_column} in {sorted(wanted)}; its values look like: {sample_values(train_table, level_column)}")
        if max_samples is not None:
            self.indices = {part: rows[: int(max_samples)] for part, rows in self.indices.items()}
        if len(self.indices["train"]) == 0:
            raise DataError(f"dataset '{path}' has no training rows")

    def _read(self, split: str, subset: str | None, hub_hint: str | None):
        try:
            return read_table(self.path, split=split, name=subset)
        except DataError as error:
            if looks_local(self.path):
                raise
            hint = hub_hint or "download it where there is network and set task.path to the local copy (a JSONL/Parquet file or a `save_to_disk` folder)"
            raise DataError(f"{error}; {hint}") from error

    def _check_columns(self, table) -> None:
        present = list(table.column_names)
        for key, column in self.columns.items():
            if column is not None and column not in present:
                raise DataError(f"dataset '{self.path}' has no column '{column}' (task.{key}); its columns are: {', '.join(present)}")

    def samples(self, split: str, n: int | None, seed: int = 0) -> RowView:
        """The first ``n`` rows of ``split`` (all when ``n`` is None or larger), read lazily.

        ``seed`` is accepted for the :class:`~r1.protocols.Task` contract but changes nothing:
        a split and its order are fixed by ``split_seed`` (see the module docstring).
        """
        if split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, got '{split}'")
        rows = self.indices[split]
        if split == "test" and len(rows) == 0 and n:
            raise ConfigError(f"dataset '{self.path}' has no held-out rows; set task.test_split or task.test_size")
        view = RowView(self, self.tables[split], rows)
        return view if n is None or n >= len(view) else view[:n]

    def sample_of(self, row: dict[str, Any], number: int) -> Sample:
        """One source row as a sample: ``id``, ``prompt`` and ``answer`` (None when the row states none)."""
        c = self.columns
        source = f"dataset '{self.path}'"
        messages = row[c["messages_column"]] if c["messages_column"] else None
        prompt = prompt_of_messages(messages, source) if messages is not None else row[c["prompt_column"]] if c["prompt_column"] else None
        reply = message_text(messages, "assistant", source) if messages is not None else None
        answer = gold_of_row(row, c["answer_column"], c["solution_column"], reply)
        return {
            "id": str(row[c["id_column"]]) if c["id_column"] else str(number),
            "prompt": None if prompt is None or not str(prompt).strip() else str(prompt),
            "answer": answer,
        }

    def check(self, response: str, answer: str) -> bool:
        from r1.math import verify

        return verify(response, answer, extraction=self.extraction)


def level_mask(table, column: str, wanted: set[str]) -> np.ndarray:
    """``(rows,)`` bool: whether each row's ``column`` value is one of ``wanted`` (read as text, or its trailing number)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    values = table.with_format("arrow")[column]
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    text = pc.utf8_trim_whitespace(pc.cast(values, pa.string()))
    exact = pc.is_in(text, value_set=pa.array(sorted(wanted)))
    number = pc.extract_regex(text, r"(?P<n>\d+)$").field("n")
    by_number = pc.is_in(number, value_set=pa.array(sorted(wanted)))
    return np.asarray(pc.fill_null(pc.or_(exact, by_number), False).to_numpy(zero_copy_only=False), dtype=bool)


def sample_values(table, column: str, n: int = 5) -> list[str]:
    """A few distinct values of ``column``, for an error that says what the data holds."""
    seen: list[str] = []
    for value in table.select(range(min(len(table), 200)))[column]:
        if str(value) not in seen:
            seen.append(str(value))
        if len(seen) == n:
            break
    return seen
