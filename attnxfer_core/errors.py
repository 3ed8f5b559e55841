"""User-facing errors.

Every problem a user can cause (a typo in an override, a missing data file, a
teacher that does not fit the student) is raised as :class:`UserError` *before*
any run directory is touched, so the CLI can print one line and exit non-zero
without damaging earlier results.
"""
from __future__ import annotations

import os
from pathlib import Path


class UserError(Exception):
    """A problem with the user's input, reported as a single line."""


class ConfigError(UserError):
    """A config field holds a value the suite cannot use; the message names the field."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        shown = field if field.isprintable() else repr(field)  # a typed control character stays on one line
        super().__init__(f"{shown}: {message}")


class RunLockedError(UserError):
    """Another process is already training into the same run directory (``path``)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        super().__init__(f"run {self.path} is already being trained by another process")


def failure_line(exc: BaseException) -> str:
    """``Type: last line of the message``: what a failure record and ``attnxfer status`` show."""
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[-1] if text else ''}"
