"""Load the examples a training phase learns from, whatever they are stored in.

Every source becomes a ``datasets.Dataset`` with the same three columns, so the
rest of r1 never cares where the data came from:

* ``prompt``: the user message (no chat template applied yet),
* ``response``: the text the model should produce after the prompt,
* ``answer``: the gold final answer, or ``None`` where the source has none.

Sources, chosen by ``data.path``:

* ``null``: the task's reference chain-of-thought examples (``task.samples``);
* a JSONL / JSON / Parquet / CSV file, or a folder of such files;
* a folder written by ``datasets.save_to_disk`` (rejection sampling writes one);
* anything else is taken for a Hugging Face Hub id (needs network or a warm cache).

``data.mixture`` mixes several sources with ratios, as the R1 seed mixes 600k
reasoning samples with 200k general ones. Mistakes (a missing path, a missing
field) raise :class:`~r1.errors.DataError` naming what exists instead.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from r1.errors import ConfigError, DataError
from r1.protocols import Sample, Task
from r1.seeds import derive_seed
from r1.settings import bounded

COLUMNS = ("prompt", "response", "answer")

ANSWER_SCAN_FACTOR = 4
"""``load_eval_samples`` reads up to this many rows per held-out prompt wanted, to find enough with an answer."""


@dataclass
class DataSettings:
    """The ``data`` node (``conf/_data/default.yaml``): what SFT and distillation learn from and are validated on."""

    path: str | None
    """A file, a folder of files, a ``save_to_disk`` folder or a Hub id; null = the task's reference examples."""
    name: str | None
    """The Hub dataset's configuration (subset), if it has several."""
    split: str
    """Split of a Hub dataset or a saved ``DatasetDict``."""
    prompt_field: str
    """Field holding the user message (the chat template is applied later)."""
    response_field: str
    """Field holding the target response."""
    answer_field: str | None
    """Field holding the gold answer (optional for training; required in ``val_path``)."""
    num_samples: int | None = bounded(ge=1)
    """Examples drawn from the task when ``path`` is null."""
    max_samples: int | None = bounded(ge=1)
    """A cap on a dataset's rows (a random subset, fixed by the seed); null = every row."""
    mixture: list[dict[str, Any]] | None
    """Several sources with ratios instead of ``path`` (each entry inherits the fields above)."""
    mixture_size: int | None = bounded(ge=1)
    """Examples in the mixture; null = as many as the ratios allow without repeating any."""
    max_length: int = bounded(ge=2)
    """Tokens per example (prompt + response + EOS); longer responses are cut."""
    mask_prompt: bool
    """Labels -100 on prompt tokens: the loss covers the response only."""
    val_path: str | None
    """Held-out prompts with answers; null = the task's test split (disjoint from training)."""
    val_split: str
    """Split of ``val_path`` when it is a Hub dataset or a saved ``DatasetDict``."""
    val_size: int = bounded(ge=0)
    """Held-out prompts per validation (0 = no validation)."""

# File suffix -> the `datasets` builder that reads it.
_BUILDERS = {".jsonl": "json", ".json": "json", ".parquet": "parquet", ".csv": "csv", ".arrow": "arrow"}
_COMPRESSION = {".gz", ".bz2", ".xz", ".zst", ".zip"}
# Markers of a `save_to_disk` folder (a Dataset, or a DatasetDict of splits).
_SAVED_MARKERS = ("state.json", "dataset_dict.json")


def _datasets():
    import datasets

    datasets.disable_progress_bars()  # one bar per tiny file drowns the training log
    return datasets


def _suffix(path: Path) -> str:
    suffixes = [s.lower() for s in path.suffixes]
    if len(suffixes) >= 2 and suffixes[-1] in _COMPRESSION:
        return suffixes[-2]
    return suffixes[-1] if suffixes else ""


def looks_local(path: str) -> bool:
    """Whether ``path`` is meant as a file or folder here, rather than a Hub id.

    Anything starting with ``.``, ``/`` or ``~``, with more than one ``/``, or ending in a
    data-file suffix is local; ``org/name`` and ``name`` are Hub ids.
    """
    return path.startswith((".", "/", "~")) or path.count("/") > 1 or _suffix(Path(path)) in _BUILDERS


