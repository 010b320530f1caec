"""Through the command line: every bad setting or broken input is one line and exit 2, and NaN training saves nothing.

The cases are what a careless (or hostile) user gives r1: wrong numbers and names,
files with nulls, foreign bytes or cut-off weights, checkpoints that are not ones, an
output folder that cannot be written. Each must end in the single ``r1: error:`` line,
never a traceback, and nearly all before any model is loaded.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from tests.conftest import one_error_line, run_cli

# A random-init GRPO policy: settings are checked before anything is generated.
GRPO = ["phase=grpo", "phase.init_from=model", "phase.val_prompts=0", "phase.prompts_per_step=2", "phase.group_size=4",
        "phase.max_new_tokens=8", "phase.progress_bar=false", "phase.log_completions_every=0"]
SFT = ["phase=sft", "experiment=sft_quick", "+trainer.enable_progress_bar=false"]


def truncated_model(folder: Path) -> Path:
    folder.mkdir(parents=True)
    (folder / "config.json").write_text("{}")
    save_file({"weight": torch.ones(64, 64)}, str(folder / "model.safetensors"))
    weights = folder / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:4000])
    return folder


def write(path: Path, content: bytes) -> Path:
    path.write_bytes(content)
    return path


def jsonl(path: Path, row: dict) -> Path:
    return write(path, json.dumps(row).encode() + b"\n")


LATIN1_ROW = b'{"prompt": "caf\xe9", "response": "x"}\n'
"""A row saved as Latin-1, not UTF-8."""


# (id, overrides given the test's folder, a fragment of the one line)
CASES: list[tuple[str, Callable[[Path], list[str]], str]] = [
    ("group_size=abc", lambda t: [*GRPO, "phase.group_size=abc"], "phase.group_size must be an integer, not 'abc'"),
    ("group_size=0", lambda t: [*GRPO, "phase.group_size=0"], "phase.group_size must be at least"),
    ("group_size=-1", lambda t: [*GRPO, "phase.group_size=-1"], "phase.group_size must be at least"),
    ("group_size=2.5", lambda t: [*GRPO, "phase.group_size=2.5"], "phase.group_size must be an integer, not 2.5"),
    ("group_size=1", lambda t: [*GRPO, "phase.group_size=1"], "group_size"),
    ("prompts_per_step=0", lambda t: [*GRPO, "phase.prompts_per_step=0"], "phase.prompts_per_step must be at least 1, not 0"),
    ("max_steps=-3", lambda t: [*GRPO, "phase.max_steps=-3"], "phase.max_steps must be at least 1, not -3"),
    ("max_new_tokens=0", lambda t: [*GRPO, "phase.max_new_tokens=0"], "phase.max_new_tokens must be at least 1, not 0"),
    ("grpo lr=-1", lambda t: [*GRPO, "phase.optimizer.lr=-1"], "phase.optimizer.lr must be a number more than 0, not -1"),
    ("sft lr=-1", lambda t: [*SFT, "phase.optimizer.lr=-1"], "phase.optimizer.lr must be a number more than 0, not -1"),
    ("advantage.scale", lambda t: [*GRPO, "phase.advantage.scale=sideways"], "sideways"),
    ("aggregation", lambda t: [*GRPO, "phase.aggregation=nope"], "nope"),
    ("kl_estimator", lambda t: [*GRPO, "phase.kl_estimator=k9"], "k9"),
    ("grpo top_p=2", lambda t: [*GRPO, "phase.top_p=2"], "phase.top_p must be at most 1, not 2"),
    ("eval top_p=2", lambda t: ["phase=eval", "phase.top_p=2"], "phase.top_p must be at most 1, not 2"),
    ("rejection top_p=2", lambda t: ["phase=rejection", "phase.top_p=2"], "phase.top_p must be at most 1, not 2"),
    ("rejection k=abc", lambda t: ["phase=rejection", "phase.k=abc"], "phase.k"),
    ("rejection samples_per_prompt=abc", lambda t: ["phase=rejection", "phase.samples_per_prompt=abc"],
     "phase.samples_per_prompt must be an integer, not 'abc'"),
    ("eval k=abc", lambda t: ["phase=eval", "phase.k=abc"], "phase.k must be an integer or null, not 'abc'"),
    ("benchmark.limit=-1", lambda t: ["phase=eval", "benchmark.limit=-1"], "benchmark.limit of 'heldout' must be a whole number of at least 1"),
    ("benchmark.k=0", lambda t: ["phase=eval", "benchmark.k=0"], "benchmark.k of 'heldout' must be a whole number of at least 1"),
    ("null data field", lambda t: [*SFT, f"data.path={jsonl(t / 'd.jsonl', {'prompt': '1+1', 'response': None})}"],
     "row 1 has no response (field 'response' is null"),
    ("non-UTF-8 data", lambda t: [*SFT, f"data.path={write(t / 'd.jsonl', LATIN1_ROW)}"],
     "row 1 has bytes that are not UTF-8 text in field 'prompt'"),
    ("bad parquet", lambda t: [*SFT, f"data.path={write(t / 'd.parquet', b'not parquet')}"], "could not load dataset"),
    ("no gold answer at all", lambda t: ["phase=rejection", "phase.init_from=model", "task=dataset", "task.test_size=0", "phase.num_prompts=null",
                                         f"task.path={jsonl(t / 'p.jsonl', {'prompt': '1+1', 'answer': None})}"],
     "no prompts to sample: the task gave none that can be used (1 no answer)"),
    ("truncated safetensors folder", lambda t: ["phase=eval", "model=hf", f"model.name_or_path={truncated_model(t / 'hf')}"],
     "model.safetensors is cut off"),
    ("safetensors file as the model", lambda t: ["phase=eval", "model=hf", f"model.name_or_path={truncated_model(t / 'hf') / 'model.safetensors'}"],
     "is a file; give the folder"),
    ("empty ckpt_path", lambda t: [*SFT, "ckpt_path=''"], "ckpt_path is empty"),
    ("empty checkpoint file", lambda t: [*SFT, f"ckpt_path={write(t / 'e.ckpt', b'')}"], "cannot be resumed from: the file is empty"),
    ("garbage checkpoint file", lambda t: [*SFT, f"ckpt_path={write(t / 'g.ckpt', b'garbage')}"], "cannot be resumed from: it is not a torch.save file"),
    ("missing checkpoint file", lambda t: [*SFT, f"ckpt_path={t / 'missing.ckpt'}"], "does not exist"),
    ("unwritable run_dir", lambda t: [*SFT, f"paths.run_dir={write(t / 'a_file', b'') / 'run'}"], "cannot create the folder"),
    ("unwritable rejection output_dir", lambda t: ["phase=rejection", "phase.init_from=model", f"phase.output_dir={write(t / 'a_file', b'') / 'out'}"],
     "set phase.output_dir to a folder you can write to"),
]


@pytest.mark.parametrize(("overrides", "expected"), [case[1:] for case in CASES], ids=[case[0] for case in CASES])
def test_a_bad_setting_or_input_is_one_line_and_exit_2(cli_error, tmp_path, overrides, expected):
    line = cli_error(*overrides(tmp_path), "logger=none", f"paths.output_root={tmp_path / 'out'}")
    assert expected in line, line


def test_an_unwritable_output_folder_is_one_line(tmp_path):
    """Through a real ``python -m r1.run``: Hydra's run-folder callback fails before any model library is imported."""
    (tmp_path / "a_file").write_text("")
    line = one_error_line(run_cli("r1.run", "phase=eval", "logger=none", f"paths.output_root={tmp_path / 'a_file' / 'out'}", timeout=120))
    assert "cannot create the run folder" in line and "a_file" in line


