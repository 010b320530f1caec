"""Turn a user message into the text and tokens a model is prompted with.

Three prompt styles (the ``prompt`` config group, ``conf/prompt/``):

* ``chat``: the tokenizer's chat template, with an optional system message
  (instruction-tuned models, R1-Distill, and r1's tiny tokenizer); a tokenizer
  without a template gets the message as is;
* ``r1_zero``: the R1-Zero prompt of the DeepSeek-R1 paper as plain text, for base
  models: a conversation in which the Assistant thinks in ``<think> </think>`` and
  answers in ``<answer> </answer>``;
* ``plain``: the message alone (or ``template`` with ``{prompt}``).

Two details every caller must get right live here, once:

* **The think prefill.** Templates such as R1-Distill's and Qwen3's thinking mode end
  the prompt with ``<think>``, so a completion starts inside the think block.
  :attr:`PromptFormat.prefill` is that text, detected from the rendered template;
  rewards, filters and benchmarks see ``prefill + completion`` (:meth:`PromptFormat.full_response`),
  so they score the tags the model was shown, with no flag to set by hand.
* **Special tokens exactly once.** A chat template writes BOS itself; a Llama-style
  tokenizer adds it again when asked for special tokens. :func:`encode_prompt` adds the
  tokenizer's leading special tokens only when the text does not already start with them.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from r1.errors import ConfigError
from r1.settings import bounded, build_settings

PromptStyle = Literal["chat", "r1_zero", "plain"]

R1_ZERO_TEMPLATE = (
    "A conversation between User and Assistant. The user asks a question, and the Assistant solves it. "
    "The assistant first thinks about the reasoning process in the mind and then provides the user with the answer. "
    "The reasoning process and answer are enclosed within <think> </think> and <answer> </answer> tags, respectively, "
    "i.e., <think> reasoning process here </think> <answer> answer here </answer>. User: {prompt}. Assistant:"
)
"""The R1-Zero prompt (DeepSeek-R1 paper, Table 1); ``{prompt}`` is replaced by the question."""

THINK_TAG = "<think>"

TEMPLATE_CHECKS = 16
"""Prompts on which the render-once shortcut of :meth:`PromptFormat.render_many` is checked against the template."""


@dataclass
class PromptSettings:
    """The ``prompt`` node (``conf/prompt/*.yaml``): how a user message becomes the model's prompt."""

    style: PromptStyle
    """``chat`` (the tokenizer's chat template) | ``r1_zero`` (the paper's plain-text prompt) | ``plain``."""
    template: str | None
    """For ``r1_zero`` and ``plain``: the text with ``{prompt}``; null = the style's own."""
    system_prompt: str | None
    """For ``chat``: an optional system message; ``r1_zero`` and ``plain`` put it before the prompt."""
    max_tokens: int | None = bounded(ge=1)
    """Prompts longer than this many tokens (template included) are skipped and counted; null = no cap."""

    def __post_init__(self) -> None:
        if self.template is not None and "{prompt}" not in self.template:
            raise ConfigError("prompt.template must contain '{prompt}' where the question goes")
        if self.template is not None and self.style == "chat":
            raise ConfigError("prompt.template is for prompt=r1_zero or prompt=plain; prompt=chat uses the tokenizer's chat template")


def prompt_settings(node: Any) -> PromptSettings:
    """The ``prompt`` config node read into :class:`PromptSettings`, or one :class:`ConfigError` line."""
    return build_settings(PromptSettings, node, prefix="prompt")


def chat_format(tokenizer, system_prompt: str | None = None) -> PromptFormat:
    """The ``chat`` style without a token cap: what a caller with no ``prompt`` config uses."""
    return PromptFormat(tokenizer, PromptSettings(style="chat", template=None, system_prompt=system_prompt, max_tokens=None))


def format_prompt(tokenizer, user_message: str, system_prompt: str | None = None) -> str:
    """The ``chat`` style's prompt text, ending where the assistant's response begins.

    Uses the tokenizer's chat template when it has one (instruction-tuned models and
    r1's tiny tokenizer do); a base model without a template gets the message as is.
    """
    if getattr(tokenizer, "chat_template", None):
        messages = ([{"role": "system", "content": system_prompt}] if system_prompt else []) + [{"role": "user", "content": user_message}]
        return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    prefix = f"{system_prompt}\n\n" if system_prompt else ""
    return f"{prefix}{user_message}\n"


def detect_prefill(rendered: str) -> str:
    """What the prompt already wrote of the response: ``"<think>\\n"`` when it ends in ``<think>``, else ``""``."""
    stripped = rendered.rstrip()
    if stripped.endswith(THINK_TAG):
        return rendered[len(stripped) - len(THINK_TAG) :]
    return ""


class PromptFormat:
    """A user message to prompt text for one tokenizer, with the think prefill it implies.

    Args:
        tokenizer: the policy's tokenizer (its chat template, for ``chat``).
        settings: the ``prompt`` node (:class:`PromptSettings`).
    """

    def __init__(self, tokenizer, settings: PromptSettings) -> None:
        self.tokenizer = tokenizer
        self.settings = settings
        self.prefill = detect_prefill(self.render("x"))
        """The response text the template already wrote (``"<think>\\n"`` for R1-Distill), or ``""``."""

    @property
    def system_prompt(self) -> str | None:
        return self.settings.system_prompt

    def render(self, user_message: str) -> str:
        """The prompt text for one user message."""
        s = self.settings
        if s.style == "chat":
            return format_prompt(self.tokenizer, user_message, s.system_prompt)
        template = s.template or (R1_ZERO_TEMPLATE if s.style == "r1_zero" else "{prompt}")
        prefix = f"{s.system_prompt}\n\n" if s.system_prompt else ""
        return prefix + template.replace("{prompt}", user_message)

    def render_many(self, user_messages: Sequence[str]) -> list[str]:
        """:meth:`render` for many messages, rendering a chat template once when that is exact.

        Rendering a Jinja template per example dominates tokenisation time on large
        datasets. Most templates insert the user message verbatim, so the text is
        ``prefix + message + suffix``; that shortcut is used only after checking it
        reproduces :meth:`render` on a sample of the messages.
        """
        messages = list(user_messages)
        if not messages:
            return []
        marker = "\x00r1-prompt\x00"
        rendered = self.render(marker)
        if rendered.count(marker) == 1:
            prefix, suffix = rendered.split(marker)
            checks = random.Random(0).sample(range(len(messages)), min(TEMPLATE_CHECKS, len(messages)))
            if all(prefix + messages[i] + suffix == self.render(messages[i]) for i in checks):
                return [prefix + m + suffix for m in messages]
        return [self.render(m) for m in messages]

    def full_response(self, completion: str) -> str:
        """The response as rewards and filters should read it: the prefilled text, then the completion."""
        return self.prefill + completion

    def strip_prefill(self, response: str) -> str:
        """A reference response without the part the prompt already wrote (SFT's target after a prefilled prompt)."""
        if self.prefill and response.lstrip().startswith(THINK_TAG):
            return response.lstrip()[len(THINK_TAG) :].lstrip("\n")
        return response

    def token_count(self, prompt_text: str) -> int:
        """Tokens the rendered prompt takes (special tokens counted once, as :func:`encode_prompt` makes them)."""
        return len(encode_prompt(self.tokenizer, prompt_text))

    def fits(self, prompt_text: str) -> bool:
        """Whether a rendered prompt is within ``max_tokens`` (always, when there is no cap)."""
        cap = self.settings.max_tokens
        return cap is None or self.token_count(prompt_text) <= cap


def leading_special_ids(tokenizer) -> list[int]:
    """The token ids a tokenizer puts before any text when asked for special tokens (Llama's BOS; none for Qwen)."""
    cached = getattr(tokenizer, "_r1_leading_special_ids", None)
    if cached is not None:
        return list(cached)
    probe = "a"
    plain = tokenizer(probe, add_special_tokens=False)["input_ids"]
    special = tokenizer(probe, add_special_tokens=True)["input_ids"]
    leading: list[int] = []
    for i in range(len(special)):
        if special[i : i + len(plain)] == plain:
            leading = list(special[:i])
            break
    try:
        tokenizer._r1_leading_special_ids = leading
    except AttributeError:  # a tokenizer that refuses new attributes: recompute each time
        pass
    return leading


def encode_prompt(tokenizer, text: str) -> list[int]:
    """Token ids of a rendered prompt, with the tokenizer's leading special tokens exactly once.

    A chat template that writes ``<bos>`` gets none added; a plain-text prompt (``r1_zero``,
    a base model) gets the tokenizer's own; a tokenizer with none gets nothing.
    """
    return encode_prompts(tokenizer, [text])[0]


def encode_prompts(tokenizer, texts: Sequence[str]) -> list[list[int]]:
    """:func:`encode_prompt` for a batch (one tokenizer call)."""
    batch = tokenizer(list(texts), add_special_tokens=False)["input_ids"]
    leading = leading_special_ids(tokenizer)
    return [list(ids) if not leading or ids[: len(leading)] == leading else leading + list(ids) for ids in batch]
