"""r1: the DeepSeek-R1 training recipe (cold-start SFT, GRPO, rejection sampling, distillation, evaluation)."""

from __future__ import annotations

__version__ = "0.1.0"