def test_a_bad_math_timeout_is_one_line(cli_error, tmp_path):
    line = cli_error(*GRPO, "logger=none", f"paths.output_root={tmp_path}", env={"R1_MATH_TIMEOUT": "abc"})
    assert "R1_MATH_TIMEOUT" in line and "abc" in line


# ----------------------------------------------------------------------------- NaN training


def test_a_nan_loss_stops_sft_in_one_line_and_saves_no_model(cli_error, tmp_path):
    run = tmp_path / "run"
    line = cli_error(*SFT, "phase.optimizer.lr=1e30", "phase.val_every_steps=null", "phase.checkpoint.every_n_steps=1", "logger=none",
                     f"paths.output_root={tmp_path}", f"paths.run_dir={run}")
    assert line.startswith("r1: error: training stopped at step ") and ("the loss is nan" in line or "NaN" in line), line
    assert not (run / "hf").exists() and not (run / "summary.json").exists()
    (state,) = (tmp_path / "state").iterdir()
    assert not (state / "done.json").exists()
    good = line.split("the last good checkpoint is ")[1].split(" ")[0]
    weights = torch.load(good, map_location="cpu", weights_only=False)["state_dict"]
    assert all(torch.isfinite(w).all() for w in weights.values())  # what is kept is finite


def test_a_nan_loss_stops_grpo_in_one_line_and_saves_no_model(cli_error, tmp_path):
    run = tmp_path / "run"
    line = cli_error(*GRPO, "phase.optimizer.lr=1e30", "phase.max_steps=4", "phase.checkpoint_every=1", "logger=none",
                     f"paths.output_root={tmp_path}", f"paths.run_dir={run}")
    assert line.startswith("r1: error: training stopped at step ") and "the last good checkpoint is" in line, line
    assert not (run / "hf").exists() and not (run / "summary.json").exists()
