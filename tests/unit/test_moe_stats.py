"""Expert-load observability: the summaries on hand-made counts, the counting forward, ``python -m r1.moe`` and the report plot."""

from __future__ import annotations

import json
import math

import pytest
import torch
from omegaconf import OmegaConf

from r1.models import build_tiny_dense, build_tiny_moe, load_tiny_tokenizer
from r1.models.moe import routers
from r1.models.moe_stats import (
    DEAD_FRACTION,
    layer_summary,
    load_shares,
    load_table,
    measure_expert_load,
    router_biases,
    routing_metrics,
    saved_moe_layers,
)
from r1.moe import main
from r1.paths import conf_dir


def tiny_moe_sizes() -> dict:
    """The default policy's architecture, as ``conf/model/tiny_moe.yaml`` states it, with seed 0."""
    node = OmegaConf.to_container(OmegaConf.load(conf_dir() / "model" / "tiny_moe.yaml").architecture)
    return {**{key: value for key, value in node.items() if key not in ("_target_", "seed")}, "seed": 0}


def build(builder, tokenizer, **sizes):
    return builder(len(tokenizer), tokenizer.pad_token_id, tokenizer.bos_token_id, tokenizer.eos_token_id, **sizes)


@pytest.fixture(scope="module")
def tokenizer():
    return load_tiny_tokenizer()


@pytest.fixture(scope="module")
def moe(tokenizer):
    return build(build_tiny_moe, tokenizer, **tiny_moe_sizes())


@pytest.fixture(scope="module")
def moe_folder(tmp_path_factory, moe, tokenizer):
    folder = tmp_path_factory.mktemp("moe")
    moe.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def dense_folder(tmp_path_factory, tokenizer):
    folder = tmp_path_factory.mktemp("dense")
    build(build_tiny_dense, tokenizer).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


# ----------------------------------------------------------------------------- summaries


def test_a_uniform_layer_is_perfectly_balanced():
    summary = layer_summary(torch.full((8,), 5, dtype=torch.long))
    assert summary == pytest.approx({"max_mean": 1.0, "min_mean": 1.0, "dead": 0.0, "entropy": 1.0})
    assert load_shares([5] * 8) == pytest.approx([1 / 8] * 8)


def test_one_hot_expert_has_zero_entropy_and_the_rest_dead():
    summary = layer_summary([0, 0, 12, 0])
    assert summary["entropy"] == 0.0
    assert summary["dead"] == 3.0
    assert summary["max_mean"] == pytest.approx(4.0)  # E: one expert takes every token
    assert summary["min_mean"] == 0.0
    assert load_shares([0, 0, 12, 0]) == [0.0, 0.0, 1.0, 0.0]


def test_dead_means_below_a_tenth_of_the_mean_load():
    # mean 10: an expert with 0.9 is dead, one at exactly DEAD_FRACTION * mean is not
    edge = DEAD_FRACTION * 10
    counts = [0.5, edge, 20.0 - edge, 19.5]
    assert sum(counts) / len(counts) == 10.0
    assert layer_summary(counts)["dead"] == 1.0


def test_entropy_is_normalised_by_the_expert_count():
    shares = [0.5, 0.5, 0.0, 0.0]
    assert layer_summary(shares)["entropy"] == pytest.approx(math.log(2) / math.log(4))


def test_a_bias_adds_its_spread():
    summary = layer_summary([1, 2, 3], bias=torch.tensor([-0.25, 0.0, 0.5]))
    assert (summary["bias_min"], summary["bias_max"], summary["bias_range"]) == pytest.approx((-0.25, 0.5, 0.75))
    assert "bias_range" not in layer_summary([1, 2, 3])


def test_a_layer_that_routed_nothing_is_all_dead():
    assert layer_summary([0, 0]) == {"max_mean": 0.0, "min_mean": 0.0, "dead": 2.0, "entropy": 0.0}
    assert load_shares([0, 0]) == [0.0, 0.0]


def test_routing_metrics_keys_and_worst_layer():
    counts = {1: torch.tensor([4, 4, 4, 4]), 3: torch.tensor([16, 0, 0, 0])}
    metrics = routing_metrics(counts, {3: torch.tensor([0.1, -0.1, 0.0, 0.0])})
    per_layer = {"max_mean", "min_mean", "dead", "entropy"}
    expected = {f"moe/layer{i}/{name}" for i in (1, 3) for name in per_layer}
    expected |= {f"moe/layer{i}/share/e{j}" for i in (1, 3) for j in range(4)}
    expected |= {"moe/layer3/bias_range", "moe/max_mean", "moe/dead"}
    assert set(metrics) == expected
    assert metrics["moe/max_mean"] == pytest.approx(4.0)  # layer 3, the worst
    assert metrics["moe/dead"] == 3.0
    assert metrics["moe/layer3/bias_range"] == pytest.approx(0.2)
    assert metrics["moe/layer1/share/e2"] == pytest.approx(0.25)
    assert set(routing_metrics(counts, prefix="train/moe")) >= {"train/moe/max_mean", "train/moe/layer1/entropy"}
    assert routing_metrics({}) == {}


def test_load_table_has_a_row_per_layer_and_the_shares():
    table = load_table({1: [10, 30], 2: [20, 20]}, {2: [0.5, -0.5]})
    lines = table.splitlines()
    assert lines[0].split() == ["layer", "routed", "max/mean", "min/mean", "dead", "entropy", "bias", "range"]
    assert lines[1].split() == ["1", "40", "1.50", "0.50", "0", "0.811", "-"]
    assert lines[2].split() == ["2", "40", "1.00", "1.00", "0", "1.000", "1.0000"]
    assert "uniform = 50.0" in table
    assert lines[-2].split() == ["1", "25.0", "75.0"] and lines[-1].split() == ["2", "50.0", "50.0"]


