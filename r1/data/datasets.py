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

Which columns become r1's three (``data.*_field``), first match wins:

1. ``messages_field`` (set): a chat-format column (``[{role, content}, ...]``). The
   prompt is the last user turn before the final assistant turn, the response that
   assistant turn taken as it is (it is not rewritten into the R1 template); the
   answer comes from ``answer_field`` when the column exists, else from the
   response's ``<answer>`` / ``\\boxed{}`` / ``####``. ``prompt_field`` and
   ``response_field`` are not read.
2. ``response_field`` (set, and the column exists): a ready response, taken as it is,
   with the prompt from ``prompt_field`` and the answer from ``answer_field`` (optional).
3. ``solution_field`` (set): a worked solution (GSM8K's ``answer``, MATH's and
   NuminaMath's ``solution``), turned into the R1 template,
   ``<think>solution without its "#### N" line</think><answer>N</answer>``; the answer is
   ``answer_field``'s value when the row has one, else the one the solution states
   (``#### N`` or the last ``\\boxed{}``).

Rows that cannot become an example (a solution without a usable answer, a
conversation without a user or an assistant turn) are skipped, counted in
:attr:`TrainingData.skipped` and logged in one warning line per source; a source
where every row is skipped is a :class:`~r1.errors.DataError`. Held-out prompts
(``load_eval_samples``) use the same fields, needing only a prompt and an answer.
The conversions run as batched ``Dataset.map`` passes, so a large source is never
held as Python lists.

``data.mixture`` mixes several sources with ratios, as the R1 seed mixes 600k
reasoning samples with 200k general ones. Mistakes (a missing path, a missing
field) raise :class:`~r1.errors.DataError` naming what exists instead.
"""

from __future__ import annotations

import logging
import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from r1.data.rows import gold_of_row, message_text, prompt_of_messages, r1_response, reasoning_of
from r1.errors import ConfigError, DataError
from r1.protocols import Sample, Task
from r1.seeds import derive_seed
from r1.settings import bounded

log = logging.getLogger(__name__)

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
    response_field: str | None
    """Field holding the target response; null (or a field the source lacks) = build it from ``solution_field``."""
    answer_field: str | None
    """Field holding the gold answer (optional for training; in ``val_path``, this or ``solution_field``)."""
    solution_field: str | None
    """Field holding a worked solution, turned into an R1 response when there is no response field."""
    messages_field: str | None
    """Chat-format field (``[{role, content}, ...]``): prompt = last user turn, response = last assistant turn; wins over the others."""
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
    packing: bool
    """Concatenate each batch's examples into rows of at most ``max_length`` tokens instead of padding them (:mod:`r1.data.packing`)."""
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
    problem = hub_problem()
    if problem is not None:
        raise DataError(f"could not load dataset '{path}': {problem}")
    return _guarded(path, lambda: datasets.load_dataset(path, name, split=split))


HUB_PROBE_SECONDS = 3.0
"""How long :func:`hub_problem` waits for a connection to the Hub before calling it unreachable."""


def hub_problem(timeout: float = HUB_PROBE_SECONDS) -> str | None:
    """Why the Hugging Face Hub cannot be reached, or None when it can (or when offline mode is on).

    Without it, a machine with no network spends half a minute in retries, each logged,
    before ``datasets`` gives up; one connection attempt says the same in seconds. In
    offline mode (``HF_HUB_OFFLINE`` / ``HF_DATASETS_OFFLINE``) ``datasets`` reads its cache
    without the network, so nothing is probed.
    """
    import os
    import socket
    from urllib.parse import urlparse

    if any(os.environ.get(flag, "").lower() in ("1", "true", "yes", "on") for flag in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE")):
        return None
    endpoint = urlparse(os.environ.get("HF_ENDPOINT") or "https://huggingface.co")
    host, port = endpoint.hostname or "huggingface.co", endpoint.port or (80 if endpoint.scheme == "http" else 443)
    try:
        socket.create_connection((host, port), timeout=timeout).close()
    except OSError as error:
        return f"the Hub ({host}) cannot be reached ({error.strerror or type(error).__name__})"
    return None


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
        if required:
            _require(present, field, key, column, source)
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
    for column in COLUMNS:
        check_column(table, column, source, fields.get(column) or column, required=column in required, role=column)


def check_column(table, column: str, source: str, name: str, required: bool, role: str) -> None:
    """:func:`check_rows` for one column of ``table``: ``name`` is the source's field, ``role`` what r1 reads it as."""
    import pyarrow as pa
    import pyarrow.compute as pc

    values = table.data.column(column)
    if required and values.null_count:
        row = pc.index(pc.is_null(values), True).as_py()
        raise DataError(f"dataset '{source}': row {row + 1} has no {role} (field '{name}' is null in {values.null_count} of {len(table)} rows); fill them in or drop those rows")
    if not (pa.types.is_string(values.type) or pa.types.is_large_string(values.type)):
        return
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


def _require(present: Sequence[str], field: str | None, key: str, role: str, source: str) -> None:
    """One :class:`DataError` line unless the source has ``field``, naming the fields it has instead."""
    if field is None or field not in present:
        hint = "; or build responses from a worked solution (data.solution_field) or a conversation (data.messages_field)" if key == "data.response_field" else ""
        raise DataError(f"dataset '{source}' has no field '{field}' for the {role} ({key}{hint}); its fields are: {', '.join(present) or 'none'}")


@dataclass(frozen=True)
class FieldMap:
    """Which source fields hold what: the ``data.*_field`` settings (precedence in the module docstring)."""

    prompt: str
    response: str | None
    answer: str | None
    solution: str | None
    messages: str | None

    @classmethod
    def of(cls, spec: Mapping[str, Any]) -> FieldMap:
        """The fields a ``data`` node or mixture entry names; a ``response_field`` left out means ``response``, a null one none."""
        return cls(
            prompt=spec.get("prompt_field") or "prompt",
            response=spec.get("response_field", "response"),
            answer=spec.get("answer_field"),
            solution=spec.get("solution_field"),
            messages=spec.get("messages_field"),
        )


@dataclass(frozen=True)
class TrainingData:
    """Training examples and how many source rows could not become one.

    ``table`` is a ``datasets.Dataset`` with :data:`COLUMNS`; ``skipped`` counts the rows
    dropped for lacking a usable answer or a user / assistant turn (already logged), so a
    phase can put it in its summary.
    """

    table: Any
    skipped: int


def to_example(row: Mapping[str, Any], fields: FieldMap, source: str, need_response: bool = True) -> Sample | None:
    """One source row as r1's prompt / response / answer, or None when it cannot be one.

    Reads ``fields.messages`` when set, else the prompt and a worked solution (the
    module docstring's rules 1 and 3). ``need_response=False`` (held-out prompts)
    keeps a row only if it has an answer; otherwise a row needs a response.
    """
    if fields.messages is not None:
        messages = row[fields.messages]
        if messages is None:
            return None
        prompt = prompt_of_messages(messages, source)
        response = message_text(messages, "assistant", source)
        answer = gold_of_row(row, fields.answer, None, reply=response)
    else:
        prompt = _text(row[fields.prompt], "user")
        solution = row.get(fields.solution) if fields.solution is not None else None
        answer = gold_of_row(row, fields.answer, fields.solution)
        response = r1_response(reasoning_of(solution), answer) if need_response and answer and isinstance(solution, str) else None
    if not prompt or not (response if need_response else answer):
        return None
    return {"prompt": prompt, "response": response, "answer": answer}


def _examples_batch(batch: Mapping[str, list], fields: FieldMap, source: str, need_response: bool) -> dict[str, list]:
    """:func:`to_example` over a batch of ``Dataset.map``, leaving out the rows that cannot be examples."""
    out: dict[str, list] = {column: [] for column in COLUMNS}
    size = len(next(iter(batch.values())))
    for i in range(size):
        example = to_example({name: values[i] for name, values in batch.items()}, fields, source, need_response)
        if example is not None:
            for column in COLUMNS:
                out[column].append(example[column])
    return out


def derive_examples(table, source: str, fields: FieldMap, need_response: bool = True) -> TrainingData:
    """Prompts, responses and answers built from a conversation or a worked solution, in one batched pass.

    The fields read must exist (checked by the caller); a null prompt or text that is not
    UTF-8 is named by row, as :func:`check_rows` does for ready responses.
    """
    from functools import partial

    used = [fields.messages if fields.messages is not None else fields.prompt]
    for name in (fields.solution, fields.answer):
        if name is not None and name in table.column_names and name not in used:
            used.append(name)
    table = table.select_columns(used)
    for name in used:
        is_prompt = name == fields.prompt and fields.messages is None
        check_column(table, name, source, name, required=is_prompt, role="prompt" if is_prompt else name)
    datasets = _datasets()
    text = datasets.Features({column: datasets.Value("string") for column in COLUMNS})
    examples = table.map(
        partial(_examples_batch, fields=fields, source=source, need_response=need_response),
        batched=True,
        remove_columns=table.column_names,
        features=text,
    )
    return TrainingData(examples, len(table) - len(examples))


def examples_from(table, source: str, fields: FieldMap) -> TrainingData:
    """A source's rows as training examples, by the precedence of the module docstring.

    Skipped rows are logged in one warning line; a source whose every row is skipped is a
    :class:`DataError`.
    """
    present = list(table.column_names)
    if fields.messages is not None:
        _require(present, fields.messages, "data.messages_field", "conversation", source)
        reason = "lack a user or an assistant turn (data.messages_field)"
    elif fields.response is not None and (fields.response in present or fields.solution is None):
        return TrainingData(select_fields(table, source, fields.prompt, fields.response, fields.answer), 0)
    elif fields.solution is None:
        raise DataError(f"dataset '{source}': data.response_field is null, so name a worked solution (data.solution_field) or a conversation (data.messages_field); its fields are: {', '.join(present) or 'none'}")
    else:
        _require(present, fields.prompt, "data.prompt_field", "prompt", source)
        _require(present, fields.solution, "data.solution_field", "solution", source)
        reason = f"state no usable answer (field '{fields.answer}' or a final '####' / \\boxed{{}} in '{fields.solution}')"
    derived = derive_examples(table, source, fields)
    if len(table) and not len(derived.table):
        raise DataError(f"dataset '{source}': all {len(table)} rows {reason}; check data.answer_field / data.solution_field / data.messages_field")
    if derived.skipped:
        log.warning("dataset '%s': skipped %d of %d rows that %s", source, derived.skipped, len(table), reason)
    return derived


def from_samples(samples: Sequence[Sample]):
    """A ``Dataset`` with r1's columns from in-memory samples (a task's, or a test's)."""
    return _datasets().Dataset.from_dict({c: [s.get(c) for s in samples] for c in COLUMNS})


def load_source(spec: Mapping[str, Any], task: Task | None, seed: int = 0, split: str = "train"):
    """One source as a ``Dataset`` with r1's columns (:func:`read_source` without the skipped count)."""
    return read_source(spec, task, seed, split).table


def read_source(spec: Mapping[str, Any], task: Task | None, seed: int = 0, split: str = "train") -> TrainingData:
    """One source as training examples, with the count of rows that could not become one.

    Args:
        spec: a ``data`` config node (or one ``data.mixture`` entry): ``path``, ``split``,
            ``name``, the ``*_field`` names, ``num_samples`` (examples drawn from the task)
            and ``max_samples`` (a cap on a file's examples, drawn after skipped rows are left out).
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
        samples = list(task.samples(split, int(spec["num_samples"]), seed=seed))
        if any(sample.get("response") is None for sample in samples):
            raise ConfigError(
                f"task '{task.name}' has no reference responses to learn from; give SFT a dataset "
                "(data.path=<file> with data.response_field, data.solution_field or data.messages_field)"
            )
        return TrainingData(from_samples(samples), 0)
    table = read_table(str(path), split=spec.get("split") or "train", name=spec.get("name"))
    if len(table) == 0:
        raise DataError(f"dataset '{path}' has no rows")
    loaded = examples_from(table, str(path), FieldMap.of(spec))
    table = loaded.table
    limit = spec.get("max_samples")
    if limit is not None and int(limit) < len(table):
        table = table.select(sorted(random.Random(derive_seed(seed, "data/subset")).sample(range(len(table)), int(limit))))
    return TrainingData(table, loaded.skipped)


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


_INHERITED = ("split", "name", "prompt_field", "response_field", "answer_field", "solution_field", "messages_field")
"""Keys a ``data.mixture`` entry takes from ``data`` unless it sets its own."""


def load_training_set(data: Mapping[str, Any], task: Task | None, seed: int = 0) -> TrainingData:
    """The training examples a ``data`` config node describes (one source or a mixture), and the rows skipped.

    A mixture entry inherits ``split`` / ``name`` / field names from ``data`` unless it sets
    its own; ``skipped`` sums every source's skipped rows (counted before mixing).
    """
    mixture = data.get("mixture")
    if not mixture:
        return read_source(data, task, seed)
    inherited = {k: data[k] for k in _INHERITED if k in data}
    tables, ratios, skipped = [], [], 0
    for i, entry in enumerate(mixture):
        if not isinstance(entry, Mapping) or "ratio" not in entry:
            raise ConfigError(f"data.mixture[{i}] needs a ratio, e.g. {{path: data.jsonl, ratio: 0.75}}")
        spec = {**inherited, "num_samples": data.get("num_samples"), **dict(entry)}  # max_samples only per entry
        loaded = read_source(spec, task, seed=derive_seed(seed, "data/mixture", i))
        tables.append(loaded.table)
        ratios.append(float(entry["ratio"]))
        skipped += loaded.skipped
    total = data.get("mixture_size")
    return TrainingData(mix(tables, ratios, None if total is None else int(total), seed), skipped)


def load_eval_samples(data: Mapping[str, Any], task: Task | None, n: int, seed: int = 0) -> list[Sample]:
    """Held-out prompts with gold answers, scored during validation.

    ``data.val_path: null`` takes the task's test split (disjoint from training by
    construction); a path reads the first ``n`` rows that have a usable answer, from
    ``answer_field`` or else stated by ``solution_field``'s worked solution (or, with
    ``messages_field``, by the assistant turn). Rows without one are left out.
    """
    path = data.get("val_path")
    if path is None:
        if task is None:
            raise ConfigError("data.val_path is null and no task is configured; set data.val_path=<file with answers>")
        return [dict(s) for s in task.samples("test", int(n), seed=seed)]
    source = str(path)
    table = read_table(source, split=data.get("val_split") or "test", name=data.get("name"))
    fields = FieldMap.of({**data, "answer_field": data.get("answer_field") or "answer"})
    present = list(table.column_names)
    if fields.messages is not None:
        _require(present, fields.messages, "data.messages_field", "conversation", source)
    else:
        _require(present, fields.prompt, "data.prompt_field", "prompt", source)
        if fields.solution is None or fields.solution not in present:
            _require(present, fields.answer, "data.answer_field", "answer", source)
    scanned = table.select(range(min(len(table), ANSWER_SCAN_FACTOR * int(n))))
    found = derive_examples(scanned, source, fields, need_response=False).table
    if int(n) > 0 and len(found) == 0:
        raise DataError(f"dataset '{source}': none of its first {len(scanned)} rows has a usable answer (data.answer_field / data.solution_field); check data.val_path")
    return [dict(row) for row in found.select(range(min(len(found), int(n))))]
