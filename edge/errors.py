"""The project's own error types: the only ones the command line shows as one sentence.

Every other exception (a ``ValueError`` deep in numpy, a bug) keeps its traceback,
so a fault is never disguised as the user's mistake.
"""

from __future__ import annotations


class UserError(Exception):
    """A problem the user can fix (a file, an option, a setting, a device); the message is
    one sentence for them."""


class UsageError(UserError, ValueError):
    """A command-line value or combination that cannot work."""


class RecognitionError(RuntimeError):
    """Live recognition failed (a model or a stage raised); the run ends with this sentence
    and the original exception as its cause (logged with -v)."""
