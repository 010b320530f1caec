"""Score responses to a benchmark and summarise them as the R1 paper reports them.

Nothing here needs a model: give any :class:`r1.protocols.Benchmark`, its samples
and ``k`` responses per sample (generated, or read from a file), and get pass@1,
pass@k, maj@k, the format rate and lengths. The eval phase calls the same
functions on what it generated, so a test can check the numbers without one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from r1.algorithms.pass_at_k import maj_at_k, mean_pass_at_k, pass_at_k_ladder
from r1.errors import DataError
from r1.protocols import Benchmark, Sample

CORRECT = 1.0 - 1e-9
"""A response counts as correct for pass@k and maj@k when its score reaches this
(partial credit, as a code benchmark may give, still counts toward pass@1's mean)."""


def check_present(rows: Sequence[Mapping[str, Any]], fields: Sequence[str], source: str) -> None:
    """A one-line :class:`DataError` naming the first row whose value of one of ``fields`` is null or blank.

    Problem files with gaps are common (a scraped answer missing); turned into text they
    would read ``"None"``, a gold answer no response matches, so the row is named instead.
    """
    for field in fields:
        missing = [i for i, row in enumerate(rows) if row.get(field) is None or (isinstance(row.get(field), str) and not row[field].strip())]
        if missing:
            raise DataError(
                f"{source}: row {missing[0] + 1} has no value in field '{field}' ({len(missing)} of {len(rows)} rows lack one); "
                "fill them in or drop those rows"
            )


@dataclass
class Scored:
    """Per-response results, grouped by problem: ``scores[i][j]`` is response ``j`` to problem ``i``."""

    samples: list[Sample]
    responses: list[list[str]]
    scores: list[list[float]]
    answers: list[list[str | None]] | None  # extracted final answers, when the benchmark can extract
    formats: list[list[bool]] | None  # follows the asked format, when the benchmark can tell


def score_benchmark(benchmark: Benchmark, samples: Sequence[Sample], responses_per_sample: Sequence[Sequence[str]]) -> Scored:
    """Score every response with ``benchmark.score`` in one batch (scorers may batch work)."""
    if len(samples) != len(responses_per_sample):
        raise ValueError(f"{len(samples)} samples but responses for {len(responses_per_sample)}")
    flat_responses = [response for responses in responses_per_sample for response in responses]
    flat_samples = [sample for sample, responses in zip(samples, responses_per_sample) for _ in responses]
    flat_scores = [float(score) for score in benchmark.score(flat_responses, flat_samples)] if flat_responses else []
    if len(flat_scores) != len(flat_responses):
        raise ValueError(f"benchmark '{benchmark.name}' returned {len(flat_scores)} scores for {len(flat_responses)} responses")
    extract = getattr(benchmark, "extract", None)
    follows = getattr(benchmark, "follows_format", None)
    return Scored(
        samples=list(samples),
        responses=[list(responses) for responses in responses_per_sample],
        scores=_regroup(flat_scores, responses_per_sample),
        answers=[[extract(r) for r in responses] for responses in responses_per_sample] if callable(extract) else None,
        formats=[[bool(follows(r)) for r in responses] for responses in responses_per_sample] if callable(follows) else None,
    )


def summarize(
    benchmark: Benchmark,
    scored: Scored,
    lengths: Sequence[Sequence[int]] | None = None,
    truncated: Sequence[Sequence[bool]] | None = None,
) -> dict[str, Any]:
    """The benchmark's metrics.

    Returns:
        ``pass@1`` (mean score over all samples of all problems), ``pass@k`` (the
        unbiased estimator at ``k`` = samples per problem), ``maj@k`` (majority
        vote over equivalent answers; ``None`` when the benchmark cannot extract
        answers), ``pass_at`` (pass@j for j = 1, 2, 4, ..., k), ``n`` (problems),
        ``k``, ``format_rate``, ``mean_length`` (tokens; ``None`` without
        ``lengths``), ``mean_chars`` and ``truncated_rate`` (``None`` without
        ``truncated``). Fractions are in [0, 1].
    """
    counts = [(len(scores), sum(score >= CORRECT for score in scores)) for scores in scored.scores]
    k = min((n for n, _ in counts), default=0)
    flat_scores = [score for scores in scored.scores for score in scores]
    metrics: dict[str, Any] = {
        "n": len(scored.samples),
        "k": k,
        "pass@1": _mean([_mean(scores) for scores in scored.scores]),
        "pass@k": mean_pass_at_k(counts, k) if k else 0.0,
        "maj@k": None,
        "pass_at": {str(j): mean_pass_at_k(counts, j) for j in pass_at_k_ladder(k)} if k else {},
        "format_rate": None,
        "mean_length": None,
        "mean_chars": _mean([len(r) for responses in scored.responses for r in responses]),
        "truncated_rate": None,
        "responses": len(flat_scores),
    }
    if scored.answers is not None and k:
        same = getattr(benchmark, "same_answer", None)
        metrics["maj@k"] = maj_at_k(scored.answers, scored.scores, same if callable(same) else None, threshold=CORRECT)
    if scored.formats is not None:
        metrics["format_rate"] = _mean([float(ok) for oks in scored.formats for ok in oks])
    if lengths is not None:
        metrics["mean_length"] = _mean([float(x) for row in lengths for x in row])
    if truncated is not None:
        metrics["truncated_rate"] = _mean([float(bool(x)) for row in truncated for x in row])
    return metrics


def evaluate_responses(
    benchmark: Benchmark,
    samples: Sequence[Sample],
    responses_per_sample: Sequence[Sequence[str]],
    lengths: Sequence[Sequence[int]] | None = None,
    truncated: Sequence[Sequence[bool]] | None = None,
) -> dict[str, Any]:
    """Score ``k`` responses per sample and return :func:`summarize`'s metrics.

    The scoring core of ``phase=eval``, usable without a model: e.g. score a
    benchmark's own gold solutions to measure the verifier's misses.
    """
    return summarize(benchmark, score_benchmark(benchmark, samples, responses_per_sample), lengths, truncated)


def completion_records(
    benchmark_name: str,
    scored: Scored,
    lengths: Sequence[Sequence[int]] | None = None,
    truncated: Sequence[Sequence[bool]] | None = None,
) -> list[dict[str, Any]]:
    """One JSON-ready row per response, for ``completions.jsonl``."""
    rows = []
    for i, sample in enumerate(scored.samples):
        for j, response in enumerate(scored.responses[i]):
            row: dict[str, Any] = {
                "benchmark": benchmark_name,
                "id": sample.get("id", str(i)),
                "sample": j,
                "prompt": sample.get("prompt"),
                "answer": sample.get("answer"),
                "response": response,
                "extracted": scored.answers[i][j] if scored.answers is not None else None,
                "score": scored.scores[i][j],
                "format": scored.formats[i][j] if scored.formats is not None else None,
            }
            if lengths is not None:
                row["num_tokens"] = int(lengths[i][j])
            if truncated is not None:
                row["truncated"] = bool(truncated[i][j])
            rows.append(row)
    return rows


def _regroup(flat: list[float], shape: Sequence[Sequence[Any]]) -> list[list[float]]:
    out, start = [], 0
    for row in shape:
        out.append(flat[start : start + len(row)])
        start += len(row)
    return out


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else 0.0
