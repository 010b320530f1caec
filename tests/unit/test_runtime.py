"""Process-wide CPU settings (r1/runtime.py)."""

from __future__ import annotations

import subprocess
import sys

import pytest


def test_keep_freed_memory_is_off_when_disabled():
    from r1.runtime import keep_freed_memory

    assert keep_freed_memory(False) is False


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt is Linux-only")
def test_keep_freed_memory_reuses_freed_blocks_instead_of_faulting_in_fresh_pages():
    """Tensors of growing size, each freed at once: by default every one is mapped afresh."""
    script = """
import resource, sys, torch
from r1.runtime import keep_freed_memory
if sys.argv[1] == "on":
    assert keep_freed_memory() and keep_freed_memory()  # applied, and idempotent
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for mib in range(1, 17):
    torch.ones(mib << 18)  # a fresh, fully written mib-MiB tensor, freed at once
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""
    faults = {}
    for mode in ("off", "on"):
        result = subprocess.run([sys.executable, "-c", script, mode], capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stderr
        faults[mode] = int(result.stdout.split()[-1])
    # 136 MiB written in all: about 34,900 page faults by default, about 9,500 with it
    assert faults["on"] < faults["off"] / 2, faults


def test_the_runtime_node_of_the_shipped_config_is_the_settings_class():
    from omegaconf import OmegaConf

    from r1.paths import conf_dir
    from r1.runtime import RuntimeSettings
    from r1.settings import settings_fields

    node = OmegaConf.load(conf_dir() / "config.yaml").runtime
    assert sorted(node) == sorted(settings_fields(RuntimeSettings))


def test_the_fast_paths_switch_is_applied_read_and_forced():
    import r1.runtime as runtime
    from r1.models import fast

    before = runtime.current()
    try:
        assert runtime.apply({"keep_freed_memory": False, "fast_paths": False}).fast_paths is False
        assert not runtime.fast_paths_enabled() and not fast.enabled()
        with runtime.forced_fast_paths(True):
            assert fast.enabled()
        assert not fast.enabled()  # the block's value does not outlive it
        runtime.apply({"keep_freed_memory": False, "fast_paths": True})
        assert fast.enabled()
    finally:
        runtime.apply({"keep_freed_memory": False, "fast_paths": before.fast_paths})


@pytest.mark.parametrize(
    ("node", "message"),
    [
        ({"keep_freed_memory": True, "fast_paths": "off"}, "runtime.fast_paths must be true or false"),
        ({"keep_freed_memory": True}, "runtime.fast_paths is not set"),
        ({"keep_freed_memory": True, "fast_paths": True, "fast_path": False}, "unknown setting runtime.fast_path"),
    ],
)
def test_a_bad_runtime_node_is_one_line(node, message):
    from r1.errors import ConfigError
    from r1.runtime import apply, current

    before = current()
    with pytest.raises(ConfigError, match=message):
        apply(node)
    assert current() == before  # nothing applied


def test_without_apply_the_shipped_config_decides(monkeypatch):
    """Code run without ``python -m r1.run`` (a notebook, a test) gets what conf/config.yaml ships."""
    from omegaconf import OmegaConf

    import r1.runtime as runtime
    from r1.paths import conf_dir

    monkeypatch.setattr(runtime, "_settings", None)  # a fresh process: nothing applied yet
    shipped = OmegaConf.load(conf_dir() / "config.yaml").runtime
    assert runtime.current() == runtime.RuntimeSettings(**shipped)
