"""The symbolic stage's time budget: R1_MATH_TIMEOUT and ``timeout=`` must be positive numbers of seconds."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from r1.errors import ConfigError
from r1.math import default_timeout, is_equivalent, verify, warm_up
from r1.math.equivalence import TIMEOUT_ENV, UNSET_TIMEOUT

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def first_use():
    """Each test sees the verifier as if for the first time: the variable is read once, then kept."""
    default_timeout.cache_clear()
    yield
    default_timeout.cache_clear()


@pytest.mark.parametrize("raw", ["abc", "0", "-1", "0.0", "", "nan", "inf", "1s"])
def test_a_bad_environment_budget_is_one_config_error_line_at_first_use(monkeypatch, raw):
    monkeypatch.setenv(TIMEOUT_ENV, raw)
    for first_use in (
        lambda: is_equivalent("\\sqrt{8}", "2\\sqrt{2}"),  # decided by sympy: 0 made it silently False
        lambda: is_equivalent("1", "1"),  # decided without sympy: still reported
        lambda: verify("no answer here", "1"),
        lambda: warm_up(wait=False),
    ):
        with pytest.raises(ConfigError) as error:
            first_use()
        assert str(error.value) == f"R1_MATH_TIMEOUT must be a positive number of seconds, not {raw!r}"


def test_the_environment_budget_is_read_at_first_use_and_kept(monkeypatch):
    monkeypatch.delenv(TIMEOUT_ENV, raising=False)
    assert default_timeout() == UNSET_TIMEOUT
    default_timeout.cache_clear()
    monkeypatch.setenv(TIMEOUT_ENV, " 2.5 ")
    assert is_equivalent("\\sqrt{8}", "2\\sqrt{2}")
    assert default_timeout() == 2.5
    monkeypatch.setenv(TIMEOUT_ENV, "abc")
    assert default_timeout() == 2.5


@pytest.mark.parametrize("timeout", [0, -1, 0.0, float("nan"), float("inf"), "abc", True])
def test_a_bad_call_budget_is_one_config_error_line(timeout):
    with pytest.raises(ConfigError, match=r"^timeout must be a positive number of seconds, not "):
        is_equivalent("\\sqrt{8}", "2\\sqrt{2}", timeout=timeout)
    with pytest.raises(ConfigError, match=r"^timeout must be a positive number of seconds, not "):
        verify("\\boxed{1}", "1", timeout=timeout)


def test_a_call_budget_overrides_a_bad_environment_budget(monkeypatch):
    monkeypatch.setenv(TIMEOUT_ENV, "abc")
    assert is_equivalent("\\sqrt{8}", "2\\sqrt{2}", timeout=5)


def test_importing_with_a_bad_budget_does_not_fail_and_first_use_names_it():
    """The budget is checked when the verifier is used, not when r1.math is imported (a traceback before)."""
    env = {**os.environ, TIMEOUT_ENV: "abc", "PYTHONPATH": str(ROOT)}
    code = (
        "import r1.math\n"
        "from r1.errors import ConfigError\n"
        "try:\n"
        "    r1.math.verify('\\\\boxed{1}', '1')\n"
        "except ConfigError as e:\n"
        "    print(e)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "R1_MATH_TIMEOUT must be a positive number of seconds, not 'abc'\n"
