"""The training task's held-out split as a benchmark (``benchmark=heldout``).

The task decides what a correct response is (``task.check``) and guarantees its
test split never overlaps training, so this measures generalisation on the very
skill being trained: the number to watch on the tiny model, where MATH-500 would
be all zeros. Its prompts are the task's own (for arithmetic, ``47+85``), exactly
what the model saw in training.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from r1.protocols import Sample, Task

if TYPE_CHECKING:
    from r1.plugins import Registry


class HeldoutBenchmark:
    """``n`` problems of a task's ``test`` split.

    Args:
        task: The task: its config node (``{name: arithmetic, digits: [2, 3], ...}``,
            what ``task: ${task}`` in the YAML passes), a registered task name, or a
            task object.
        n: Problems to draw from the split (``conf/benchmark/heldout.yaml`` sets it).
        seed: Which problems (the same seed gives the same problems).
        split: The split to evaluate (``test``; ``train`` measures memorisation).
        k: Samples per problem under the R1 protocol (``default_k``); the eval phase applies
            ``benchmark.k`` from the YAML itself, so this matters only to direct callers.
        limit: Keep only the first ``limit`` problems.
        max_new_tokens: This benchmark's generation budget, if it needs its own.
        registry: The plugin registry that builds a task given by name or config node
            (r1's registry passes itself when it builds this benchmark).
    """

    name = "heldout"
    extraction = "template"
    """Where a response states its answer: the task's checker reads r1's template (recorded in the results)."""

    def __init__(
        self,
        task: Mapping[str, Any] | str | Task,
        n: int,
        seed: int,
        split: str = "test",
        k: int = 4,
        limit: int | None = None,
        max_new_tokens: int | None = None,
        *,
        registry: Registry | None = None,
    ) -> None:
        if isinstance(task, (str, Mapping)):
            if registry is None:
                raise ValueError("a task given by name or config node needs the plugin registry that builds it (registry=...)")
            task = registry.build("task", task)
        self.task = task
        self.n = int(n)
        self.seed = int(seed)
        self.split = split
        self.skipped_rows = 0
        """Held-out rows left out because they have no prompt or no gold answer (a dataset task's gaps)."""
        self.default_k = int(k)
        self.limit = limit
        self.max_new_tokens = max_new_tokens
        self.title = f"{getattr(task, 'name', 'task')} held-out"

    def load(self) -> list[Sample]:
        """The held-out problems, each with ``id``, ``prompt`` and ``answer`` (rows lacking either are counted in ``skipped_rows``)."""
        n = self.n if self.limit is None else min(self.n, int(self.limit))
        samples = list(self.task.samples(self.split, n, seed=self.seed))
        usable = [s for s in samples if s.get("prompt") and s.get("answer") is not None]
        self.skipped_rows = len(samples) - len(usable)
        return usable

    def score(self, responses: list[str], samples: list[Sample]) -> list[float]:
        """1.0 where the task's own checker accepts the response."""
        return [1.0 if self.task.check(response, sample["answer"]) else 0.0 for response, sample in zip(responses, samples, strict=True)]

    def extract(self, response: str) -> str | None:
        from r1.math import extract_answer

        return extract_answer(response)

    def same_answer(self, a: str, b: str) -> bool:
        from r1.math import is_equivalent

        return is_equivalent(a, b)

    def follows_format(self, response: str) -> bool:
        """Whether the response is exactly ``<think>…</think><answer>…</answer>``."""
        from r1.template import matches_strict_template

        return matches_strict_template(response)
