"""Where r1's own files live, in a checkout and in an installed wheel."""

from __future__ import annotations

from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent


def conf_dir() -> Path:
    """The folder holding ``config.yaml`` and the config groups.

    In a checkout (or an editable install) it is ``conf/`` beside the package; the
    wheel carries the same files as ``r1/conf`` (see ``pyproject.toml``).
    """
    for candidate in (PACKAGE_DIR / "conf", PACKAGE_DIR.parent / "conf"):
        if (candidate / "config.yaml").is_file():
            return candidate
    raise FileNotFoundError(f"r1's config folder was not found next to {PACKAGE_DIR}; reinstall r1")


def data_dir() -> Path:
    """Benchmark files shipped with r1 (each folder has a SOURCE.md with its origin and licence)."""
    return PACKAGE_DIR / "benchmarks" / "data"
