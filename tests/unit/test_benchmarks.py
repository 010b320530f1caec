"""Benchmarks: the shipped files load, gold solutions score 100 % minus known verifier misses, configs build."""

from __future__ import annotations

import json
import logging

import pytest
from hydra import compose, initialize_config_dir

from r1.benchmarks.dataset import DatasetBenchmark
from r1.benchmarks.heldout import HeldoutBenchmark
from r1.benchmarks.math import (
    PROMPT_STYLES,
    MathBenchmark,
    aime24,
    amc23,
    gsm8k,
    math500,
)
from r1.benchmarks.report import flat_metrics, markdown_table
from r1.data.chat import detect_prefill
from r1.data.rows import gold_answer
from r1.benchmarks.scoring import (
    completion_records,
    evaluate_responses,
    score_benchmark,
)
from r1.errors import ConfigError, DataError, PluginError
from r1.overrides import group_options
from r1.paths import conf_dir, data_dir
from r1.phases.evaluate import benchmark_specs
from r1.plugins import Registry, create_plugin_manager, get_registry
from r1.protocols import Benchmark

# Gold solutions the verifier does not read, with why: none. (AIME 2024 #60 boxes its answer
# with \framebox{204}, which the extractor reads since it learned \framebox.)
KNOWN_MISSES: dict[str, set[str]] = {"aime24": set(), "math500": set()}


def compose_with(*overrides: str):
    with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
        return compose("config", overrides=list(overrides))


@pytest.mark.parametrize(("factory", "count"), [(math500, 500), (aime24, 30), (amc23, 40), (gsm8k, 1319)])
def test_shipped_files_load_with_prompt_and_gold(factory, count):
    bench = factory()
    samples = bench.load()
    assert isinstance(bench, Benchmark) and len(samples) == count
    assert len({s["id"] for s in samples}) == count
    for sample in samples[:5]:
        assert sample["problem"] in sample["prompt"] and "\\boxed{}" in sample["prompt"]
        assert sample["answer"] and "####" not in sample["answer"]


def test_gold_answer_normalises_each_file_convention():
    assert gold_answer(27.0) == "27"  # AMC stores floats
    assert gold_answer(0.5) == "0.5"
    assert gold_answer("025") == "025"  # AIME's zero padding is kept; the verifier compares values
    assert gold_answer("She makes 9 * 2 = 18.\n#### 1,018") == "1018"  # GSM8K
    assert gold_answer("\\frac{1}{2}") == "\\frac{1}{2}"


def test_default_k_follows_the_r1_protocol():
    assert aime24().default_k == 64 and math500().default_k == 4
    assert aime24(k=None).default_k == 64  # null in YAML means "the suite's own"


@pytest.mark.parametrize("name", ["math500", "aime24"])
def test_gold_solutions_score_100_percent_minus_known_misses(name):
    bench = {"math500": math500, "aime24": aime24}[name]()
    rows = [json.loads(line) for line in (data_dir() / name / "test.jsonl").read_text().splitlines()]
    samples = bench.load()
    scored = score_benchmark(bench, samples, [[row["solution"]] for row in rows])
    missed = {s["id"] for s, scores in zip(samples, scored.scores) if scores[0] < 1}
    assert missed <= KNOWN_MISSES[name], f"new verifier misses: {missed - KNOWN_MISSES[name]}"
    metrics = evaluate_responses(bench, samples, [[row["solution"]] for row in rows])
    assert metrics["pass@1"] == pytest.approx(1 - len(missed) / len(rows))
    assert metrics["n"] == len(rows) and metrics["k"] == 1


def test_gold_answers_themselves_score_100_percent_on_every_suite():
    for bench in (math500(), aime24(), amc23(), gsm8k(limit=200)):
        samples = bench.load()
        metrics = evaluate_responses(bench, samples, [[f"\\boxed{{{s['answer']}}}"] for s in samples])
        assert metrics["pass@1"] == 1.0, bench.name


