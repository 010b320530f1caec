"""Built-in samplers, registered through the ``r1_samplers`` hook."""

from __future__ import annotations

from r1.hookspecs import hookimpl
from r1.plugins import lazy


@hookimpl
def r1_samplers():
    return {"hf": lazy("r1.samplers.hf:HFSampler")}
