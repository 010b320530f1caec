"""User-facing errors.

Anything a user can cause (a wrong config value, an unknown plugin, a missing path,
a dataset without a field) raises an :class:`R1Error` whose message is one line
saying what was wrong and how to fix it. ``python -m r1.run`` prints that line and
exits with status 2, with no traceback; programming errors still raise normally.
"""

from __future__ import annotations

import sys
from typing import NoReturn

EXIT_USER_ERROR = 2
"""The exit status of a command stopped by a user's mistake (argparse's, too)."""


class R1Error(Exception):
    """Base class: a mistake in the user's input, reported as one line."""


class ConfigError(R1Error):
    """A config value or override is invalid."""


class PluginError(R1Error):
    """A plugin name is unknown, blocked, or offered twice."""


class DataError(R1Error):
    """A dataset, file or field the run needs is missing or malformed."""


class TrainingError(R1Error):
    """Training cannot go on (a non-finite loss, gradient or weight); reported as one line."""


def fail(error: BaseException) -> NoReturn:
    """Print one line saying what went wrong and exit with :data:`EXIT_USER_ERROR`: every command line's way out."""
    message = " ".join(str(error).split()) or type(error).__name__
    print(f"r1: error: {message}", file=sys.stderr)
    sys.exit(EXIT_USER_ERROR)
