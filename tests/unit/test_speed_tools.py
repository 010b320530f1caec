"""The realistic-shape speed tools' own logic, without a model or TRL.

The comparisons themselves (tools/compare_trl.sh --model dense|moe, tools/compare_trl_sft.sh,
tools/bench_sampler.py) take minutes and a second virtualenv; what is checked here is what
would make their figures wrong without failing: the brief SFT's overrides still compose
against r1's config, both GRPO sides read the same GSM8K prompts and answers, TRL's time
split adds up to its step, and engines take turns in a rotating order.
"""

from __future__ import annotations

import sys
import time

import pytest

from tests.conftest import REPO_ROOT, load_tool

sys.path.insert(0, str(REPO_ROOT / "tools"))  # the tools import their siblings (bench_args, build_standins)
bench_args = load_tool("bench_args")
bench_sampler = load_tool("bench_sampler")
realistic = load_tool("realistic_standin")
trl_grpo = load_tool("bench_trl_grpo")
bench_grpo = load_tool("bench_grpo")


def test_gsm8k_rows_are_the_shipped_questions_with_their_final_numbers():
    rows = bench_args.gsm8k_rows()
    assert len(rows) == 1319
    assert rows[0]["question"].startswith("Janet") and rows[0]["answer"] == "18"
    assert all(row["answer"] and "," not in row["answer"] and "####" not in row["answer"] for row in rows)


def test_both_grpo_sides_read_the_same_gsm8k_prompts():
    trl_rows = trl_grpo.prompt_rows("gsm8k", 10, seed=0)
    assert sorted(r["prompt"][0]["content"] for r in trl_rows) == sorted(r["question"] for r in bench_args.gsm8k_rows())
    assert trl_grpo.prompt_rows("gsm8k", 10, seed=0) == trl_rows  # the shuffle is seeded
    assert len(trl_grpo.prompt_rows("arithmetic", 10, seed=0)) == 10


def test_trl_trains_on_r1s_prompts_in_r1s_order(tmp_path):
    """compare_trl.sh: r1's run writes the prompts it trained on (one per group), TRL reads them unshuffled."""
    import json

    completions = tmp_path / "completions.jsonl"
    rows = [{"step": s, "prompt": q, "answer": a, "completion": "c"} for s, (q, a) in enumerate([("2+2", "4"), ("Why?", "7")]) for _ in range(3)]
    completions.write_text("".join(json.dumps(r) + "\n" for r in rows))
    bench_grpo.write_prompts(completions, tmp_path / "prompts.jsonl", group_size=3)
    trl_rows = trl_grpo.prompt_rows("gsm8k", 5, seed=0, prompts_file=str(tmp_path / "prompts.jsonl"))
    assert [r["prompt"][0]["content"] for r in trl_rows] == ["2+2", "Why?", "2+2", "Why?", "2+2"]  # in order, cycled
    assert [r["answer"] for r in trl_rows[:2]] == ["4", "7"]


def test_the_brief_sft_overrides_compose_against_the_config(tmp_path):
    from hydra import compose, initialize_config_dir

    from r1.paths import conf_dir

    overrides = realistic.sft_overrides(tmp_path / "base", tmp_path / "run", steps=7)
    with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
        cfg = compose("config", overrides=overrides)
    assert cfg.phase.name == "sft" and cfg.phase.max_steps == 7 and cfg.data.packing
    assert cfg.data.solution_field == "answer" and cfg.data.response_field is None
    assert cfg.model.name_or_path == str(tmp_path / "base")


def test_an_unknown_preset_is_one_line(tmp_path):
    with pytest.raises(SystemExit, match="unknown stand-in preset 'huge'; choose from: dense, moe"):
        realistic.realistic_standin("huge", tmp_path)


def test_trl_step_split_adds_up_to_the_step():
    class Fake:
        def generate(self):
            time.sleep(0.02)

        def logps(self, grad):
            import torch

            with torch.set_grad_enabled(grad):
                return self._inner()

        def _inner(self):
            time.sleep(0.01)

    fake = Fake()
    split = trl_grpo.StepSplit()
    split.wrap(fake, "generate", "generate")
    split.wrap(fake, "_inner", lambda grad: "policy_forward" if grad else "logprobs_no_grad")
    fake.generate()
    fake.logps(False)
    fake.logps(True)
    split.close_step(0.1)
    step = split.steps[0]
    assert step["generate"] >= 0.02 and step["logprobs_no_grad"] >= 0.01 and step["policy_forward"] >= 0.01
    assert step["reward"] == 0.0
    assert abs(sum(step.values()) - 0.1) < 1e-3  # the rest is backward and optimizer
    assert split.mean(warmup=0) == step


def test_engines_take_turns_in_a_rotating_order():
    calls = []

    def engine(name):
        def run(seed):
            calls.append((name, seed))
            return 100, 0.5

        return run

    rates, lengths = bench_sampler.take_turns({"a": engine("a"), "b": engine("b")}, repeats=3, seed=0, rows=10)
    assert calls[:2] == [("a", 0), ("b", 0)]  # warm-up
    assert [name for name, _ in calls[2:]] == ["a", "b", "b", "a", "a", "b"]
    assert rates == {"a": [200.0] * 3, "b": [200.0] * 3} and lengths["a"] == [10.0] * 3


def test_an_unknown_engine_is_refused():
    with pytest.raises(SystemExit):
        bench_sampler.parse(["--model", "dense", "--engines", "hf,sglang"])
