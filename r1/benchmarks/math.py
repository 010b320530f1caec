"""Math benchmarks with a verifiable final answer: MATH-500, AIME 2024, AMC 2023, GSM8K.

Each reads the file shipped in ``r1/benchmarks/data/<name>/`` (see its SOURCE.md
for origin, fields and licence), a local file given as ``path``, or a Hub dataset
given as ``hub_id`` (never by default, so evaluation runs offline). A response is
correct when :func:`r1.math.verify` finds its final answer equivalent to the gold
one, the same verifier the accuracy reward uses.

The prompt is the user message only; the eval phase applies the model's chat
template. ``prompt_style`` picks the instruction appended to the problem:

* ``boxed`` (default): "Please reason step by step, and put your final answer
  within \\boxed{}." as DeepSeek recommends for evaluating R1 models;
* ``think``: asks for the R1 template, ``<think>…</think><answer>…</answer>``;
* ``plain``: the bare problem (for models trained on bare prompts).

``prompt_template`` overrides the style with any text containing ``{problem}``.

``extraction`` says where a response states its answer (:mod:`r1.math.extract`):
``any`` (the default: ``<answer>``, the last ``\\boxed{}``, ``####``, else the answer
stated in free text, so that models that follow no template are scored too),
``boxed`` or ``template``. Results record it as ``benchmark.extraction``.

Responses reach :meth:`MathBenchmark.score` and :meth:`MathBenchmark.follows_format`
as the eval phase hands them over: the prompt's think prefill (``<think>`` when the
chat template ends the prompt with it), then the completion.

The gold answer is the ``answer_field`` value (:func:`r1.data.rows.usable_answer`),
else, with a ``solution_field``, the answer a worked solution states
(:func:`r1.data.rows.answer_from_solution`). A shipped benchmark with a row lacking
both is a broken file (a one-line error naming the row); with ``skip_unanswered``
(any prompt dataset, :mod:`r1.benchmarks.dataset`) such rows are skipped and
counted in :attr:`MathBenchmark.skipped_rows`.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Mapping, Sequence
from typing import Any

from r1.benchmarks.scoring import check_present
from r1.data.rows import gold_of_row
from r1.errors import ConfigError, DataError
from r1.paths import data_dir
from r1.protocols import Sample

log = logging.getLogger(__name__)

PROMPT_STYLES: dict[str, str] = {
    "boxed": "{problem}\nPlease reason step by step, and put your final answer within \\boxed{}.",
    "think": "{problem}\nFirst think through the problem inside <think> </think> tags, then give only the final answer inside <answer> </answer> tags.",
    "plain": "{problem}",
}

# Suite name -> where its problems and gold answers are, and its R1-protocol sample count.
SUITES: dict[str, dict[str, Any]] = {
    "math500": {"title": "MATH-500", "problem_field": "problem", "answer_field": "answer", "id_field": "unique_id", "k": 4},
    "aime24": {"title": "AIME 2024", "problem_field": "problem", "answer_field": "answer", "id_field": "id", "k": 64},
    "amc23": {"title": "AMC 2023", "problem_field": "problem", "answer_field": "answer", "id_field": "id", "k": 16},
    "gsm8k": {"title": "GSM8K", "problem_field": "question", "answer_field": "answer", "id_field": None, "k": 1},
}

# Short metadata worth carrying into completions.jsonl (MATH-500's subject and level).
_META_FIELDS = ("subject", "level", "url")


class MathBenchmark:
    """A set of math problems with gold final answers, scored with the shared verifier.

    Args:
        name: The benchmark's name in results (``math500``).
        title: How the results table names it (``MATH-500``); defaults to ``name``.
        path: A local JSONL/JSON/Parquet file or saved datasets folder; ``None`` =
            the file shipped for ``name``.
        hub_id: Load this Hub dataset instead of a file (needs network).
        hub_split: The Hub split (or the split of a saved ``DatasetDict``).
        hub_config: The Hub dataset's configuration name, if any.
        problem_field: The field holding the problem text.
        answer_field: The field holding the gold answer (or a solution ending in
            ``#### N``); ``None`` = read it from ``solution_field`` only.
        solution_field: A field holding a worked solution whose stated answer
            (``#### N`` or the last ``\\boxed{}``) is the gold answer where
            ``answer_field`` is absent or empty; ``None`` = none.
        id_field: The field holding a stable id; ``None`` = the row number.
        prompt_style: ``boxed`` | ``think`` | ``plain`` (see the module docstring).
        prompt_template: A user message with ``{problem}``; overrides ``prompt_style``.
        k: Samples per problem under the R1 protocol (``default_k``).
        limit: Keep only the first ``limit`` problems (quick checks).
        max_new_tokens: This benchmark's generation budget, if it needs its own.
        extraction: Where a response states its answer: ``template`` | ``boxed`` | ``any``.
        lenient: Count a response that states some of a multi-answer gold's answers
            as correct (math-verify's behaviour); by default all are needed.
        skip_unanswered: Skip (and count in :attr:`skipped_rows`) rows without a
            problem or a gold answer instead of refusing the file; ``limit`` then
            counts the problems kept.
    """

    field_keys: Mapping[str, str] = {
        "problem_field": "problem_field",
        "answer_field": "answer_field",
        "solution_field": "solution_field",
        "id_field": "id_field",
    }
    """The config key that sets each field, as error messages name it (a subclass may rename the keys)."""

    def __init__(
        self,
        name: str,
        title: str | None = None,
        path: str | None = None,
        hub_id: str | None = None,
        hub_split: str = "test",
        hub_config: str | None = None,
        problem_field: str = "problem",
        answer_field: str | None = "answer",
        solution_field: str | None = None,
        id_field: str | None = None,
        prompt_style: str = "boxed",
        prompt_template: str | None = None,
        k: int = 1,
        limit: int | None = None,
        max_new_tokens: int | None = None,
        extraction: str = "any",
        lenient: bool = False,
        skip_unanswered: bool = False,
    ) -> None:
        from r1.math import check_extraction

        if prompt_template is None:
            if prompt_style not in PROMPT_STYLES:
                raise ConfigError(f"benchmark '{name}': prompt_style '{prompt_style}' is not one of: {', '.join(PROMPT_STYLES)}")
            prompt_template = PROMPT_STYLES[prompt_style]
        elif "{problem}" not in prompt_template:
            raise ConfigError(f"benchmark '{name}': prompt_template must contain '{{problem}}'")
        if int(k) < 1:
            raise ConfigError(f"benchmark '{name}': k must be at least 1, got {k}")
        if not answer_field and not solution_field:
            keys = self.field_keys
            raise ConfigError(f"benchmark '{name}': set {keys['answer_field']} or {keys['solution_field']}, where the gold answers are")
        self.name = name
        self.title = title or name
        self.path = path
        self.hub_id = hub_id
        self.hub_split = hub_split
        self.hub_config = hub_config
        self.problem_field = problem_field
        self.answer_field = answer_field
        self.solution_field = solution_field
        self.id_field = id_field
        self.prompt_style = prompt_style
        self.prompt_template = prompt_template
        self.default_k = int(k)
        self.limit = limit
        self.max_new_tokens = max_new_tokens
        self.extraction = check_extraction(extraction)
        self.lenient = bool(lenient)
        self.skip_unanswered = bool(skip_unanswered)
        self.skipped_rows = 0
        """Rows the last :meth:`load` skipped for want of a problem or a gold answer (``skip_unanswered``)."""

    def read_rows(self) -> tuple[Sequence[Mapping[str, Any]], list[str], str]:
        """The source's rows, its column names, and how error messages name it."""
        from r1.benchmarks.records import load_records

        path = self.path
        if path is None and not self.hub_id:
            path = str(data_dir() / self.name / "test.jsonl")
        rows = load_records(path, self.hub_id, self.hub_split, self.hub_config)
        return rows, list(rows[0]) if rows else [], f"benchmark '{self.name}' ({self.hub_id or path})"

    def load(self) -> list[Sample]:
        """The problems as samples: ``id``, ``prompt`` (user message), ``problem``, ``answer``."""
        rows, columns, source = self.read_rows()
        self.check_columns(rows, columns, source)
        if self.skip_unanswered:
            return self.usable_samples(rows, source)
        kept = list(itertools.islice(rows, int(self.limit))) if self.limit is not None else list(rows)
        check_present(kept, [self.problem_field] + ([self.id_field] if self.id_field else []), source)
        missing = [i for i, row in enumerate(kept) if self.gold_of(row) is None]
        if missing:
            raise DataError(
                f"{source}: row {missing[0] + 1} has no {'gold answer' if self.solution_field else 'value'} in {self.gold_fields()} "
                f"({len(missing)} of {len(kept)} rows lack one); "
                "fill them in or drop those rows"
            )
        return [self.sample_of(index, row) for index, row in enumerate(kept)]

    def check_columns(self, rows: Sequence[Mapping[str, Any]], columns: Sequence[str], source: str) -> None:
        """A one-line :class:`DataError` for an empty source or a missing field, listing the fields it has."""
        if len(rows) == 0:
            raise DataError(f"{source} has no rows")
        present = ", ".join(columns)
        for key in ("problem_field", "id_field"):
            field = getattr(self, key)
            if field and field not in columns:
                raise DataError(f"{source} has no field '{field}' ({self.field_keys[key]}); its fields are: {present}")
        gold = [getattr(self, key) for key in ("answer_field", "solution_field") if getattr(self, key)]
        if not any(field in columns for field in gold):
            keys = " or ".join(self.field_keys[key] for key in ("answer_field", "solution_field") if getattr(self, key))
            named = " or ".join(f"'{field}'" for field in gold)
            raise DataError(f"{source} has no field {named} for the gold answer ({keys}); its fields are: {present}")

    def gold_fields(self) -> str:
        """Where gold answers are read, in words, for messages."""
        places = [f"field '{self.answer_field}'"] if self.answer_field else []
        places += [f"the solution in field '{self.solution_field}'"] if self.solution_field else []
        return " or ".join(places)

    def gold_of(self, row: Mapping[str, Any]) -> str | None:
        """The row's gold answer: its answer field, else the answer its solution states; None when neither has one."""
        return gold_of_row(row, self.answer_field, self.solution_field)

    def sample_of(self, index: int, row: Mapping[str, Any]) -> Sample | None:
        """Row ``index`` as a sample, or None when it has no problem text or no gold answer."""
        problem = row.get(self.problem_field)
        answer = self.gold_of(row)
        if problem is None or not str(problem).strip() or answer is None:
            return None
        ident = row.get(self.id_field) if self.id_field else None
        sample: Sample = {
            "id": str(index) if ident is None else str(ident),
            "prompt": self.prompt_template.replace("{problem}", str(problem)),
            "problem": str(problem),
            "answer": answer,
        }
        sample.update({field: row[field] for field in _META_FIELDS if field in row})
        return sample

    def usable_samples(self, rows: Sequence[Mapping[str, Any]], source: str) -> list[Sample]:
        """The rows that make a sample (up to ``limit`` of them); the others are skipped, counted and warned about."""
        samples: list[Sample] = []
        skipped = seen = 0
        for index, row in enumerate(rows):
            if self.limit is not None and len(samples) >= int(self.limit):
                break
            seen += 1
            sample = self.sample_of(index, row)
            if sample is None:
                skipped += 1
            else:
                samples.append(sample)
        self.skipped_rows = skipped
        if not samples:
            keys = " / ".join(self.field_keys[key] for key in ("problem_field", "answer_field", "solution_field"))
            raise DataError(f"{source}: none of its {seen} rows has both a problem and a gold answer in {self.gold_fields()}; check {keys}")
        if skipped:
            log.warning("%s: skipped %d of %d rows without a problem or a gold answer in %s", source, skipped, seen, self.gold_fields())
        return samples

    def score(self, responses: list[str], samples: list[Sample]) -> list[float]:
        """1.0 where the response's final answer is equivalent to the gold answer, else 0.0."""
        from r1.math import verify

        return [
            1.0 if verify(response, sample["answer"], extraction=self.extraction, lenient=self.lenient) else 0.0
            for response, sample in zip(responses, samples, strict=True)
        ]

    def extract(self, response: str) -> str | None:
        """The response's final answer (what maj@k votes on)."""
        from r1.math import extract_answer

        return extract_answer(response, self.extraction)

    def same_answer(self, a: str, b: str) -> bool:
        """Whether two extracted answers are the same (maj@k's equivalence classes)."""
        from r1.math import is_equivalent

        return is_equivalent(a, b)

    def follows_format(self, response: str) -> bool:
        """Whether the response states its answer the way the prompt asked (a marker, not free text)."""
        if self.prompt_style == "think":
            from r1.template import matches_strict_template

            return matches_strict_template(response)
        from r1.math import extract_answer

        return extract_answer(response) is not None


def _suite(name: str, options: dict[str, Any]) -> MathBenchmark:
    defaults = dict(SUITES[name])
    defaults.update({key: value for key, value in options.items() if value is not None or key not in defaults})
    return MathBenchmark(name=name, **defaults)


def math500(**options: Any) -> MathBenchmark:
    """MATH-500: 500 competition problems (PRM800K's test split), answers in LaTeX."""
    return _suite("math500", options)


def aime24(**options: Any) -> MathBenchmark:
    """AIME 2024: 30 problems with integer answers 0-999; R1 reports pass@1 over 64 samples."""
    return _suite("aime24", options)


def amc23(**options: Any) -> MathBenchmark:
    """AMC 2023: 40 problems (AMC 12A/12B) with integer answers."""
    return _suite("amc23", options)


def gsm8k(**options: Any) -> MathBenchmark:
    """GSM8K test: 1,319 grade-school word problems, gold after ``####``."""
    return _suite("gsm8k", options)
