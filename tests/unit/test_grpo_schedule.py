from __future__ import annotations

import pytest

from r1.errors import ConfigError, PluginError
from r1.hookspecs import hookimpl
from r1.phases.grpo import PromptSchedule


def _samples(n: int) -> list[dict]:
    return [{"id": i, "prompt": f"p{i}", "answer": str(i)} for i in range(n)]


def test_schedule_is_a_pure_function_of_seed_and_step():
    a, b = PromptSchedule(_samples(50), 8, seed=1), PromptSchedule(_samples(50), 8, seed=1)
    assert [s["id"] for s in a.step(7)] == [s["id"] for s in b.step(7)]
    assert [s["id"] for s in a.step(7)] != [s["id"] for s in PromptSchedule(_samples(50), 8, seed=2).step(7)]


def test_each_epoch_visits_every_prompt_once():
    schedule = PromptSchedule(_samples(40), 8, seed=0)
    seen = [s["id"] for step in range(5) for s in schedule.step(step)]
    assert sorted(seen) == list(range(40))


def test_ranks_split_whole_prompts_without_overlap():
    schedule = PromptSchedule(_samples(64), 8, seed=3)
    whole = [s["id"] for s in schedule.step(4)]
    parts = [[s["id"] for s in schedule.step(4, rank=r, world_size=2)] for r in range(2)]
    assert parts[0] + parts[1] == whole and not set(parts[0]) & set(parts[1])
    assert len(parts[0]) == len(parts[1]) == 4


def test_no_prompts_is_a_clear_error():
    with pytest.raises(ConfigError, match="no training prompts"):
        PromptSchedule([], 4, seed=0)


# ----------------------------------------------------------------------------- settings


def _grpo_cfg(*overrides: str):
    from hydra import compose, initialize_config_dir

    from r1.paths import conf_dir

    with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
        return compose("config", overrides=["phase=grpo", *overrides])


def test_settings_read_every_key_of_the_yaml():
    from omegaconf import OmegaConf

    from r1.phases.grpo import GRPOSettings, settings_from
    from r1.settings import settings_fields

    cfg = _grpo_cfg()
    assert set(settings_fields(GRPOSettings)) == set(OmegaConf.to_container(cfg.phase)) | {"seed"}
    settings = settings_from(cfg)
    assert settings.advantage == {"name": "grpo", "scale": "group", "eps": 1e-4}
    assert settings.policy_loss == {"name": "clip", "eps_low": 0.2, "eps_high": 0.2}
    assert (settings.kl_estimator, settings.aggregation, settings.seed) == ("k3", "grpo", cfg.seed)


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("phase.group_size=1", "phase.group_size must be at least 2, not 1"),
        ("phase.prompts_per_step=0", "phase.prompts_per_step must be at least 1, not 0"),
        ("phase.temperature=0", "phase.temperature must be more than 0, not 0"),
        ("phase.top_p=1.5", "phase.top_p must be at most 1, not 1.5"),
        ("phase.beta=-0.1", "phase.beta must be at least 0, not -0.1"),
        ("phase.mini_batch_size=0", "phase.mini_batch_size must be at least 1, not 0"),
        ("phase.max_grad_norm=0", "phase.max_grad_norm must be more than 0, not 0"),
        ("phase.optimizer.lr=-1", "phase.optimizer.lr must be a number more than 0, not -1"),
        ("phase.progress_bar=off", "phase.progress_bar must be true or false, not 'off'"),
        ("phase.mask_truncated=0", "phase.mask_truncated must be true or false, not 0"),
        ("phase.group_size=2.5", "phase.group_size must be an integer, not 2.5"),
        ("+phase.group_sise=8", "unknown setting phase.group_sise"),
        ("~phase.beta", "phase.beta is not set"),
    ],
)
def test_a_bad_setting_is_one_line(override, message):
    from r1.phases.grpo import settings_from

    with pytest.raises(ConfigError, match=message) as error:
        settings_from(_grpo_cfg(override))
    assert "\n" not in str(error.value)


class _NeedsEight:
    """A plugin estimator defined only for groups of at least 8."""

    min_group_size = 8

    def __call__(self, rewards, group_size):
        return rewards


class _NoMinimum:
    def __call__(self, rewards, group_size):
        return rewards


class _EstimatorPlugin:
    @hookimpl
    def r1_advantages(self):
        return {"needs_eight": _NeedsEight, "no_minimum": _NoMinimum}


