"""``phase=eval`` end to end on the tiny model: every output is written and the numbers add up."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from hydra import compose, initialize_config_dir

from r1.paths import conf_dir


def only_run_folder(root: Path) -> Path:
    (folder,) = [p.parent for p in root.glob("eval/*/*/results.json")]
    return folder


def test_eval_math500_writes_every_output(cli_in_process, tmp_path):
    result = cli_in_process("phase=eval", "benchmark=math500", "benchmark.limit=20", "phase.k=2", "phase.max_new_tokens=16", "logger=csv", f"paths.output_root={tmp_path}")
    assert result.returncode == 0, result.stderr[-3000:]
    folder = only_run_folder(tmp_path)
    results = json.loads((folder / "results.json").read_text())
    m = results["benchmarks"]["math500"]
    assert m["n"] == 20 and m["k"] == 2 and m["responses"] == 40
    for key in ("pass@1", "pass@k", "maj@k", "format_rate", "mean_length", "truncated_rate"):
        assert 0.0 <= m[key] <= (16 if key == "mean_length" else 1.0), key
    assert results["protocol"]["temperature"] == 0.6 and results["protocol"]["top_p"] == 0.95
    rows = [json.loads(line) for line in (folder / "completions.jsonl").read_text().splitlines()]
    assert len(rows) == 40 and {r["sample"] for r in rows} == {0, 1} and all(r["num_tokens"] <= 16 for r in rows)
    table = (folder / "results.md").read_text()
    assert "| MATH-500 (Pass@1) |" in table and "| MATH-500 (Pass@1) |" in result.stdout
    assert (folder / "results.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    (metrics_csv,) = folder.glob("logs/*/metrics.csv")
    assert "math500/pass@1" in next(csv.reader(metrics_csv.open()))


def test_a_saved_checkpoint_evaluates_with_one_command(cli_in_process, tmp_path):
    from r1.models import load_model
    from r1.phases.common import save_hf

    with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
        cfg = compose("config")
    model, tokenizer = load_model(cfg.model)
    checkpoint = save_hf(model, tokenizer, tmp_path / "ckpt" / "hf")
    result = cli_in_process(
        "phase=eval", "model=hf", f"model.name_or_path={checkpoint}", "benchmark=heldout", "benchmark.limit=6",
        "phase.max_new_tokens=24", "logger=none", f"paths.output_root={tmp_path / 'out'}",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    results = json.loads((only_run_folder(tmp_path / "out") / "results.json").read_text())
    assert results["model"] == str(checkpoint)
    assert results["benchmarks"]["heldout"]["n"] == 6 and results["benchmarks"]["heldout"]["k"] == 4  # heldout's own k


def test_a_suite_runs_every_member_in_process(tmp_path):
    from r1.phases.evaluate import run

    with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
        cfg = compose(
            "config",
            overrides=["phase=eval", "benchmark=math_suite", "benchmark.limit=2", "phase.k=1", "phase.max_new_tokens=4", "logger=none", f"paths.output_dir={tmp_path}"],
        )
    summary = run(cfg)
    results = json.loads((tmp_path / "results.json").read_text())
    assert list(results["benchmarks"]) == ["aime24", "math500", "amc23", "gsm8k"]
    assert all(m["n"] == 2 and m["k"] == 1 for m in results["benchmarks"].values())
    assert "aime24/pass@1" in summary and summary["output_dir"] == str(tmp_path)
    table = (tmp_path / "results.md").read_text()
    assert "AIME 2024 (Pass@1)" in table and "GSM8K (Pass@1)" in table
