"""``reward=by_task``: each sample scored by its task's reward; and ``exact_match``, the general route's reward."""

from __future__ import annotations

import pytest
from omegaconf import OmegaConf

from r1.errors import ConfigError, PluginError
from r1.hookspecs import hookimpl
from r1.paths import conf_dir
from r1.plugins import Registry, create_plugin_manager, get_registry
from r1.rewards import ByTaskReward, ExactMatchReward, score_batch
from r1.settings import to_plain

REGISTRY = get_registry(autoload=False)
SHIPPED = OmegaConf.load(conf_dir() / "reward" / "by_task.yaml")
MATH_RIGHT = "<think>2 + 2 makes four.</think><answer>4</answer>"  # the hybrid's 1.0 + 0.3 + 0.2
MATH_WRONG = "<think>2 + 2 makes five.</think><answer>5</answer>"  # format and language only: 0.5
WORD_RIGHT = "<think></think><answer>bac</answer>"


def by_task(routes=None, default=None, field="task") -> ByTaskReward:
    routes = routes or {"arithmetic": {"name": "hybrid", "weights": {"accuracy": 1.0, "format": 0.3, "language": 0.2}}, "general": {"name": "exact_match"}}
    return ByTaskReward(field=field, routes=routes, default=default, registry=REGISTRY)


def test_each_sample_is_scored_by_its_route_in_the_batch_order():
    completions = [WORD_RIGHT, MATH_RIGHT, "<think></think><answer>cab</answer>", MATH_WRONG, WORD_RIGHT]
    fields = {"answer": ["bac", "4", "bac", "4", "bca"], "task": ["general", "arithmetic", "general", "arithmetic", "general"]}
    assert by_task()(completions, **fields) == [1.0, pytest.approx(1.5), 0.0, pytest.approx(0.5), 0.0]


def test_each_route_reward_is_called_once_on_its_own_rows_with_their_fields():
    calls = []

    def recording(tag):
        def reward(completions, **fields):
            calls.append((tag, list(completions), {k: list(v) if isinstance(v, list) else v for k, v in fields.items()}))
            return [float(len(c)) for c in completions]

        return reward

    class Plugin:
        @hookimpl
        def r1_rewards(self):
            return {"rec_a": lambda: recording("a"), "rec_b": lambda: recording("b")}

    pm = create_plugin_manager(autoload=False)
    pm.register(Plugin(), name="recording")
    reward = ByTaskReward(field="task", routes={"x": "rec_a", "y": {"name": "rec_b"}}, registry=Registry(pm))
    scores = reward(["a", "bb", "ccc", "dddd"], task=["y", "x", "y", "x"], answer=["1", "2", "3", "4"], scale=7)
    assert scores == [1.0, 2.0, 3.0, 4.0]
    assert calls == [
        ("a", ["bb", "dddd"], {"task": ["x", "x"], "answer": ["2", "4"], "scale": 7}),  # an unaligned value passes through
        ("b", ["a", "ccc"], {"task": ["y", "y"], "answer": ["1", "3"], "scale": 7}),
    ]


def test_components_of_every_route_are_reported_in_every_batch():
    reward = by_task()
    result = score_batch(reward, [MATH_RIGHT, WORD_RIGHT], {"answer": ["4", "bac"], "task": ["arithmetic", "general"]})
    assert result.components == {
        "by_task/arithmetic/accuracy": [1.0, None],
        "by_task/arithmetic/format": [1.0, None],
        "by_task/arithmetic/language": [1.0, None],
        "by_task/general/exact_match": [None, 1.0],
    }
    assert result.total == [pytest.approx(1.5), 1.0] and result.errors == 0
    # a batch without general samples still has the general column: logged keys never depend on the batch
    only_math = reward.score([MATH_RIGHT], answer=["4"], task=["arithmetic"])
    assert set(only_math.components) == set(result.components)
    assert only_math.components["by_task/general/exact_match"] == [None]
    assert reward.components([MATH_RIGHT], answer=["4"], task=["arithmetic"]) == only_math.components


def test_the_default_reward_takes_unrouted_samples_and_reports_its_own_components():
    reward = by_task(default={"name": "accuracy"})
    result = reward.score([MATH_RIGHT, MATH_RIGHT, WORD_RIGHT], answer=["4", "4", "bac"], task=["gsm8k", None, "general"])
    assert result.total == [1.0, 1.0, 1.0]
    assert result.components["by_task/default/accuracy"] == [1.0, 1.0, None]
    assert reward([MATH_RIGHT], answer=["4"]) == [1.0]  # no task column at all: every sample takes the default


def test_an_unknown_route_without_default_is_one_error_line():
    with pytest.raises(ConfigError, match=r"^reward by_task: no route for task='gsm8k' \(routes: arithmetic, general\); add reward\.routes\.gsm8k") as error:
        by_task()([MATH_RIGHT, MATH_RIGHT], answer=["4", "4"], task=["arithmetic", "gsm8k"])
    assert "\n" not in str(error.value)


@pytest.mark.parametrize("fields", [{"answer": ["4"]}, {"answer": ["4"], "task": [None]}], ids=["no column", "no value"])
def test_a_missing_field_without_default_is_one_error_line(fields):
    with pytest.raises(ConfigError, match=r"^reward by_task: sample 0 has no 'task' field to route by") as error:
        by_task()([MATH_RIGHT], **fields)
    assert "\n" not in str(error.value)


