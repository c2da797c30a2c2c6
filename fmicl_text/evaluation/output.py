"""The ``--output`` file of the eval commands, checked before any work: a result is never lost at the end."""

from __future__ import annotations

import os
from pathlib import Path

from fmicl_text.errors import FmiclError


def check_output_file(path: str | os.PathLike | None, flag: str = "--output") -> None:
    """Fail now if ``path`` cannot be written as a file later (it is a folder, or under a file).

    Without this an evaluation runs for minutes and then dies writing its JSON, with nothing kept.
    """
    if path is None:
        return
    path = Path(path).expanduser()
    if path.is_dir():
        raise FmiclError(
            f"{flag} is a folder, not a file",
            where=str(path),
            fix=f"name a file, e.g. {flag} {path / 'results.json'}",
        )
    for parent in path.parents:
        if parent.exists():
            if not parent.is_dir():
                raise FmiclError(
                    f"{flag} cannot be written: {parent.name!r} on its path is a file, not a folder",
                    where=str(parent),
                    fix=f"choose another {flag} path",
                )
            break
