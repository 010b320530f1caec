"""Short non-reasoning prompts: the "general" half of R1's later training data, in miniature.

DeepSeek-R1 mixes its rejection-sampled reasoning data with general data (writing,
factual QA, translation) and trains on both in the last RL stage, so the model also
answers simple requests briefly. Here the general prompts are small string and
counting chores whose answers a rule can check exactly::

    prompt:   reverse cab            response: <think></think><answer>bac</answer>
    prompt:   uppercase dog          response: <think></think><answer>DOG</answer>
    prompt:   after 41               response: <think></think><answer>42</answer>
    prompt:   before 17              response: <think></think><answer>16</answer>
    prompt:   repeat ab 3 times      response: <think></think><answer>ababab</answer>

The reference response has an empty ``<think>``, R1's convention for a query that
needs no chain of thought. Each kind is switched on or off and sized in
``conf/task/general.yaml``. Answers are compared as strings (:meth:`GeneralTask.check`):
the symbolic verifier would take ``ab`` for ``ba`` and ``dog`` for ``DOG``.

As in :mod:`r1.tasks.arithmetic`, a problem's split is decided by a hash of the
problem itself (kind and arguments, not its prompt wording), never by the seed.
"""

from __future__ import annotations

import hashlib
import random
import string
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from r1.protocols import Sample

SPLITS = ("train", "test")

KINDS = ("reverse", "upper", "next", "prev", "repeat")
"""Every kind of problem, in the order they are listed in the YAML."""


def problem_split(key: str, test_percent: int) -> str:
    """``"test"`` for a fixed ``test_percent`` % of all problems, chosen by hashing the problem's key."""
    digest = hashlib.sha256(key.encode()).digest()
    return "test" if int.from_bytes(digest[:4], "big") % 100 < test_percent else "train"


def closed_range(value: Any, what: str, lowest: int) -> tuple[int, int]:
    """``[low, high]`` from YAML as a pair of ints with ``lowest <= low <= high``, else a one-line ``ValueError``."""
    if not isinstance(value, Sequence) or isinstance(value, str) or len(value) != 2:
        raise ValueError(f"{what} must be a range [low, high], got {value!r}")
    low, high = int(value[0]), int(value[1])
    if not lowest <= low <= high:
        raise ValueError(f"{what} must be a range [low, high] with {lowest} <= low <= high, got {list(value)}")
    return low, high


