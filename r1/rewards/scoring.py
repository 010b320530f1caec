"""Calling rewards safely, and the helpers every reward shares.

:func:`score_batch` is what a trainer calls: it returns the total, one column
per component (for logging) and how many scorings raised. A reward that raises
on one sample costs that sample — scored ``None`` — never the batch or the run;
this is implemented once here, so individual rewards stay plain functions.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

logger = logging.getLogger(__name__)


@dataclass
class RewardResult:
    """The outcome of scoring one batch.

    Attributes:
        total: The reward of each completion; ``None`` when not applicable or failed.
        components: Named columns for logging, aligned with ``total``: a composite
            reward's parts, or ``{name: total}`` for a simple reward.
        errors: How many scorings raised (per sample, per component).
    """

    total: list[float | None]
    components: dict[str, list[float | None]] = field(default_factory=dict)
    errors: int = 0


def score_batch(
    reward: Callable[..., Sequence[Any]],
    completions: Sequence[Any],
    fields: Mapping[str, Any] | None = None,
    *,
    name: str | None = None,
) -> RewardResult:
    """Score a batch with any reward, never raising because of one sample.

    Args:
        reward: A reward callable. If it has a ``score(completions, **fields) ->
            RewardResult`` method (like the hybrid reward) that is used, so its
            components are reported.
        completions: The completions (strings, or chat messages whose content is used).
        fields: Sample columns aligned with ``completions`` (``answer``, ``prompt``, ...).
        name: Column name for a simple reward's result; default its ``name``
            attribute or class name.

    Returns:
        The :class:`RewardResult`.
    """
    columns = dict(fields or {})
    texts = [as_text(c) for c in completions]
    score = getattr(reward, "score", None)
    if callable(score):
        try:
            result = score(texts, **columns)
            if isinstance(result, RewardResult) and len(result.total) == len(texts):
                return result
            raise TypeError(f"{reward_name(reward)}.score returned {type(result).__name__}, not a RewardResult")
        except Exception:
            logger.warning("reward %s failed on the batch; scoring per sample", reward_name(reward), exc_info=True)
    values, failed = safe_call(reward, texts, columns)
    return RewardResult(values, {name or reward_name(reward): values}, sum(failed))


def safe_call(
    reward: Callable[..., Sequence[Any]], completions: list[str], fields: Mapping[str, Any]
) -> tuple[list[float | None], list[bool]]:
    """Call ``reward`` on the batch; if that raises, call it sample by sample.

    Returns:
        ``(values, failed)``: one score per completion (``None`` where the sample
        raised or the reward returned ``None``/NaN), and which samples failed.
    """
    n = len(completions)
    try:
        return _checked(reward(completions, **fields), n)
    except Exception:
        pass  # find the culprit(s): one bad sample must not cost the others
    values: list[float | None] = []
    failed: list[bool] = []
    first_error: Exception | None = None
    for i in range(n):
        try:
            (value,), (bad,) = _checked(reward([completions[i]], **slice_fields(fields, i, n)), 1)
        except Exception as exc:
            first_error = first_error or exc
            value, bad = None, True
        values.append(value)
        failed.append(bad)
    if first_error is not None:  # one line per batch, not per sample: a broken reward must not flood the log
        logger.warning(
            "reward %s raised on %d of %d samples (scored None); first error: %r",
            reward_name(reward), sum(failed), n, first_error,
        )  # fmt: skip
    return values, failed


def _checked(output: Any, n: int) -> tuple[list[float | None], list[bool]]:
    """Validate a reward's output: ``n`` numbers or ``None``s; NaN counts as a failure."""
    values = list(output)
    if len(values) != n:
        raise ValueError(f"reward returned {len(values)} scores for {n} completions")
    out: list[float | None] = []
    failed: list[bool] = []
    for v in values:
        if v is None:
            out.append(None)
            failed.append(False)
            continue
        x = float(v)
        out.append(None if math.isnan(x) else x)
        failed.append(math.isnan(x))
    return out, failed


def slice_fields(fields: Mapping[str, Any], i: int, n: int) -> dict[str, Any]:
    """The fields of sample ``i`` as one-element lists; non-aligned values pass through."""
    return {
        k: [v[i]] if isinstance(v, Sequence) and not isinstance(v, (str, bytes)) and len(v) == n else v
        for k, v in fields.items()
    }


def column(fields: Mapping[str, Any], key: str, n: int) -> list[Any] | None:
    """The aligned list ``fields[key]``, or ``None`` when the batch has no such column.

    Raises:
        ValueError: the column's length differs from the batch's.
    """
    values = fields.get(key)
    if values is None:
        return None
    if isinstance(values, (str, bytes)) or not isinstance(values, Sequence):
        raise ValueError(f"field {key!r} must be a list aligned with the completions")
    if len(values) != n:
        raise ValueError(f"field {key!r} has {len(values)} values for {n} completions")
    return list(values)


def judge_golds(completions: list[str], fields: Mapping[str, Any], answer_field: str, judge: Callable[[str, Any], Any]) -> list[Any]:
    """``judge(completion, gold)`` for each completion; ``None`` for a sample without a gold answer (or a batch without the column).

    The shared shape of the rule rewards that compare a completion with its gold answer
    (``accuracy``, ``exact_match``, the correctness the length rewards condition on).
    """
    golds = column(fields, answer_field, len(completions))
    if golds is None:
        return [None] * len(completions)
    return [None if is_missing(gold) else judge(text, gold) for text, gold in zip(completions, golds)]


def as_text(completion: Any) -> str:
    """A completion as a string: chat-style ``[{"role", "content"}]`` lists are joined by content."""
    if isinstance(completion, str):
        return completion
    if isinstance(completion, Mapping):
        return str(completion.get("content", ""))
    if isinstance(completion, Sequence):
        return "".join(as_text(m) for m in completion)
    return "" if completion is None else str(completion)


def is_missing(gold: Any) -> bool:
    """A sample without a gold answer: ``None``, empty or NaN."""
    if gold is None:
        return True
    if isinstance(gold, float) and math.isnan(gold):
        return True
    return isinstance(gold, str) and not gold.strip()


def reward_name(reward: Any) -> str:
    """A reward's display name: its ``name`` attribute, else its class or function name."""
    name = getattr(reward, "name", None)
    if isinstance(name, str) and name:
        return name
    return getattr(reward, "__name__", type(reward).__name__)

