"""The hybrid reward, its components, and score_batch's isolation of failing samples."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from r1.data.chat import detect_prefill
from r1.errors import PluginError
from r1.hookspecs import hookimpl
from r1.plugins import Registry, create_plugin_manager, get_registry
from r1.rewards import HybridReward, RewardResult, score_batch
from r1.settings import to_plain

PERFECT = "<think>2 + 2 makes four.</think><answer>4</answer>"
CONF = Path(__file__).resolve().parents[2] / "conf"
SHIPPED = OmegaConf.load(CONF / "reward" / "hybrid.yaml")
REGISTRY = get_registry(autoload=False)


def hybrid(**changes) -> HybridReward:
    """The shipped hybrid reward (conf/reward/hybrid.yaml) with ``changes`` to its options."""
    options = {key: value for key, value in to_plain(SHIPPED).items() if key != "name"}
    return HybridReward(**{**options, **changes}, registry=REGISTRY)


def test_the_shipped_weights_are_the_seed_and_the_registry_builds_them():
    assert to_plain(SHIPPED.weights) == {"accuracy": 1.0, "format": 0.3, "language": 0.2}
    reward = REGISTRY.build("reward", SHIPPED)  # the registry passes itself to the hybrid
    assert isinstance(reward, HybridReward) and reward.weights == to_plain(SHIPPED.weights)


def test_perfect_correct_response_scores_1_5():
    assert hybrid()([PERFECT], answer=["4"]) == [pytest.approx(1.0 + 0.3 + 0.2)]


def test_a_prefilled_response_scores_as_one_the_model_wrote():
    """R1-Distill's template writes ``<think>\\n``; the phases hand the hybrid that prefill plus the completion."""
    prefill = detect_prefill("<｜begin▁of▁sentence｜><｜User｜>What is 2+2?<｜Assistant｜><think>\n")
    completion = "2 + 2 makes four.</think><answer>4</answer>"
    prefilled = hybrid().score([prefill + completion], answer=["4"])
    written = hybrid().score(["<think>\n" + completion], answer=["4"])
    assert prefilled.components == written.components == {"accuracy": [1.0], "format": [1.0], "language": [1.0]}
    assert prefilled.total == written.total == [pytest.approx(1.5)]
    with pytest.raises(PluginError, match="think_prefilled"):  # the retired option is refused, not ignored
        hybrid(components={"format": {"think_prefilled": True}})([PERFECT], answer=["4"])


def test_components_are_reported_unweighted():
    reward = hybrid()
    texts = [PERFECT, "<think>ok</think> 5", "<think>首先 compute</think><answer>5</answer>"]
    result = reward.score(texts, answer=["4", "4", "4"])
    fmt_partial = 3 / (math.sqrt(7) * 2)  # see test_rewards.test_format_cosine
    assert result.components == {
        "accuracy": [1.0, 0.0, 0.0],
        "format": [1.0, pytest.approx(fmt_partial), 1.0],
        "language": [1.0, 1.0, pytest.approx(1 / 3)],  # "compute" vs two Han characters
    }
    assert result.total == [pytest.approx(1.5), pytest.approx(0.3 * fmt_partial + 0.2), pytest.approx(0.3 + 0.2 / 3)]
    assert reward.components(texts, answer=["4"] * 3) == result.components
    assert result.errors == 0


def test_weights_change_the_total():
    base = hybrid()([PERFECT], answer=["4"])[0]
    heavier = hybrid(weights={"accuracy": 1.0, "format": 0.5, "language": 0.2})([PERFECT], answer=["4"])[0]
    assert base == pytest.approx(1.5) and heavier == pytest.approx(1.7)


def test_hydra_override_changes_the_result():
    """`reward=hybrid reward.weights.format=0.5` as a user types it, built the way r1 builds rewards."""
    from hydra import compose, initialize_config_dir

    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        default = compose("config", overrides=["reward=hybrid"]).reward
        changed = compose("config", overrides=["reward=hybrid", "reward.weights.format=0.5"]).reward
    texts, fields = ["<think>r</think> 4"], {"answer": ["4"]}
    before, after = REGISTRY.build("reward", default)(texts, **fields)[0], REGISTRY.build("reward", changed)(texts, **fields)[0]
    fmt = 3 / (math.sqrt(7) * 2)
    assert before == pytest.approx(0.3 * fmt + 0.2)
    assert after == pytest.approx(0.5 * fmt + 0.2)


def test_component_options_from_yaml():
    cfg = OmegaConf.create({"weights": {"accuracy": 1.0, "format": 1.0}, "components": {"format": {"strict": True}}})
    reward = HybridReward(**cfg, registry=REGISTRY)
    assert reward(["<think>r</think><answer>4</answer> trailing"], answer=["4"]) == [1.0]  # strict format fails
    assert HybridReward(weights={"format": 1.0}, registry=REGISTRY)(["<think>r</think><answer>4</answer> trailing"]) == [
        pytest.approx(math.sqrt(7 / 8))
    ]


