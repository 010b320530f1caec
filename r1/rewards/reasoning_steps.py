"""``reasoning_steps``: rewards visibly structured reasoning (step markers), as TRL/open-r1 users expect."""

from __future__ import annotations

import re
from typing import Any

STEP_MARKERS = re.compile(
    r"\bStep\s*\d+\b"  # "Step 1", "Step 2:"
    r"|^[ \t]*\d+[.)][ \t]"  # numbered lines "1. ", "2) "
    r"|^[ \t]*[-*\u2022][ \t]"  # bullet lines
    r"|\b(?:First|Second|Third|Next|Then|Finally),",  # sentence-level transitions
    re.MULTILINE | re.IGNORECASE,
)


def count_steps(text: str) -> int:
    """Number of step markers in ``text``."""
    return len(STEP_MARKERS.findall(text))


class ReasoningStepsReward:
    """``min(1, steps / target_steps)``: full credit from ``target_steps`` markers on.

    Args:
        target_steps: Markers needed for full credit (open-r1 uses 3).
    """

    name = "reasoning_steps"

    def __init__(self, target_steps: int = 3) -> None:
        if target_steps < 1:
            raise ValueError("target_steps must be at least 1")
        self.target_steps = int(target_steps)

    def __call__(self, completions: list[str], **fields: Any) -> list[float | None]:
        """One score in [0, 1] per completion."""
        return [min(1.0, count_steps(c) / self.target_steps) for c in completions]
