"""The offline stand-ins for Hub chat models (tools/build_standins.py) look like the real families.

They are what r1's "any Hugging Face chat model" tests load instead of a download, so
these checks pin what makes them realistic: a trained BPE that round-trips text, the
Qwen and DeepSeek-R1-Distill chat templates with their BOS/EOS/pad conventions (the
double-BOS trap included), Qwen3 and Qwen3-MoE classes, a size limit and
reproducible builds. The ~50 M-parameter ``qwen3-dense-50m`` (built on request only)
is checked from its config, counted on the meta device, without building it.
"""

from __future__ import annotations

import json
import unicodedata
from pathlib import Path

import pytest
import torch

from tests.conftest import load_tool


builder = load_tool("build_standins")

QUESTION = "Let $f(x) = \\frac{x^2+1}{\\sqrt{x}}$. Find $f(4)$."
MATH_TEXTS = [
    QUESTION,
    "Since $\\angle ABC = 90^\\circ$, we get $\\boxed{\\dfrac{\\pi}{2}}$.\n\n  Done.",
    "Für alle $x ∈ ℝ$ gilt $x² ≥ 0$ — donc « café » coûte 3,50 €; 数学很有趣 🙂",
    "<think>\nFirst, 12 × 7 = 84.\n</think>\n<answer>84</answer>",
    "\t tabs,  double  spaces and trailing newline\n",
]
EXPECTED_CLASSES = {"qwen3-dense": "Qwen3ForCausalLM", "qwen3-moe": "Qwen3MoeForCausalLM", "qwen3-dense-think": "Qwen3ForCausalLM"}
QWEN_FOLDERS = ("qwen3-dense", "qwen3-moe")
THINK_FOLDER = "qwen3-dense-think"


@pytest.fixture(scope="module")
def standins(tmp_path_factory) -> dict[str, Path]:
    return builder.build_standins(tmp_path_factory.mktemp("standins"), seed=0)


def tokenizer_of(folder: Path):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(folder))


def user_prompt(tokenizer, system: str | None = None) -> str:
    messages = ([{"role": "system", "content": system}] if system else []) + [{"role": "user", "content": QUESTION}]
    return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)


def test_all_three_are_built(standins):
    assert sorted(standins) == sorted(EXPECTED_CLASSES)


@pytest.mark.parametrize("name", sorted(EXPECTED_CLASSES))
def test_reloads_and_generates_greedily(standins, name):
    from transformers import AutoModelForCausalLM

    folder = standins[name]
    tokenizer = tokenizer_of(folder)
    model = AutoModelForCausalLM.from_pretrained(str(folder))
    assert type(model).__name__ == EXPECTED_CLASSES[name]
    assert builder.parameter_count(model) == builder.saved_parameter_count(folder) <= 5_000_000
    assert model.dtype == torch.float32 and model.config.tie_word_embeddings
    assert model.config.max_position_embeddings >= 1024
    # Embedding rows past the tokenizer, as in Qwen checkpoints; zero so greedy decoding never picks them.
    assert model.config.vocab_size % builder.EMBEDDING_MULTIPLE == 0 and model.config.vocab_size > len(tokenizer)
    assert not model.get_input_embeddings().weight[len(tokenizer) :].any()

    encoded = tokenizer(user_prompt(tokenizer), add_special_tokens=False, return_tensors="pt")
    first = model.generate(**encoded, max_new_tokens=4, do_sample=False)
    again = model.generate(**encoded, max_new_tokens=4, do_sample=False)
    prompt_length = encoded["input_ids"].shape[1]
    assert torch.equal(first[:, :prompt_length], encoded["input_ids"])
    assert 1 <= first.shape[1] - prompt_length <= 4 and torch.equal(first, again)
    assert int(first.max()) < len(tokenizer)


def test_moe_is_a_routed_mixture(standins):
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(str(standins["qwen3-moe"]))
    config = model.config
    assert (config.num_experts, config.num_experts_per_tok) == (8, 2)
    assert config.output_router_logits is False and config.router_aux_loss_coef > 0
    tokenizer = tokenizer_of(standins["qwen3-moe"])
    encoded = tokenizer(user_prompt(tokenizer), add_special_tokens=False, return_tensors="pt")
    assert model(**encoded).aux_loss is None  # off by default, as in the Hub checkpoints
    assert model(**encoded, labels=encoded["input_ids"], output_router_logits=True).aux_loss > 0


