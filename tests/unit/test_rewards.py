"""The built-in rewards against hand-computed values."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from r1.data.chat import detect_prefill
from r1.errors import PluginError
from r1.plugins import get_registry
from r1.rewards import (
    BUILTIN_REWARDS,
    AccuracyReward,
    CosineReward,
    FormatReward,
    LanguageReward,
    LengthReward,
    ReasoningStepsReward,
    RepetitionPenaltyReward,
    SoftOverlongReward,
    TagCountReward,
    r1_rewards,
)
from r1.rewards.format import format_features

PERFECT = "<think>2 + 2 makes four.</think><answer>4</answer>"
PREFILL = detect_prefill("<｜begin▁of▁sentence｜><｜User｜>What is 2+2?<｜Assistant｜><think>\n")
"""What R1-Distill's chat template writes of the response; the phases hand rewards ``PREFILL + completion``."""
CONF = Path(__file__).resolve().parents[2] / "conf" / "reward"


# -- accuracy ---------------------------------------------------------------------


def test_accuracy():
    reward = AccuracyReward()
    completions = [PERFECT, "<answer>5</answer>", "\\boxed{4}", "no answer", PERFECT]
    assert reward(completions, answer=["4", "4", "4.0", "4", None]) == [1.0, 0.0, 1.0, 0.0, None]


def test_accuracy_without_gold_is_not_applicable():
    assert AccuracyReward()([PERFECT, PERFECT]) == [None, None]
    assert AccuracyReward(answer_field="gold")([PERFECT], gold=["4"], answer=["5"]) == [1.0]


# -- format -------------------------------------------------------------------------
# Features: 4 tags present, ordered, think text, answer text | repeated tag, text before, between, after.
# Target t = (1,1,1,1,1,1,1, 0,0,0,0), |t| = sqrt(7), so cos = (sum of desired) / (sqrt(7) |v|).


@pytest.mark.parametrize(
    ("text", "features", "expected"),
    [
        (PERFECT, [1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0], 1.0),
        ("  <think>\nr\n</think>\n<answer>\n4\n</answer>\n", [1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0], 1.0),
        # no answer tags, the answer trails the think block: 3 / (sqrt(7) * sqrt(4))
        ("<think>r</think> 4", [1, 1, 0, 0, 0, 1, 0, 0, 0, 0, 1], 3 / (math.sqrt(7) * 2)),
        # answer only: 3 / (sqrt(7) sqrt(3)) = sqrt(3/7)
        ("<answer>4</answer>", [0, 0, 1, 1, 0, 0, 1, 0, 0, 0, 0], math.sqrt(3 / 7)),
        # chatter before the template: 7 / (sqrt(7) sqrt(8)) = sqrt(7/8)
        ("Sure! " + PERFECT, [1, 1, 1, 1, 1, 1, 1, 0, 1, 0, 0], math.sqrt(7 / 8)),
        # text between the blocks
        ("<think>r</think> so: <answer>4</answer>", [1, 1, 1, 1, 1, 1, 1, 0, 0, 1, 0], math.sqrt(7 / 8)),
        # a second answer block: a repeated tag
        (PERFECT + "<answer>5</answer>", [1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0], math.sqrt(7 / 8)),
        # blocks in the wrong order: 6 / (sqrt(7) sqrt(6)) = sqrt(6/7)
        ("<answer>4</answer><think>r</think>", [1, 1, 1, 1, 0, 1, 1, 0, 0, 0, 0], math.sqrt(6 / 7)),
        # empty think block: 6 / (sqrt(7) sqrt(6))
        ("<think> </think><answer>4</answer>", [1, 1, 1, 1, 1, 0, 1, 0, 0, 0, 0], math.sqrt(6 / 7)),
        ("just 4", [0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0], 0.0),
        ("", [0] * 11, 0.0),
    ],
)
def test_format_cosine(text, features, expected):
    assert format_features(text) == features
    assert FormatReward()([text]) == [pytest.approx(expected)]


def test_format_perfect_is_exactly_one():
    assert FormatReward()([PERFECT])[0] == 1.0


def test_format_strict():
    reward = FormatReward(strict=True)
    texts = [PERFECT, "<think>r</think>\n<answer>4</answer>\n", "Sure! " + PERFECT, "<think>r</think> 4"]
    texts.append(PERFECT + PERFECT)
    assert reward(texts) == [1.0, 1.0, 0.0, 0.0, 0.0]


