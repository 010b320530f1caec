"""Built-in tasks, registered as a plugin through the ``r1_tasks`` hook."""

from __future__ import annotations

from r1.hookspecs import hookimpl
from r1.tasks.arithmetic import ArithmeticTask
from r1.tasks.dataset import DatasetTask
from r1.tasks.general import GeneralTask
from r1.tasks.mixture import MixtureTask


@hookimpl
def r1_tasks():
    return {"arithmetic": ArithmeticTask, "dataset": DatasetTask, "general": GeneralTask, "mixture": MixtureTask}
