"""``phase=rejection`` end to end: a loadable dataset, honest filter counts, and kill-and-resume."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from hydra import compose, initialize_config_dir

from r1.errors import ConfigError
from r1.paths import conf_dir
from r1.protocols import Rollout
from r1.tasks.arithmetic import worked_sum

REPO_ROOT = Path(__file__).resolve().parents[2]
# Sampling from the untrained `model` (phase.init_from=model): these tests check the mechanics, not the policy.
SMALL = ["phase=rejection", "phase.init_from=model", "phase.num_prompts=8", "phase.chunk_size=4", "phase.samples_per_prompt=2", "phase.max_new_tokens=24"]


def compose_with(*overrides: str):
    with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
        return compose("config", overrides=list(overrides))


def load_dataset(folder: Path):
    import datasets

    return datasets.load_from_disk(str(folder))


def test_rejection_on_the_task_writes_a_loadable_dataset(cli_in_process, tmp_path):
    result = cli_in_process(*SMALL, "logger=csv", f"paths.output_root={tmp_path}")
    assert result.returncode == 0, result.stderr[-3000:]
    (folder,) = tmp_path.glob("rejection/run-*")
    report = json.loads((folder / "report.json").read_text())
    assert report["prompts"] == 8 and report["generated"] == 16 and report["chunks"] == 2
    assert report["kept"] + sum(report["rejected_by"].values()) == 16
    assert list(report["rejected_by"])[:2] == ["decontaminate", "correct"]  # the default filter list, in order
    data = load_dataset(folder / "dataset")
    assert len(data) == report["kept"]
    assert {"id", "prompt", "answer", "response", "filters_passed"} <= set(data.column_names)
    assert "rejection sampling: kept" in result.stdout and "correct" in result.stdout
    assert len((folder / "samples.jsonl").read_text().splitlines()) == report["kept"]


class OracleSampler:
    """Answers ``a+b`` prompts like a policy that is mostly right: per prompt, a correct worked
    sum, the same again, a wrong answer, and a right answer reached by a wrong step."""

    def update_weights(self, model) -> None:
        pass

    def generate(self, model, tokenizer, prompts, num_samples=1, max_new_tokens=64, temperature=1.0, top_p=1.0, return_logprobs=False, seed=None):
        texts = []
        for prompt in prompts:
            a, b = map(int, re.search(r"(\d+)\+(\d+)", prompt).groups())
            good = f"<think>{worked_sum(a, b)}</think><answer>{a + b}</answer>"
            lucky = f"<think>{worked_sum(a, b).replace('=', '=9', 1)}</think><answer>{a + b}</answer>"
            options = [good, good, f"<think>{worked_sum(a, b)}</think><answer>{a + b + 1}</answer>", lucky]
            texts += [options[j % 4] for j in range(num_samples)]
        rows = len(texts)
        return Rollout(
            prompt_ids=torch.zeros(rows, 1, dtype=torch.long), prompt_mask=torch.ones(rows, 1, dtype=torch.long),
            completion_ids=torch.zeros(rows, 1, dtype=torch.long), completion_mask=torch.ones(rows, 1, dtype=torch.long),
            texts=texts, truncated=torch.zeros(rows, dtype=torch.bool), num_samples=num_samples,
            stats={"generate_s": 0.01, "generated_tokens": float(rows)},
        )


@pytest.fixture
def oracle(monkeypatch):
    from r1.plugins import Registry

    build = Registry.build

    def fake_build(self, kind, spec, **overrides):
        return OracleSampler() if kind == "sampler" else build(self, kind, spec, **overrides)

    monkeypatch.setattr(Registry, "build", fake_build)


def test_filters_keep_only_clean_correct_samples(oracle, tmp_path):
    from r1.phases.rejection import run

    cfg = compose_with(*SMALL, "phase.samples_per_prompt=4", "phase.max_kept_per_prompt=1", "logger=none", f"paths.output_root={tmp_path}", f"paths.output_dir={tmp_path / 'hydra'}")
    summary = run(cfg)
    report = json.loads((Path(summary["output_dir"]) / "report.json").read_text())
    # Per prompt: 1 wrong (correct), 1 lucky (consistent), 1 duplicate (dedup) are rejected; 1 kept.
    assert report["rejected_by"]["correct"] == 8 and report["rejected_by"]["consistent"] == 8 and report["rejected_by"]["dedup"] == 8
    assert report["kept"] == 8 and report["prompts_with_kept"] == 8 and report["rejected_by"]["max_per_prompt"] == 0
    data = load_dataset(Path(summary["dataset_dir"]))
    row = data[0]
    assert row["response"].startswith("<think>") and row["answer"] in row["response"] and row["sample_index"] == 0
    assert row["filters_passed"] == ["decontaminate", "correct", "format", "consistent", "language", "degenerate", "length", "dedup"]


def test_prompts_from_a_dataset_file_and_the_per_prompt_cap(oracle, tmp_path):
    from r1.phases.rejection import run

    rows = [{"question": f"{a}+{a + 11}", "solution": f"... #### {2 * a + 11}"} for a in range(20, 26)]
    (tmp_path / "prompts.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    cfg = compose_with(
        *SMALL, "filter=none", "phase.samples_per_prompt=3", "phase.max_kept_per_prompt=2", "phase.num_prompts=null",
        "task=dataset", f"task.path={tmp_path / 'prompts.jsonl'}", "task.test_size=0", "task.prompt_column=question",
        "task.answer_column=null", "task.solution_column=solution",
        "logger=none", f"paths.output_root={tmp_path}", f"paths.output_dir={tmp_path / 'hydra'}",
    )
    summary = run(cfg)
    data = load_dataset(Path(summary["dataset_dir"]))
    assert len(data) == 12 and {row["prompt"]: row["answer"] for row in data}["20+31"] == "51"
    assert json.loads((Path(summary["output_dir"]) / "report.json").read_text())["rejected_by"] == {"max_per_prompt": 6}


def test_by_default_it_samples_from_the_grpo_model_of_this_config(oracle, tmp_path):
    from r1.models import load_model
    from r1.phases.common import config_hash, mark_done, save_hf
    from r1.phases.rejection import run

    common = [*[o for o in SMALL if not o.startswith("phase.init_from")], "filter=none", "logger=none", f"paths.output_root={tmp_path}", f"paths.output_dir={tmp_path / 'hydra'}"]
    with pytest.raises(ConfigError, match="no finished GRPO run or no cold-start SFT model matches this config.*phase=grpo"):
        run(compose_with(*common))  # nothing trained yet: one line saying what to run first, not 0 samples kept
    assert not list(tmp_path.glob("rejection/*"))

    cfg = compose_with(*common)
    model, tokenizer = load_model(cfg.model)
    hf_dir = save_hf(model, tokenizer, tmp_path / "grpo-run" / "hf")
    mark_done(tmp_path / "state" / f"grpo-{config_hash(compose_with('phase=grpo'))}", {"hf_dir": str(hf_dir)})  # what a finished GRPO run leaves
    summary = run(compose_with(*common))
    recorded = json.loads((Path(summary["output_dir"]) / "config.json").read_text())
    assert recorded["model"]["name_or_path"] == str(hf_dir) and summary["generated"] == 16
    assert json.loads((Path(summary["output_dir"]) / "done.json").read_text()) == summary


def test_resuming_into_a_folder_made_by_another_config_is_refused(oracle, tmp_path):
    from r1.phases.rejection import run

    common = [*SMALL, "filter=none", "logger=none", f"phase.output_dir={tmp_path / 'data'}", f"paths.output_dir={tmp_path / 'hydra'}"]
    run(compose_with(*common))
    run(compose_with(*common))  # the same config resumes (here: finds every chunk done)
    with pytest.raises(ConfigError, match=r"different config \(phase.temperature: 0.6 -> 1.0\)"):
        run(compose_with(*common, "phase.temperature=1.0"))


def test_a_half_written_chunk_is_ignored_and_changed_prompts_are_refused(oracle, tmp_path):
    from r1.errors import DataError
    from r1.phases.rejection import run

    common = [*SMALL, "filter=none", "logger=none", f"phase.output_dir={tmp_path / 'data'}", f"paths.output_dir={tmp_path / 'hydra'}"]
    first = run(compose_with(*common))
    chunks = tmp_path / "data" / "chunks"
    (chunks / "000001.json").unlink()  # as if killed while writing chunk 1:
    (chunks / ".000001.json.999.tmp").write_text('{"chunk": 1, "kept": [')  # only its temporary file exists
    (tmp_path / "data" / "done.json").unlink()  # and so never finished
    second = run(compose_with(*common))
    assert not list(chunks.glob(".*.tmp")) and (tmp_path / "data" / "samples.jsonl").exists()
    assert second["kept"] == first["kept"] == 16
    record = json.loads((chunks / "000000.json").read_text())
    record["prompt_ids"][0] = "add-1-2"
    (chunks / "000000.json").write_text(json.dumps(record))
    with pytest.raises(DataError, match="other prompts"):
        run(compose_with(*common))


def _command(root: Path) -> list[str]:
    return [
        sys.executable, "-m", "r1.run", "phase=rejection", "phase.init_from=model", "phase.num_prompts=10", "phase.chunk_size=2", "phase.samples_per_prompt=2",
        "phase.max_new_tokens=16", "filter.filters=[{name:dedup}]", "logger=none", f"paths.output_root={root}",
    ]


def test_killed_run_resumes_to_the_same_output(cli_in_process, tmp_path):
    env = {**os.environ, "R1_DISABLE_PLUGIN_AUTOLOAD": "1"}
    # 1. Start a run and kill it (the whole process group) as soon as its first chunk is recorded.
    killed = tmp_path / "killed"
    process = subprocess.Popen(_command(killed), cwd=REPO_ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    deadline = time.monotonic() + 240
    try:
        while not list(killed.glob("rejection/run-*/chunks/000000.json")):
            assert process.poll() is None, process.stderr.read().decode()[-3000:]
            assert time.monotonic() < deadline, "no chunk was recorded"
            time.sleep(0.02)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        process.stderr.close()
    (folder,) = killed.glob("rejection/run-*")
    recorded = sorted(p.name for p in (folder / "chunks").glob("*.json"))
    assert 1 <= len(recorded) < 5 and not (folder / "report.json").exists()

    # 2. The same command again (in this process: only the killed run needs a process of its own) finishes it.
    resumed = cli_in_process(*_command(killed)[3:])
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert sorted(p.name for p in (folder / "chunks").glob("*.json")) == [f"{i:06d}.json" for i in range(5)]

    # 3. An uninterrupted run (in this process, through the same entry) gives the same samples,
    #    in the same order, none lost or doubled.
    from r1.run import run as run_r1

    clean = tmp_path / "clean"
    run_r1(compose_with(*_command(clean)[3:], f"paths.output_dir={tmp_path / 'hydra'}"))
    (clean_folder,) = clean.glob("rejection/run-*")
    assert clean_folder.name == folder.name  # the folder name depends on the config only
    assert (folder / "samples.jsonl").read_text() == (clean_folder / "samples.jsonl").read_text()
    resumed_report, clean_report = (json.loads((f / "report.json").read_text()) for f in (folder, clean_folder))
    for key in ("generated", "kept", "rejected_by", "prompts_with_kept"):
        assert resumed_report[key] == clean_report[key], key
    assert resumed_report["generated"] == 20 and resumed_report["kept"] > 0
    assert load_dataset(folder / "dataset")["response"] == load_dataset(clean_folder / "dataset")["response"]
