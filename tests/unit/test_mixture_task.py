"""task=mixture: member tasks by ratio, each sample tagged with its task, a strict checker."""

from __future__ import annotations

import pytest
from hydra import compose, initialize_config_dir

from r1.errors import ConfigError, PluginError
from r1.paths import conf_dir
from r1.plugins import get_registry


def mixture(*overrides: str):
    with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
        cfg = compose("config", overrides=["task=mixture", *overrides])
    return get_registry(autoload=False).build("task", cfg.task)


def test_samples_come_from_each_member_by_ratio_tagged_and_shuffled():
    task = mixture()
    samples = task.samples("train", 40, seed=3)
    kinds = [s["task"] for s in samples]
    assert kinds.count("arithmetic") == 30 and kinds.count("general") == 10  # 3:1
    assert kinds[:30] != ["arithmetic"] * 30  # shuffled together, not one block after the other
    assert len({s["id"] for s in samples}) == 40 and all(s["id"].startswith(f"{s['task']}/") for s in samples)
    assert [s["prompt"] for s in task.samples("train", 40, seed=3)] == [s["prompt"] for s in samples]  # same seed, same draw
    assert mixture("task.ratios.general=1", "task.ratios.arithmetic=0").counts(7) == {"arithmetic": 0, "general": 7}


def test_counts_follow_the_ratios_and_add_up():
    task = mixture("task.ratios.arithmetic=2", "task.ratios.general=1")
    for n in (1, 2, 3, 10, 11):
        counts = task.counts(n)
        assert sum(counts.values()) == n and abs(counts["arithmetic"] - 2 * n / 3) < 1


def test_splits_stay_apart_as_the_members_keep_them():
    task = mixture()
    train = {s["prompt"] for s in task.samples("train", 400, seed=0)}
    test = {s["prompt"] for s in task.samples("test", 100, seed=0)}
    assert not train & test


def test_a_response_must_satisfy_every_members_checker():
    task = mixture()
    assert task.check("<think>2+4+0=6</think><answer>6</answer>", "6")
    assert task.check("<think></think><answer>DOG</answer>", "DOG")
    assert not task.check("<think></think><answer>dog</answer>", "DOG")  # the symbolic checker alone would take it
    assert not task.check("<think></think><answer>7</answer>", "6")


def test_mistakes_are_one_line():
    with pytest.raises((ConfigError, PluginError), match="one ratio per member"):
        mixture("~task.ratios.general")
    with pytest.raises((ConfigError, PluginError), match="not all zero"):
        mixture("task.ratios.arithmetic=0", "task.ratios.general=0")
    with pytest.raises(ValueError, match="needs a number of samples"):
        mixture().samples("train", None)


def test_the_pipelines_mix_composes_as_a_data_mixture(tmp_path):
    from omegaconf import OmegaConf

    from r1.phases.pipeline import mixture_override

    reasoning = tmp_path / "rejection run" / "dataset"  # a space and a slash: quoted in the override
    chat = {"path": str(tmp_path / "chat.jsonl"), "messages_field": "messages"}
    for general, second in ((None, {"path": None, "ratio": 0.25}), (chat, {**chat, "ratio": 0.25})):
        with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
            cfg = compose("config", overrides=["phase=sft", mixture_override(str(reasoning), 0.75, general)])
        assert OmegaConf.to_container(cfg.data.mixture) == [{"path": str(reasoning), "ratio": 0.75}, second]
    assert mixture_override("d", 1.0) == 'data.mixture=[{path: "d", ratio: 1.0}]'


def test_an_unknown_evaluation_task_is_one_line_before_any_stage_runs():
    from r1.phases.pipeline import check_eval_tasks

    check_eval_tasks(["arithmetic", "general"])
    with pytest.raises(ConfigError, match=r"unknown task 'generl' in phase.eval_tasks; choose from: arithmetic, .*general, .*numina$"):
        check_eval_tasks(["arithmetic", "generl"])
