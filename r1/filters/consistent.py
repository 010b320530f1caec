"""``consistent``: keep responses whose reasoning arrives at the answer they give.

A response can be correct by luck: the chain of thought computes 131, the
answer says 132. Training on it teaches that reasoning and answer are unrelated,
so rejection sampling drops it.

* **Worked column sums** (a chain of thought made only of the arithmetic task's
  steps, ``7+5+0=12 4+8+1=13``): the sum the
  steps imply is the last step's total followed by the units digit of every
  earlier column (``13`` then ``2`` -> ``132``). With ``check_steps`` each step's
  addition must also be right and its carry-in must be the previous carry.
* **Anything else**: the reasoning's conclusion, the last ``\\boxed{}`` in it, the
  right-hand side of its last ``=``, or its last number, must be equivalent to
  the final answer (:func:`r1.math.is_equivalent`).

The reasoning is the ``<think>`` block; without one, the text before the final
``\\boxed{}``. A response is read as the phase hands it over: the prompt's think
prefill, then the completion (:meth:`r1.data.chat.PromptFormat.full_response`).
"""

from __future__ import annotations

import re

from r1.protocols import Sample

_STEP = re.compile(r"(\d+)\s*\+\s*(\d+)\s*\+\s*(\d+)\s*=\s*(\d+)")
_ONLY_STEPS = re.compile(r"\s*(?:\d+\s*\+\s*\d+\s*\+\s*\d+\s*=\s*\d+\s*)+")
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:\s*/\s*\d+)?")
_LAST_EQUATION = re.compile(r"=\s*([^=\n$]+?)\s*(?:\$|\n|\.\s|,\s|;|$)")
_BOX = re.compile(r"\\(?:boxed|fbox)(?![a-zA-Z])")


def column_sum_answer(reasoning: str, check_steps: bool = True) -> str | None:
    """The sum that worked column additions (``x+y+carry=total``) arrive at, or ``None``.

    Returns ``None`` when the reasoning has no such steps, or (with ``check_steps``)
    when a step's addition is wrong or its carry-in is not the previous carry.
    """
    steps = [tuple(int(g) for g in m) for m in _STEP.findall(reasoning)]
    if not steps:
        return None
    if check_steps:
        carry = 0
        for x, y, carry_in, total in steps:
            if carry_in != carry or x + y + carry_in != total or x > 9 or y > 9:
                return None
            carry = total // 10
    totals = [total for *_, total in steps]
    return str(totals[-1]) + "".join(str(t % 10) for t in reversed(totals[:-1]))


def reasoning_and_answer(response: str) -> tuple[str, str | None]:
    """The reasoning part of a response and the final answer it states."""
    from r1.math import extract_answer

    answer = extract_answer(response)
    start, end = response.find("<think>"), response.find("</think>")
    if start >= 0 and end > start:
        return response[start + len("<think>") : end], answer
    boxes = list(_BOX.finditer(response))
    return (response[: boxes[-1].start()] if boxes else response), answer


def conclusions(reasoning: str) -> list[str]:
    """Where a chain of thought states its result: last box, last ``= …``, last number."""
    from r1.math import last_boxed

    found = []
    boxed = last_boxed(reasoning)
    if boxed:
        found.append(boxed)
    equations = _LAST_EQUATION.findall(reasoning)
    if equations:
        found.append(equations[-1].strip())
    numbers = _NUMBER.findall(reasoning)
    if numbers:
        found.append(numbers[-1].replace(" ", ""))
    return found


def is_consistent(response: str, check_steps: bool = True) -> bool:
    """Whether the response's reasoning arrives at the answer it states (see the module docstring)."""
    from r1.math import is_equivalent

    reasoning, answer = reasoning_and_answer(response)
    if answer is None:
        return False
    if _ONLY_STEPS.fullmatch(reasoning):
        implied = column_sum_answer(reasoning, check_steps)
        return implied is not None and is_equivalent(implied, answer)
    return any(is_equivalent(candidate, answer) for candidate in conclusions(reasoning))


class ConsistentFilter:
    """Keep samples whose reasoning arrives at their answer.

    Args:
        check_steps: For worked column sums, also require every step to be right.
    """

    name = "consistent"

    def __init__(self, check_steps: bool = True) -> None:
        self.check_steps = bool(check_steps)

    def __call__(self, samples: list[Sample]) -> list[bool]:
        return [is_consistent(s["response"], self.check_steps) for s in samples]
