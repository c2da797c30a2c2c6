"""The one user-facing error type.

Every entry point raises :class:`FmiclError` for bad input; the CLI prints it as one readable
message (what went wrong, where, how to fix it) instead of a stack trace from deep inside a library.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class FmiclError(Exception):
    """A problem the user can fix: bad input, a missing file, an unknown name."""

    #: the CLI's exit status for this error
    exit_code = 2

    def __init__(self, what: str, *, where: str | None = None, fix: str | None = None) -> None:
        self.what, self.where, self.fix = what, where, fix
        super().__init__(self.format())

    def format(self) -> str:
        lines = [self.what]
        if self.where:
            lines.append(f"  where: {self.where}")
        if self.fix:
            lines.append(f"  fix:   {self.fix}")
        return "\n".join(lines)


def did_you_mean(name: str, choices: Iterable[str]) -> str:
    """A hint listing the valid names, closest match first."""
    choices = sorted(choices)
    close = difflib.get_close_matches(name, choices, n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    return f"{hint}valid: {', '.join(choices)}"


class RunInterrupted(FmiclError):
    """Training stopped on SIGINT / SIGTERM after writing a checkpoint; the exit status is 128 + signal."""

    def __init__(self, what: str, *, signal_number: int, where: str | None = None, fix: str | None = None) -> None:
        super().__init__(what, where=where, fix=fix)
        self.exit_code = 128 + signal_number