def test_format_scores_a_prefilled_response_as_one_the_model_wrote():
    completion = "r</think><answer>4</answer>"
    written = "<think>\nr</think><answer>4</answer>"  # the same response, <think> written by the model
    assert PREFILL == "<think>\n"
    for reward in (FormatReward(), FormatReward(strict=True)):
        assert reward([PREFILL + completion]) == reward([written]) == [1.0]
    # the completion alone lacks <think>: </think>, <answer>, </answer>, answer text | text before: 4 / (sqrt(7) sqrt(5))
    assert FormatReward()([completion]) == [pytest.approx(4 / math.sqrt(35))]


@pytest.mark.parametrize("name", ["format", "tag_count", "language"])
def test_the_think_prefilled_option_is_gone(name):
    """A config still setting it fails with one line instead of silently counting ``<think>`` twice."""
    with pytest.raises(PluginError, match="think_prefilled"):
        get_registry(autoload=False).build("reward", {"name": name, "think_prefilled": True})


# -- tag_count ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (PERFECT, 1.0),
        ("<think>r</think> 4", 0.5),
        ("<think>r</think><answer>4</answer><answer>5</answer>", 0.5),  # repeated tags earn nothing
        ("<answer>4</answer><think>r</think>", 0.0),  # every tag out of place
        ("<think>r<answer>4</answer>", 0.75),
        ("nothing", 0.0),
    ],
)
def test_tag_count(text, expected):
    assert TagCountReward()([text]) == [expected]


def test_tag_count_scores_a_prefilled_response_as_one_the_model_wrote():
    completion = "r</think><answer>4</answer>"
    assert TagCountReward()([PREFILL + completion]) == TagCountReward()(["<think>\nr</think><answer>4</answer>"]) == [1.0]
    assert TagCountReward()([completion]) == [0.75]  # the completion alone lacks <think>


# -- language -----------------------------------------------------------------------


def test_language_shares():
    texts = [
        "<think>Let me compute 计算 this</think><answer>4</answer>",  # 4 Latin words, 2 Han characters
        "<think>The sum $x+y$ is 12</think>",  # maths is neutral: 3 English words
        "<think>首先计算</think>",  # 4 Han characters
        "7+5=12",  # no words at all: nothing is mixed
        "no think block here, so the whole text counts",
    ]
    assert LanguageReward()(texts) == [pytest.approx(4 / 6), 1.0, 0.0, 1.0, 1.0]
    assert LanguageReward(language="zh")(texts) == [pytest.approx(2 / 6), 0.0, 1.0, 1.0, 0.0]


def test_language_latin_scripts_and_prefill():
    french = "Je calcule deux plus deux</think><answer>4</answer>"
    reward = LanguageReward(language="fr")
    assert reward([PREFILL + french]) == reward(["<think>\nJe calcule deux plus deux</think><answer>4</answer>"]) == [1.0]
    mixed = "Je calcule la somme des deux nombres 计算</think>"  # the prefilled block is the chain of thought
    assert reward([PREFILL + mixed]) == reward(["<think>\n" + mixed]) == [pytest.approx(7 / 9)]  # 7 French words, 2 Han
    assert LanguageReward()([PREFILL + mixed]) == [0.0]  # French is not English
    assert LanguageReward(language="ja")(["<think>これは 計算</think>"]) == [1.0]
    assert LanguageReward(language="ru")(["<think>Считаем сумму, then add</think>"]) == [pytest.approx(2 / 4)]


def test_language_rejects_unknown_codes():
    with pytest.raises(ValueError, match="unknown language"):
        LanguageReward(language="klingon")


# -- reasoning_steps ----------------------------------------------------------------


def test_reasoning_steps():
    texts = [
        "Step 1: add. Step 2: check.",
        "1. add\n2. carry\n3. check\n4. done",
        "First, add. Then, check.",
        "- a\n- b\n- c",
        "Just the answer.",
    ]
    assert ReasoningStepsReward()(texts) == [pytest.approx(2 / 3), 1.0, pytest.approx(2 / 3), 1.0, 0.0]
    assert ReasoningStepsReward(target_steps=2)(texts[:1]) == [1.0]


# -- length (Kimi 1.5) --------------------------------------------------------------


