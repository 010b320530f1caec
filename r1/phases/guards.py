"""Callbacks every phase's trainer carries (:func:`r1.phases.common.build_trainer` adds them).

* :class:`FiniteGuard`: training stops, in one line naming the step, at the first loss or
  gradient that is NaN or infinite, before the optimizer applies it; and no checkpoint is
  written while the weights hold such values. So one bad step (``phase.group_size=1``, whose
  advantages are NaN, or a learning rate that makes the weights blow up) cannot silently turn
  the model into NaNs and save it: the newest checkpoint on disk is the last good one.
* :class:`SettingsRecord`: each checkpoint records the settings that made it, and resuming
  from a checkpoint made with other settings (``ckpt_path=`` a file of another run) says in
  one line what changed. The run goes on, as a resumed run must be able to (a longer run, a
  new evaluation set), but the line warns that the checkpoint's optimizer state (its learning
  rate included), schedule and data position carry over, whatever the new settings say.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import lightning
import torch

from r1.errors import TrainingError

CHECKPOINT_SETTINGS_KEY = "r1_settings"
"""Where :class:`SettingsRecord` keeps the settings in a Lightning checkpoint."""

SHOWN_DIFFERENCES = 3
"""Changed settings shown with their old and new values in the resume warning; the rest are named only."""


def non_finite(tensors: Iterable[torch.Tensor | None]) -> bool:
    """Whether any element of ``tensors`` is NaN or infinite (one device sync for all of them)."""
    flags = [torch.isfinite(t).all() for t in tensors if t is not None and t.numel()]
    if not flags:
        return False
    return not bool(torch.stack([flag.to(flags[0].device) for flag in flags]).all())


def first_non_finite(named: Iterable[tuple[str, torch.Tensor | None]]) -> str | None:
    """The name of the first tensor holding NaN or infinity, or None (the slow path, for the message)."""
    return next((name for name, t in named if t is not None and t.numel() and not bool(torch.isfinite(t).all())), None)


def step_label(trainer: Any, module: Any) -> str:
    """The step being taken, counted from 1: the rollout step of an RL phase, else the optimizer step."""
    rollout = getattr(module, "rollout_step", None)
    return f"step {(rollout if isinstance(rollout, int) else int(trainer.global_step)) + 1}"


def last_good_checkpoint(trainer: Any) -> Path | None:
    """The newest intact checkpoint in the folders the trainer's checkpoint callbacks write to."""
    from r1.phases.checkpoints import newest_intact_checkpoint

    found = []
    for callback in trainer.checkpoint_callbacks:
        folder = getattr(callback, "dirpath", None) or getattr(callback, "folder", None)
        if folder and Path(folder).is_dir() and (newest := newest_intact_checkpoint(Path(folder))) is not None:
            found.append(newest)
    return max(found, key=lambda path: path.stat().st_mtime_ns, default=None)


class FiniteGuard(lightning.pytorch.callbacks.Callback):
    """Stops training at a NaN or infinite loss or gradient, and refuses to checkpoint non-finite weights.

    The loss is looked at before each backward pass and the gradients before each optimizer
    step (manual optimization included: ``optimizer.step()`` calls the same hook); the step
    is stopped there, before the optimizer applies anything. The weights are checked before
    any checkpoint is written. Under mixed precision with a gradient scaler, infinite
    gradients are the scaler's business (it skips that step), so only the loss counts.
    Ranks decide together, once per optimizer step and per checkpoint (where they already
    meet), so every rank stops at the same step.
    """

    def __init__(self) -> None:
        self._bad_loss: str | None = None

    def on_before_backward(self, trainer: Any, pl_module: Any, loss: torch.Tensor) -> None:
        if self._bad_loss is None and non_finite([loss.detach()]):
            value = loss.detach().float().reshape(-1)
            self._bad_loss = f"the loss is {next(float(v) for v in value if not torch.isfinite(v))}"

    def on_before_optimizer_step(self, trainer: Any, pl_module: Any, optimizer: Any) -> None:
        problem, self._bad_loss = self._bad_loss, None
        if problem is None and getattr(trainer.precision_plugin, "scaler", None) is None:
            grads = [p.grad for group in optimizer.param_groups for p in group["params"]]
            if non_finite(grads):
                name = first_non_finite((n, p.grad) for n, p in pl_module.named_parameters())
                problem = f"the gradient of {name} is NaN or infinite" if name else "a gradient is NaN or infinite"
        if self._any_rank(trainer, problem is not None):
            self._stop(trainer, pl_module, problem or "a loss or gradient on another rank is NaN or infinite")

    def on_save_checkpoint(self, trainer: Any, pl_module: Any, checkpoint: dict[str, Any]) -> None:
        if self._any_rank(trainer, non_finite(pl_module.parameters())):
            name = first_non_finite(pl_module.named_parameters())
            self._stop(trainer, pl_module, f"the weights ({name or 'on another rank'}) hold NaN or infinite values, so this checkpoint was not written")

    @staticmethod
    def _any_rank(trainer: Any, bad: bool) -> bool:
        return bool(trainer.strategy.reduce_boolean_decision(bad, all=False))

    @staticmethod
    def _stop(trainer: Any, pl_module: Any, what: str) -> None:
        good = last_good_checkpoint(trainer)
        kept = f"the last good checkpoint is {good} (ckpt_path={good} resumes from it)" if good else "no checkpoint was saved before it"
        raise TrainingError(f"training stopped at {step_label(trainer, pl_module)}: {what}; nothing after it was saved, and {kept}")


class SettingsRecord(lightning.pytorch.callbacks.Callback):
    """Records the run's settings in each checkpoint; resuming from one made with other settings warns in one line.

    Args:
        settings: the run's settings as plain data (the config less what does not change
            the computation: :data:`r1.phases.common.VOLATILE_KEYS`).
        phase: names the warning line.
    """

    def __init__(self, settings: Mapping[str, Any], phase: str) -> None:
        self.settings, self.phase = dict(settings), phase

    def on_save_checkpoint(self, trainer: Any, pl_module: Any, checkpoint: dict[str, Any]) -> None:
        checkpoint[CHECKPOINT_SETTINGS_KEY] = self.settings

    def on_load_checkpoint(self, trainer: Any, pl_module: Any, checkpoint: dict[str, Any]) -> None:
        saved = checkpoint.get(CHECKPOINT_SETTINGS_KEY)
        if saved is None or not trainer.is_global_zero:
            return
        from r1.settings import differences

        changed = differences(saved, self.settings)
        if not changed:
            return
        shown = "; ".join(f"{key}: {old!r} -> {new!r}" for key, old, new in changed[:SHOWN_DIFFERENCES])
        rest = [key for key, _, _ in changed[SHOWN_DIFFERENCES:]]
        more = f"; also {', '.join(rest)}" if rest else ""
        print(
            f"[{self.phase}] warning: resuming from a checkpoint made with other settings ({shown}{more}); "
            "its optimizer state (learning rate included), schedule and data position carry over",
            flush=True,
        )
