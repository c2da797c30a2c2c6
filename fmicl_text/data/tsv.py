"""Headed, TAB-separated, unquoted UTF-8 files: the one reader behind every TSV input.

Sentences may begin with a ``"``, so there is no quoting; a bad file fails at the door with its
name and line number (missing columns, a row of the wrong width, bytes that are not UTF-8, a binary
file, a broken gzip).
"""

from __future__ import annotations

import csv
import gzip
import io
import zlib
from pathlib import Path

from fmicl_text.errors import FmiclError

GZIP_MAGIC = b"\x1f\x8b"


def read_text(path: Path, *, label: str = "file", compressed: bool | None = None) -> str:
    """The file as text (gunzipped when ``compressed``, default: a ``.gz`` name), checked at the door.

    Every text input goes through here, so that a binary file, a gzip that is not one (or one without
    its ``.gz``) and non-UTF-8 bytes each get one message naming the file and line, not garbage or a
    ``UnicodeDecodeError`` later. ``label`` names the file in the messages ("training data file").
    An empty file gives "" (the callers say what an empty file means for them).
    """
    where = str(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise FmiclError(f"cannot read the {label}: {exc.strerror or exc}", where=where) from None
    if compressed is None:
        compressed = path.suffix.lower() == ".gz"
    if compressed and raw:
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as exc:
            raise FmiclError(
                f"{label} is not valid gzip ({exc})",
                where=where,
                fix="a .gz file must be gzip-compressed; if it is plain text, drop the .gz suffix",
            ) from None
    elif raw.startswith(GZIP_MAGIC):
        raise FmiclError(
            f"{label} is gzip-compressed but its name does not end in .gz",
            where=where,
            fix=f"rename it to {path.name}.gz, or decompress it",
        )
    nul = raw.find(b"\x00")
    if nul >= 0:
        line = _line_of(raw, nul)
        raise FmiclError(
            f"{label} is binary (a NUL byte on line {line}), not UTF-8 text",
            where=f"{where}:{line}",
            fix="pass a UTF-8 text file (UTF-16 text also has NUL bytes: save it as UTF-8)",
        )
    try:
        return raw.decode("utf-8-sig")  # -sig: a byte-order mark (Excel) is not part of the first field
    except UnicodeDecodeError as err:
        line = _line_of(raw, err.start)
        raise FmiclError(
            f"{label} is not valid UTF-8 (byte {raw[err.start : err.start + 1]!r} on line {line})",
            where=f"{where}:{line}",
            fix="re-save the file as UTF-8, e.g. iconv -f latin1 -t utf-8",
        ) from None


def _line_of(raw: bytes, offset: int) -> int:
    return raw.count(b"\n", 0, offset) + 1


def read_tsv(path: Path, columns: tuple[str, ...], optional: tuple[str, ...] = ()) -> list[tuple[int, dict[str, str]]]:
    """(line number, {column: value}) for each data row of a headed, TAB-separated, unquoted UTF-8 file.

    ``columns`` must be in the header; ``optional`` ones are read when present. Other columns are ignored.
    """
    text = read_text(path)
    if not text.strip():
        raise FmiclError(
            "file is empty" if not text else "file has only blank lines",
            where=str(path),
            fix=f"expected a header line ({', '.join(columns)}) and data rows",
        )
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
        raise FmiclError(
            "file has a header but no data rows", where=str(path), fix="add TAB-separated rows under the header"
        )
    return out
