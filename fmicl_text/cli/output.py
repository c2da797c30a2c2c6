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


def show_table(title: str, columns: list[tuple[str, str]], rows: list[list[str]]) -> None:
    """A results table: rich in a terminal; markdown (plain text, never wrapped or boxed) when stdout is a file
    or a pipe. ``columns`` are (name, "left" | "right")."""
    if not sys.stdout.isatty():
        align = {"left": "---", "right": "---:"}
        lines = [title, "| " + " | ".join(name for name, _ in columns) + " |"]
        lines.append("|" + "|".join(align[justify] for _, justify in columns) + "|")
        lines += ["| " + " | ".join(row) + " |" for row in rows]
        print("\n".join(lines))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title)
    for name, justify in columns:
        table.add_column(name, justify=justify, overflow="fold")
    for row in rows:
        table.add_row(*row)
    Console().print(table)


def print_table(result: Any, label: str | None = None) -> None:
    """The STS scores (the markdown of :func:`~fmicl_text.evaluation.sts.format_table`, shown by show_table)."""
    from fmicl_text.evaluation.sts import format_table

    markdown = format_table(result, label).splitlines()
    names = [c.strip() for c in markdown[0].strip("|").split("|")]
    columns = [(name, "left" if name == "model" else "right") for name in names]
    rows = [[c.strip() for c in line.strip("|").split("|")] for line in markdown[2:]]
    show_table(f"STS {result.suite} ({result.text} text), Spearman x100", columns, rows)
