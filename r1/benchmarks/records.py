"""Read problem records from a local file or, only when asked, the Hugging Face Hub.

Benchmarks and rejection sampling both start from "a list of dicts with a problem
and a gold answer"; this is the one place that knows the file formats. Nothing is
downloaded unless the user names a Hub id: the shipped benchmark files are used by
default, so evaluation works offline.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

from r1.errors import DataError

SUFFIXES = (".jsonl", ".jsonl.gz", ".json", ".parquet")


def load_records(path: str | Path | None = None, hub_id: str | None = None, split: str = "test", hub_config: str | None = None) -> list[dict[str, Any]]:
    """The rows of a dataset as plain dicts.

    Args:
        path: A ``.jsonl`` (optionally gzipped), ``.json`` (a list of objects),
            ``.parquet`` file, or a folder written by ``datasets.save_to_disk``.
        hub_id: A Hugging Face Hub dataset id; used instead of ``path`` when given
            (``datasets.load_dataset(hub_id, hub_config, split=split)``).
        split: The split to read from the Hub or from a saved ``DatasetDict``.
        hub_config: The Hub dataset's configuration name, if it has several.

    Raises:
        DataError: the file is missing, has an unknown format, or does not parse.
    """
    if hub_id:
        return _from_hub(hub_id, split, hub_config)
    if path is None:
        raise DataError("no dataset given: set a path (JSONL, JSON, Parquet or a saved datasets folder) or a hub_id")
    file = Path(path).expanduser()
    if not file.exists():
        raise DataError(f"dataset path '{path}' does not exist")
    if file.is_dir():
        return _from_disk(file, split)
    name = file.name.lower()
    try:
        if name.endswith((".jsonl", ".jsonl.gz")):
            opener = gzip.open if name.endswith(".gz") else open
            with opener(file, "rt", encoding="utf-8") as handle:
                return [json.loads(line) for line in handle if line.strip()]
        if name.endswith(".json"):
            rows = json.loads(file.read_text(encoding="utf-8"))
            if not isinstance(rows, list):
                raise DataError(f"'{path}' holds a JSON {type(rows).__name__}; expected a list of objects (or use JSONL)")
            return rows
        if name.endswith(".parquet"):
            import pyarrow.parquet as pq

            return pq.read_table(file).to_pylist()
    except (json.JSONDecodeError, UnicodeDecodeError, OSError) as error:
        raise DataError(f"could not read '{path}': {error}") from error
    raise DataError(f"'{path}' has an unknown format; use one of {', '.join(SUFFIXES)} or a saved datasets folder")


def _from_disk(folder: Path, split: str) -> list[dict[str, Any]]:
    import datasets

    try:
        data = datasets.load_from_disk(str(folder))
    except (FileNotFoundError, ValueError) as error:
        raise DataError(f"'{folder}' is not a saved datasets folder: {error}") from error
    if isinstance(data, datasets.DatasetDict):
        if split not in data:
            raise DataError(f"'{folder}' has no split '{split}'; its splits are: {', '.join(data)}")
        data = data[split]
    return data.to_list()


def _from_hub(hub_id: str, split: str, hub_config: str | None) -> list[dict[str, Any]]:
    import datasets

    try:
        return datasets.load_dataset(hub_id, hub_config, split=split).to_list()
    except Exception as error:  # network, auth and missing-split errors come in many types
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise DataError(f"could not load '{hub_id}' (split '{split}') from the Hub: {first}") from error