def test_metrics_on_a_hand_case():
    bench = math500(limit=2)
    samples = bench.load()  # answers: (3, pi/2) and p - q
    good, bad = f"so \\boxed{{{samples[0]['answer']}}}", "\\boxed{7}"
    responses = [[good, bad, good, "no answer"], [bad, bad, "\\boxed{8}", bad]]
    m = evaluate_responses(bench, samples, responses, lengths=[[10, 20, 30, 40]] * 2, truncated=[[False, False, False, True]] * 2)
    assert m["pass@1"] == pytest.approx((2 / 4 + 0) / 2)
    assert m["pass@k"] == pytest.approx(0.5)  # problem 1 has a correct sample, problem 2 none
    assert m["pass_at"] == {"1": pytest.approx(0.25), "2": pytest.approx((1 - 1 / 6) / 2), "4": pytest.approx(0.5)}
    assert m["maj@k"] == pytest.approx(0.5)  # problem 1: the correct answer has 2 votes vs 1; problem 2: "7" wins, wrong
    assert m["format_rate"] == pytest.approx(7 / 8) and m["mean_length"] == 25 and m["truncated_rate"] == 0.25
    rows = completion_records("math500", score_benchmark(bench, samples, responses))
    assert len(rows) == 8 and rows[0]["score"] == 1.0 and rows[1]["extracted"] == "7" and rows[3]["extracted"] is None


def test_prompt_styles_and_template():
    think = math500(limit=1, prompt_style="think").load()[0]
    assert "<think>" in think["prompt"] and "<answer>" in think["prompt"]
    plain = math500(limit=1, prompt_style="plain").load()[0]
    assert plain["prompt"] == plain["problem"]
    custom = math500(limit=1, prompt_template="Q: {problem}\nA:").load()[0]
    assert custom["prompt"].startswith("Q: ") and custom["prompt"].endswith("\nA:")
    assert set(PROMPT_STYLES) == {"boxed", "think", "plain"}
    with pytest.raises(ConfigError):
        math500(prompt_style="nope")
    with pytest.raises(ConfigError):
        math500(prompt_template="no placeholder")


def test_think_style_format_rate_checks_the_template():
    bench = math500(limit=1, prompt_style="think")
    assert bench.follows_format("<think>x</think><answer>3</answer>")
    assert not bench.follows_format("\\boxed{3}")


def test_a_prefilled_response_is_scored_as_one_the_model_wrote():
    """The eval phase hands benchmarks the template's prefill (R1-Distill's ``<think>\\n``) plus the completion."""
    prefill = detect_prefill("<｜begin▁of▁sentence｜><｜User｜>What is 1+1?<｜Assistant｜><think>\n")
    bench = math500(limit=1, prompt_style="think")
    (sample,) = bench.load()
    completion = f"so it is {sample['answer']}</think><answer>{sample['answer']}</answer>"
    for response in (prefill + completion, "<think>\n" + completion):
        assert bench.follows_format(response) and bench.score([response], [sample]) == [1.0]
        assert bench.extract(response) == sample["answer"]
    assert not bench.follows_format(completion)  # without the prefill the think block has no opening tag
    with pytest.raises(PluginError, match="think_prefilled"):  # the retired option is refused, not ignored
        get_registry(autoload=False).build("benchmark", {"name": "math500", "think_prefilled": True})


def test_local_files_in_every_format(tmp_path):
    rows = [{"q": "What is 1+1?", "a": 2.0, "key": "one"}, {"q": "What is 2+3?", "a": "5", "key": "two"}]
    (tmp_path / "p.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (tmp_path / "p.json").write_text(json.dumps(rows))
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.Table.from_pylist([{**r, "a": str(r["a"])} for r in rows]), tmp_path / "p.parquet")
    for name in ("p.jsonl", "p.json", "p.parquet"):
        bench = MathBenchmark("mine", path=str(tmp_path / name), problem_field="q", answer_field="a", id_field="key")
        samples = bench.load()
        assert [s["id"] for s in samples] == ["one", "two"] and samples[1]["answer"] == "5"
        assert bench.score(["\\boxed{2}", "\\boxed{6}"], samples) == [1.0, 0.0]


