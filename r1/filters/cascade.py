"""Apply a configured list of filters to a batch of samples, counting what each rejects.

The filter config is a list of specs, applied in order (``conf/filter/default.yaml``)::

    filters:
      - name: correct                 # a registered filter and its options
      - {name: language, language: en, threshold: 0.95}
      - {name: length, max: 4096, required: false}   # only annotate, never reject

A sample rejected by a filter is not shown to the later ones, so each sample is
counted once, against the first filter that rejected it, and order-dependent
filters (``dedup``) only compare the survivors. ``required: false`` makes a filter
annotate only: its verdict is recorded, the sample goes on. Every kept sample
lists the filters it passed in ``filters_passed``. A filter that raises on a
batch is retried sample by sample and the samples it raises on are rejected and
counted under ``errors``, so one odd response cannot end a long job.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from r1.errors import ConfigError
from r1.filters.text import group_key
from r1.protocols import Filter, Sample

if TYPE_CHECKING:
    from r1.plugins import Registry

CAP = "max_per_prompt"
"""The name under which samples dropped by the per-prompt cap are counted."""


@dataclass
class Step:
    """One configured filter: its label in reports, the filter, and whether it rejects."""

    label: str
    filter: Filter
    required: bool = True


@dataclass
class CascadeResult:
    """What survived a batch, and why the rest did not."""

    kept: list[Sample]
    rejected_by: dict[str, int]  # step label (or CAP) -> samples it rejected first
    passed: dict[str, int]  # step label -> samples that passed it, of those it saw
    seen: dict[str, int]  # step label -> samples it was asked about
    errors: int = 0  # samples a filter raised on (rejected)


def build_filters(specs: Sequence[str | Mapping[str, Any]] | None, registry: Registry) -> list[Step]:
    """Build the filters a config lists; ``required`` is read here, the rest goes to the factory.

    Args:
        specs: A list of filter names or ``{name: ..., <options>}`` mappings.
        registry: The plugin registry that builds them: the run's, so ``plugins.blocked`` holds.
    """
    if specs is None:
        return []
    if isinstance(specs, (str, Mapping)):
        raise ConfigError("filter.filters must be a list of filters, e.g. [{name: correct}, {name: format}]")
    steps: list[Step] = []
    labels: set[str] = set()
    for spec in specs:
        options = {"name": spec} if isinstance(spec, str) else dict(spec)
        required = bool(options.pop("required", True))
        label = str(options.pop("label", None) or options.get("name"))
        if label in labels or label in (CAP, "errors"):
            raise ConfigError(f"filter '{label}' appears twice; give one of them a distinct `label:`")
        labels.add(label)
        steps.append(Step(label, registry.build("filter", options), required))
    return steps


def apply_filters(steps: Sequence[Step], samples: Sequence[Sample], max_per_prompt: int | None = None) -> CascadeResult:
    """Run ``steps`` in order over ``samples``; then keep at most ``max_per_prompt`` per prompt.

    Returns:
        The kept samples (copies, with ``filters_passed``) in their original order,
        and per-step counts.
    """
    alive = [dict(sample, filters_passed=[]) for sample in samples]
    result = CascadeResult(kept=[], rejected_by={s.label: 0 for s in steps}, passed={}, seen={})
    for step in steps:
        verdicts, failed = _safe_call(step.filter, alive)
        result.errors += failed
        result.seen[step.label] = len(alive)
        result.passed[step.label] = sum(verdicts)
        survivors = []
        for sample, ok in zip(alive, verdicts):
            if ok:
                sample["filters_passed"].append(step.label)
            if ok or not step.required:
                survivors.append(sample)
            else:
                result.rejected_by[step.label] += 1
        alive = survivors
    result.rejected_by[CAP] = 0
    if max_per_prompt is not None:
        counts: dict[str, int] = {}
        capped = []
        for sample in alive:
            key = group_key(sample)
            counts[key] = counts.get(key, 0) + 1
            if counts[key] <= max_per_prompt:
                capped.append(sample)
            else:
                result.rejected_by[CAP] += 1
        alive = capped
    result.kept = alive
    return result


def _safe_call(filter_: Filter, samples: list[Sample]) -> tuple[list[bool], int]:
    """The filter's verdicts; on an exception, per sample, rejecting those it raises on."""
    if not samples:
        return [], 0
    try:
        verdicts = [bool(v) for v in filter_(samples)]
    except Exception:  # noqa: BLE001 - any error in a plugin filter: fall back to one sample at a time
        verdicts, failed = [], 0
        for sample in samples:
            try:
                verdicts.append(bool(filter_([sample])[0]))
            except Exception:  # noqa: BLE001 - this sample is what the filter cannot handle: reject it
                verdicts.append(False)
                failed += 1
        return verdicts, failed
    if len(verdicts) != len(samples):
        raise ValueError(f"filter '{getattr(filter_, 'name', filter_)}' returned {len(verdicts)} verdicts for {len(samples)} samples")
    return verdicts, 0
