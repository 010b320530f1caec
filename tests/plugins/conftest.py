"""plugins/r1-example installed as a package, once per test session, for the tests of the third-party route."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys

import pytest

from tests.conftest import REPO_ROOT


@pytest.fixture(scope="session")
def installed_example(tmp_path_factory) -> dict[str, str]:
    """Environment variables under which child processes see plugins/r1-example as an installed package.

    The plugin is installed with pip into a private folder (``--target``) that only the
    child processes see, so the rest of the suite stays hermetic.
    """
    target = tmp_path_factory.mktemp("site")
    command = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(target), str(REPO_ROOT / "plugins" / "r1-example")]
    if importlib.util.find_spec("setuptools") is not None:
        command.insert(4, "--no-build-isolation")  # build offline with the setuptools already here
    result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    return {
        "PYTHONPATH": os.pathsep.join([str(target), os.environ.get("PYTHONPATH", "")]),
        "R1_DISABLE_PLUGIN_AUTOLOAD": "0",
    }
