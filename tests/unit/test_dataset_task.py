"""task=dataset: column mapping, answers from solutions, splits fixed by the data, lazy rows, one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from r1.errors import ConfigError, DataError
from r1.phases.grpo import PromptSchedule
from r1.tasks.dataset import DatasetTask, RowView

OPTIONS = {
    "subset": None, "split": "train", "test_split": None, "test_size": 4, "split_seed": 0,
    "prompt_column": "question", "answer_column": "answer", "solution_column": None, "messages_column": None,
    "id_column": None, "level_column": None, "levels": None, "max_samples": None, "extraction": "template",
}


def write_jsonl(path: Path, rows: list[dict]) -> str:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return str(path)


def gsm8k_rows(n: int) -> list[dict]:
    return [{"question": f"Tom has {i} apples and buys 1,000 more. How many?", "answer": f"He has {i}+1000 = {i + 1000}.\n#### {i + 1000:,}"} for i in range(n)]


def task(path: str, **options) -> DatasetTask:
    return DatasetTask(path=path, **{**OPTIONS, **options})


def test_gsm8k_shape_gives_prompt_and_the_answer_after_hashes(tmp_path):
    t = task(write_jsonl(tmp_path / "g.jsonl", gsm8k_rows(20)))
    samples = list(t.samples("train", None))
    assert len(samples) == 16 and len(t.samples("test", None)) == 4
    by_prompt = {s["prompt"]: s for s in samples}
    row = next(iter(by_prompt.values()))
    i = int(row["prompt"].split()[2])
    assert row["answer"] == str(i + 1000) and row["id"] == str(i)
    assert t.check(f"<think>...</think><answer>{i + 1000}</answer>", row["answer"])


def test_the_split_is_fixed_by_the_data_and_disjoint(tmp_path):
    path = write_jsonl(tmp_path / "g.jsonl", gsm8k_rows(50))
    a, b = task(path, test_size=0.2), task(path, test_size=0.2)
    train, test = {s["id"] for s in a.samples("train", None)}, {s["id"] for s in a.samples("test", None)}
    assert len(test) == 10 and not train & test and len(train | test) == 50
    assert [s["id"] for s in b.samples("train", None, seed=7)] == [s["id"] for s in a.samples("train", None, seed=1)]
    # a filter or subset never moves a row across the split
    assert {s["id"] for s in task(path, test_size=0.2, max_samples=5).samples("test", None)} <= test
    assert {s["id"] for s in task(path, test_size=0.2, split_seed=1).samples("test", None)} != test


def test_solution_column_gives_the_boxed_answer_and_levels_filter(tmp_path):
    rows = [{"problem": f"p{i}", "solution": f"So $x = \\boxed{{\\frac{{{i}}}{{2}}}}$.", "level": f"Level {i % 5 + 1}"} for i in range(30)]
    t = task(write_jsonl(tmp_path / "m.jsonl", rows), prompt_column="problem", answer_column=None, solution_column="solution",
             level_column="level", levels=[4, 5], test_size=0)
    samples = list(t.samples("train", None))
    assert len(samples) == 12 and all(int(s["prompt"][1:]) % 5 + 1 in (4, 5) for s in samples)
    assert all(s["answer"] == f"\\frac{{{s['prompt'][1:]}}}{{2}}" for s in samples)


def test_messages_column_and_a_separate_test_split(tmp_path):
    folder = tmp_path / "chat"
    folder.mkdir()
    rows = [{"messages": [{"role": "system", "content": "be brief"}, {"role": "user", "content": f"{i}+1"},
                          {"role": "assistant", "content": f"<think>{i}+1</think><answer>{i + 1}</answer>"}]} for i in range(6)]
    import datasets

    datasets.DatasetDict({"train": datasets.Dataset.from_list(rows), "test": datasets.Dataset.from_list(rows[:2])}).save_to_disk(str(folder))
    t = task(str(folder), prompt_column=None, answer_column=None, messages_column="messages", test_split="test")
    assert sorted(s["prompt"] for s in t.samples("test", None)) == ["0+1", "1+1"]
    assert {s["prompt"]: s["answer"] for s in t.samples("train", None)}["4+1"] == "5"


def test_rows_are_read_lazily_and_slices_stay_lazy(tmp_path):
    t = task(write_jsonl(tmp_path / "g.jsonl", gsm8k_rows(40)), test_size=0)
    view = t.samples("train", 10)
    assert isinstance(view, RowView) and isinstance(view[2:5], RowView) and len(view) == 10
    assert view[3] == list(view)[3]


def test_rows_without_answers_are_skipped_and_counted_by_the_schedule(tmp_path):
    from r1.phases.prompting import PromptScreen

    rows = gsm8k_rows(10) + [{"question": "no answer here", "answer": None}, {"question": "blank", "answer": "  "}]
    t = task(write_jsonl(tmp_path / "g.jsonl", rows), test_size=0)
    screen = PromptScreen(None)
    schedule = PromptSchedule(t.samples("train", None), 4, seed=0, screen=screen)
    seen = [s for step in range(6) for s in schedule.step(step)]
    assert all(s["answer"] is not None for s in seen) and len(seen) == 24
    assert screen.summary()["skipped/no_answer"] == 2


def test_a_resumed_schedule_sees_what_an_uninterrupted_one_saw(tmp_path):
    from r1.phases.prompting import PromptScreen

    rows = gsm8k_rows(13) + [{"question": f"none {i}", "answer": None} for i in range(5)]
    samples = task(write_jsonl(tmp_path / "g.jsonl", rows), test_size=0).samples("train", None)
    straight = PromptSchedule(samples, 3, seed=2, screen=PromptScreen(None))
    order = [[s["id"] for s in straight.step(step)] for step in range(9)]
    resumed = PromptSchedule(samples, 3, seed=2, screen=PromptScreen(None))
    assert [s["id"] for s in resumed.step(7)] == order[7] and [s["id"] for s in resumed.step(8)] == order[8]


def test_a_dataset_with_no_usable_prompt_is_one_line(tmp_path):
    from r1.phases.prompting import PromptScreen

    samples = task(write_jsonl(tmp_path / "g.jsonl", [{"question": "q", "answer": None}] * 3), test_size=0).samples("train", None)
    with pytest.raises(DataError, match=r"none of the 3 training prompts can be used \(3 no answer\)"):
        PromptSchedule(samples, 2, seed=0, screen=PromptScreen(None)).step(0)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"prompt_column": "prompt"}, r"^dataset '.*' has no column 'prompt' \(task.prompt_column\); its columns are: question, answer$"),
        ({"level_column": "level"}, r"level_column and task.levels go together"),
        ({"test_size": 99}, r"holds out all 20 rows"),
        ({"test_size": -1}, r"task.test_size must be"),
        ({"extraction": "nearby"}, r"extraction must be one of"),
    ],
)
def test_mistakes_are_one_line(tmp_path, options, message):
    path = write_jsonl(tmp_path / "g.jsonl", gsm8k_rows(20))
    with pytest.raises((ConfigError, DataError), match=message):
        task(path, **{**options, "test_size": options.get("test_size", 0.2)})


def test_a_missing_file_and_an_unreachable_hub_id_are_one_line(tmp_path, monkeypatch):
    with pytest.raises(DataError, match="does not exist"):
        task(str(tmp_path / "nope.jsonl"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    with pytest.raises(DataError, match=r"^could not load dataset 'nobody-r1/absent'.*; point task.path here"):
        task("nobody-r1/absent", hub_hint="point task.path here")


def test_an_unreachable_hub_is_found_in_one_connection_attempt(monkeypatch):
    from r1.data.datasets import hub_problem

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("HF_DATASETS_OFFLINE", raising=False)
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # the discard port: nothing listens there
    assert "cannot be reached" in hub_problem(timeout=1.0)
    with pytest.raises(DataError, match=r"^could not load dataset 'nobody-r1/absent': the Hub \(127.0.0.1\) cannot be reached .*; point task.path here$"):
        task("nobody-r1/absent", hub_hint="point task.path here")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert hub_problem(timeout=1.0) is None  # offline mode reads the cache: nothing to probe
