"""The ``code_mbpp`` task, and the plugin's hooks and YAML options."""

from __future__ import annotations

from pathlib import Path

import pluggy
import yaml

import r1.hookspecs
from r1.protocols import Benchmark, Reward, Task
from r1_code import plugin
from r1_code.reward import CodeReward
from r1_code.task import MBPPTask


def test_task_samples_are_deterministic_and_split():
    task = MBPPTask()
    assert isinstance(task, Task)
    train = task.samples("train", 8, seed=1)
    assert train == task.samples("train", 8, seed=1)
    assert train != task.samples("train", 8, seed=2)
    ids = lambda samples: {int(s["id"].split("/")[1]) for s in samples}  # noqa: E731
    assert all(601 <= i <= 974 for i in ids(train))
    assert all(11 <= i <= 510 for i in ids(task.samples("test", 600)))
    assert len(task.samples("test", 600)) == 500  # held-out problems are never repeated
    assert len(task.samples("train", 400)) == 400  # training cycles through reshuffles
    for s in train:
        assert {"id", "prompt", "answer", "response", "tests"} <= s.keys()
        assert s["response"].startswith("<think>") and "</think>\n<answer>" in s["response"]
        assert s["tests"][0] in s["prompt"] and s["tests"][1] not in s["prompt"]  # show_tests=1


def test_task_references_earn_the_reward_and_pass_check():
    task = MBPPTask()
    samples = task.samples("train", 4, seed=0)
    fields = {k: [s[k] for s in samples] for k in ("tests", "setup_code")}
    assert CodeReward()([s["response"] for s in samples], **fields) == [1.0] * 4
    s = samples[0]
    assert task.check(s["response"], s["answer"])
    assert not task.check(samples[1]["response"], s["answer"])
    assert not task.check(s["response"], "def unknown(): pass")


def _manager() -> pluggy.PluginManager:
    pm = pluggy.PluginManager("r1")
    pm.add_hookspecs(r1.hookspecs)
    pm.register(plugin, name="r1-code")
    return pm


def test_hooks_offer_every_kind():
    pm = _manager()
    (rewards,) = pm.hook.r1_rewards()
    (benchmarks,) = pm.hook.r1_benchmarks()
    (tasks,) = pm.hook.r1_tasks()
    assert set(rewards) == {"code"} and set(benchmarks) == {"humaneval", "mbpp"} and set(tasks) == {"code_mbpp"}
    (conf,) = pm.hook.r1_config_dir()
    assert Path(conf, "reward", "code.yaml").is_file()


def test_every_yaml_option_builds_its_object():
    pm = _manager()
    factories = {
        "reward": pm.hook.r1_rewards()[0],
        "benchmark": pm.hook.r1_benchmarks()[0],
        "task": pm.hook.r1_tasks()[0],
    }
    protocols = {"reward": Reward, "benchmark": Benchmark, "task": Task}
    conf = Path(pm.hook.r1_config_dir()[0])
    files = sorted(conf.glob("*/*.yaml"))
    assert [f"{p.parent.name}/{p.stem}" for p in files] == [
        "benchmark/humaneval", "benchmark/mbpp", "reward/code", "task/code_mbpp",
    ]
    for path in files:
        options = yaml.safe_load(path.read_text())
        name = options.pop("name")
        assert name == path.stem
        obj = factories[path.parent.name][name](**options)
        assert isinstance(obj, protocols[path.parent.name])
        if path.parent.name != "reward":
            assert obj.name == name