def test_missing_file_or_field_is_a_one_line_data_error(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        MathBenchmark("mine", path=str(tmp_path / "nope.jsonl")).load()
    (tmp_path / "p.jsonl").write_text('{"question": "x", "answer": "1"}\n')
    with pytest.raises(DataError, match="no field 'problem'.*question"):
        MathBenchmark("mine", path=str(tmp_path / "p.jsonl")).load()


def test_heldout_uses_the_task_split_and_checker():
    registry = get_registry(autoload=False)
    bench = registry.build("benchmark", {"name": "heldout", "task": {"name": "arithmetic", "digits": [2]}, "n": 10, "seed": 3, "k": 4})
    samples = bench.load()
    assert len(samples) == 10 and isinstance(bench, Benchmark)
    metrics = evaluate_responses(bench, samples, [[s["response"], "<think></think><answer>0</answer>"] for s in samples])
    assert metrics["pass@1"] == 0.5 and metrics["pass@k"] == 1.0 and metrics["maj@k"] == 1.0
    first = HeldoutBenchmark(task="arithmetic", n=10, seed=0, k=4, limit=3, registry=registry).load()
    assert first == HeldoutBenchmark(task="arithmetic", n=3, seed=0, k=4, registry=registry).load()


def test_heldout_builds_its_task_with_the_registry_that_builds_it():
    """plugins.blocked holds for the task too: with the built-in tasks blocked, the task is not found."""
    registry = Registry(create_plugin_manager(blocked=["r1.tasks"], autoload=False))
    with pytest.raises(PluginError, match="task 'arithmetic'"):
        registry.build("benchmark", {"name": "heldout", "task": "arithmetic", "n": 3, "seed": 0, "k": 1})


def test_suite_specs_expand_and_share_protocol_keys():
    cfg = compose_with("benchmark=math_suite", "benchmark.limit=5")
    specs = benchmark_specs(cfg.benchmark)
    assert [label for label, _ in specs] == [s["name"] for _, s in specs] == ["aime24", "math500", "amc23", "gsm8k"]
    assert all(s["limit"] == 5 for _, s in specs) and specs[0][1]["k"] == 64
    assert benchmark_specs({"name": "math500", "k": 2}) == [("math500", {"name": "math500", "k": 2})]
    twice = benchmark_specs({"name": "mine", "suite": {"math500": {"name": "math500"}, "math500_think": {"name": "math500", "prompt_style": "think"}}})
    assert [label for label, _ in twice] == ["math500", "math500_think"]
    with pytest.raises(ConfigError):
        benchmark_specs({"name": "empty", "suite": {}})


@pytest.mark.parametrize("option", group_options([conf_dir()])["benchmark"])
def test_every_benchmark_option_builds_and_loads(option, tmp_path):
    extra = []
    if option == "dataset":  # the one that must be pointed at a file
        rows = [{"problem": f"What is {i}+1?", "answer": str(i + 1)} for i in range(5)]
        extra = [f"benchmark.path={write_jsonl(tmp_path / 'problems.jsonl', rows)}"]
    cfg = compose_with(f"benchmark={option}", "benchmark.limit=3", *extra)
    for _, spec in benchmark_specs(cfg.benchmark):
        bench = get_registry(autoload=False).build("benchmark", spec)
        samples = bench.load()
        assert 0 < len(samples) <= 3 and bench.default_k >= 1
        assert len(bench.score(["\\boxed{0}"] * len(samples), samples)) == len(samples)


def test_markdown_table_looks_like_the_r1_paper():
    results = {
        "aime24": {"n": 30, "k": 64, "pass@1": 0.798, "pass@k": 0.9, "maj@k": 0.867, "format_rate": 1.0, "mean_length": 900.0, "truncated_rate": 0.0},
        "gsm8k": {"n": 1319, "k": 1, "pass@1": 0.5, "pass@k": 0.5, "maj@k": 0.5, "format_rate": None, "mean_length": None, "truncated_rate": None},
    }
    table = markdown_table(results, "my-model", {"aime24": "AIME 2024", "gsm8k": "GSM8K"})
    assert "| Benchmark (Metric) | my-model |" in table
    assert "| AIME 2024 (Pass@1) | 79.8 |" in table and "| AIME 2024 (Cons@64) | 86.7 |" in table
    assert "GSM8K (Pass@1) | 50.0" in table and "GSM8K (Pass@1)" in table and "GSM8K (Cons@" not in table
    assert flat_metrics(results)["aime24/pass@1"] == 0.798 and "gsm8k/format_rate" not in flat_metrics(results)


def test_hub_id_loads_through_datasets_only_when_set(monkeypatch):
    import datasets

    calls = []

    def fake_load_dataset(hub_id, config=None, split=None):
        calls.append((hub_id, config, split))
        return datasets.Dataset.from_list([{"problem": "What is 2+2?", "answer": "4", "unique_id": "a"}])

    monkeypatch.setattr(datasets, "load_dataset", fake_load_dataset)
    math500(limit=1).load()
    assert calls == []  # the shipped file by default: never the network
    samples = math500(hub_id="HuggingFaceH4/MATH-500").load()
    assert calls == [("HuggingFaceH4/MATH-500", None, "test")] and samples[0]["answer"] == "4"


# -- benchmark=dataset ------------------------------------------------------------


def write_jsonl(path, rows) -> str:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return str(path)


def dataset_benchmark(*overrides: str):
    """``benchmark=dataset`` composed from the shipped YAML, with ``overrides``, built as the eval phase builds it."""
    ((_, spec),) = benchmark_specs(compose_with("benchmark=dataset", *overrides).benchmark)
    return get_registry(autoload=False).build("benchmark", spec)


GSM8K_ROWS = [
    {"question": "Tom has 3 apples and buys 4 more. How many?", "answer": "3 + 4 = 7\n#### 7"},
    {"question": "A pen costs $1,000 and a cap $200. Total?", "answer": "1,000 + 200 = 1,200\n#### 1,200"},
    {"question": "A question whose worked answer lost its final number", "answer": "2 + 2 = 4\n#### "},
]

MATH_ROWS = [
    {"problem": "Compute $\\frac{1}{2}+\\frac{1}{4}$.", "solution": "Adding, $\\boxed{\\frac{3}{4}}$.", "id": "a"},
    {"problem": "Solve $x+1=3$.", "solution": "So $x=2$, i.e. \\boxed{2}.", "answer": None, "id": "b"},
    {"problem": "A proof, with no final answer.", "solution": "It holds by induction.", "id": "c"},
    {"problem": "What is $2^3$?", "solution": "It is 8.", "answer": "8", "id": "d"},
]


def test_dataset_reads_a_gsm8k_style_file_and_skips_rows_without_an_answer(tmp_path, caplog):
    path = write_jsonl(tmp_path / "gsm8k_style.jsonl", GSM8K_ROWS)
    with caplog.at_level(logging.WARNING):
        bench = dataset_benchmark(f"benchmark.path={path}", "benchmark.prompt_column=question")
        samples = bench.load()
    assert isinstance(bench, Benchmark) and bench.name == "dataset" and bench.title == "gsm8k_style.jsonl"
    assert [(s["id"], s["answer"]) for s in samples] == [("0", "7"), ("1", "1200")]
    assert samples[0]["prompt"].startswith(GSM8K_ROWS[0]["question"]) and "\\boxed{}" in samples[0]["prompt"]
    assert bench.skipped_rows == 1
    assert "skipped 1 of 3 rows" in caplog.text and "field 'answer'" in caplog.text
    assert bench.score(["so \\boxed{7}", "#### 1200"], samples) == [1.0, 1.0]
    assert bench.score(["\\boxed{8}", "1,201"], samples) == [0.0, 0.0]


def test_dataset_reads_the_answer_a_worked_solution_states(tmp_path):
    path = write_jsonl(tmp_path / "math_style.jsonl", MATH_ROWS)
    bench = dataset_benchmark(f"benchmark.path={path}", "benchmark.solution_column=solution", "benchmark.id_column=id")
    samples = bench.load()
    # "a": no answer column value, the boxed answer; "b": null answer, the boxed answer; "c": neither, skipped;
    # "d": the answer column wins over the solution (which states no marked answer anyway)
    assert [(s["id"], s["answer"]) for s in samples] == [("a", "\\frac{3}{4}"), ("b", "2"), ("d", "8")]
    assert bench.skipped_rows == 1
    only_solutions = dataset_benchmark(f"benchmark.path={path}", "benchmark.answer_column=null", "benchmark.solution_column=solution")
    assert [s["answer"] for s in only_solutions.load()] == ["\\frac{3}{4}", "2"] and only_solutions.skipped_rows == 2
    assert bench.score(["\\boxed{0.75}"], samples[:1]) == [1.0]


def test_dataset_limit_counts_usable_problems(tmp_path):
    path = write_jsonl(tmp_path / "math_style.jsonl", MATH_ROWS)
    bench = dataset_benchmark(f"benchmark.path={path}", "benchmark.solution_column=solution", "benchmark.limit=3")
    assert [s["problem"] for s in bench.load()] == [MATH_ROWS[0]["problem"], MATH_ROWS[1]["problem"], MATH_ROWS[3]["problem"]]
    first = dataset_benchmark(f"benchmark.path={path}", "benchmark.solution_column=solution", "benchmark.limit=1")
    assert len(first.load()) == 1 and first.skipped_rows == 0  # rows past the limit are never read


def test_dataset_reads_other_formats_and_splits(tmp_path):
    import datasets

    rows = [{"q": "1+1?", "a": "2"}, {"q": "2+3?", "a": "5"}]
    datasets.DatasetDict({"train": datasets.Dataset.from_list(rows[:1]), "test": datasets.Dataset.from_list(rows)}).save_to_disk(str(tmp_path / "saved"))
    datasets.Dataset.from_list(rows).to_parquet(str(tmp_path / "p.parquet"))
    columns = ["benchmark.prompt_column=q", "benchmark.answer_column=a"]
    assert len(dataset_benchmark(f"benchmark.path={tmp_path / 'saved'}", *columns).load()) == 2  # split: test
    assert len(dataset_benchmark(f"benchmark.path={tmp_path / 'saved'}", "benchmark.split=train", *columns).load()) == 1
    assert [s["answer"] for s in dataset_benchmark(f"benchmark.path={tmp_path / 'p.parquet'}", *columns).load()] == ["2", "5"]


def test_dataset_passes_the_hub_subset_and_split(monkeypatch):
    import datasets

    calls = []

    def fake_load_dataset(path, name=None, split=None, **kwargs):
        calls.append((path, name, split))
        return datasets.Dataset.from_list(GSM8K_ROWS)

    monkeypatch.setattr(datasets, "load_dataset", fake_load_dataset)
    bench = dataset_benchmark("benchmark.path=openai/gsm8k", "benchmark.subset=main", "benchmark.prompt_column=question")
    assert len(bench.load()) == 2 and calls == [("openai/gsm8k", "main", "test")]
    assert bench.title == "openai/gsm8k"


def test_dataset_mistakes_are_one_line_errors(tmp_path):
    with pytest.raises(ConfigError, match="benchmark=dataset needs benchmark.path"):
        dataset_benchmark()  # path: ??? left unset
    with pytest.raises(DataError, match="does not exist"):
        dataset_benchmark(f"benchmark.path={tmp_path / 'nope.jsonl'}").load()
    path = write_jsonl(tmp_path / "gsm8k_style.jsonl", GSM8K_ROWS)
    with pytest.raises(DataError, match=r"no field 'problem' \(benchmark.prompt_column\); its fields are: question, answer$"):
        dataset_benchmark(f"benchmark.path={path}").load()
    with pytest.raises(DataError, match=r"no field 'gold' or 'worked' for the gold answer \(benchmark.answer_column or benchmark.solution_column\)"):
        dataset_benchmark(f"benchmark.path={path}", "benchmark.prompt_column=question", "benchmark.answer_column=gold", "benchmark.solution_column=worked").load()
    with pytest.raises(ConfigError, match="set benchmark.answer_column or benchmark.solution_column"):
        dataset_benchmark(f"benchmark.path={path}", "benchmark.answer_column=null")
    unanswered = write_jsonl(tmp_path / "unanswered.jsonl", [{"problem": "x", "answer": ""}, {"problem": "y", "answer": None}])
    with pytest.raises(DataError, match="none of its 2 rows has both a problem and a gold answer"):
        dataset_benchmark(f"benchmark.path={unanswered}").load()


def test_shipped_benchmarks_still_refuse_a_row_without_an_answer(tmp_path):
    """A curated file with a gap is broken: it is named, not skipped (only benchmark=dataset skips)."""
    path = write_jsonl(tmp_path / "test.jsonl", [{"problem": "1+1", "solution": "\\boxed{2}"}, {"problem": "2+2", "solution": "four"}])
    with pytest.raises(DataError, match=r"row 2 has no gold answer in field 'answer' or the solution in field 'solution' \(1 of 2 rows lack one\)"):
        MathBenchmark("mine", path=path, solution_field="solution").load()
    assert [s["answer"] for s in MathBenchmark("mine", path=path, solution_field="solution", limit=1).load()] == ["2"]
    assert DatasetBenchmark(path, "test", None, "problem", "answer", "solution", None).load()[0]["answer"] == "2"
