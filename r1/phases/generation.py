"""What the sampling phases share: a model on the device that generates, and a progress bar.

``phase=eval`` and ``phase=rejection`` both load a policy once, sample many responses
from it in batches, and show how far along they are. Neither trains, so neither needs
a Lightning trainer: they place the model themselves.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

AUTO_DEVICE = "auto"
"""The ``phase.device`` value that picks CUDA when it is available, else the CPU."""


def pick_device(name: str) -> str:
    """``auto`` = cuda when available, else cpu; any other name is used as given."""
    import torch

    if name == AUTO_DEVICE:
        return "cuda" if torch.cuda.is_available() else "cpu"
    return name


def load_for_generation(model_cfg: Mapping[str, Any], device: str) -> tuple[Any, Any]:
    """``(model, tokenizer)`` of a ``model`` config node, the model moved to ``device`` (``auto`` allowed)."""
    from r1.models import load_model

    model, tokenizer = load_model(model_cfg)
    return model.to(pick_device(device)), tokenizer


def progress_bar(unit: str):
    """A rich progress bar with counts of ``unit`` and an ETA (rendered once at the end off a terminal)."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn(unit),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
    )
