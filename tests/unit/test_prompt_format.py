"""Prompt styles, the detected think prefill, special tokens exactly once, and the prompt token cap."""

from __future__ import annotations

import pytest

from r1.data.chat import PromptFormat, PromptSettings, chat_format, detect_prefill, encode_prompt, encode_prompts, format_prompt
from r1.errors import ConfigError
from r1.models import load_tiny_tokenizer

PREFILL_TEMPLATE = "{{ bos_token }}{% for m in messages %}<|{{ m.role }}|>{{ m.content }}{% endfor %}<|assistant|>{{ '<think>\\n' }}"


def llama_like_tokenizer(chat_template: str | None = PREFILL_TEMPLATE):
    """A byte-level tokenizer whose encoder adds BOS itself, as Llama's and R1-Distill's do."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    raw = Tokenizer(models.BPE())
    raw.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    raw.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=300, special_tokens=["<s>", "</s>", "<pad>"], initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    raw.train_from_iterator(["what is 12+34? <think> </think> <answer> </answer>"] * 20, trainer)
    raw.post_processor = processors.TemplateProcessing(single="<s> $A", special_tokens=[("<s>", raw.token_to_id("<s>"))])
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=raw, bos_token="<s>", eos_token="</s>", pad_token="<pad>")
    tokenizer.chat_template = chat_template
    return tokenizer


def settings(style: str = "chat", **options) -> PromptSettings:
    return PromptSettings(style=style, template=options.get("template"), system_prompt=options.get("system_prompt"), max_tokens=options.get("max_tokens"))


def test_chat_style_is_the_chat_template_and_renders_many_as_one_by_one():
    tokenizer = load_tiny_tokenizer()
    fmt = PromptFormat(tokenizer, settings(system_prompt="be brief"))
    prompts = ["1+1", "Let $x$ be {a}", "日本語"]
    assert fmt.render_many(prompts) == [format_prompt(tokenizer, p, "be brief") for p in prompts] == [fmt.render(p) for p in prompts]
    assert fmt.prefill == "" and fmt.full_response("abc") == "abc"


def test_r1_zero_style_is_the_papers_prompt_as_plain_text():
    fmt = PromptFormat(load_tiny_tokenizer(), settings("r1_zero"))
    text = fmt.render("What is 2+3?")
    assert text.startswith("A conversation between User and Assistant.") and text.endswith("User: What is 2+3?. Assistant:")
    assert "<think> </think> and <answer> </answer>" in text and fmt.prefill == ""
    assert PromptFormat(load_tiny_tokenizer(), settings("plain", template="Q: {prompt}\nA:")).render("2+3") == "Q: 2+3\nA:"


def test_a_template_that_ends_in_think_is_detected_and_rewards_read_the_prefill():
    fmt = PromptFormat(llama_like_tokenizer(), settings())
    assert fmt.prefill == "<think>\n"
    assert fmt.full_response("reasoning</think><answer>46</answer>") == "<think>\nreasoning</think><answer>46</answer>"
    assert fmt.strip_prefill("<think>\nreasoning</think><answer>46</answer>") == "reasoning</think><answer>46</answer>"
    assert detect_prefill("<|assistant|>") == "" and detect_prefill("x<think>  ") == "<think>  "


def test_special_tokens_appear_exactly_once():
    tokenizer = llama_like_tokenizer()
    bos = tokenizer.bos_token_id
    templated = PromptFormat(tokenizer, settings()).render("what is 12+34?")
    assert tokenizer(templated)["input_ids"][:2] == [bos, bos]  # the trap: the template and the encoder both add BOS
    assert encode_prompt(tokenizer, templated).count(bos) == 1
    plain = PromptFormat(tokenizer, settings("r1_zero")).render("what is 12+34?")
    assert encode_prompt(tokenizer, plain)[0] == bos and encode_prompt(tokenizer, plain).count(bos) == 1
    assert encode_prompts(tokenizer, [templated, plain]) == [encode_prompt(tokenizer, templated), encode_prompt(tokenizer, plain)]
    tiny = load_tiny_tokenizer()  # writes BOS in its template, adds nothing itself
    text = format_prompt(tiny, "12+34")
    assert encode_prompt(tiny, text) == tiny(text, add_special_tokens=False)["input_ids"]


def test_the_hf_sampler_encodes_prompts_left_padded_with_one_bos():
    from r1.samplers.hf import encode_prompts as sampler_encode

    tokenizer = llama_like_tokenizer()
    texts = [PromptFormat(tokenizer, settings()).render(p) for p in ("12+34?", "what is 12+34? what is 12+34?")]
    ids, mask = sampler_encode(tokenizer, texts)
    assert mask[0, 0] == 0 and mask[1].all() and (ids == tokenizer.bos_token_id).sum(dim=1).tolist() == [1, 1]


def test_the_token_cap_counts_the_rendered_prompt():
    tokenizer = load_tiny_tokenizer()
    short = format_prompt(tokenizer, "1+1")
    cap = len(encode_prompt(tokenizer, short))
    fmt = PromptFormat(tokenizer, settings(max_tokens=cap))
    assert fmt.fits(short) and not fmt.fits(format_prompt(tokenizer, "11+1"))
    assert chat_format(tokenizer).fits(format_prompt(tokenizer, "1" * 500))


@pytest.mark.parametrize(
    ("style", "template", "message"),
    [("r1_zero", "no placeholder", "must contain '{prompt}'"), ("chat", "Q: {prompt}", "for prompt=r1_zero or prompt=plain")],
)
def test_prompt_mistakes_are_one_line(style, template, message):
    with pytest.raises(ConfigError, match=message):
        settings(style, template=template)
