"""Headed, TAB-separated, unquoted UTF-8 files: the one reader behind every TSV input.

Sentences may begin with a ``"``, so there is no quoting; a bad file fails at the door with its
name and line number (missing columns, a row of the wrong width, bytes that are not UTF-8).
"""

from __future__ import annotations

import csv
import gzip
import io
from pathlib import Path

from fmicl_text.errors import FmiclError


def read_text(path: Path) -> str:
    """The file as text (gunzipped for ``.gz``); non-UTF-8 bytes are an error naming the line."""
    raw = path.read_bytes()
    if path.suffix == ".gz":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as exc:
            raise FmiclError(f"cannot decompress: {exc}", where=str(path)) from None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = raw[: err.start].count(b"\n") + 1
        raise FmiclError(
            f"file is not valid UTF-8 (byte {raw[err.start : err.start + 1]!r} on line {line})",
            where=f"{path}:{line}",
            fix="re-save the file as UTF-8",
        ) from None


def read_tsv(path: Path, columns: tuple[str, ...], optional: tuple[str, ...] = ()) -> list[tuple[int, dict[str, str]]]:
    """(line number, {column: value}) for each data row of a headed, TAB-separated, unquoted UTF-8 file.

    ``columns`` must be in the header; ``optional`` ones are read when present. Other columns are ignored.
    """
    text = read_text(path)
    if not text.strip():
        raise FmiclError("file is empty", where=str(path), fix=f"expected a header line ({', '.join(columns)})")
    rows = list(csv.reader(io.StringIO(text, newline=""), delimiter="\t", quoting=csv.QUOTE_NONE))
    while rows and not any(value.strip() for value in rows[-1]):
        rows.pop()  # blank lines at the end
    header = [name.strip() for name in rows[0]]
    missing = [name for name in columns if name not in header]
    if missing:
        fix = f"the header must have TAB-separated columns {', '.join(columns)}"
        if len(header) == 1 and "," in header[0]:
            fix += " (this file looks comma-separated: convert it to TAB-separated)"
        raise FmiclError(f"missing column(s) {', '.join(missing)}; header found: {header}", where=f"{path}:1", fix=fix)
    index = {name: header.index(name) for name in (*columns, *optional) if name in header}
    out = []
    for line_no, row in enumerate(rows[1:], start=2):
        if len(row) != len(header):
            if not row:
                problem = "a blank line"
            elif len(row) < len(header):
                problem = f"too few fields ({len(row)}, the header has {len(header)})"
            else:
                problem = f"too many fields ({len(row)}, the header has {len(header)}): a TAB inside a text?"
            raise FmiclError(
                f"{problem} on line {line_no}",
                where=f"{path}:{line_no}",
                fix="each row needs one TAB-separated value per header column",
            )
        out.append((line_no, {name: row[i] for name, i in index.items()}))
    if not out:
        raise FmiclError("file has a header but no data rows", where=str(path))
    return out
