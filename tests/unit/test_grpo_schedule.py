from __future__ import annotations

import pytest

from r1.errors import ConfigError
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


def test_resume_picks_the_newest_checkpoint_and_a_finished_run_starts_afresh(tmp_path):
    import os

    from omegaconf import OmegaConf

    from r1.phases.grpo import resume_state

    cfg = OmegaConf.create({"paths": {"output_root": str(tmp_path)}, "phase": {"name": "grpo"}, "seed": 0})
    state = resume_state(cfg, tmp_path / "run")
    assert state["ckpt_path"] is None  # nothing to resume
    # killed between writing step4.ckpt and refreshing last.ckpt: step4 is the newest state
    for name, mtime in (("step2.ckpt", 1_000), ("last.ckpt", 2_000), ("step4.ckpt", 3_000)):
        (state["checkpoints"] / name).write_bytes(b"x")
        os.utime(state["checkpoints"] / name, (mtime, mtime))
    assert resume_state(cfg, tmp_path / "run")["ckpt_path"].endswith("step4.ckpt")
    (state["dir"] / "done.json").write_text("{}")
    again = resume_state(cfg, tmp_path / "run")
    assert again["ckpt_path"] is None and not list(state["checkpoints"].glob("*.ckpt"))


@pytest.mark.parametrize("value", ["off", "no", 0])
def test_a_switch_that_is_not_true_or_false_is_a_clear_error(value):
    from omegaconf import OmegaConf

    from r1.phases.grpo import settings_from

    assert settings_from(OmegaConf.create({"phase": {"fused_forward": False}, "seed": 0})).fused_forward is False
    with pytest.raises(ConfigError, match="phase.fused_forward must be true or false"):
        settings_from(OmegaConf.create({"phase": {"fused_forward": value}, "seed": 0}))
