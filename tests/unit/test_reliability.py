"""No silent corruption: NaN training stops in one line, broken files are named, not trusted, and nothing is coerced.

Each test here stands for a way a run used to go wrong without a word: NaN weights saved
as a model, a truncated model folder reused, samples of two models mixed in one folder,
a null gold answer read as the text "None", ``benchmark.limit=-1`` read as "all but one".
"""

from __future__ import annotations

import json
from pathlib import Path

import lightning
import pytest
import torch
from safetensors.torch import save_file

from r1.errors import ConfigError, DataError
from r1.errors import TrainingError
from r1.phases.guards import FiniteGuard, SettingsRecord

# ----------------------------------------------------------------------------- the NaN/inf guard


class Tiny(lightning.LightningModule):
    """One linear layer trained on a fixed batch; ``poison(step)`` decides what goes wrong at which step."""

    def __init__(self, poison=None) -> None:
        super().__init__()
        self.layer = torch.nn.Linear(4, 1)
        self.poison = poison or (lambda step, loss: loss)

    def training_step(self, batch, batch_idx):
        loss = self.layer(batch).pow(2).mean()
        return self.poison(self.global_step + 1, loss)

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)

    def train_dataloader(self):
        return torch.utils.data.DataLoader(torch.ones(8, 4), batch_size=4)


def fit(module: Tiny, folder: Path, steps: int = 4, ckpt_path: str | None = None, settings: dict | None = None) -> lightning.Trainer:
    from lightning.pytorch.callbacks import ModelCheckpoint

    checkpoints = ModelCheckpoint(dirpath=str(folder), filename="step{step:.0f}", auto_insert_metric_name=False, every_n_train_steps=1, save_top_k=-1, monitor="step", mode="max")
    trainer = lightning.Trainer(
        max_steps=steps, logger=False, enable_progress_bar=False, enable_model_summary=False, accelerator="cpu",
        callbacks=[checkpoints, FiniteGuard(), SettingsRecord(settings or {"seed": 0}, "tiny")],
    )
    trainer.fit(module, ckpt_path=ckpt_path)
    return trainer


def test_a_nan_loss_stops_training_at_its_step_naming_the_last_good_checkpoint(tmp_path):
    module = Tiny(lambda step, loss: loss * float("nan") if step == 3 else loss)
    with pytest.raises(TrainingError, match=r"^training stopped at step 3: the loss is nan; nothing after it was saved, and the last good checkpoint is (.*step2.ckpt)"):
        fit(module, tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["step1.ckpt", "step2.ckpt"]
    assert all(torch.isfinite(p).all() for p in module.parameters())  # the bad step never reached the weights


def test_a_nan_gradient_stops_training_before_the_optimizer_applies_it(tmp_path):
    def poison(step, loss):
        if step == 2:
            module.layer.weight.register_hook(lambda grad: grad * float("inf"))
        return loss

    module = Tiny(poison)
    with pytest.raises(TrainingError, match=r"^training stopped at step 2: the gradient of layer.weight is NaN or infinite"):
        fit(module, tmp_path)
    assert all(torch.isfinite(p).all() for p in module.parameters())


def test_non_finite_weights_are_never_checkpointed(tmp_path):
    def poison(step, loss):
        if step == 2:
            with torch.no_grad():
                module.layer.bias.fill_(float("inf"))  # weights gone bad without a bad loss or gradient first
        return loss

    module = Tiny(poison)
    with pytest.raises(TrainingError, match=r"the weights \(layer.bias\) hold NaN or infinite values, so this checkpoint was not written"):
        fit(module, tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == ["step1.ckpt"]


def test_save_hf_refuses_non_finite_weights_and_reads_back_what_it_wrote(tmp_path):
    from r1.models import load_model
    from r1.phases.common import save_hf
    from tests.unit.test_run_state import compose_with

    model, tokenizer = load_model(compose_with("phase=sft").model)
    assert save_hf(model, tokenizer, tmp_path / "good") == tmp_path / "good"
    with torch.no_grad():
        next(model.parameters()).view(-1)[0] = float("nan")
    with pytest.raises(TrainingError, match=r"hold NaN or infinite values; .*bad was not written"):
        save_hf(model, tokenizer, tmp_path / "bad")
    assert not (tmp_path / "bad").exists()


def test_resuming_from_a_checkpoint_made_with_other_settings_says_what_changed(tmp_path, capsys):
    fit(Tiny(), tmp_path / "a", steps=2, settings={"seed": 0, "phase": {"batch_size": 8, "lr": 0.1, "name": "tiny"}})
    capsys.readouterr()
    fit(Tiny(), tmp_path / "b", steps=3, ckpt_path=str(tmp_path / "a" / "step2.ckpt"),
        settings={"seed": 1, "phase": {"batch_size": 4, "lr": 0.1, "name": "tiny"}})
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("[tiny]")]
    assert lines == [
        "[tiny] warning: resuming from a checkpoint made with other settings (phase.batch_size: 8 -> 4; seed: 0 -> 1); "
        "its optimizer state (learning rate included), schedule and data position carry over"
    ]


# ----------------------------------------------------------------------------- saved model folders


def whole_model(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text("{}")
    save_file({"weight": torch.ones(32, 32)}, str(folder / "model.safetensors"))
    return folder


def test_a_model_folder_is_whole_only_with_every_weight_file_complete(tmp_path):
    from r1.models.loading import hf_folder_problem

    folder = whole_model(tmp_path / "hf")
    assert hf_folder_problem(folder) is None
    weights = folder / "model.safetensors"
    data = weights.read_bytes()
    weights.write_bytes(data[:-10])
    assert hf_folder_problem(folder) == f"model.safetensors is cut off ({len(data) - 10} of its {len(data)} bytes)"
    weights.write_bytes(data[:6])
    assert "model.safetensors is cut off (6 bytes" in hf_folder_problem(folder)
    weights.write_bytes(b"\x04\x00\x00\x00\x00\x00\x00\x00{no}")
    assert hf_folder_problem(folder).startswith("model.safetensors is not a safetensors file")
    weights.unlink()
    assert "holds no weights" in hf_folder_problem(folder)
    whole_model(folder)
    (folder / "model.safetensors.index.json").write_text(json.dumps({"weight_map": {"a": "model-00002-of-00002.safetensors"}}))
    assert hf_folder_problem(folder) == "model.safetensors.index.json names model-00002-of-00002.safetensors, which is missing"
    (folder / "config.json").write_text("{not json")
    assert hf_folder_problem(folder).startswith("its config.json does not parse")


def test_loading_a_truncated_model_or_a_weights_file_is_one_line(tmp_path):
    from r1.models import load_model

    folder = whole_model(tmp_path / "hf")
    weights = folder / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:1000])
    with pytest.raises(DataError, match=r"^model '.*hf' cannot be loaded: model.safetensors is cut off \(1000 of its \d+ bytes\)"):
        load_model({"name_or_path": str(folder)})
    with pytest.raises(DataError, match=r"^model.name_or_path '.*model.safetensors' is a file; give the folder"):
        load_model({"name_or_path": str(weights)})


