"""``length``: keep responses within a length range.

R1's distillation data avoided overlong responses; a floor drops empty or
one-word answers. Length is counted in ``tokens`` (the ``num_tokens`` field the
rejection phase records from the sampler; whitespace-separated words when a
sample has none) or ``chars``.
"""

from __future__ import annotations

from r1.errors import ConfigError
from r1.protocols import Sample

UNITS = ("tokens", "chars")


def response_length(sample: Sample, unit: str = "tokens") -> int:
    """The response's length in ``unit``."""
    if unit == "chars":
        return len(sample["response"])
    if sample.get("num_tokens") is not None:
        return int(sample["num_tokens"])
    return len(sample["response"].split())


class LengthFilter:
    """Keep samples with ``min <= length <= max``.

    Args:
        min: Shortest length kept.
        max: Longest length kept; ``None`` = no upper limit.
        unit: ``tokens`` | ``chars``.
    """

    name = "length"

    def __init__(self, min: int = 1, max: int | None = None, unit: str = "tokens") -> None:
        if unit not in UNITS:
            raise ConfigError(f"length filter: unit '{unit}' is not one of: {', '.join(UNITS)}")
        if max is not None and int(max) < int(min):
            raise ConfigError(f"length filter: max ({max}) is below min ({min})")
        self.min = int(min)
        self.max = None if max is None else int(max)
        self.unit = unit

    def __call__(self, samples: list[Sample]) -> list[bool]:
        lengths = [response_length(s, self.unit) for s in samples]
        return [n >= self.min and (self.max is None or n <= self.max) for n in lengths]
