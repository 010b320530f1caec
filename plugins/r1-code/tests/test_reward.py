"""The ``code`` reward against hand-computed values, and the code extraction it relies on."""

from __future__ import annotations

import pytest

from r1_code.extract import extract_code
from r1_code.judge import make_job, run_jobs, split_check
from r1_code.reward import CodeReward

TESTS = ["assert add(1, 2) == 3", "assert add(2, 2) == 4", "assert add(-1, 1) == 0"]
RIGHT = "<think>easy</think><answer>\n```python\ndef add(a, b):\n    return a + b\n```\n</answer>"
# Ignores the sign of ``a``: right for the first two tests, wrong for add(-1, 1).
TWO_OF_THREE = "<think>close</think><answer>\n```python\ndef add(a, b):\n    return abs(a) + b\n```\n</answer>"


def test_fraction_of_tests_passed():
    scores = CodeReward()([RIGHT, TWO_OF_THREE, "no code here"], tests=[TESTS] * 3)
    assert scores[0] == 1.0
    assert scores[1] == pytest.approx(0.667, abs=1e-3)  # 2 of 3
    assert scores[2] == 0.0  # plain prose is taken as code and does not compile


def test_binary_is_all_or_nothing():
    assert CodeReward(binary=True)([RIGHT, TWO_OF_THREE], tests=[TESTS] * 2) == [1.0, 0.0]


def test_none_without_tests_and_zero_without_code():
    reward = CodeReward()
    assert reward([RIGHT, RIGHT], tests=[TESTS, []]) == [1.0, None]
    assert reward([RIGHT], answer=["3"]) == [None]  # a math sample: not this reward's business
    assert reward(["<think>I ran out of tokens"], tests=[TESTS]) == [0.0]


def test_setup_code_runs_before_the_tests():
    completion = "```python\ndef area(r):\n    return PI * r * r\n```"
    scores = CodeReward()([completion], tests=[["assert area(1) == 3"]], setup_code=["PI = 3"])
    assert scores == [1.0]


def test_humaneval_style_counts_each_assert():
    test = (
        "METADATA = {}\n\ndef check(candidate):\n"
        "    assert candidate(1) == 2\n    assert True\n    x = 5\n    assert candidate(x) == 6\n"
        "    for i in range(3):\n        assert candidate(i) == i + 1\n    assert candidate(0) == 99\n"
    )
    setup, cases, parameter = split_check(test, "inc")
    assert len(cases) == 4  # `assert True` is no free point; `x = 5` runs with the next case
    assert parameter == "candidate" and "METADATA" in setup and "check" not in setup
    completion = "```python\ndef inc(n):\n    return n + 1\n```"
    scores = CodeReward()([completion], test=[test], entry_point=["inc"])
    assert scores == [pytest.approx(0.75)]


def test_humaneval_body_only_answer_is_appended_to_the_stub():
    preamble = 'def inc(n):\n    """Add one."""\n'
    test = "def check(candidate):\n    assert candidate(1) == 2\n"
    body = "```python\n    return n + 1\n```"
    assert CodeReward()([body], test=[test], entry_point=["inc"], preamble=[preamble]) == [1.0]


def test_verdicts_survive_a_later_hang():
    job = make_job("def f():\n    return 1", tests=["assert f() == 1", "while True: pass", "assert f() == 1"])
    (verdict,) = run_jobs([job], timeout_s=1.5)
    assert verdict.status == "timeout" and not verdict.finished
    assert verdict.results == (True, False, False)


def test_tests_beyond_literal_equality_run_in_the_checker():
    code = (
        "```python\nimport math\nclass Circle:\n    def __init__(self, r):\n        self.r = r\n"
        "    def area(self):\n        return math.pi * self.r ** 2\n"
        "def root(x):\n    if x < 0:\n        raise ValueError('negative')\n    return math.sqrt(x)\n```"
    )
    tests = [
        "assert math.isclose(Circle(2).area(), 12.566, rel_tol=1e-3)",  # a candidate object, used remotely
        "try:\n    root(-1)\n    raise AssertionError('no error')\nexcept ValueError:\n    pass",
        "assert [root(x) for x in (4, 9)] == [2.0, 3.0]",
        "assert root(16) == math.sqrt(16)",  # the expected side is evaluated by the checker
        "assert Circle(1) == Circle(1)",  # objects are never compared: no lying __eq__ can help
        "assert root(2) > 2",
    ]
    job = make_job(extract_code(code), tests=tests, setup_code="import math")
    assert job is not None and not job.by_value
    (verdict,) = run_jobs([job], timeout_s=10)
    assert verdict.results == (True, True, True, True, False, False), verdict.stderr


def test_literal_equality_is_compared_by_r1():
    job = make_job("def f(x):\n    return [x, (x,)]", tests=["assert f(1) == [1, (1,)]", "assert f(1) == [1, [1]]"])
    assert job is not None and job.by_value
    (verdict,) = run_jobs([job], timeout_s=10)
    assert verdict.results == (True, False) and verdict.finished


@pytest.mark.parametrize(
    ("response", "code"),
    [
        ("<think>```python\ndraft\n```</think><answer>```python\nfinal\n```</answer>", "final"),
        ("<think>x</think>\nSome words.\n```python\nfirst\n```\nthen\n```python\nsecond\n```", "second"),
        ("```\nuntagged\n```", "untagged"),
        ("<answer>\ndef f():\n    return 1\n</answer>", "def f():\n    return 1"),
        ("def f():\n    return 1\n", "def f():\n    return 1"),
        ("<think>still thinking", None),
        ("<answer>```python\ncut off", "cut off"),
        ("", None),
        ("```python\n    return 1\n```", "    return 1"),
    ],
)
def test_extract_code(response, code):
    assert extract_code(response) == code