def test_new_weights_under_the_same_path_are_another_rejection_run(tmp_path):
    from omegaconf import OmegaConf

    from r1.phases.common import read_settings
    from r1.phases.rejection import RejectionSettings, claim_folder, output_folder, sample_config
    from tests.unit.test_run_state import compose_with

    model = whole_model(tmp_path / "policy")
    cfg = compose_with("phase=rejection", "model=hf", f"model.name_or_path={model}", f"paths.output_root={tmp_path}")
    settings = read_settings(RejectionSettings, cfg.phase)
    first = output_folder(cfg, settings, sample_config(cfg, settings, cfg.model))
    assert output_folder(cfg, settings, sample_config(cfg, settings, cfg.model)) == first  # the same command resumes
    before = sample_config(cfg, settings, cfg.model)
    claim_folder(tmp_path / "given", before)
    save_file({"weight": torch.zeros(32, 32)}, str(model / "model.safetensors"))  # retrained, saved to the same place
    after = sample_config(cfg, settings, OmegaConf.create(cfg.model))
    assert output_folder(cfg, settings, after) != first
    with pytest.raises(ConfigError, match=r"holds a rejection run made with a different config \(weights.model.safetensors"):
        claim_folder(tmp_path / "given", after)  # phase.output_dir names one folder: refused, not mixed


# ----------------------------------------------------------------------------- data and benchmark files


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def test_training_rows_with_a_null_field_or_non_utf8_bytes_are_named(tmp_path):
    from r1.data.datasets import load_source

    nulls = write_jsonl(tmp_path / "nulls.jsonl", [{"prompt": "1+1", "response": "2"}, {"prompt": "2+2", "response": None}])
    with pytest.raises(DataError, match=r"^dataset '.*nulls.jsonl': row 2 has no response \(field 'response' is null in 1 of 2 rows\)"):
        load_source({"path": str(nulls)}, None)
    latin = tmp_path / "latin1.jsonl"
    latin.write_bytes(b'{"prompt": "1+1", "response": "2"}\n{"prompt": "caf\xe9", "response": "2"}\n')
    with pytest.raises(DataError, match=r"^dataset '.*latin1.jsonl': row 2 has bytes that are not UTF-8 text in field 'prompt'"):
        load_source({"path": str(latin)}, None)


def test_a_broken_parquet_file_is_one_line_without_a_logged_error(tmp_path, capfd):
    from r1.data.datasets import load_source

    bad = tmp_path / "bad.parquet"
    bad.write_bytes(b"not parquet at all")
    with pytest.raises(DataError, match=r"^could not load dataset '.*bad.parquet': Parquet magic bytes not found"):
        load_source({"path": str(bad)}, None)
    assert "Failed to read schema" not in capfd.readouterr().err


