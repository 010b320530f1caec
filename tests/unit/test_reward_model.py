"""The reward-model reward and the tool that trains a tiny reward model (tools/train_reward_model.py)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from r1.errors import ConfigError, DataError, R1Error
from r1.plugins import get_registry
from r1.rewards import RewardModelReward, score_batch
from r1.rewards.reward_model import conversation_texts, normalize_scores
from tests.conftest import load_tool

tool = load_tool("train_reward_model")
REGISTRY = get_registry(autoload=False)
SHORT = "<think>4+8+1=13</think><answer>132</answer>"
FULL = "<think>7+5+0=12 4+8+1=13</think><answer>132</answer>"
OPTIONS = {"batch_size": 2, "max_length": 128}


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    """An untrained tiny reward model saved with r1's tokenizer (its chat template included)."""
    tokenizer = tool.reward_tokenizer()
    return tool.save(tool.build_reward_model(tokenizer), tokenizer, tmp_path_factory.mktemp("rm") / "hf")


def test_bradley_terry_loss_on_hand_computed_values():
    chosen, rejected = torch.tensor([2.0, 0.0, -1.0]), torch.tensor([0.0, 0.0, 1.0])
    # -log σ(d) = log(1 + e^-d) for d = 2, 0, -2
    expected = (math.log(1 + math.exp(-2)) + math.log(2) + math.log(1 + math.exp(2))) / 3
    assert tool.bradley_terry_loss(chosen, rejected).item() == pytest.approx(expected, rel=1e-6)
    assert tool.bradley_terry_loss(torch.tensor([5.0]), torch.tensor([5.0])).item() == pytest.approx(math.log(2))


def test_pairs_prefer_shorter_thinking_and_correct_answers():
    problems = [(47, 85), (123, 989), (10, 10), (555, 445)] * 10
    pairs = tool.make_pairs(problems, seed=3, correct_share=0.5)
    assert pairs == tool.make_pairs(problems, seed=3, correct_share=0.5)  # a pure function of its arguments
    assert {p.kind for p in pairs} == {"length", "correct"}
    for pair in pairs:
        a, b = (int(x) for x in pair.prompt.split("+"))
        think = {side: text.split("</think>")[0].removeprefix("<think>") for side, text in (("c", pair.chosen), ("r", pair.rejected))}
        answers = {side: text.split("<answer>")[1].removesuffix("</answer>") for side, text in (("c", pair.chosen), ("r", pair.rejected))}
        assert answers["c"] == str(a + b)
        if pair.kind == "length":  # the same correct answer, fewer worked columns (the last ones kept)
            assert answers["r"] == answers["c"] and len(think["c"]) < len(think["r"]) and think["r"].endswith(think["c"])
        else:  # the same thinking, a near-miss answer of as many digits
            assert think["c"] == think["r"] and answers["r"] != answers["c"] and len(answers["r"]) == len(answers["c"])
    assert tool.response([], "5") == "<think></think><answer>5</answer>"


def test_the_tiny_reward_model_has_one_label_and_its_pad_id(folder):
    from transformers import AutoConfig

    config = AutoConfig.from_pretrained(folder)
    assert config.num_labels == 1 and config.pad_token_id == tool.reward_tokenizer().pad_token_id
    assert config.architectures == ["LlamaForSequenceClassification"]


def test_a_batch_scores_as_its_samples_one_by_one(folder):
    reward = RewardModelReward(str(folder), batch_size=3, max_length=128)
    completions = [SHORT, FULL, "<think></think><answer>1</answer>", FULL + " and some more text to pad the others", "x"]
    prompts = ["47+85", "47+85", "1+0", "47+85", "2+2"]
    batched = reward(completions, prompt=prompts)
    alone = [reward([c], prompt=[p])[0] for c, p in zip(completions, prompts)]
    assert batched == pytest.approx(alone, abs=1e-5)
    assert len(set(round(s, 6) for s in batched)) == len(batched)  # the texts are told apart
    assert reward.tokenizer.padding_side == "right" and reward.model.config.pad_token_id is not None


def test_the_chat_template_is_applied_when_the_tokenizer_has_one(folder):
    tokenizer = tool.reward_tokenizer()
    assert conversation_texts(tokenizer, ["47+85"], [SHORT]) == [f"<|bos|><|user|>47+85<|assistant|>{SHORT}<|eos|>"]
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "47+85"}]
    assert conversation_texts(tokenizer, [messages], [SHORT]) == [f"<|bos|><|system|>Be brief.<|user|>47+85<|assistant|>{SHORT}<|eos|>"]
    tokenizer.chat_template = None
    assert conversation_texts(tokenizer, ["47+85"], [SHORT]) == ["47+85" + SHORT]
    # the reward reads the template: the same pair scored as a chat and as plain text differ
    reward = RewardModelReward(str(folder), **OPTIONS)
    chat = reward([SHORT], prompt=["47+85"])
    reward.tokenizer.chat_template = None
    assert reward([SHORT], prompt=["47+85"]) != pytest.approx(chat)


def test_normalisation():
    assert normalize_scores([0.0, 2.0, -1000.0], "sigmoid", None, None) == pytest.approx([0.5, 1 / (1 + math.exp(-2)), 0.0])
    assert normalize_scores([1.0, 3.0], "standard", 1.0, 2.0) == [0.0, 1.0]
    assert normalize_scores([1.5], "none", None, None) == [1.5]


