"""Turn a user message into the text a model is prompted with."""

from __future__ import annotations


def format_prompt(tokenizer, user_message: str, system_prompt: str | None = None) -> str:
    """The prompt text ending where the assistant's response begins.

    Uses the tokenizer's chat template when it has one (instruction-tuned models and
    r1's tiny tokenizer do); a base model without a template gets the message as is.
    """
    if getattr(tokenizer, "chat_template", None):
        messages = ([{"role": "system", "content": system_prompt}] if system_prompt else []) + [{"role": "user", "content": user_message}]
        return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    prefix = f"{system_prompt}\n\n" if system_prompt else ""
    return f"{prefix}{user_message}\n"
