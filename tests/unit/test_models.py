from __future__ import annotations

import json

import pytest
import torch
from omegaconf import OmegaConf

from r1.errors import DataError
from r1.models import build_tiny_tokenizer, load_model, load_tiny_tokenizer
from r1.models.tokenizer import TINY_TOKENIZER_DIR
from r1.paths import conf_dir
from r1.runtime import forced_fast_paths


def model_config(option: str, **changes):
    """A shipped model option with its seed interpolation fixed, as composition would do."""
    cfg = OmegaConf.load(conf_dir() / f"model/{option}.yaml")
    if cfg.get("architecture"):
        cfg.architecture.seed = 0
    return OmegaConf.merge(cfg, changes)


@pytest.fixture(scope="module")
def tiny():
    with forced_fast_paths(True):
        return load_model(model_config("tiny_moe"))


def test_tiny_moe_is_a_deepseek_v3_mixture_of_experts_of_the_right_size(tiny):
    model, tokenizer = tiny
    assert type(model).__name__ == "DeepseekV3ForCausalLM"
    config = model.config
    assert config.n_routed_experts == 16 and config.n_shared_experts == 1 and config.num_experts_per_tok == 2
    assert config.first_k_dense_replace == 1 and config.kv_lora_rank == 32
    assert 1_000_000 <= model.num_parameters() <= 5_000_000

    assert config.vocab_size == len(tokenizer)
    # the MoE layers really have routed experts and a gate
    moe_layer = model.model.layers[1].mlp
    assert hasattr(moe_layer, "gate") and hasattr(moe_layer, "shared_experts")


def test_tiny_dense_student_is_smaller_and_dense():
    student, _ = load_model(model_config("tiny_dense"))
    assert type(student).__name__ == "Qwen3ForCausalLM"
    teacher, _ = load_model(model_config("tiny_moe"))
    assert student.num_parameters() < teacher.num_parameters()


def test_tiny_moe_forward_and_generate(tiny):
    model, tokenizer = tiny
    prompts = [tokenizer.apply_chat_template([{"role": "user", "content": p}], tokenize=False, add_generation_prompt=True) for p in ["12+34", "567+89"]]
    batch = tokenizer(prompts, return_tensors="pt", padding=True, add_special_tokens=False)
    out = model(**batch, labels=batch.input_ids)
    assert out.logits.shape == (2, batch.input_ids.shape[1], len(tokenizer))
    assert torch.isfinite(out.loss)
    generated = model.generate(**batch, max_new_tokens=6, do_sample=True, pad_token_id=tokenizer.pad_token_id)
    assert generated.shape[0] == 2 and generated.shape[1] > batch.input_ids.shape[1]


def test_same_seed_same_weights():
    cfg = model_config("tiny_moe", architecture={"seed": 7})
    a, _ = load_model(cfg)
    b, _ = load_model(cfg)
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))


def test_tokenizer_round_trips_any_text_and_keeps_template_tags_as_single_tokens():
    tokenizer = load_tiny_tokenizer()
    for text in ["<think>7+5+0=12 4+8+1=13</think><answer>132</answer>", "Let $x=\\frac{1}{2}$.", "日本語 and émojis 🙂", "  spaces\n\ttabs  "]:
        ids = tokenizer(text, add_special_tokens=False).input_ids
        assert tokenizer.decode(ids) == text
    for tag in ["<think>", "</think>", "<answer>", "</answer>"]:
        assert len(tokenizer(tag, add_special_tokens=False).input_ids) == 1
    ids = tokenizer("<think>1</think>", add_special_tokens=False).input_ids + [tokenizer.eos_token_id]
    assert tokenizer.decode(ids, skip_special_tokens=True) == "<think>1</think>"


def test_chat_template_puts_the_response_right_after_the_assistant_marker():
    tokenizer = load_tiny_tokenizer()
    prompt = tokenizer.apply_chat_template([{"role": "user", "content": "1+2"}], tokenize=False, add_generation_prompt=True)
    assert prompt == "<|bos|><|user|>1+2<|assistant|>"
    assert tokenizer.pad_token_id is not None and tokenizer.padding_side == "left"


def test_shipped_tokenizer_files_match_the_builder(tmp_path):
    build_tiny_tokenizer().save_pretrained(str(tmp_path))
    for name in ["tokenizer.json", "tokenizer_config.json"]:
        assert json.loads((tmp_path / name).read_text()) == json.loads((TINY_TOKENIZER_DIR / name).read_text()), f"run python tools/build_tokenizer.py ({name} differs)"


def test_saved_folder_loads_back_through_the_hf_route(tiny, tmp_path):
    model, tokenizer = tiny
    model.save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)
    loaded, loaded_tokenizer = load_model(model_config("hf", name_or_path=str(tmp_path), dtype="float32"))
    assert type(loaded).__name__ == "DeepseekV3ForCausalLM" and len(loaded_tokenizer) == len(tokenizer)
    x = torch.tensor([[1, 4, 20, 21]])
    torch.testing.assert_close(loaded(x).logits, model(x).logits)


def test_missing_model_path_is_one_clear_error():
    with pytest.raises(DataError, match="does not exist"):
        load_model(model_config("hf", name_or_path="./no/such/folder"))


def test_loaded_moe_models_use_r1_experts_path_and_it_matches_transformers_bit_for_bit(tiny, tmp_path):
    import copy

    from r1.models.fast.experts import NAME

    model, _ = tiny
    assert model.config._experts_implementation == NAME
    reference = copy.deepcopy(model)
    reference.set_experts_implementation("grouped_mm")
    ids = torch.randint(3, 200, (6, 11))
    outputs = []
    for m in (model, reference):
        m.zero_grad()
        logits = m(input_ids=ids).logits
        logits.logsumexp(-1).sum().backward()
        outputs.append((logits.detach(), [p.grad.clone() for p in m.parameters()]))
    (ours, our_grads), (theirs, their_grads) = outputs
    assert torch.equal(ours, theirs)
    assert all(torch.equal(a, b) for a, b in zip(our_grads, their_grads))
    model.zero_grad()
    model.save_pretrained(tmp_path)  # nothing of it is saved: the folder loads anywhere
    assert NAME not in (tmp_path / "config.json").read_text()


def test_dense_models_keep_their_own_forward():
    model, _ = load_model(model_config("tiny_dense"))
    assert getattr(model.config, "_experts_implementation", None) != "r1_grouped"


def test_with_the_fast_paths_off_moe_models_keep_transformers_experts():
    with forced_fast_paths(False):
        model, _ = load_model(model_config("tiny_moe"))
    assert model.config._experts_implementation == "grouped_mm"