def read_table(path: str, split: str = "train", name: str | None = None):
    """The rows at ``path`` as a ``datasets.Dataset`` with the source's own column names.

    Args:
        path: a data file, a folder of data files, a ``save_to_disk`` folder, or a Hub id.
        split: the split to take from a Hub dataset or a saved ``DatasetDict``.
        name: the Hub dataset's configuration (subset), if it has several.
    """
    datasets = _datasets()
    local = Path(path).expanduser()
    if local.is_file():
        builder = _BUILDERS.get(_suffix(local))
        if builder is None:
            raise DataError(f"data file '{path}' has an unknown type; use one of: {', '.join(_BUILDERS)} (or a datasets folder)")
        return _guarded(path, lambda: datasets.load_dataset(builder, data_files=str(local), split="train"))
    if local.is_dir():
        if any((local / marker).exists() for marker in _SAVED_MARKERS):
            return _pick_split(_guarded(path, lambda: datasets.load_from_disk(str(local))), split, path)
        return _guarded(path, lambda: datasets.load_dataset(str(local), split=split))
    if looks_local(path):
        raise DataError(f"data path '{path}' does not exist; give a JSONL/Parquet file, a `datasets` folder or a Hub id (data.path)")
    return _guarded(path, lambda: datasets.load_dataset(path, name, split=split))


def _guarded(path: str, load):
    """``load()``, with any failure turned into one :class:`DataError` line (``datasets`` also logs it: silenced here)."""
    from datasets.utils import logging as datasets_logging

    verbosity = datasets_logging.get_verbosity()
    datasets_logging.set_verbosity(datasets_logging.CRITICAL)  # a broken file is logged as an error before it is raised
    try:
        return load()
    except DataError:
        raise
    except Exception as error:  # datasets raises many types (ConnectionError, ValueError, ArrowInvalid, ...)
        lines = [line.strip() for line in str(error).splitlines() if line.strip()]
        reason = lines[0] if lines else type(error).__name__
        raise DataError(f"could not load dataset '{path}': {reason}") from error
    finally:
        datasets_logging.set_verbosity(verbosity)


def _pick_split(loaded, split: str, path: str):
    datasets = _datasets()
    if isinstance(loaded, datasets.DatasetDict):
        if split not in loaded:
            raise DataError(f"dataset '{path}' has no split '{split}' (data.split); its splits are: {', '.join(loaded)}")
        return loaded[split]
    return loaded


def select_fields(
    table,
    source: str,
    prompt_field: str = "prompt",
    response_field: str | None = "response",
    answer_field: str | None = "answer",
    require_answer: bool = False,
):
    """Keep the three fields r1 uses, renamed to ``prompt`` / ``response`` / ``answer``.

    A missing prompt or response field (or a missing answer field when
    ``require_answer``) is a :class:`DataError` that lists the fields the source has.
    A missing optional answer becomes a column of ``None``.
    """
    present = list(table.column_names)
    wanted = {"prompt": (prompt_field, "data.prompt_field", True), "response": (response_field, "data.response_field", response_field is not None)}
    wanted["answer"] = (answer_field, "data.answer_field", require_answer)
    for column, (field, key, required) in wanted.items():
        if required and (field is None or field not in present):
            raise DataError(f"dataset '{source}' has no field '{field}' for the {column} ({key}); its fields are: {', '.join(present) or 'none'}")
    keep = {field: column for column, (field, _, _) in wanted.items() if field is not None and field in present}
    table = table.select_columns(list(keep))
    # Rename in two hops so that swapped names (e.g. prompt <-> response) never collide.
    table = table.rename_columns({field: f"__r1_{column}" for field, column in keep.items()})
    table = table.rename_columns({f"__r1_{column}": column for column in keep.values()})
    for column in ("response", "answer"):
        if column not in table.column_names:
            table = table.add_column(column, [None] * len(table))
    table = table.select_columns(list(COLUMNS))
    check_rows(table, source, {"prompt": prompt_field, "response": response_field, "answer": answer_field}, required=("prompt", "response") if response_field else ("prompt",))
    return _as_text(table)


