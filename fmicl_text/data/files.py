"""The text-file readers behind every input: any text file, headed TSV, and JSON lines.

TSV files are headed, TAB-separated, unquoted UTF-8 (sentences may begin with a ``"``, so there is
no quoting). A bad file fails at the door with its name and line number (missing columns or keys, a
row of the wrong width, a line that is not JSON, bytes that are not UTF-8, a binary file, a broken
gzip).
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import zlib
from pathlib import Path
from typing import Any

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


JSONL_FIX = 'a .jsonl file has one JSON object a line, e.g. {"_id": "d1", "text": "..."}'


def parse_json(text: str, where: str, first_line: int = 1, fix: str = JSONL_FIX) -> Any:
    """``json.loads(text)``, where ``text`` starts on line ``first_line`` of the file ``where``: an error names
    the file's line."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        line = first_line + exc.lineno - 1
        raise FmiclError(
            f"invalid JSON on line {line}: {exc.msg} (column {exc.colno})", where=f"{where}, line {line}", fix=fix
        ) from None


def read_jsonl(path: Path, required: dict[str, type | tuple[type, ...]]) -> list[tuple[int, dict[str, Any]]]:
    """(line number, object) for each non-blank line; each object must have the ``required`` keys and types."""
    out = []
    for line_no, line in enumerate(read_text(path).splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{path}:{line_no}"
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise FmiclError(f"line {line_no} is not valid JSON ({exc.msg})", where=where, fix=JSONL_FIX) from None
        if not isinstance(obj, dict):
            raise FmiclError(f"line {line_no} is not a JSON object", where=where, fix=JSONL_FIX)
        for key, kind in required.items():
            if key not in obj:
                raise FmiclError(
                    f"line {line_no} lacks the key {key!r}", where=where, fix=f"each line needs {', '.join(required)}"
                )
            if not isinstance(obj[key], kind) or isinstance(obj[key], bool):
                names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
                raise FmiclError(f"line {line_no}: {key!r} must be a {names}, got {obj[key]!r}", where=where)
        out.append((line_no, obj))
    if not out:
        raise FmiclError("file has no JSON lines", where=str(path), fix=JSONL_FIX)
    return out