def test_same_reward_twice_under_two_names():
    reward = HybridReward(
        weights={"loose": 1.0, "strict": 1.0},
        components={"loose": {"name": "format"}, "strict": {"name": "format", "strict": True}},
        registry=REGISTRY,
    )
    result = reward.score(["<think>r</think> 4"])
    assert result.components["strict"] == [0.0] and result.components["loose"][0] > 0


def test_gate_format_on_correct():
    wrong_but_tidy = "<think>2 + 2 makes five.</think><answer>5</answer>"
    texts, fields = [PERFECT, wrong_but_tidy], {"answer": ["4", "4"]}
    assert hybrid()(texts, **fields) == [pytest.approx(1.5), pytest.approx(0.5)]
    assert hybrid(gate_format_on_correct=True)(texts, **fields) == [pytest.approx(1.5), 0.0]
    # gating needs correctness: without a gold answer the total is not applicable
    assert hybrid(gate_format_on_correct=True)([PERFECT]) == [None]
    # and works when accuracy is not itself a weighted component
    gated = HybridReward(weights={"format": 1.0}, gate_format_on_correct=True, registry=REGISTRY)
    result = gated.score(texts, **fields)
    assert result.total == [1.0, 0.0] and set(result.components) == {"format"}


def test_missing_gold_leaves_the_other_components():
    assert hybrid()([PERFECT]) == [pytest.approx(0.5)]  # accuracy is None, format + language count


def test_unknown_component_is_an_error_naming_it():
    with pytest.raises(PluginError, match="no_such_reward"):
        HybridReward(weights={"no_such_reward": 1.0}, registry=REGISTRY)


def test_options_without_weight_warn():
    with pytest.warns(UserWarning, match="tag_count"):
        HybridReward(weights={"accuracy": 1.0}, components={"tag_count": {}}, registry=REGISTRY)


class Flaky:
    """A reward that raises on any batch containing "boom"."""

    name = "flaky"

    def __call__(self, completions, **fields):
        if any("boom" in c for c in completions):
            raise RuntimeError("boom")
        return [0.5] * len(completions)


class FlakyPlugin:
    """A third-party plugin offering the flaky reward."""

    @hookimpl
    def r1_rewards(self):
        return {"flaky": Flaky}


def registry_with_flaky(blocked: bool = False) -> Registry:
    pm = create_plugin_manager(autoload=False)
    if blocked:
        pm.set_blocked("flaky-plugin")  # as plugins.blocked=[flaky-plugin] would
    pm.register(FlakyPlugin(), name="flaky-plugin")
    return Registry(pm)


def test_plugin_reward_as_component_via_registry():
    spec = {"name": "hybrid", "weights": {"accuracy": 1.0, "flaky": 2.0}}
    reward = registry_with_flaky().build("reward", spec)
    assert reward([PERFECT], answer=["4"]) == [pytest.approx(2.0)]


def test_a_blocked_plugins_reward_is_no_component():
    """The components come from the registry that builds the hybrid, so plugins.blocked holds for them too."""
    spec = {"name": "hybrid", "weights": {"accuracy": 1.0, "flaky": 2.0}}
    with pytest.raises(PluginError, match="flaky"):
        registry_with_flaky(blocked=True).build("reward", spec)


def test_raising_reward_costs_one_sample():
    result = score_batch(Flaky(), ["a", "boom", "c"], {"answer": ["1", "2", "3"]})
    assert result == RewardResult(total=[0.5, None, 0.5], components={"flaky": [0.5, None, 0.5]}, errors=1)


def test_raising_component_costs_one_sample_of_the_hybrid():
    reward = registry_with_flaky().build("reward", {"name": "hybrid", "weights": {"accuracy": 1.0, "flaky": 1.0}})
    texts = [PERFECT, PERFECT + " boom", "<answer>5</answer>"]
    result = score_batch(reward, texts, {"answer": ["4", "4", "4"]})
    assert result.total == [pytest.approx(1.5), None, pytest.approx(0.5)]
    assert result.components["flaky"] == [0.5, None, 0.5]
    assert result.components["accuracy"] == [1.0, 1.0, 0.0]
    assert result.errors == 1


def test_score_batch_handles_bad_outputs_and_chat_messages():
    def wrong_length(completions, **fields):
        return [1.0]  # one score whatever the batch size: per sample, that is right

    assert score_batch(wrong_length, ["a", "b"]).total == [1.0, 1.0]

    def nan_reward(completions, **fields):
        return [float("nan")] * len(completions)

    result = score_batch(nan_reward, ["a"])
    assert result.total == [None] and result.errors == 1

    chat = [[{"role": "assistant", "content": PERFECT}]]
    assert score_batch(hybrid(), chat, {"answer": ["4"]}).total == [pytest.approx(1.5)]


def test_nested_dictconfig_options_are_accepted():
    cfg = OmegaConf.load(CONF / "reward" / "hybrid.yaml")
    reward = HybridReward(**{k: v for k, v in cfg.items() if k != "name"}, registry=REGISTRY)
    assert reward([PERFECT], answer=["4"]) == [pytest.approx(1.5)]