@pytest.mark.parametrize("name", ["qwen3-dense", THINK_FOLDER])
def test_bpe_round_trips_math_text(standins, name):
    tokenizer = tokenizer_of(standins[name])
    assert 2_000 <= tokenizer.backend_tokenizer.get_vocab_size(with_added_tokens=False) <= 4_000
    for text in MATH_TEXTS:
        ids = tokenizer(text, add_special_tokens=False)["input_ids"]
        assert tokenizer.decode(ids) == text
        assert tokenizer.decode(ids, skip_special_tokens=True) == text
    # A trained BPE, not bytes: words and LaTeX command names are merged; Qwen's split keeps digits single
    # and a space plus punctuation together.
    assert tokenizer.tokenize(" \\frac") == ["Ġ\\", "frac"] and tokenizer.tokenize(" answer") == ["Ġanswer"]
    assert tokenizer.tokenize("2024") == ["2", "0", "2", "4"]
    text = " ".join(MATH_TEXTS[:2])
    assert len(text.encode()) / len(tokenizer(text, add_special_tokens=False)["input_ids"]) > 2


def test_text_is_nfc_normalised_like_qwen(standins):
    """Qwen's tokenizer normalises to NFC: decomposed input comes back composed."""
    tokenizer = tokenizer_of(standins["qwen3-dense"])
    decomposed = unicodedata.normalize("NFD", "café résumé")
    decoded = tokenizer.decode(tokenizer(decomposed, add_special_tokens=False)["input_ids"])
    assert decoded != decomposed and decoded == unicodedata.normalize("NFC", decomposed)


@pytest.mark.parametrize("name", ["qwen3-dense", THINK_FOLDER])
def test_template_tags_are_single_tokens_kept_by_skip_special(standins, name):
    tokenizer = tokenizer_of(standins[name])
    for tag in builder.TEMPLATE_TAGS:
        ids = tokenizer(tag, add_special_tokens=False)["input_ids"]
        assert len(ids) == 1 and ids[0] not in tokenizer.all_special_ids, tag
    response = "<think>\nx = 2\n</think>\n<answer>2</answer>"
    ids = tokenizer(response, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id, tokenizer.pad_token_id]
    assert tokenizer.decode(ids, skip_special_tokens=True) == response
    assert tokenizer.decode(ids) == response + tokenizer.eos_token + tokenizer.pad_token


@pytest.mark.parametrize("name", QWEN_FOLDERS)
def test_qwen_style(standins, name):
    from transformers import GenerationConfig

    tokenizer = tokenizer_of(standins[name])
    assert type(tokenizer).__name__ == "Qwen2Tokenizer"
    assert tokenizer.bos_token is None and tokenizer.unk_token is None
    assert tokenizer.eos_token == "<|im_end|>" and tokenizer.pad_token == "<|endoftext|>"
    assert tokenizer.pad_token_id != tokenizer.eos_token_id
    assert tokenizer.padding_side == "right"  # the library default; batched generation must pad left itself

    prompt = user_prompt(tokenizer)
    assert prompt == f"<|im_start|>user\n{QUESTION}<|im_end|>\n<|im_start|>assistant\n"
    assert tokenizer(prompt)["input_ids"] == tokenizer(prompt, add_special_tokens=False)["input_ids"]  # no BOS anywhere
    assert user_prompt(tokenizer, system="Reason step by step.").startswith("<|im_start|>system\nReason step by step.<|im_end|>\n<|im_start|>user\n")
    no_think = tokenizer.apply_chat_template([{"role": "user", "content": "1+1"}], tokenize=False, add_generation_prompt=True, enable_thinking=False)
    assert no_think.endswith("<|im_start|>assistant\n<think>\n\n</think>\n\n")

    generation = GenerationConfig.from_pretrained(str(standins[name]))
    assert generation.eos_token_id == [tokenizer.eos_token_id, tokenizer.pad_token_id]
    assert generation.pad_token_id == tokenizer.pad_token_id and generation.bos_token_id == tokenizer.pad_token_id
    assert generation.do_sample is True  # as Qwen3 ships it: callers that want greedy must say so


