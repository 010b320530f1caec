"""``format``: keep responses written in the template the data should teach.

* ``think``: exactly ``<think>…</think><answer>…</answer>``, both parts non-empty,
  each tag once, nothing else around them (R1's template);
* ``boxed``: the response ends its reasoning with a ``\\boxed{}`` answer;
* ``any``: some final answer can be extracted (``<answer>``, ``\\boxed{}`` or ``####``).

A response is read as the phase hands it over: the prompt's think prefill (``<think>``
when the chat template ends the prompt with it), then the completion
(:meth:`r1.data.chat.PromptFormat.full_response`).
"""

from __future__ import annotations

from r1.errors import ConfigError
from r1.protocols import Sample

TEMPLATES = ("think", "boxed", "any")


def follows_template(response: str, template: str = "think") -> bool:
    """Whether ``response`` follows ``template`` (see the module docstring)."""
    if template == "think":
        from r1.template import matches_strict_template

        return matches_strict_template(response)
    if template == "boxed":
        from r1.math import last_boxed

        return last_boxed(response) is not None
    from r1.math import extract_answer

    return extract_answer(response) is not None


class FormatFilter:
    """Keep samples whose response follows ``template``.

    Args:
        template: ``think`` | ``boxed`` | ``any``.
    """

    name = "format"

    def __init__(self, template: str = "think") -> None:
        if template not in TEMPLATES:
            raise ConfigError(f"format filter: template '{template}' is not one of: {', '.join(TEMPLATES)}")
        self.template = template

    def __call__(self, samples: list[Sample]) -> list[bool]:
        return [follows_template(s["response"], self.template) for s in samples]