def check_rows(table, source: str, fields: Mapping[str, str | None], required: Sequence[str]) -> None:
    """A one-line :class:`DataError` for the first row with a null in a ``required`` column or text that is not UTF-8.

    Either would surface later as a traceback from deep inside tokenisation (or, once turned
    into text, as a prompt reading ``"None"``). The check runs on the Arrow columns, without a
    pass in Python unless something is wrong.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    for column in COLUMNS:
        values = table.data.column(column)
        name = fields.get(column) or column
        if column in required and values.null_count:
            row = pc.index(pc.is_null(values), True).as_py()
            raise DataError(f"dataset '{source}': row {row + 1} has no {column} (field '{name}' is null in {values.null_count} of {len(table)} rows); fill them in or drop those rows")
        if not (pa.types.is_string(values.type) or pa.types.is_large_string(values.type)):
            continue
        try:
            values.validate(full=True)
        except pa.ArrowInvalid:
            raw = values.cast(pa.large_binary()).to_pylist()
            row = next((i for i, value in enumerate(raw) if value is not None and not _is_utf8(value)), 0)
            raise DataError(f"dataset '{source}': row {row + 1} has bytes that are not UTF-8 text in field '{name}'; re-encode the file as UTF-8") from None


def _is_utf8(value: bytes) -> bool:
    try:
        value.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _as_text(table):
    """Prompts and responses as strings, answers as strings or None (JSON numbers become text)."""
    dtypes = {column: getattr(table.features[column], "dtype", None) for column in COLUMNS}
    text, empty = {"string", "large_string"}, {"null"}
    if dtypes["prompt"] in text and dtypes["response"] in text | empty and dtypes["answer"] in text | empty:
        return table  # already plain text: skip a pass over every row

    def convert(row: dict[str, Any]) -> dict[str, Any]:
        return {
            "prompt": _text(row["prompt"], "user"),
            "response": None if row["response"] is None else _text(row["response"], "assistant"),
            "answer": None if row["answer"] is None else str(row["answer"]),
        }

    datasets = _datasets()
    text_features = datasets.Features({column: datasets.Value("string") for column in COLUMNS})
    return table.map(convert, features=text_features)


def _text(value: Any, role: str) -> str:
    """A string field, or the last ``role`` message's content of a chat-format field."""
    if isinstance(value, str):
        return value
    if isinstance(value, Sequence) and value and isinstance(value[-1], Mapping):
        contents = [m.get("content", "") for m in value if m.get("role") == role] or [value[-1].get("content", "")]
        return str(contents[-1])
    return str(value)


def from_samples(samples: Sequence[Sample]):
    """A ``Dataset`` with r1's columns from in-memory samples (a task's, or a test's)."""
    return _datasets().Dataset.from_dict({c: [s.get(c) for s in samples] for c in COLUMNS})


def load_source(spec: Mapping[str, Any], task: Task | None, seed: int = 0, split: str = "train"):
    """One source as a ``Dataset`` with r1's columns.

    Args:
        spec: a ``data`` config node (or one ``data.mixture`` entry): ``path``,
            ``split``, ``name``, ``prompt_field``, ``response_field``, ``answer_field``,
            ``num_samples`` (examples drawn from the task) and ``max_samples`` (a cap on a file's rows).
        task: where the examples come from when ``path`` is null.
        seed: picks the task's examples, and the subset when ``max_samples`` caps a file.
        split: the task split used when ``path`` is null.
    """
    path = spec.get("path")
    if path is None:
        if task is None:
            raise ConfigError("data.path is null and no task is configured; set data.path=<file, folder or Hub id>")
        if spec.get("num_samples") is None:
            raise ConfigError("data.num_samples must be set when examples come from the task (data.path=null)")
        return from_samples(task.samples(split, int(spec["num_samples"]), seed=seed))
    table = read_table(str(path), split=spec.get("split") or "train", name=spec.get("name"))
    table = select_fields(
        table,
        str(path),
        prompt_field=spec.get("prompt_field") or "prompt",
        response_field=spec.get("response_field") or "response",
        answer_field=spec.get("answer_field"),
    )
    limit = spec.get("max_samples")
    if limit is not None and int(limit) < len(table):
        table = table.select(sorted(random.Random(derive_seed(seed, "data/subset")).sample(range(len(table)), int(limit))))
    if len(table) == 0:
        raise DataError(f"dataset '{path}' has no rows")
    return table


