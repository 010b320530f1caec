"""Every shipped YAML composes, and the plugin options in it build (docs/DESIGN.md: every number in YAML)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate
from omegaconf import OmegaConf

from r1.errors import R1Error
from r1.models import load_model
from r1.overrides import group_options
from r1.paths import conf_dir
from r1.plugins import get_registry

GROUPS = group_options([conf_dir()])
ALL_OPTIONS = [(group, option) for group, options in GROUPS.items() for option in options]


def compose_with(*overrides: str):
    with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
        return compose("config", overrides=list(overrides), return_hydra_config=True)


def test_every_kind_has_a_config_group():
    expected = {"phase", "model", "task", "reward", "sampler", "filter", "benchmark", "trainer", "logger", "experiment", "paths"}
    assert expected <= set(GROUPS)


def test_default_config_composes_and_resolves():
    cfg = compose_with()
    assert cfg.phase.name == "pipeline" and cfg.model.architecture._target_ == "r1.models.build_tiny_moe"
    assert cfg.model.architecture.seed == cfg.seed
    assert cfg.hydra.run.dir.startswith("outputs/pipeline/")


@pytest.mark.parametrize(("group", "option"), ALL_OPTIONS, ids=[f"{g}={o}" for g, o in ALL_OPTIONS])
def test_every_option_composes(group, option):
    # `data` is pulled in by the phases that train on a dataset, not by the root config
    cfg = compose_with("phase=sft", f"{group}={option}") if group == "data" else compose_with(f"{group}={option}")
    assert cfg.hydra.runtime.choices[group] == option
    # Every value resolves, except mandatory ones a user must give (model=hf's name_or_path);
    # the run folder is Hydra's to set at run time.
    OmegaConf.set_struct(cfg, False)
    cfg.paths.output_dir = "/tmp/r1-run"
    del cfg["hydra"]
    OmegaConf.to_container(cfg, resolve=True, throw_on_missing=False)


@pytest.mark.parametrize("option", GROUPS["reward"])
def test_every_reward_option_builds_and_scores(option, request):
    # reward=reward_model needs a model folder (its path is mandatory); the others build from their YAML alone
    needs = [f"reward.path={request.getfixturevalue('reward_model_folder')}"] if option == "reward_model" else []
    cfg = compose_with(f"reward={option}", *needs)
    reward = get_registry(autoload=False).build("reward", cfg.reward)
    scores = reward(["<think>1+1+0=2</think><answer>2</answer>"], answer=["2"], prompt=["1+1"])
    assert len(scores) == 1


DATASETS = Path(__file__).resolve().parents[1] / "data" / "datasets"
# The dataset-backed task options, pointed at the small fixture of their shape (tests never download).
DATASET_TASKS = {
    "dataset": ["task.path=" + str(DATASETS / "gsm8k_sample.jsonl"), "task.prompt_column=question"],
    "gsm8k": ["task.path=" + str(DATASETS / "gsm8k_sample.jsonl"), "task.test_split=null", "task.test_size=5"],
    "math": ["task.path=" + str(DATASETS / "math_sample.jsonl"), "task.test_size=5"],
    "numina": ["task.path=" + str(DATASETS / "numina_sample.jsonl"), "task.test_split=null", "task.test_size=5"],
}


@pytest.mark.parametrize("option", GROUPS["task"])
def test_every_task_option_builds(option):
    cfg = compose_with(f"task={option}", *DATASET_TASKS.get(option, []))
    task = get_registry(autoload=False).build("task", cfg.task)
    sample = task.samples("train", 1)[0]
    assert sample["answer"] is not None and sample["prompt"]
    assert task.check(sample.get("response") or f"<think>…</think><answer>{sample['answer']}</answer>", sample["answer"])


@pytest.mark.parametrize("option", ["gsm8k", "math", "numina"])
def test_a_hub_preset_without_network_says_how_to_use_a_local_copy(option, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    cfg = compose_with(f"task={option}")
    with pytest.raises(R1Error, match=r"^could not load dataset '[^']+'.*; without network, copy .* and pass task.path=DIR$"):
        get_registry(autoload=False).build("task", cfg.task)


@pytest.mark.parametrize("option", [o for o in GROUPS["model"] if o != "hf"])
def test_every_built_model_option_instantiates(option):
    cfg = compose_with(f"model={option}")
    model, tokenizer = load_model(cfg.model)
    assert model.config.vocab_size == len(tokenizer)


@pytest.mark.parametrize("option", GROUPS["logger"])
def test_every_logger_option_instantiates(option, tmp_path, monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "offline")
    cfg = compose_with(f"logger={option}", f"paths.output_root={tmp_path}")
    node = OmegaConf.to_container(cfg.logger, resolve=False)
    if node.get("_target_") is None:
        return
    node["save_dir"] = str(tmp_path)
    if "offline" in node:
        node["offline"] = True
    logger = instantiate(node)
    assert logger is not None
