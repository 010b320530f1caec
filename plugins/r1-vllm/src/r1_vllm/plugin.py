"""The plugin's hooks: the ``vllm`` sampler and its config option ``sampler=vllm``.

The sampler is offered lazily, so listing plugins (``python -m r1.plugins``) never imports
vLLM or torch; building it without vLLM installed is a one-line error.
"""

from __future__ import annotations

from pathlib import Path

from r1.hookspecs import hookimpl
from r1.plugins import lazy


@hookimpl
def r1_samplers():
    return {"vllm": lazy("r1_vllm.sampler:VLLMSampler")}


@hookimpl
def r1_config_dir():
    return str(Path(__file__).parent / "conf")