@dataclass(frozen=True)
class Words:
    """Every word over ``letters`` with a length in ``[shortest, longest]``, numbered from 0."""

    letters: str
    shortest: int
    longest: int

    def __len__(self) -> int:
        return sum(len(self.letters) ** n for n in range(self.shortest, self.longest + 1))

    def __getitem__(self, index: int) -> str:
        base = len(self.letters)
        for length in range(self.shortest, self.longest + 1):
            if index < base**length:
                return "".join(self.letters[(index // base**place) % base] for place in reversed(range(length)))
            index -= base**length
        raise IndexError(index)


@dataclass(frozen=True)
class Kind:
    """One kind of problem: a numbered space of argument sets and how each becomes a sample.

    ``arguments(i)`` gives the ``str.format`` arguments of problem ``i`` (of ``size``),
    ``answer`` the gold answer from them, ``key`` the problem's identity (hashed for the split).
    """

    name: str
    prompt: str
    size: int
    arguments: Callable[[int], dict[str, Any]]
    answer: Callable[[dict[str, Any]], str]

    def key(self, args: Mapping[str, Any]) -> str:
        return "-".join([self.name, *(str(value) for value in args.values())])


def build_kind(name: str, options: Mapping[str, Any], letters: str) -> Kind:
    """The :class:`Kind` ``name`` from its YAML node (``prompt`` and its sizes)."""

    def option(key: str) -> Any:
        if key not in options:
            raise ValueError(f"task.kinds.{name} needs '{key}' (see conf/task/general.yaml)")
        return options[key]

    prompt = str(option("prompt"))
    if name in ("reverse", "upper"):
        words = Words(letters, *closed_range(option("word_lengths"), f"task.kinds.{name}.word_lengths", 1))
        answer = (lambda a: a["word"][::-1]) if name == "reverse" else (lambda a: a["word"].upper())
        return Kind(name, prompt, len(words), lambda i: {"word": words[i]}, answer)
    if name in ("next", "prev"):
        low, high = closed_range(option("numbers"), f"task.kinds.{name}.numbers", 0 if name == "next" else 1)
        step = 1 if name == "next" else -1
        return Kind(name, prompt, high - low + 1, lambda i: {"n": low + i}, lambda a: str(a["n"] + step))
    if name == "repeat":
        words = Words(letters, *closed_range(option("word_lengths"), "task.kinds.repeat.word_lengths", 1))
        low, high = closed_range(option("times"), "task.kinds.repeat.times", 1)
        counts = high - low + 1
        return Kind(
            name, prompt, len(words) * counts,
            lambda i: {"word": words[i // counts], "times": low + i % counts},
            lambda a: a["word"] * a["times"],
        )  # fmt: skip
    raise ValueError(f"unknown kind {name!r} in task.kinds; choose from {', '.join(KINDS)}")


def check_prompt(kind: Kind) -> None:
    """A one-line ``ValueError`` unless ``kind``'s prompt names each of its arguments and nothing else."""
    names = {field for _, field, _, _ in string.Formatter().parse(kind.prompt) if field is not None}
    wanted = set(kind.arguments(0))
    if names != wanted:
        placeholders = ", ".join("{" + name + "}" for name in sorted(wanted))
        raise ValueError(f"task.kinds.{kind.name}.prompt must use exactly {placeholders}, got {kind.prompt!r}")


class GeneralTask:
    """Short requests answered without a chain of thought, checked by exact string match.

    Args:
        kinds: ``{kind: {enabled, prompt, <sizes>}}`` (see ``conf/task/general.yaml``); the
            enabled kinds are drawn uniformly, and one whose split runs out stops being drawn.
        letters: the alphabet words are made of (lower case, so that ``upper`` changes them).
        test_percent: share of all problems reserved for the held-out split.
    """

    name = "general"

    def __init__(self, kinds: Mapping[str, Mapping[str, Any]], letters: str, test_percent: int) -> None:
        letters = str(letters)
        if not letters or not letters.isalpha() or not letters.islower() or len(set(letters)) != len(letters):
            raise ValueError(f"letters must be distinct lower-case letters, got {letters!r}")
        if not 0 < int(test_percent) < 100:
            raise ValueError(f"test_percent must be between 1 and 99, got {test_percent}")
        self.letters, self.test_percent = letters, int(test_percent)
        kinds = {str(name): dict(node or {}) for name, node in dict(kinds or {}).items()}
        unknown = sorted(set(kinds) - set(KINDS))
        if unknown:
            raise ValueError(f"unknown kind {unknown[0]!r} in task.kinds; choose from {', '.join(KINDS)}")
        enabled = [(name, node) for name, node in kinds.items() if node.get("enabled")]
        if not enabled:
            raise ValueError(f"no kind is enabled; set task.kinds.<kind>.enabled=true for one of {', '.join(KINDS)}")
        self.kinds = [build_kind(name, node, letters) for name, node in enabled]
        for kind in self.kinds:
            check_prompt(kind)

    def samples(self, split: str, n: int | None, seed: int = 0) -> list[Sample]:
        """``n`` distinct problems of ``split``; the same ``(split, n, seed)`` gives the same list.

        Raises:
            ValueError: ``split`` is unknown, ``n`` is None, or the enabled kinds' split holds fewer than ``n``.
        """
        if split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, got '{split}'")
        if n is None:
            raise ValueError("the general task makes problems on demand and has no 'all rows'; give a number of prompts")
        rng = random.Random(f"general-{split}-{seed}")
        streams = {kind.name: self._problems(kind, split, rng) for kind in self.kinds}
        active = [kind.name for kind in self.kinds]
        out: list[Sample] = []
        while len(out) < n:
            if not active:
                raise ValueError(f"asked for {n} {split} problems but the enabled kinds have only {len(out)}; enable or widen a kind, or lower n")
            name = rng.choice(active)
            sample = next(streams[name], None)
            if sample is None:
                active.remove(name)
            else:
                out.append(sample)
        return out

    def check(self, response: str, answer: str) -> bool:
        """Whether the answer ``response`` states is exactly ``answer`` (case counts)."""
        from r1.math import extract_answer

        return extract_answer(response, "template") == str(answer).strip()

    def _problems(self, kind: Kind, split: str, rng: random.Random) -> Iterator[Sample]:
        """``kind``'s problems of ``split`` in a random order, each once, until there are no more."""
        for index in distinct_indices(kind.size, rng):
            args = kind.arguments(index)
            key = kind.key(args)
            if problem_split(key, self.test_percent) == split:
                answer = kind.answer(args)
                yield {
                    "id": key,
                    "prompt": kind.prompt.format(**args),
                    "answer": answer,
                    "response": f"<think></think><answer>{answer}</answer>",
                    "task": self.name,
                    "kind": kind.name,
                }


def distinct_indices(size: int, rng: random.Random) -> Iterator[int]:
    """Every index of ``range(size)`` once, in a random order, without listing a large range up front.

    Random draws (skipping repeats) until half the range is used, then the rest shuffled:
    a small space is exhausted exactly and quickly, a large one is never listed.
    """
    seen: set[int] = set()
    while 2 * len(seen) < size:
        index = rng.randrange(size)
        if index not in seen:
            seen.add(index)
            yield index
    rest = [i for i in range(size) if i not in seen]
    rng.shuffle(rest)
    yield from rest
