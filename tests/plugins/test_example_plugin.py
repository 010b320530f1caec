"""The third-party route, proven: install plugins/r1-example as a package and use it with no edit to r1.

``installed_example`` (tests/plugins/conftest.py) installs it where only child processes see it.
"""

from __future__ import annotations

import os
import subprocess
import sys

from tests.conftest import run_cli


def test_installed_plugin_appears_in_the_plugin_table(installed_example):
    result = run_cli("r1.plugins", env=installed_example)
    assert result.returncode == 0, result.stderr
    row = next(line for line in result.stdout.splitlines() if "brevity" in line)
    assert "r1-example" in row and "0.1.0" in row


def test_installed_plugin_option_composes_and_builds(installed_example):
    result = run_cli("r1.run", "reward=brevity", "reward.max_chars=50", "--cfg", "job", env=installed_example)
    assert result.returncode == 0, result.stderr
    assert "name: brevity" in result.stdout and "max_chars: 50" in result.stdout
    code = (
        "from r1.plugins import get_registry\n"
        "reward = get_registry().build('reward', {'name': 'brevity', 'max_chars': 10})\n"
        "print(reward(['<think>12345</think><answer>1</answer>', 'x' * 20]))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env={**os.environ, **installed_example}, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[0.5, 0.0]"


def test_plugin_can_be_blocked_by_name(installed_example):
    code = (
        "from r1.plugins import get_registry\n"
        "print('brevity' in get_registry().names('reward'), 'brevity' in get_registry(blocked=['r1-example']).names('reward'))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env={**os.environ, **installed_example}, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "True False"


def test_without_the_plugin_the_option_is_unknown():
    result = run_cli("r1.run", "reward=brevity")
    assert result.returncode == 2 and "unknown reward 'brevity'" in result.stderr
