"""The extraction policy and the lenient switch, as rewards, benchmarks and filters take them from YAML."""

from __future__ import annotations

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from r1.benchmarks.math import math500
from r1.errors import ConfigError
from r1.filters.correct import CorrectFilter
from r1.paths import conf_dir
from r1.plugins import get_registry
from r1.rewards import AccuracyReward

FREE_TEXT = "Adding the two parts gives 12 apples in all.\nFinal Answer: The final answer is $12$. I hope it is correct."
TEMPLATE = "<think>6 + 6</think><answer>12</answer>"
BOXED = "6 + 6 = \\boxed{12}"
SUBSET = "\\boxed{2}"  # one root of x^2 - 3x + 2 = 0, whose gold is "1, 2"


def compose_with(*overrides: str):
    with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
        return compose("config", overrides=list(overrides))


def test_accuracy_reward_reads_the_template_unless_told_otherwise():
    completions = [FREE_TEXT, TEMPLATE, BOXED]
    assert AccuracyReward()(completions, answer=["12"] * 3) == [0.0, 1.0, 1.0]
    assert AccuracyReward(extraction="boxed")(completions, answer=["12"] * 3) == [0.0, 0.0, 1.0]
    assert AccuracyReward(extraction="any")(completions, answer=["12"] * 3) == [1.0, 1.0, 1.0]
    assert AccuracyReward()([SUBSET], answer=["1, 2"]) == [0.0]
    assert AccuracyReward(lenient=True)([SUBSET], answer=["1, 2"]) == [1.0]
    with pytest.raises(ConfigError, match="^extraction must be one of template, boxed, any, not 'free'$"):
        AccuracyReward(extraction="free")


def test_reward_yamls_default_to_the_template_and_pass_the_options_on():
    registry = get_registry(autoload=False)
    accuracy = registry.build("reward", OmegaConf.load(conf_dir() / "reward" / "accuracy.yaml"))
    assert (accuracy.extraction, accuracy.lenient) == ("template", False)
    hybrid_cfg = OmegaConf.load(conf_dir() / "reward" / "hybrid.yaml")
    assert registry.build("reward", hybrid_cfg).rewards["accuracy"].extraction == "template"
    hybrid_cfg.components.accuracy.extraction = "any"
    hybrid_cfg.components.accuracy.lenient = True
    hybrid = registry.build("reward", hybrid_cfg)
    assert (hybrid.rewards["accuracy"].extraction, hybrid.rewards["accuracy"].lenient) == ("any", True)
    assert hybrid.components([FREE_TEXT], answer=["12"])["accuracy"] == [1.0]


@pytest.mark.parametrize("option", ["math500", "aime24", "amc23", "gsm8k"])
def test_public_benchmarks_read_any_format_and_say_so(option):
    cfg = compose_with(f"benchmark={option}", "benchmark.limit=2")
    bench = get_registry(autoload=False).build("benchmark", cfg.benchmark)
    assert bench.extraction == "any" and bench.lenient is False
    samples = bench.load()
    free_text = [f"So the result follows.\nFinal Answer: The final answer is ${s['answer']}$." for s in samples]
    assert bench.score(free_text, samples) == [1.0] * len(samples)


def test_benchmark_extraction_scores_votes_and_keeps_format_rate_on_markers():
    samples = math500(limit=1).load()  # gold: (3, \frac{\pi}{2})
    free_text = "In polar coordinates the point is $\\left(3, \\frac{\\pi}{2}\\right)$."
    for extraction, score in [("any", 1.0), ("boxed", 0.0), ("template", 0.0)]:
        bench = math500(limit=1, extraction=extraction)
        assert bench.score([free_text], samples) == [score]
    assert math500(extraction="any").extract(free_text) == "\\left(3, \\frac{\\pi}{2}\\right)"
    assert math500(extraction="template").extract(free_text) is None
    assert not math500(extraction="any").follows_format(free_text)  # the prompt asked for \boxed{}
    with pytest.raises(ConfigError):
        math500(extraction="last")


def test_correct_filter_takes_the_same_options():
    sample = {"id": "0", "prompt": "x^2 - 3x + 2 = 0", "answer": "1, 2"}
    assert CorrectFilter()([{**sample, "response": "<answer>1, 2</answer>"}]) == [True]
    assert CorrectFilter()([{**sample, "response": "The roots are $1$ and $2$."}]) == [False]
    assert CorrectFilter(extraction="any")([{**sample, "response": "The roots are $1$ and $2$."}]) == [True]
    assert CorrectFilter()([{**sample, "response": SUBSET}]) == [False]
    assert CorrectFilter(lenient=True)([{**sample, "response": SUBSET}]) == [True]
    with pytest.raises(ConfigError):
        CorrectFilter(extraction="xml")
