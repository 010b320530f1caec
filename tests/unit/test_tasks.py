from __future__ import annotations

import pytest

from r1.plugins import get_registry
from r1.tasks.arithmetic import ArithmeticTask, problem_split, worked_sum


def test_worked_sum_writes_each_column_with_its_carry():
    assert worked_sum(47, 85) == "7+5+0=12 4+8+1=13"
    assert worked_sum(619, 643) == "9+3+0=12 1+4+1=6 6+6+0=12"


def test_samples_are_deterministic_for_a_seed_and_differ_across_seeds():
    task = ArithmeticTask(digits=[2, 3])
    assert task.samples("train", 50, seed=3) == task.samples("train", 50, seed=3)
    assert task.samples("train", 50, seed=3) != task.samples("train", 50, seed=4)


def test_train_and_test_splits_are_disjoint_whatever_the_seed():
    task = ArithmeticTask(digits=[2])
    train = {s["id"] for seed in range(3) for s in task.samples("train", 500, seed=seed)}
    test = {s["id"] for seed in range(3) for s in task.samples("test", 300, seed=seed)}
    assert train and test and not train & test
    for sample in task.samples("test", 50):
        a, b = (int(x) for x in sample["prompt"].split("+"))
        assert problem_split(a, b, 10) == "test"


def test_every_sample_carries_prompt_answer_and_a_reference_response_in_the_template():
    task = ArithmeticTask(digits=[2, 3, 4])
    samples = task.samples("train", 200, seed=0)
    assert {s["level"] for s in samples} == {2, 3, 4}
    for sample in samples:
        a, b = (int(x) for x in sample["prompt"].split("+"))
        assert sample["answer"] == str(a + b)
        assert sample["response"].startswith("<think>") and sample["response"].endswith(f"</think><answer>{a + b}</answer>")
        assert len(str(a)) == len(str(b)) == sample["level"]


def test_reference_responses_score_correct_and_wrong_answers_do_not():
    task = get_registry().build("task", {"name": "arithmetic", "digits": [2, 3]})
    for sample in task.samples("test", 100):
        assert task.check(sample["response"], sample["answer"])
        wrong = sample["response"].replace(f"<answer>{sample['answer']}", f"<answer>{int(sample['answer']) + 1}")
        assert not task.check(wrong, sample["answer"])


def test_bad_arguments_are_reported():
    with pytest.raises(ValueError, match="digits"):
        ArithmeticTask(digits=[])
    with pytest.raises(ValueError, match="split"):
        ArithmeticTask().samples("validation", 3)
    with pytest.raises(ValueError, match="only have about|have only about"):
        ArithmeticTask(digits=[1]).samples("test", 50)
