"""The tokenizer that ships with r1, so the default model needs nothing from the Hub.

A byte-level tokenizer with no merges: every UTF-8 byte is one token, so any text
(MATH-500 problems, Chinese, code) round-trips exactly, and the digits of the
arithmetic task are one token each, which is what a 2 M-parameter model learns
fastest from. The template tags ``<think>``, ``</think>``, ``<answer>``,
``</answer>`` are single tokens (kept when decoding with
``skip_special_tokens=True``, since rewards read them); pad, bos, eos and the
chat-role markers are special tokens.

The files in ``r1/models/tiny_tokenizer/`` are written by
``python tools/build_tokenizer.py``; a test checks that they match this code.
"""

from __future__ import annotations

from pathlib import Path

from r1.paths import PACKAGE_DIR

TINY_TOKENIZER_DIR = PACKAGE_DIR / "models" / "tiny_tokenizer"

PAD, BOS, EOS = "<|pad|>", "<|bos|>", "<|eos|>"
ROLE_TOKENS = ("<|system|>", "<|user|>", "<|assistant|>")
TEMPLATE_TAGS = ("<think>", "</think>", "<answer>", "</answer>")

# A prompt ends with the assistant marker; the response follows directly.
CHAT_TEMPLATE = (
    "{{ bos_token }}"
    "{% for message in messages %}"
    "{% if message['role'] == 'system' %}<|system|>{{ message['content'] }}"
    "{% elif message['role'] == 'user' %}<|user|>{{ message['content'] }}"
    "{% else %}<|assistant|>{{ message['content'] }}{{ eos_token }}{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>{% endif %}"
)


def build_tiny_tokenizer():
    """Build the byte-level tokenizer in memory (a transformers ``PreTrainedTokenizerFast``)."""
    from tokenizers import AddedToken, Tokenizer, decoders, models
    from tokenizers.pre_tokenizers import ByteLevel
    from transformers import PreTrainedTokenizerFast

    specials = [PAD, BOS, EOS, *ROLE_TOKENS]
    vocab: dict[str, int] = {}
    for token in [*specials, *TEMPLATE_TAGS, *sorted(ByteLevel.alphabet())]:
        vocab[token] = len(vocab)
    core = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    core.pre_tokenizer = ByteLevel(add_prefix_space=False, use_regex=False)
    core.decoder = decoders.ByteLevel()
    core.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in specials])
    core.add_tokens([AddedToken(t, special=False, normalized=False) for t in TEMPLATE_TAGS])
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=core,
        pad_token=PAD,
        bos_token=BOS,
        eos_token=EOS,
        padding_side="left",
        model_max_length=512,
    )
    tokenizer.chat_template = CHAT_TEMPLATE
    return tokenizer


def load_tiny_tokenizer():
    """The shipped tokenizer, loaded from package data with ``AutoTokenizer``."""
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(TINY_TOKENIZER_DIR))


def save_tiny_tokenizer(folder: str | Path = TINY_TOKENIZER_DIR) -> Path:
    folder = Path(folder)
    build_tiny_tokenizer().save_pretrained(str(folder))
    return folder