def _registry():
    from r1.plugins import Registry, create_plugin_manager

    pm = create_plugin_manager(autoload=False)
    pm.register(_EstimatorPlugin(), name="test-estimators")
    return Registry(pm)


def test_a_group_smaller_than_the_estimator_needs_is_one_line():
    from r1.phases.grpo import build_algorithm, settings_from

    choose = ["phase.advantage.name=needs_eight", "~phase.advantage.scale", "~phase.advantage.eps"]
    with pytest.raises(ConfigError, match="phase.group_size=4 is too small for advantage 'needs_eight', which needs at least 8 completions per prompt"):
        build_algorithm(_registry(), settings_from(_grpo_cfg(*choose, "phase.group_size=4")))
    assert build_algorithm(_registry(), settings_from(_grpo_cfg(*choose, "phase.group_size=8"))).names["advantage"] == "needs_eight"


def test_a_bare_name_picks_a_plugin_without_options():
    from r1.phases.grpo import build_algorithm, settings_from
    from r1.plugins import get_registry

    algorithm = build_algorithm(get_registry(autoload=False), settings_from(_grpo_cfg("phase.advantage=rloo", "phase.aggregation=dr_grpo")))
    assert algorithm.names["advantage"] == "rloo" and algorithm.names["aggregation"] == "dr_grpo"
    # clip has options without defaults in Python (the YAML holds them): a bare name says which are missing
    with pytest.raises(PluginError, match="policy_loss 'clip' rejected its options.*eps_low"):
        build_algorithm(get_registry(autoload=False), settings_from(_grpo_cfg("phase.policy_loss=clip")))


def test_an_estimator_without_min_group_size_is_a_plugin_error():
    from r1.phases.grpo import build_algorithm, settings_from

    cfg = _grpo_cfg("phase.advantage.name=no_minimum", "~phase.advantage.scale", "~phase.advantage.eps")
    with pytest.raises(PluginError, match="advantage 'no_minimum' has no integer min_group_size"):
        build_algorithm(_registry(), settings_from(cfg))


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        (["phase.group_size=1"], ConfigError),
        (["phase.advantage.scale=bogus"], PluginError),
        (["phase.kl_estimator=k4"], PluginError),
        (["phase.optimizer._target_=torch.optim.NoSuchOptimizer"], ConfigError),
    ],
)
def test_mistakes_stop_grpo_before_the_starting_policy_is_resolved(monkeypatch, tmp_path, overrides, error):
    from r1.phases import grpo, start

    def must_not_run(cfg):
        raise AssertionError("the starting policy (and a cold-start SFT) was resolved before the config was checked")

    monkeypatch.setattr(start, "starting_policy", must_not_run)
    cfg = _grpo_cfg(*overrides, f"paths.output_root={tmp_path}", f"paths.run_dir={tmp_path / 'run'}")
    with pytest.raises(error) as raised:
        grpo.run(cfg)
    assert "\n" not in str(raised.value)


# ----------------------------------------------------------------------------- checkpoints


class _Strategy:
    def __init__(self) -> None:
        self.removed: list[str] = []

    def remove_checkpoint(self, path) -> None:
        self.removed.append(path.name)
        path.unlink()


class _Trainer:
    """What RolloutCheckpoint uses of a Trainer: ``save_checkpoint`` and ``strategy.remove_checkpoint``."""

    def __init__(self) -> None:
        self.strategy = _Strategy()
        self.saved: list[str] = []

    def save_checkpoint(self, path) -> None:
        path.write_bytes(b"state")
        self.saved.append(path.name)


class _Module:
    rollout_step = 0


def test_checkpoints_are_saved_every_n_rollout_steps_and_the_two_newest_are_kept(tmp_path):
    from r1.phases.grpo import RolloutCheckpoint

    (tmp_path / "step-000002.ckpt").write_bytes(b"from the run this one resumed")
    callback, trainer, module = RolloutCheckpoint(tmp_path, every=3), _Trainer(), _Module()
    for step in range(3, 8):  # a run resumed at step 2, one optimizer-agnostic rollout step per batch
        module.rollout_step = step
        callback.on_train_batch_end(trainer, module, None, None, step - 1)
    assert trainer.saved == ["step-000003.ckpt", "step-000006.ckpt"]
    assert trainer.strategy.removed == ["step-000002.ckpt"]  # the newest and one to fall back to stay
    assert sorted(p.name for p in tmp_path.iterdir()) == ["step-000003.ckpt", "step-000006.ckpt"]  # no '=', one 'step' in a name
