"""Each rejection-sampling filter on hand-made keep/drop cases, and the cascade that applies them."""

from __future__ import annotations

import pytest
from hydra import compose, initialize_config_dir

from r1.data.chat import detect_prefill
from r1.errors import ConfigError, PluginError
from r1.filters.cascade import CAP, apply_filters, build_filters
from r1.filters.consistent import ConsistentFilter, column_sum_answer
from r1.filters.correct import CorrectFilter
from r1.filters.decontaminate import DecontaminateFilter
from r1.filters.dedup import DedupFilter
from r1.filters.degenerate import DegenerateFilter, repeat_share
from r1.filters.format import FormatFilter
from r1.filters.language import LanguageFilter
from r1.filters.length import LengthFilter
from r1.overrides import group_options
from r1.paths import conf_dir
from r1.plugins import Registry, create_plugin_manager, get_registry
from r1.protocols import Filter

GOOD = "<think>7+5+0=12 4+8+1=13</think><answer>132</answer>"
PREFILL = detect_prefill("<｜begin▁of▁sentence｜><｜User｜>47+85<｜Assistant｜><think>\n")
"""What R1-Distill's chat template writes of the response; rejection sampling hands filters ``PREFILL + completion``."""


def sample(response: str, answer: str = "132", prompt: str = "47+85", **extra) -> dict:
    return {"id": extra.pop("id", prompt), "prompt": prompt, "answer": answer, "response": response, **extra}


def verdicts(filter_, *responses: str, **fields) -> list[bool]:
    return filter_([sample(r, **fields) for r in responses])


def test_every_builtin_is_registered_and_follows_the_protocol():
    registry = get_registry(autoload=False)
    expected = {"correct", "format", "language", "consistent", "degenerate", "length", "dedup", "decontaminate"}
    assert expected <= set(registry.names("filter"))
    for name in expected:
        built = registry.build("filter", name)
        assert isinstance(built, Filter) and built.name == name


def test_correct():
    f = CorrectFilter()
    assert verdicts(f, GOOD, "<think>x</think><answer>131</answer>", "no answer", "\\boxed{132}") == [True, False, False, True]
    assert f([sample("<answer>\\frac{1}{2}</answer>", answer="0.5")]) == [True]


def test_format():
    think = FormatFilter("think")
    cases = [GOOD, "  " + GOOD + "\n", "<answer>132</answer>", "<think>a</think><answer>1</answer> trailing", "<think>a</think><think>b</think><answer>1</answer>", "<think></think><answer>1</answer>"]
    assert verdicts(think, *cases) == [True, True, False, False, False, False]
    assert verdicts(FormatFilter("boxed"), "so \\boxed{3}", "<answer>3</answer>") == [True, False]
    assert verdicts(FormatFilter("any"), "#### 3", "three") == [True, False]
    with pytest.raises(ConfigError):
        FormatFilter("xml")


@pytest.mark.parametrize(
    ("filter_", "completions", "expected"),
    [
        (FormatFilter("think"), ["7+5+0=12 4+8+1=13</think><answer>132</answer>", "</think><answer>132</answer>"], [True, False]),
        (ConsistentFilter(), ["7+5+0=12 4+8+1=13</think><answer>132</answer>", "7+5+0=12 4+8+1=14</think><answer>132</answer>"], [True, False]),
        (LanguageFilter("en", 0.95), ["First add the units.</think><answer>5</answer>", "先把个位相加</think><answer>5</answer>"], [True, False]),
    ],
    ids=["format", "consistent", "language"],
)
def test_a_prefilled_response_is_judged_as_one_the_model_wrote(filter_, completions, expected):
    assert PREFILL == "<think>\n"
    prefilled = verdicts(filter_, *[PREFILL + c for c in completions])
    assert prefilled == verdicts(filter_, *["<think>\n" + c for c in completions]) == expected


@pytest.mark.parametrize("name", ["format", "consistent", "language"])
def test_the_think_prefilled_option_is_gone(name):
    """A filter list still setting it fails with one line instead of silently counting ``<think>`` twice."""
    with pytest.raises(PluginError, match="think_prefilled"):
        get_registry(autoload=False).build("filter", {"name": name, "think_prefilled": True})