def test_in_training_an_unrouted_sample_costs_that_sample_only():
    """score_batch, as GRPO calls it: the unrouted sample scores None and is counted, the others keep their scores."""
    result = score_batch(by_task(), [WORD_RIGHT, MATH_RIGHT], {"answer": ["bac", "4"], "task": ["general", "poetry"]})
    assert result.total == [1.0, None] and result.errors == 1


def test_a_failing_route_reward_costs_its_failing_samples_only():
    class Plugin:
        @hookimpl
        def r1_rewards(self):
            def picky():
                def reward(completions, **fields):
                    if any("boom" in c for c in completions):
                        raise RuntimeError("boom")
                    return [1.0] * len(completions)

                return reward

            return {"picky": picky}

    pm = create_plugin_manager(autoload=False)
    pm.register(Plugin(), name="picky")
    reward = ByTaskReward(field="task", routes={"general": "picky", "arithmetic": "accuracy"}, registry=Registry(pm))
    result = reward.score(["ok", "boom", MATH_RIGHT], answer=["a", "b", "4"], task=["general", "general", "arithmetic"])
    assert result.total == [1.0, None, 1.0] and result.errors == 1


def test_bad_routes_are_one_line_errors():
    with pytest.raises(PluginError, match=r"reward by_task, route 'general': unknown reward 'exactly'"):
        by_task(routes={"general": {"name": "exactly"}})
    with pytest.raises(PluginError, match=r"reward 'by_task': route 'general' needs a reward node"):
        REGISTRY.build("reward", {"name": "by_task", "field": "task", "routes": {"general": None}})
    with pytest.raises(PluginError, match=r"reward 'by_task': routes must map"):
        REGISTRY.build("reward", {"name": "by_task", "field": "task", "routes": {}})
    with pytest.raises(PluginError, match=r"'default' names the default reward's route"):
        REGISTRY.build("reward", {"name": "by_task", "field": "task", "routes": {"default": "accuracy"}})
    with pytest.raises(PluginError, match=r"reward by_task, route 'default': unknown reward 'nope'"):
        by_task(default="nope")


def test_the_shipped_config_routes_arithmetic_to_the_hybrid_and_general_to_exact_match():
    assert SHIPPED.field == "task" and set(SHIPPED.routes) == {"arithmetic", "general"}
    reward = REGISTRY.build("reward", SHIPPED)
    assert reward.routes["arithmetic"].weights == to_plain(OmegaConf.load(conf_dir() / "reward" / "hybrid.yaml").weights)
    assert isinstance(reward.routes["general"], ExactMatchReward)
    # a sample without a task (a dataset's math prompt) gets the reasoning reward
    assert reward([MATH_RIGHT, "<think></think><answer>ab</answer>"], answer=["4", "ba"], task=[None, "general"]) == [pytest.approx(1.5), 0.0]


def test_composing_the_run_config_with_task_general_and_reward_by_task_builds_both():
    from hydra import compose, initialize_config_dir

    with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
        cfg = compose("config", overrides=["phase=grpo", "task=general", "reward=by_task", "reward.routes.general.extraction=any"])
    task, reward = REGISTRY.build("task", cfg.task), REGISTRY.build("reward", cfg.reward)
    samples = task.samples("train", 6, seed=0)
    fields = {"answer": [s["answer"] for s in samples], "task": [s["task"] for s in samples]}
    result = score_batch(reward, [s["response"] for s in samples], fields)
    assert result.total == [1.0] * 6 and result.components["by_task/general/exact_match"] == [1.0] * 6
    assert reward.routes["general"].extraction == "any"  # an override reaches the route's reward
    assert to_plain(cfg.reward.default) == to_plain(cfg.reward.routes.arithmetic)  # the default follows the arithmetic route


def test_arithmetic_samples_carry_their_task_so_by_task_routes_them():
    task = REGISTRY.build("task", OmegaConf.load(conf_dir() / "task" / "arithmetic.yaml"))
    samples = task.samples("train", 4, seed=0)
    assert {s["task"] for s in samples} == {"arithmetic"}
    reward = by_task()
    result = reward.score([s["response"] for s in samples], answer=[s["answer"] for s in samples], task=[s["task"] for s in samples])
    assert result.components["by_task/arithmetic/accuracy"] == [1.0] * 4


# -- exact_match ----------------------------------------------------------------------


def test_exact_match_compares_the_stated_answer_as_a_string():
    reward = ExactMatchReward()
    completions = ["<think></think><answer>ab</answer>", "<think></think><answer>ba</answer>", "<answer>dog</answer>", "<answer> DOG </answer>", "no tags", "<answer>x</answer>"]
    assert reward(completions, answer=["ab", "ab", "DOG", "DOG", "DOG", None]) == [1.0, 0.0, 0.0, 1.0, 0.0, None]
    assert reward(["<answer>1</answer>"]) == [None]  # no gold column: not applicable
    assert ExactMatchReward(answer_field="gold")(["\\boxed{ab}"], gold=["ab"]) == [1.0]  # template: else the box
    assert ExactMatchReward(extraction="boxed")(["<answer>ab</answer>"], answer=["ab"]) == [0.0]


def test_exact_match_rejects_an_unknown_extraction_in_one_line():
    with pytest.raises(ConfigError, match="^extraction must be one of template, boxed, any"):
        REGISTRY.build("reward", {"name": "exact_match", "extraction": "regex"})


def test_exact_match_yaml_builds_what_the_class_defaults_to():
    shipped = OmegaConf.load(conf_dir() / "reward" / "exact_match.yaml")
    built, plain = REGISTRY.build("reward", shipped), ExactMatchReward()
    assert (built.answer_field, built.extraction) == (plain.answer_field, plain.extraction)