def test_length_kimi_within_prompt_groups():
    completions = [f"<answer>{x}</answer>" for x in (4, 4, 5, 5, 7, 6)]
    fields = {
        "answer": ["4", "4", "4", "4", "7", "7"],
        "prompt": ["p", "p", "p", "p", "q", "q"],
        "completion_length": [10, 24, 17, 38, 5, 5],
    }
    # group p: min 10, max 38; λ = 0.5 - (len - 10) / 28
    lam = [0.5 - (n - 10) / 28 for n in (10, 24, 17, 38)]
    expected = [lam[0], lam[1], min(0.0, lam[2]), min(0.0, lam[3]), 0.0, 0.0]  # group q: equal lengths score 0
    assert LengthReward()(completions, **fields) == [pytest.approx(x) for x in expected]
    assert expected[:4] == [pytest.approx(0.5), pytest.approx(0.0), 0.0, pytest.approx(-0.5)]


def test_length_without_gold_is_not_applicable():
    assert LengthReward()(["<answer>4</answer>"], prompt=["p"]) == [None]


# -- cosine ----------------------------------------------------------------------------


def test_cosine_scaled():
    reward = CosineReward(max_len=10)
    completions = ["<answer>4</answer>"] * 3 + ["<answer>5</answer>"] * 3
    fields = {"answer": ["4"] * 6, "completion_length": [0, 5, 20, 0, 5, 10]}
    # correct: 1.0 at 0, 0.5 + 0.5 (1 + cos(pi/2)) / 2 = 0.75 at half, 0.5 past max_len
    # wrong: -1.0 at 0, -0.5 + (-0.5)(1 + 0) / 2 = -0.75 at half, -0.5 at max_len
    assert reward(completions, **fields) == [pytest.approx(x) for x in (1.0, 0.75, 0.5, -1.0, -0.75, -0.5)]
    assert reward(["<answer>4</answer>"], completion_length=[1], answer=["4"]) == [
        pytest.approx(0.5 + 0.5 * (1 + math.cos(math.pi / 10)) / 2)
    ]


# -- repetition_penalty ------------------------------------------------------------


def test_repetition_penalty():
    texts = ["a b c a b c a b c", "the cat sat on the mat", "too short", ""]
    # 7 trigrams, 3 unique: 1 - 3/7 = 4/7 repeated
    assert RepetitionPenaltyReward()(texts) == [pytest.approx(-4 / 7), 0.0, 0.0, 0.0]
    assert RepetitionPenaltyReward(ngram_size=1, max_penalty=-0.5)(["a a a a"]) == [pytest.approx(-0.5 * 3 / 4)]
    with pytest.raises(ValueError):
        RepetitionPenaltyReward(max_penalty=0.5)


# -- soft_overlong (DAPO) -----------------------------------------------------------


def test_soft_overlong():
    reward = SoftOverlongReward(max_len=10, cache=4)
    lengths = [5, 6, 8, 10, 12]
    assert reward(["x"] * 5, completion_length=lengths) == [0.0, 0.0, -0.5, -1.0, -1.0]
    assert reward(["x"] * 2, completion_ids=[[1] * 7, [1] * 9]) == [-0.25, -0.75]
    assert reward(["w " * 8]) == [-0.5]  # whitespace words when no token counts are given


# -- registration and configs -------------------------------------------------------


def test_hook_offers_every_builtin():
    offered = r1_rewards()
    assert set(offered) == {
        "accuracy", "format", "language", "hybrid", "tag_count", "reasoning_steps",
        "length", "cosine", "repetition_penalty", "soft_overlong", "exact_match", "by_task", "reward_model",
    }  # fmt: skip
    assert offered == BUILTIN_REWARDS


@pytest.mark.parametrize("path", sorted(CONF.glob("*.yaml")), ids=lambda p: p.stem)
def test_reward_yaml_builds_and_every_key_is_commented(path, request):
    from omegaconf import OmegaConf

    cfg = OmegaConf.load(path)
    if cfg.name == "reward_model":  # its path is mandatory (???): a tiny saved reward model
        cfg.path = str(request.getfixturevalue("reward_model_folder"))
    assert cfg.name in BUILTIN_REWARDS
    for line in path.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            assert "#" in line or line.rstrip().endswith(":"), f"{path.name}: uncommented key: {line!r}"
    reward = get_registry(autoload=False).build("reward", cfg)
    scores = reward([PERFECT], answer=["4"], prompt=["2+2"])
    assert len(scores) == 1
