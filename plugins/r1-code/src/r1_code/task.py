"""``code_mbpp``: MBPP as a training task (:class:`r1.protocols.Task`) for ``reward=code``.

``split="train"`` draws from MBPP's train split (task_ids 601–974), ``"test"`` from its test
split (11–510), so training never sees the problems it is evaluated on.
"""

from __future__ import annotations

import random
from typing import Any

from r1_code import data
from r1_code.extract import extract_code
from r1_code.judge import make_job, run_jobs

_TASK_SPLITS = {"train": "train", "test": "test", "validation": "validation"}


class MBPPTask:
    """Samples with ``id``, ``prompt``, ``answer`` (reference code), ``response`` (the reference
    in the think/answer template), ``tests`` and ``setup_code``.

    ``check(response, answer)`` only gets the gold code, not the tests, so it looks the tests
    up by that code among the problems this task holds (every MBPP problem); for an unknown
    ``answer`` it returns False. The ``code`` reward, which receives ``tests`` itself, is the
    way to score in training.
    """

    name = "code_mbpp"

    def __init__(
        self,
        path: str | None = None,
        show_tests: int | None = 1,
        timeout_s: float = 5.0,
        memory_mb: int = 1024,
    ) -> None:
        """
        Args:
            path: a local MBPP file (original layout) in place of the bundled copy.
            show_tests: tests shown in the prompt (default 1: it fixes the function's name
                and signature without handing the policy every expected value).
            timeout_s, memory_mb: sandbox limits for :meth:`check`.
        """
        self._rows = data.read_records(path or data.MBPP_FILE)
        self.show_tests = show_tests
        self.sandbox_options = {"timeout_s": timeout_s, "memory_mb": memory_mb, "max_workers": 1}
        self._by_answer: dict[str, dict[str, Any]] = {}
        for row in self._rows:
            sample = data.mbpp_sample(row, show_tests)
            self._by_answer.setdefault(_key(sample["answer"]), sample)

    def samples(self, split: str, n: int, seed: int = 0) -> list[dict[str, Any]]:
        """``n`` samples of ``split``, the same for the same seed.

        The split is shuffled with ``seed``; for ``train``, asking for more than the split
        holds cycles through fresh shuffles (GRPO may want many steps); other splits return
        at most every problem once.
        """
        if split not in _TASK_SPLITS:
            raise ValueError(f"code_mbpp has splits {sorted(_TASK_SPLITS)}, not {split!r}")
        pool = [data.mbpp_sample(r, self.show_tests) for r in data.mbpp_rows(self._rows, _TASK_SPLITS[split])]
        rng = random.Random(seed)
        out: list[dict[str, Any]] = []
        while len(out) < n and pool:
            order = pool[:]
            rng.shuffle(order)
            out.extend(order[: n - len(out)])
            if split != "train":
                break
        return out

    def check(self, response: str, answer: str) -> bool:
        """Whether ``response``'s code passes every test of the problem whose reference is ``answer``."""
        sample = self._by_answer.get(_key(answer))
        code = extract_code(response)
        if sample is None or code is None:
            return False
        job = make_job(code, tests=sample["tests"], setup_code=sample["setup_code"])
        if job is None:
            return False
        return run_jobs([job], **self.sandbox_options)[0].all_passed


def _key(code: str) -> str:
    return "\n".join(line.rstrip() for line in code.replace("\r\n", "\n").strip().splitlines())