def test_the_normalised_reward_is_the_raw_score_mapped(folder):
    raw = RewardModelReward(str(folder), **OPTIONS)([SHORT, FULL], prompt=["47+85"] * 2)
    squashed = RewardModelReward(str(folder), normalize="sigmoid", **OPTIONS)([SHORT, FULL], prompt=["47+85"] * 2)
    standard = RewardModelReward(str(folder), normalize="standard", mean=0.5, std=4.0, **OPTIONS)([SHORT, FULL], prompt=["47+85"] * 2)
    assert squashed == pytest.approx([1 / (1 + math.exp(-s)) for s in raw])
    assert standard == pytest.approx([(s - 0.5) / 4.0 for s in raw])


def _one_line(error: pytest.ExceptionInfo) -> str:
    message = str(error.value)
    assert "\n" not in message
    return message


def test_user_mistakes_are_one_line(folder, tmp_path):
    from transformers import LlamaConfig, LlamaForCausalLM, LlamaForSequenceClassification

    with pytest.raises(DataError) as error:
        RewardModelReward(str(tmp_path / "missing"), **OPTIONS)
    assert "does not exist" in _one_line(error)
    with pytest.raises(ConfigError) as error:
        RewardModelReward("???", **OPTIONS)
    assert "reward.path is required" in _one_line(error)
    with pytest.raises(ConfigError) as error:
        RewardModelReward(str(folder), normalize="zscore", **OPTIONS)
    assert "normalize" in _one_line(error)
    with pytest.raises(ConfigError) as error:
        RewardModelReward(str(folder), normalize="standard", mean=0.0, std=0.0, **OPTIONS)
    assert "positive reward.std" in _one_line(error)

    shape = {"vocab_size": 300, "hidden_size": 16, "intermediate_size": 32, "num_hidden_layers": 1, "num_attention_heads": 2, "pad_token_id": 0}
    LlamaForCausalLM(LlamaConfig(**shape)).save_pretrained(tmp_path / "lm")
    with pytest.raises(ConfigError) as error:
        RewardModelReward(str(tmp_path / "lm"), **OPTIONS)
    assert "LlamaForCausalLM, not a sequence classifier" in _one_line(error)
    LlamaForSequenceClassification(LlamaConfig(**shape, num_labels=2)).save_pretrained(tmp_path / "two")
    with pytest.raises(ConfigError) as error:
        RewardModelReward(str(tmp_path / "two"), **OPTIONS)
    assert "has 2 labels" in _one_line(error)

    reward = RewardModelReward(str(folder), **OPTIONS)
    with pytest.raises(DataError) as error:
        reward([SHORT], answer=["132"])
    assert "needs the 'prompt' field" in _one_line(error)
    with pytest.raises(DataError) as error:
        reward([SHORT, FULL], prompt=["47+85", None])
    assert "sample 1 has no 'prompt'" in _one_line(error)
    assert reward.model is None  # nothing was loaded for a batch it could not score


def test_the_weights_load_on_the_first_call_only(folder):
    reward = RewardModelReward(str(folder), device="cpu", **OPTIONS)
    assert reward.model is None
    reward([SHORT], prompt=["47+85"])
    model = reward.model
    assert model is not None and not model.training and model.device.type == "cpu"
    reward([FULL], prompt=["47+85"])
    assert reward.model is model


def compose(*overrides: str):
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir

    from r1.paths import conf_dir

    with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
        return hydra_compose("config", overrides=list(overrides))


def test_reward_model_composes_and_builds_through_the_registry(folder):
    cfg = compose("reward=reward_model", f"reward.path={folder}")
    reward = REGISTRY.build("reward", cfg.reward)
    assert isinstance(reward, RewardModelReward) and reward.batch_size == cfg.reward.batch_size
    direct = RewardModelReward(str(folder), **OPTIONS)([SHORT, FULL], prompt=["47+85"] * 2)
    result = score_batch(reward, [SHORT, FULL], {"prompt": ["47+85"] * 2, "answer": ["132"] * 2, "completion_length": [20, 30]})
    assert result.total == pytest.approx(direct) and list(result.components) == ["reward_model"]
    with pytest.raises(R1Error, match="reward.path is required"):  # the shipped YAML leaves the path to the user
        REGISTRY.build("reward", compose("reward=reward_model").reward)


def test_hybrid_takes_the_reward_model_as_a_component(folder):
    cfg = compose(
        "reward=hybrid", "~reward.weights.language", "~reward.components.language", "+reward.weights.reward_model=0.5",
        f"+reward.components.reward_model={{path: {folder}, batch_size: 4, max_length: 128, normalize: sigmoid}}",
    )  # fmt: skip
    hybrid = REGISTRY.build("reward", cfg.reward)
    result = score_batch(hybrid, [SHORT, "<think>7+5+0=12</think><answer>131</answer>"], {"prompt": ["47+85"] * 2, "answer": ["132"] * 2})
    model_scores = RewardModelReward(str(folder), normalize="sigmoid", **OPTIONS)([SHORT, "<think>7+5+0=12</think><answer>131</answer>"], prompt=["47+85"] * 2)
    assert result.components["reward_model"] == pytest.approx(model_scores)
    assert result.components["accuracy"] == [1.0, 0.0]
    expected = [acc + 0.3 * fmt + 0.5 * rm for acc, fmt, rm in zip(result.components["accuracy"], result.components["format"], model_scores)]
    assert result.total == pytest.approx(expected)