def test_language_latin_vs_cjk():
    english = "<think>First add the units, then carry the one.</think><answer>5</answer>"
    mixed = "<think>First add the units, 然后进位, 所以答案是五</think><answer>5</answer>"
    chinese = "<think>先把个位相加，然后进位。</think><answer>5</answer>"
    numbers_only = GOOD
    assert verdicts(LanguageFilter("en", 0.95), english, mixed, chinese, numbers_only) == [True, False, False, True]
    assert verdicts(LanguageFilter("zh", 0.95), english, mixed, chinese) == [False, False, True]
    assert verdicts(LanguageFilter("cjk", 0.5), mixed) == [True]  # 9 Han characters vs 5 English words
    # Maths and variables do not count as English inside Chinese reasoning.
    assert verdicts(LanguageFilter("zh", 0.95), "<think>设 $x+y=10$，则 \\frac{x}{2} 等于五</think><answer>5</answer>") == [True]
    with pytest.raises(ValueError, match="unknown language 'klingon'"):  # the registry names the filter in its one line
        LanguageFilter("klingon")


def test_consistent_worked_sums():
    assert column_sum_answer("7+5+0=12 4+8+1=13") == "132"
    assert column_sum_answer("3+4+0=7") == "7"
    assert column_sum_answer("7+5+0=12 4+8+0=12") is None  # the carry from the first column was dropped
    assert column_sum_answer("7+5+0=12 4+8+0=12", check_steps=False) == "122"
    f = ConsistentFilter()
    lucky = "<think>7+5+0=12 4+8+1=14</think><answer>132</answer>"  # right answer, wrong step
    wrong_answer = "<think>7+5+0=12 4+8+1=13</think><answer>131</answer>"
    assert verdicts(f, GOOD, lucky, wrong_answer) == [True, False, False]
    assert verdicts(ConsistentFilter(check_steps=False), "<think>7+5+0=12 4+8+1=14</think><answer>142</answer>") == [True]


def test_consistent_generic_reasoning():
    f = ConsistentFilter()
    cases = [
        "<think>The sum is 3 + 4 = 7, so 7 apples.</think><answer>7</answer>",  # last number
        "<think>Solving gives x = \\frac{1}{2}.</think><answer>0.5</answer>",  # last equation's right side
        "<think>We find \\boxed{12}. Check: 12 works</think><answer>12</answer>",
        "<think>The sum is 3 + 4 = 7.</think><answer>8</answer>",  # reasoning says 7, answer says 8
        "<think>no numbers here</think><answer>8</answer>",  # nothing to check against
        "Adding, 2+3+4=9 apples in all. So the answer is \\boxed{9}",  # boxed style, not a worked column sum
        "<think>x</think><answer></answer>",  # no answer
    ]
    assert f([sample(c, answer="0") for c in cases]) == [True, True, True, False, False, True, False]


def test_degenerate():
    loop = "<think>" + "so the answer is so " * 30 + "</think><answer>1</answer>"
    assert repeat_share(loop)[0] > 0.5
    f = DegenerateFilter(n=4, max_repeat_share=0.5, min_ngrams=20)
    assert verdicts(f, GOOD, loop) == [True, False]
    assert f([sample(GOOD, truncated=True), sample(GOOD, truncated=False)]) == [False, True]
    assert DegenerateFilter(drop_truncated=False)([sample(GOOD, truncated=True)]) == [True]
    assert DegenerateFilter(max_chars=20)([sample(GOOD)]) == [False]
    short_repeat = "<answer>1 1 1 1 1</answer>"  # too short to judge
    assert verdicts(f, short_repeat) == [True]


def test_length():
    f = LengthFilter(min=5, max=10, unit="tokens")
    assert f([sample(GOOD, num_tokens=n) for n in (4, 5, 10, 11)]) == [False, True, True, False]
    assert LengthFilter(min=1, max=3)([sample("one two three four")]) == [False]  # words when num_tokens is absent
    assert LengthFilter(min=0, max=len(GOOD), unit="chars")([sample(GOOD), sample(GOOD + "!")]) == [True, False]
    with pytest.raises(ConfigError):
        LengthFilter(min=5, max=1)
    with pytest.raises(ConfigError):
        LengthFilter(unit="bytes")


def test_dedup_within_a_prompt_only():
    f = DedupFilter(threshold=0.9, n=3)
    long_a = "<think>first add the units then carry one to the tens and add them too</think><answer>132</answer>"
    near_a = long_a.replace("too", "as well")
    other = "<think>line up the digits, sum each column from the right</think><answer>132</answer>"
    batch = [sample(GOOD), sample(GOOD), sample(GOOD, id="other prompt"), sample(long_a), sample(near_a), sample(other)]
    assert f(batch) == [True, False, True, True, True, True]
    assert DedupFilter(threshold=0.6)(batch)[4] is False  # "as well" vs "too" is ~0.75 similar