def test_r1_distill_style_and_its_double_bos_trap(standins):
    from transformers import GenerationConfig

    tokenizer = tokenizer_of(standins[THINK_FOLDER])
    bos, bos_id = tokenizer.bos_token, tokenizer.bos_token_id
    assert bos == "<｜begin▁of▁sentence｜>" and tokenizer.eos_token == "<｜end▁of▁sentence｜>"
    assert len({bos_id, tokenizer.eos_token_id, tokenizer.pad_token_id}) == 3

    prompt = user_prompt(tokenizer)
    assert prompt == f"{bos}<｜User｜>{QUESTION}<｜Assistant｜><think>\n"
    assert prompt.count(bos) == 1
    with_specials = tokenizer(prompt)["input_ids"]
    without = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    assert with_specials[:3].count(bos_id) == 2 and with_specials[:2] == [bos_id, bos_id]
    assert without[0] == bos_id and without.count(bos_id) == 1
    assert with_specials[1:] == without
    assert user_prompt(tokenizer, system="Be brief.").startswith(f"{bos}Be brief.<｜User｜>")

    # Earlier turns lose their reasoning, as in DeepSeek-R1-Distill.
    history = [
        {"role": "user", "content": "1+1"},
        {"role": "assistant", "content": "<think>\nadd\n</think>\n<answer>2</answer>"},
        {"role": "user", "content": "2+2"},
    ]
    rendered = tokenizer.apply_chat_template(history, tokenize=False, add_generation_prompt=True)
    assert rendered == f"{bos}<｜User｜>1+1<｜Assistant｜>\n<answer>2</answer>{tokenizer.eos_token}<｜User｜>2+2<｜Assistant｜><think>\n"

    generation = GenerationConfig.from_pretrained(str(standins[THINK_FOLDER]))
    assert (generation.bos_token_id, generation.eos_token_id, generation.pad_token_id) == (bos_id, tokenizer.eos_token_id, tokenizer.pad_token_id)


def test_cli_with_the_same_seed_writes_identical_folders(standins, tmp_path, capsys):
    rng = torch.get_rng_state()
    assert builder.main([str(tmp_path), "--only", "qwen3-dense", THINK_FOLDER, "--seed", "0"]) == 0
    assert torch.equal(rng, torch.get_rng_state())  # building leaves the caller's RNG alone
    assert sorted(path.name for path in tmp_path.iterdir()) == sorted(["qwen3-dense", THINK_FOLDER])
    for name in ("qwen3-dense", THINK_FOLDER):
        files = sorted(path.name for path in standins[name].iterdir())
        assert files == sorted(path.name for path in (tmp_path / name).iterdir())
        assert {"config.json", "generation_config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"} <= set(files)
        for file in files:
            assert (tmp_path / name / file).read_bytes() == (standins[name] / file).read_bytes(), f"{name}/{file}"
    assert f"qwen3-dense: {tmp_path / 'qwen3-dense'} (" in capsys.readouterr().out


def test_another_seed_changes_the_weights_only(standins, tmp_path):
    folder = builder.build_standins(tmp_path, ["qwen3-dense"], seed=1)["qwen3-dense"]
    for file in ("tokenizer.json", "tokenizer_config.json", "config.json"):
        assert (folder / file).read_bytes() == (standins["qwen3-dense"] / file).read_bytes()
    assert (folder / "model.safetensors").read_bytes() != (standins["qwen3-dense"] / "model.safetensors").read_bytes()


def test_corpus_covers_every_benchmark_with_answers_in_tags():
    texts = list(builder.corpus_texts())
    expected = sum(1 for name in builder.CORPUS_BENCHMARKS for line in (builder.BENCHMARK_DATA / name / "test.jsonl").open(encoding="utf-8") if line.strip())
    assert len(texts) == expected
    assert all(text.count("<think>") == 1 and text.endswith("</answer>") for text in texts)
    gsm8k = json.loads((builder.BENCHMARK_DATA / "gsm8k" / "test.jsonl").open(encoding="utf-8").readline())
    final = gsm8k["answer"].rpartition("####")[2].strip()
    assert any(text.startswith(gsm8k["question"]) and text.endswith(f"<answer>{final}</answer>") for text in texts)


