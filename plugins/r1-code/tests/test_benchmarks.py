"""HumanEval and MBPP: the reference solutions pass their own tests, wrong ones do not, and
the loading options work without any download."""

from __future__ import annotations

import gzip
import json

import pytest

from r1.protocols import Benchmark
from r1_code import data
from r1_code.benchmarks import MBPP, HumanEval

SUBSET = 20


def _pass_rate(bench, samples) -> float:
    scores = bench.score([s["response"] for s in samples], samples)
    failed = [s["id"] for s, v in zip(samples, scores) if v != 1.0]
    assert not failed, f"reference solutions failed: {failed}"
    return sum(scores) / len(scores)


def test_protocol_and_sample_fields():
    for bench in (HumanEval(limit=2), MBPP(limit=2)):
        assert isinstance(bench, Benchmark) and bench.default_k == 1
        for s in bench.load():
            assert {"id", "prompt", "answer", "response"} <= s.keys()
            assert "```python" in s["prompt"] and s["answer"] in s["response"]
    assert MBPP(k=8).default_k == 8


def test_sizes_and_mbpp_splits():
    assert len(HumanEval().load()) == 164
    ids = {split: {s["id"] for s in MBPP(split=split).load()} for split in ("test", "train", "validation", "prompt")}
    assert {k: len(v) for k, v in ids.items()} == {"test": 500, "train": 374, "validation": 90, "prompt": 10}
    assert min(int(i.split("/")[1]) for i in ids["test"]) == 11
    assert max(int(i.split("/")[1]) for i in ids["test"]) == 510
    with pytest.raises(ValueError):
        MBPP(split="dev").load()


def test_humaneval_canonical_subset_passes():
    bench = HumanEval(limit=SUBSET)
    assert _pass_rate(bench, bench.load()) == 1.0


def test_mbpp_reference_subset_passes():
    bench = MBPP(limit=SUBSET)
    assert _pass_rate(bench, bench.load()) == 1.0


def test_wrong_answers_score_zero():
    bench = HumanEval(limit=6)
    samples = bench.load()
    shifted = [s["response"] for s in samples[1:] + samples[:1]]  # each answers another problem
    assert bench.score(shifted, samples) == [0.0] * 6
    assert bench.score(["", "<think>no answer"] * 3, samples) == [0.0] * 6


@pytest.mark.slow
def test_every_humaneval_canonical_solution_passes():
    bench = HumanEval()
    assert _pass_rate(bench, bench.load()) == 1.0


@pytest.mark.slow
@pytest.mark.parametrize("split", ["test", "train", "validation", "prompt"])
def test_every_mbpp_reference_solution_passes(split):
    bench = MBPP(split=split)
    assert _pass_rate(bench, bench.load()) == 1.0


def test_local_path_override(tmp_path):
    with gzip.open(data.HUMANEVAL_FILE, "rt") as f:
        rows = [json.loads(line) for line in f][:3]
    jsonl = tmp_path / "he.jsonl"
    jsonl.write_text("".join(json.dumps(r) + "\n" for r in rows))
    loaded = HumanEval(path=str(jsonl)).load()
    assert [s["id"] for s in loaded] == [r["task_id"] for r in rows]
    pq = pytest.importorskip("pyarrow.parquet")
    import pyarrow as pa

    mbpp_rows = [r for r in data.read_records(data.MBPP_FILE) if 11 <= r["task_id"] <= 13]
    pq.write_table(pa.Table.from_pylist(mbpp_rows), tmp_path / "mbpp.parquet")
    samples = MBPP(path=str(tmp_path / "mbpp.parquet")).load()
    assert [s["id"] for s in samples] == ["mbpp/11", "mbpp/12", "mbpp/13"]
    assert samples[0]["tests"] == mbpp_rows[0]["test_list"]


def test_hub_is_used_only_when_asked(monkeypatch):
    calls = []

    def fake_load_hub(hub_id, split, config=None):
        calls.append((hub_id, split, config))
        return [{"task_id": 7, "prompt": "Say hi.", "code": "def hi():\n    return 'hi'",
                 "test_imports": [], "test_list": ["assert hi() == 'hi'"]}]

    monkeypatch.setattr(data, "load_hub", fake_load_hub)
    MBPP(limit=1).load()
    HumanEval(limit=1).load()
    assert calls == []
    (sample,) = MBPP(hub_id="google-research-datasets/mbpp", hub_config="sanitized").load()
    assert calls == [("google-research-datasets/mbpp", "test", "sanitized")]
    assert sample["prompt"].startswith("Say hi.") and sample["tests"] == ["assert hi() == 'hi'"]