def test_decontaminate_against_shipped_benchmarks():
    registry = get_registry(autoload=False)
    f = registry.build("filter", "decontaminate")
    from r1.benchmarks.math import math500

    problem = math500(limit=1).load()[0]["problem"]
    reworded = "Homework: " + problem.upper().replace(",", " ,")  # case, punctuation and a prefix do not hide it
    fresh = "A farmer has seventeen sheep and buys nine more at the market on a sunny Tuesday afternoon."
    assert f([sample(GOOD, prompt=p) for p in (problem, reworded, fresh, "47+85")]) == [False, False, True, True]
    assert DecontaminateFilter(benchmarks=["aime24"], n=8, registry=registry)([sample(GOOD, prompt=problem)]) == [True]


def test_decontaminate_loads_benchmarks_with_the_registry_that_builds_it():
    """plugins.blocked holds for the benchmarks too: with the built-in benchmarks blocked, math500 is not found."""
    registry = Registry(create_plugin_manager(blocked=["r1.benchmarks"], autoload=False))
    f = registry.build("filter", {"name": "decontaminate", "benchmarks": ["math500"], "n": 8})
    with pytest.raises(PluginError, match="benchmark 'math500'"):
        f([sample(GOOD)])


def test_cascade_counts_each_rejection_once_and_caps_per_prompt():
    registry = get_registry(autoload=False)
    steps = build_filters([{"name": "correct"}, "format", {"name": "dedup"}, {"name": "length", "max": 3, "required": False}], registry)
    batch = [
        sample(GOOD, num_tokens=20),
        sample(GOOD, num_tokens=20),  # duplicate
        sample("<think>x</think><answer>131</answer>", num_tokens=9),  # wrong
        sample("\\boxed{132}", num_tokens=3),  # right, wrong format
        sample("<think>7+5+0=12 4+8+1=13 done</think><answer>132</answer>", num_tokens=2),
        sample("<think>add 47 and 85 to get 132</think><answer>132</answer>", num_tokens=30),
    ]
    result = apply_filters(steps, batch, max_per_prompt=2)
    assert result.rejected_by == {"correct": 1, "format": 1, "dedup": 1, "length": 0, CAP: 1}
    assert result.seen == {"correct": 6, "format": 5, "dedup": 4, "length": 3}
    assert result.passed["length"] == 1  # annotates only
    assert [s["response"] for s in result.kept] == [batch[0]["response"], batch[4]["response"]]
    assert result.kept[0]["filters_passed"] == ["correct", "format", "dedup"]
    assert result.kept[1]["filters_passed"] == ["correct", "format", "dedup", "length"]
    assert "filters_passed" not in batch[0]  # inputs are not modified


def test_cascade_rejects_samples_a_filter_raises_on():
    class Picky:
        name = "picky"

        def __call__(self, samples):
            if any("boom" in s["response"] for s in samples):
                raise RuntimeError("cannot read this")
            return [True] * len(samples)

    from r1.filters.cascade import Step

    result = apply_filters([Step("picky", Picky())], [sample(GOOD), sample("boom")])
    assert result.errors == 1 and result.rejected_by["picky"] == 1 and len(result.kept) == 1


def test_cascade_config_mistakes_are_one_line():
    registry = get_registry(autoload=False)
    with pytest.raises(ConfigError, match="twice"):
        build_filters(["correct", "correct"], registry)
    assert [s.label for s in build_filters(["correct", {"name": "correct", "label": "correct_again"}], registry)] == ["correct", "correct_again"]
    with pytest.raises(ConfigError, match="list"):
        build_filters("correct", registry)


@pytest.mark.parametrize("option", group_options([conf_dir()])["filter"])
def test_every_filter_option_builds(option):
    with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
        cfg = compose("config", overrides=[f"filter={option}"])
    from omegaconf import OmegaConf

    steps = build_filters(OmegaConf.to_container(cfg.filter.filters, resolve=True), get_registry(autoload=False))
    result = apply_filters(steps, [sample(GOOD, num_tokens=20, truncated=False)])
    assert len(result.kept) == 1, result.rejected_by
