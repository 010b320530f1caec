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
"""

from __future__ import annotations

from typing import Any

from r1.benchmarks.scoring import check_present, gold_answers
from r1.errors import ConfigError
from r1.paths import data_dir
from r1.protocols import Sample

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
            ``#### N``, or with a ``\\boxed{}`` answer).
        id_field: The field holding a stable id; ``None`` = the row number.
        prompt_style: ``boxed`` | ``think`` | ``plain`` (see the module docstring).
        prompt_template: A user message with ``{problem}``; overrides ``prompt_style``.
        think_prefilled: The chat template already writes ``<think>`` (DeepSeek-R1
            distills do), so a response starts inside the think block.
        k: Samples per problem under the R1 protocol (``default_k``).
        limit: Keep only the first ``limit`` problems (quick checks).
        max_new_tokens: This benchmark's generation budget, if it needs its own.
        extraction: Where a response states its answer: ``template`` | ``boxed`` | ``any``.
        lenient: Count a response that states some of a multi-answer gold's answers
            as correct (math-verify's behaviour); by default all are needed.
    """

    def __init__(
        self,
        name: str,
        title: str | None = None,
        path: str | None = None,
        hub_id: str | None = None,
        hub_split: str = "test",
        hub_config: str | None = None,
        problem_field: str = "problem",
        answer_field: str = "answer",
        id_field: str | None = None,
        prompt_style: str = "boxed",
        prompt_template: str | None = None,
        think_prefilled: bool = False,
        k: int = 1,
        limit: int | None = None,
        max_new_tokens: int | None = None,
        extraction: str = "any",
        lenient: bool = False,
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
        self.name = name
        self.title = title or name
        self.path = path
        self.hub_id = hub_id
        self.hub_split = hub_split
        self.hub_config = hub_config
        self.problem_field = problem_field
        self.answer_field = answer_field
        self.id_field = id_field
        self.prompt_style = prompt_style
        self.prompt_template = prompt_template
        self.think_prefilled = bool(think_prefilled)
        self.default_k = int(k)
        self.limit = limit
        self.max_new_tokens = max_new_tokens
        self.extraction = check_extraction(extraction)
        self.lenient = bool(lenient)

    def load(self) -> list[Sample]:
        """The problems as samples: ``id``, ``prompt`` (user message), ``problem``, ``answer``."""
        from r1.benchmarks.records import load_records, require_fields

        path = self.path
        if path is None and not self.hub_id:
            path = str(data_dir() / self.name / "test.jsonl")
        rows = load_records(path, self.hub_id, self.hub_split, self.hub_config)
        source = f"benchmark '{self.name}' ({self.hub_id or path})"
        require_fields(rows, [self.problem_field, self.answer_field] + ([self.id_field] if self.id_field else []), source)
        if self.limit is not None:
            rows = rows[: int(self.limit)]
        check_present(rows, [self.problem_field] + ([self.id_field] if self.id_field else []), source)
        answers = gold_answers(rows, self.answer_field, source)
        samples = []
        for index, (row, answer) in enumerate(zip(rows, answers)):
            problem = str(row[self.problem_field])
            sample: Sample = {
                "id": str(row[self.id_field]) if self.id_field else str(index),
                "prompt": self.prompt_template.replace("{problem}", problem),
                "problem": problem,
                "answer": answer,
            }
            sample.update({field: row[field] for field in _META_FIELDS if field in row})
            samples.append(sample)
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
            from r1.template import matches_strict_template, with_prefill

            return matches_strict_template(with_prefill(response, self.think_prefilled))
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
