"""HumanEval and MBPP as r1 benchmarks (:class:`r1.protocols.Benchmark`).

A response scores 1.0 when its code passes *every* test of the problem, else 0.0, which
is what pass@1 / pass@k over ``k`` samples per problem are computed from.

Samples (``load()``):
    ``id``, ``prompt`` (the user message: the problem and a request for the complete code in a
    ```` ```python ```` block), ``answer`` (the reference solution's code), ``response`` (the
    reference in the ``<think>…</think><answer>…</answer>`` template), and what scoring needs:
    HumanEval ``test``, ``entry_point``, ``preamble`` (the original prompt); MBPP ``tests``,
    ``setup_code``.
"""

from __future__ import annotations

from typing import Any

from r1_code import data
from r1_code.judge import score_responses


class _CodeBenchmark:
    """What both suites share: loading options, limits and scoring in the sandbox."""

    name = ""

    def __init__(
        self,
        path: str | None = None,
        hub_id: str | None = None,
        hub_config: str | None = None,
        hub_split: str | None = None,
        limit: int | None = None,
        k: int = 1,
        timeout_s: float = 10.0,
        memory_mb: int = 1024,
        max_workers: int | None = None,
    ) -> None:
        """
        Args:
            path: a local JSONL / JSONL.gz / Parquet file in place of the bundled copy.
            hub_id: a Hugging Face dataset id; loaded (with ``datasets``) only when set.
            hub_config: the dataset's configuration, e.g. ``full`` or ``sanitized`` for MBPP.
            hub_split: the dataset split to load (default: see each suite).
            limit: keep the first ``limit`` problems (quick runs).
            k: samples per problem (pass@k); ``default_k``.
            timeout_s: wall-clock limit per response (all its tests).
            memory_mb: address-space limit per sandboxed process.
            max_workers: programs run at once (default: the number of CPUs).
        """
        self.path = path
        self.hub_id = hub_id
        self.hub_config = hub_config
        self.hub_split = hub_split
        self.limit = limit
        self.default_k = int(k)
        self.sandbox_options = {"timeout_s": timeout_s, "memory_mb": memory_mb, "max_workers": max_workers}

    def _rows(self, bundled: Any, default_split: str) -> list[dict[str, Any]]:
        if self.hub_id:
            return data.load_hub(self.hub_id, self.hub_split or default_split, self.hub_config)
        return data.read_records(self.path or bundled)

    def _limited(self, samples: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return samples if self.limit is None else samples[: int(self.limit)]

    def score(self, responses: list[str], samples: list[dict[str, Any]]) -> list[float]:
        """1.0 for each response whose code passes all its problem's tests, else 0.0."""
        scores = score_responses(responses, samples, binary=True, **self.sandbox_options)
        return [s or 0.0 for s in scores]


class HumanEval(_CodeBenchmark):
    """OpenAI's HumanEval: 164 functions from docstrings, checked by ``check(candidate)``."""

    name = "humaneval"

    def load(self) -> list[dict[str, Any]]:
        """The problems (``hub_split`` defaults to ``test``, the only split)."""
        rows = self._rows(data.HUMANEVAL_FILE, "test")
        return self._limited([data.humaneval_sample(r) for r in rows])


class MBPP(_CodeBenchmark):
    """Google's Mostly Basic Python Problems, by default the standard test split (task_ids 11–510)."""

    name = "mbpp"

    def __init__(self, split: str = "test", show_tests: int | None = None, **options: Any) -> None:
        """
        Args:
            split: ``test`` (11–510), ``train`` (601–974), ``validation`` (511–600),
                ``prompt`` (1–10) or ``all``. Local files are split by task_id; with
                ``hub_id`` it names the dataset split unless ``hub_split`` does.
            show_tests: how many tests the prompt shows (default: all, as in the paper).
            **options: see :class:`_CodeBenchmark`.
        """
        super().__init__(**options)
        self.split = split
        self.show_tests = show_tests

    def load(self) -> list[dict[str, Any]]:
        """The problems of the chosen split."""
        rows = self._rows(data.MBPP_FILE, self.split)
        if not self.hub_id:
            rows = data.mbpp_rows(rows, self.split)
        return self._limited([data.mbpp_sample(r, self.show_tests) for r in rows])