def test_load_table_wraps_many_experts():
    table = load_table({0: list(range(1, 41))})
    headers = [line for line in table.splitlines() if line.split()[:2] == ["layer", "e0"] or line.split()[:2] == ["layer", "e16"] or line.split()[:2] == ["layer", "e32"]]
    assert len(headers) == 3


# ----------------------------------------------------------------------------- counting a model's routing


def test_measure_counts_every_real_token_top_k_times(moe):
    generator = torch.Generator().manual_seed(0)
    lengths = [5, 17, 9, 12, 3]
    sequences = [torch.randint(4, moe.config.vocab_size, (n,), generator=generator) for n in lengths]
    counts = measure_expert_load(moe, sequences, batch_size=2)
    top_k = moe.config.num_experts_per_tok
    assert sorted(counts) == [layer for layer, _ in routers(moe)] == [1, 2, 3]
    for layer_counts in counts.values():
        assert layer_counts.shape == (moe.config.n_routed_experts,)
        assert int(layer_counts.sum()) == sum(lengths) * top_k  # padding is not counted
    # batching does not change what each token chose
    one_by_one = measure_expert_load(moe, sequences, batch_size=1)
    assert all(torch.equal(counts[layer], one_by_one[layer]) for layer in counts)


def test_measure_restores_training_mode_and_reads_biases(moe):
    moe.train()
    measure_expert_load(moe, [[5, 6, 7]], batch_size=4)
    assert moe.training
    moe.eval()
    biases = router_biases(moe)
    assert sorted(biases) == [1, 2, 3] and all(b.shape == (moe.config.n_routed_experts,) for b in biases.values())


def test_saved_moe_layers_reads_the_config_only(moe_folder, dense_folder):
    assert saved_moe_layers(moe_folder) == [1, 2, 3]
    assert saved_moe_layers(dense_folder) == []


# ----------------------------------------------------------------------------- python -m r1.moe


def test_command_prints_the_sample_and_the_table(moe_folder, capsys):
    main([str(moe_folder), "--prompts", "8", "--batch-size", "3"])
    out = capsys.readouterr().out.splitlines()
    first = out[0]
    assert first.startswith("8 prompts of the arithmetic test split, ") and first.endswith(" tokens")
    tokens = int(first.split(", ")[1].split()[0].replace(",", ""))
    assert out[1].split()[:3] == ["layer", "routed", "max/mean"]
    rows = [line.split() for line in out[2:5]]
    assert [row[0] for row in rows] == ["1", "2", "3"]
    assert all(int(row[1].replace(",", "")) == 2 * tokens for row in rows)  # top-2 routing of every token
    assert all(row[-1] != "-" for row in rows)  # DeepSeek-V3 routers report their bias spread


def test_command_reads_a_jsonl_file(moe_folder, tmp_path, capsys):
    path = tmp_path / "prompts.jsonl"
    path.write_text("\n".join(json.dumps({"question": f"{a}+{a}", "response": f"<answer>{2 * a}</answer>"}) for a in range(10, 15)))
    main([str(moe_folder), "--task", str(path), "--prompt-field", "question", "--prompts", "3", "--seed", "1"])
    assert capsys.readouterr().out.startswith(f"3 prompts of {path}, ")


def user_error(capsys, argv: list[str]) -> str:
    with pytest.raises(SystemExit) as exit:
        main(argv)
    assert exit.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("r1: error: ")
    return err


def test_command_errors_are_one_line(moe_folder, dense_folder, tmp_path, capsys):
    assert "has no MoE layers" in user_error(capsys, [str(dense_folder)])
    empty = tmp_path / "empty"
    empty.mkdir()
    assert "has no config.json" in user_error(capsys, [str(empty)])
    assert "is not a folder" in user_error(capsys, [str(tmp_path / "nowhere")])
    assert "existing JSONL file" in user_error(capsys, [str(moe_folder), "--task", str(tmp_path / "missing.jsonl")])
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"prompt": "1+1"}\n{"text": "2+2"}\n')
    assert "bad.jsonl:2 has no text field 'prompt'" in user_error(capsys, [str(moe_folder), "--task", str(bad)])


# ----------------------------------------------------------------------------- the pipeline report


def test_the_report_plots_expert_load_only_for_two_moe_policies(moe_folder, dense_folder, tmp_path):
    from r1.phases.pipeline import write_report

    cfg = OmegaConf.create({"task": {"name": "arithmetic"}, "seed": 0})
    moe_outputs = {"sft": {"hf_dir": str(moe_folder)}, "grpo": {"hf_dir": str(moe_folder)}}
    report = write_report(tmp_path, cfg, {}, moe_outputs, 1.0)
    assert "![Expert load per layer: SFT against GRPO](expert_load.png)" in report["markdown"]
    assert (tmp_path / "expert_load.png").stat().st_size > 0 and str(tmp_path / "expert_load.png") in report["plots"]
    dense_root = tmp_path / "dense"
    dense_root.mkdir()
    mixed = {"sft": {"hf_dir": str(moe_folder)}, "grpo": {"hf_dir": str(dense_folder)}}
    assert "expert_load.png" not in write_report(dense_root, cfg, {}, mixed, 1.0)["markdown"]
    assert not (dense_root / "expert_load.png").exists()
