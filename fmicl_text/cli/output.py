"""What the commands print and write: the STS table, and the ``--output`` file of the eval commands (checked
before any work, so a result is never lost, then written)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

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


def write_json(path: str | os.PathLike, record: Any) -> None:
    """Write ``record`` as the ``--output`` JSON file (its folder made), and say so."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(record, indent=2), encoding="utf-8")
    print(f"wrote {path}")


def print_table(result: Any, label: str | None = None) -> None:
    """The STS scores: a rich table in a terminal; the markdown table (plain text, never wrapped) otherwise."""
    from fmicl_text.evaluation.sts import format_table

    title = f"STS {result.suite} ({result.text} text), Spearman x100"
    if not sys.stdout.isatty():
        print(f"{title}\n{format_table(result, label)}")
        return
    from rich.console import Console
    from rich.table import Table

    markdown = format_table(result, label).splitlines()
    names = [c.strip() for c in markdown[0].strip("|").split("|")]
    table = Table(title=title)
    for name in names:
        table.add_column(name, justify="left" if name == "model" else "right", overflow="fold")
    table.add_row(*(c.strip() for c in markdown[2].strip("|").split("|")))
    Console().print(table)