def mixture_counts(sizes: Sequence[int], ratios: Sequence[float], total: int | None = None) -> list[int]:
    """How many examples to take from each source so that their shares follow ``ratios``.

    ``total=None`` takes as many as possible without repeating any example (the
    source that runs out first at its ratio sets the size); a given ``total`` may
    repeat the examples of a small source (upsampling). Rounding keeps the sum exact.
    """
    if len(sizes) != len(ratios) or not sizes:
        raise ConfigError("data.mixture needs at least one entry, each with a ratio")
    if any(r < 0 for r in ratios) or sum(ratios) <= 0:
        raise ConfigError(f"data.mixture ratios must be non-negative and not all zero, got {list(ratios)}")
    shares = [r / sum(ratios) for r in ratios]
    if total is None:
        total = min(math.floor(size / share) for size, share in zip(sizes, shares) if share > 0)
    exact = [share * total for share in shares]
    counts = [math.floor(x) for x in exact]
    # largest remainders get the leftover examples
    for i in sorted(range(len(exact)), key=lambda i: exact[i] - counts[i], reverse=True)[: total - sum(counts)]:
        counts[i] += 1
    return counts


def mix(tables: Sequence[Any], ratios: Sequence[float], total: int | None = None, seed: int = 0):
    """Concatenate a random ``mixture_counts`` share of each table (repeating a table only when it is too small)."""
    datasets = _datasets()
    counts = mixture_counts([len(t) for t in tables], ratios, total)
    rng = random.Random(derive_seed(seed, "data/mixture"))
    parts = []
    for table, count in zip(tables, counts):
        indices: list[int] = []
        while len(indices) < count:
            order = list(range(len(table)))
            rng.shuffle(order)
            indices.extend(order[: count - len(indices)])
        if indices:
            parts.append(table.select(indices))
    return datasets.concatenate_datasets(parts)


def load_training_data(data: Mapping[str, Any], task: Task | None, seed: int = 0):
    """The training examples a ``data`` config node describes (one source or a mixture).

    A mixture entry inherits ``split`` / ``name`` / field names from ``data`` unless it sets its own.
    """
    mixture = data.get("mixture")
    if not mixture:
        return load_source(data, task, seed)
    inherited = {k: data.get(k) for k in ("split", "name", "prompt_field", "response_field", "answer_field")}
    tables, ratios = [], []
    for i, entry in enumerate(mixture):
        if not isinstance(entry, Mapping) or "ratio" not in entry:
            raise ConfigError(f"data.mixture[{i}] needs a ratio, e.g. {{path: data.jsonl, ratio: 0.75}}")
        spec = {**inherited, "num_samples": data.get("num_samples"), **dict(entry)}  # max_samples only per entry
        tables.append(load_source(spec, task, seed=derive_seed(seed, "data/mixture", i)))
        ratios.append(float(entry["ratio"]))
    total = data.get("mixture_size")
    return mix(tables, ratios, None if total is None else int(total), seed)


def load_eval_samples(data: Mapping[str, Any], task: Task | None, n: int, seed: int = 0) -> list[Sample]:
    """Held-out prompts with gold answers, scored during validation.

    ``data.val_path: null`` takes the task's test split (disjoint from training by
    construction); a path reads the first ``n`` rows that have an answer.
    """
    path = data.get("val_path")
    if path is None:
        if task is None:
            raise ConfigError("data.val_path is null and no task is configured; set data.val_path=<file with answers>")
        return [dict(s) for s in task.samples("test", int(n), seed=seed)]
    table = read_table(str(path), split=data.get("val_split") or "test", name=data.get("name"))
    table = select_fields(
        table,
        str(path),
        prompt_field=data.get("prompt_field") or "prompt",
        response_field=None,
        answer_field=data.get("answer_field") or "answer",
        require_answer=True,
    )
    rows = [row for row in table.select(range(min(len(table), ANSWER_SCAN_FACTOR * int(n)))) if row["answer"] is not None]
    return rows[: int(n)]
