"""``format``: keep responses written in the template the data should teach.

* ``think``: exactly ``<think>…</think><answer>…</answer>``, both parts non-empty,
  each tag once, nothing else around them (R1's template);
* ``boxed``: the response ends its reasoning with a ``\\boxed{}`` answer;
* ``any``: some final answer can be extracted (``<answer>``, ``\\boxed{}`` or ``####``).
"""

from __future__ import annotations

from r1.errors import ConfigError
from r1.protocols import Sample

TEMPLATES = ("think", "boxed", "any")


def follows_template(response: str, template: str = "think", think_prefilled: bool = False) -> bool:
    """Whether ``response`` follows ``template`` (see the module docstring)."""
    if template == "think":
        from r1.template import matches_strict_template, with_prefill

        return matches_strict_template(with_prefill(response, think_prefilled))
    if template == "boxed":
        from r1.math import last_boxed

        return last_boxed(response) is not None
    from r1.math import extract_answer

    return extract_answer(response) is not None


class FormatFilter:
    """Keep samples whose response follows ``template``.

    Args:
        template: ``think`` | ``boxed`` | ``any``.
        think_prefilled: The chat template already wrote ``<think>``, so the
            response starts inside the think block.
    """

    name = "format"

    def __init__(self, template: str = "think", think_prefilled: bool = False) -> None:
        if template not in TEMPLATES:
            raise ConfigError(f"format filter: template '{template}' is not one of: {', '.join(TEMPLATES)}")
        self.template = template
        self.think_prefilled = bool(think_prefilled)

    def __call__(self, samples: list[Sample]) -> list[bool]:
        return [follows_template(s["response"], self.template, self.think_prefilled) for s in samples]
