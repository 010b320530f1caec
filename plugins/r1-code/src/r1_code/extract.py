"""Find the program in a model's response.

Why these rules: R1-style responses put the final answer in ``<answer>…</answer>`` after a
``<think>`` block that may itself hold draft code, so the answer wins; chat models often
answer with a fenced block instead, where the *last* Python block is the final version;
and a bare program (no tags, no fences) is taken as it is.
"""

from __future__ import annotations

import re

_ANSWER = re.compile(r"<answer>(.*?)</answer>", re.S)
_FENCE = re.compile(r"```[ \t]*([\w+#.-]*)[^\n]*\n(.*?)```", re.S)
_PYTHON_TAGS = {"python", "py", "python3", "py3"}


def extract_code(response: str | None) -> str | None:
    """The code in ``response``, or ``None`` when there is none.

    Order: the last ``<answer>`` (an unclosed one counts, to the end of the text); else the
    text after ``</think>`` (``None`` if a ``<think>`` is never closed: the model ran out of
    tokens while reasoning). Within that region: the last ```` ```python ```` block, else the
    last untagged fenced block, else the last fenced block of any language, else the region
    itself. Indentation is kept (HumanEval answers may be a function body to append).
    """
    if not response:
        return None
    text = response.replace("\r\n", "\n")
    answers = _ANSWER.findall(text)
    if answers:
        region = answers[-1]
    elif "<answer>" in text:
        region = text.rsplit("<answer>", 1)[1]
    elif "</think>" in text:
        region = text.rsplit("</think>", 1)[1]
    elif "<think>" in text:
        return None
    else:
        region = text
    code = _from_fences(region)
    code = code.lstrip("\n").rstrip()
    return code if code.strip() else None


def _from_fences(region: str) -> str:
    blocks = _FENCE.findall(region)
    if blocks:
        python = [body for lang, body in blocks if lang.lower() in _PYTHON_TAGS]
        untagged = [body for lang, body in blocks if not lang]
        return (python or untagged or [body for _, body in blocks])[-1]
    stripped = region.strip()
    if stripped.startswith("```"):  # an opened fence the model never closed
        return stripped.split("\n", 1)[1] if "\n" in stripped else ""
    return region
