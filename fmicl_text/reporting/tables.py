"""Markdown tables of results: runs as rows, tasks as columns.

Pure formatting: the callers give (label, scores) rows; nothing here reads files.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence

from fmicl_text.layout import AVG

# SentEval-7 first, in SimCSE's table order; other tasks follow in order of appearance; avg last.
TASK_ORDER = ("sts12", "sts13", "sts14", "sts15", "sts16", "stsb", "sickr")

Score = float | None  # None: the score was undefined (collapsed embeddings)


def task_columns(score_dicts: Iterable[Mapping[str, Score]]) -> list[str]:
    """The union of the task keys, SentEval-7 order first, then the others, ``avg`` last."""
    seen: dict[str, None] = {}
    for scores in score_dicts:
        for key in scores:
            seen.setdefault(key, None)
    known = [key for key in TASK_ORDER if key in seen]
    others = [key for key in seen if key not in TASK_ORDER and key != AVG]
    return known + others + ([AVG] if AVG in seen else [])


def format_score(value: Score, digits: int = 2) -> str:
    """``87.48`` for a number, ``n/a`` for an undefined score (None or NaN)."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    return f"{value:.{digits}f}"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def markdown_table(
    rows: Sequence[tuple[str, Mapping[str, Score]]],
    columns: Sequence[str] | None = None,
    *,
    label_header: str = "run",
    headers: Mapping[str, str] | None = None,
    digits: int = 2,
) -> str:
    """One markdown table: a row per (label, scores), a column per task; a task a run lacks is blank.

    ``columns`` defaults to :func:`task_columns` of the rows; ``headers`` renames columns.
    """
    if columns is None:
        columns = task_columns(scores for _, scores in rows)
    headers = dict(headers or {})
    lines = [
        "| " + " | ".join([_cell(label_header), *(_cell(headers.get(c, c)) for c in columns)]) + " |",
        "|" + "|".join(["---", *("---:" for _ in columns)]) + "|",
    ]
    for label, scores in rows:
        cells = [format_score(scores[c], digits) if c in scores else "" for c in columns]
        lines.append("| " + " | ".join([_cell(label), *cells]) + " |")
    return "\n".join(lines)
