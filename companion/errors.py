"""The root error type of the companion package.

Every error a user can cause is a :class:`CompanionError` subclass whose ``str()`` is one
sentence saying what went wrong, where, and what to do. The CLI prints that sentence and
exits with :attr:`CompanionError.exit_code`; it never shows a traceback for these.
"""

from __future__ import annotations


class CompanionError(Exception):
    """Root of the package's errors; ``str(err)`` is the user-facing sentence."""

    exit_code: int = 2


class UsageError(CompanionError):
    """The command line or a configuration file asks for something impossible."""


class SessionFileError(CompanionError):
    """A session file cannot be read or written."""

    def __init__(self, path: object, problem: str, *, where: str = "", advice: str = "") -> None:
        self.path = str(path)
        self.problem = problem
        self.where = where
        self.advice = advice
        parts = [f"{self.path}:"]
        if where:
            parts.append(f"{where}:")
        parts.append(problem)
        text = " ".join(parts)
        if advice:
            text = f"{text.rstrip('.')}. {advice}"
        super().__init__(text)


class SensorError(CompanionError):
    """A sensor cannot be found, connected or understood."""


class ImportFormatError(CompanionError):
    """A vendor or research export cannot be imported."""