def test_a_null_gold_answer_is_named_not_read_as_none(tmp_path):
    from r1.benchmarks.math import MathBenchmark
    from r1.data.rows import gold_answer

    problems = write_jsonl(tmp_path / "test.jsonl", [{"problem": "1+1", "answer": 2}, {"problem": "2+2", "answer": None}])
    with pytest.raises(DataError, match=r"^benchmark 'mine' \(.*test.jsonl\): row 2 has no value in field 'answer' \(1 of 2 rows lack one\)"):
        MathBenchmark("mine", path=str(problems)).load()
    assert [s["answer"] for s in MathBenchmark("mine", path=str(problems), limit=1).load()] == ["2"]
    with pytest.raises(DataError):
        gold_answer(None)


def test_rejection_prompts_without_a_gold_answer_are_skipped_and_counted(tmp_path):
    from r1.data.chat import chat_format
    from r1.models import load_tiny_tokenizer
    from r1.phases.common import read_settings
    from r1.phases.prompting import PromptScreen
    from r1.phases.rejection import RejectionSettings, load_prompts
    from r1.plugins import get_registry
    from tests.unit.test_run_state import compose_with

    rows = write_jsonl(tmp_path / "prompts.jsonl", [{"prompt": "1+1", "answer": "2"}, {"prompt": "2+2", "answer": None}])
    cfg = compose_with("phase=rejection", "task=dataset", f"task.path={rows}", "task.test_size=0", "phase.num_prompts=null")
    screen = PromptScreen(chat_format(load_tiny_tokenizer()))
    prompts = load_prompts(cfg, read_settings(RejectionSettings, cfg.phase), get_registry(autoload=False), screen)
    assert [(p["prompt"], p["answer"]) for p in prompts] == [("1+1", "2")]
    assert screen.summary()["skipped/no_answer"] == 1


@pytest.mark.parametrize(("override", "message"), [
    ("benchmark.limit=-1", r"^benchmark.limit of 'heldout' must be a whole number of at least 1 \(or null\), not -1$"),
    ("benchmark.limit=0", r"not 0$"),
    ("benchmark.k=0", r"^benchmark.k of 'heldout' must be a whole number of at least 1 \(or null\), not 0$"),
    ("benchmark.k=2.5", r"not 2.5$"),
    ("benchmark.max_new_tokens=abc", r"^benchmark.max_new_tokens of 'heldout' must be .*not 'abc'$"),
])
def test_benchmark_protocol_values_are_checked_not_coerced(override, message):
    from r1.phases.common import read_settings
    from r1.phases.evaluate import EvalSettings, plan_benchmarks
    from r1.plugins import get_registry
    from tests.unit.test_run_state import compose_with

    cfg = compose_with("phase=eval", override)
    with pytest.raises(ConfigError, match=message):
        plan_benchmarks(read_settings(EvalSettings, cfg.phase), cfg.benchmark, get_registry([]))


def test_benchmark_limit_keeps_the_first_problems():
    from r1.phases.common import read_settings
    from r1.phases.evaluate import EvalSettings, plan_benchmarks
    from r1.plugins import get_registry
    from tests.unit.test_run_state import compose_with

    cfg = compose_with("phase=eval", "benchmark.limit=3")
    (plan,) = plan_benchmarks(read_settings(EvalSettings, cfg.phase), cfg.benchmark, get_registry([]))
    assert len(plan.samples) == 3 and plan.k == 4


# ----------------------------------------------------------------------------- run folders


def test_runs_started_in_the_same_second_get_their_own_folders(tmp_path):
    from r1.run import new_run_folder

    base = str(tmp_path / "sft" / "2026-01-01" / "12-00-00")
    folders = {new_run_folder(base) for _ in range(20)}
    assert len(folders) == 20 and all(Path(f).is_dir() and Path(f).name.startswith("12-00-00-") for f in folders)


def test_a_run_folder_that_cannot_be_made_is_one_line(tmp_path, capsys):
    from r1.errors import EXIT_USER_ERROR
    from r1.run import new_run_folder

    (tmp_path / "a_file").write_text("")
    with pytest.raises(SystemExit) as exit_info:
        new_run_folder(str(tmp_path / "a_file" / "sft" / "12-00-00"))
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert exit_info.value.code == EXIT_USER_ERROR and len(err) == 1
    assert err[0].startswith("r1: error: cannot create the run folder ") and "set paths.output_root=" in err[0]


def test_each_run_gets_a_new_folder_unless_the_command_line_names_one(tmp_path):
    from hydra import compose, initialize_config_dir

    from r1.paths import conf_dir
    from r1.run import RunFolder

    with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
        default = compose("config", overrides=[f"paths.output_root={tmp_path}"], return_hydra_config=True)
        named = compose("config", overrides=[f"hydra.run.dir={tmp_path / 'given'}"], return_hydra_config=True)
    base = str(default.hydra.run.dir)
    RunFolder().on_run_start(default)
    assert default.hydra.run.dir.startswith(base + "-") and Path(default.hydra.run.dir).is_dir()
    RunFolder().on_run_start(named)  # e.g. the folder a distributed launcher gives its other ranks
    assert named.hydra.run.dir == str(tmp_path / "given")