def test_the_50m_stand_in_is_qwen3_dense_at_its_own_size_built_on_request_only(standins):
    big, small = builder.STANDINS["qwen3-dense-50m"], builder.STANDINS["qwen3-dense"]
    assert (big.architecture, big.style) == (small.architecture, small.style)  # same class, tokenizer and template
    assert not big.default and "qwen3-dense-50m" not in standins  # a plain build leaves it out
    tokenizer = tokenizer_of(standins["qwen3-dense"])
    config, model_class = builder.model_config(big.architecture, tokenizer, builder.STYLES[big.style], big.shape)
    assert model_class.__name__ == "Qwen3ForCausalLM" and config.tie_word_embeddings
    assert (config.hidden_size, config.num_hidden_layers, config.num_attention_heads, config.num_key_value_heads) == (512, 12, 8, 4)
    count = builder.config_parameter_count(config, model_class)
    assert 45_000_000 <= count <= big.max_parameters <= 55_000_000
    assert big.max_parameters > builder.MAX_PARAMETERS >= builder.STANDINS["qwen3-moe"].max_parameters
    # The meta-device count is the built model's count: the small one, built by the fixture, says so.
    config, model_class = builder.model_config("dense", tokenizer, builder.STYLES["qwen"])
    assert builder.config_parameter_count(config, model_class) == builder.saved_parameter_count(standins["qwen3-dense"])


def test_the_realistic_stand_ins_are_25m_dense_and_a_moe_of_the_same_active_size(standins):
    """The speed comparisons' shapes (tools/compare_trl.sh --model dense|moe): a token meets the same arithmetic in both."""
    tokenizer = tokenizer_of(standins["qwen3-dense"])
    counts = {}
    for name, expected_class in (("qwen3-dense-25m", "Qwen3ForCausalLM"), ("qwen3-moe-25m", "Qwen3MoeForCausalLM")):
        spec = builder.STANDINS[name]
        assert not spec.default and name not in standins and spec.style == "qwen"
        config, model_class = builder.model_config(spec.architecture, tokenizer, builder.STYLES[spec.style], spec.shape)
        assert model_class.__name__ == expected_class
        counts[name] = builder.config_parameter_count(config, model_class)
        assert counts[name] <= spec.max_parameters
    moe, _ = builder.model_config("moe", tokenizer, builder.STYLES["qwen"], builder.SHAPE_MOE_25M)
    assert (moe.num_experts, moe.num_experts_per_tok, moe.moe_intermediate_size) == (8, 2, 1024)  # the shape sizes the experts
    assert moe.num_experts_per_tok * moe.moe_intermediate_size == builder.SHAPE_25M["intermediate_size"]
    assert 24_000_000 <= counts["qwen3-dense-25m"] <= 26_000_000
    layers, width = builder.SHAPE_25M["num_hidden_layers"], builder.SHAPE_25M["hidden_size"]
    idle_experts = layers * (moe.num_experts - moe.num_experts_per_tok) * 3 * width * moe.moe_intermediate_size
    router = layers * width * moe.num_experts
    assert counts["qwen3-moe-25m"] - idle_experts - router == counts["qwen3-dense-25m"]  # the same active parameters


def test_each_stand_in_has_its_own_parameter_cap(tmp_path, monkeypatch):
    capped = builder.STANDINS["qwen3-dense"]._replace(max_parameters=1_000_000)
    monkeypatch.setitem(builder.STANDINS, "qwen3-dense", capped)
    with pytest.raises(ValueError, match="stand-in 'qwen3-dense' has 1,377,664 parameters, over 1,000,000; shrink its shape"):
        builder.build_standins(tmp_path, ["qwen3-dense"])


def test_unknown_name_is_refused(tmp_path):
    with pytest.raises(ValueError, match="unknown stand-in 'llama'; choose from: qwen3-dense"):
        builder.build_standins(tmp_path, ["llama"])
    with pytest.raises(SystemExit):
        builder.main([str(tmp_path), "--only", "llama"])
