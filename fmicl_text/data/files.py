"""The one way a data file comes in: checked at the door, parsed by ``datasets.load_dataset``.

Every file input goes through here: the training data (``data.readers``), the STS TSV files
(``evaluation.sts``) and the local MTEB task folders (``evaluation.mteb_tasks``).

1. **The door** (:class:`DataFile`): the file can be read; it is text (no NUL byte) in UTF-8; it is
   gzip when its name ends in ``.gz`` and only then; its header (TSV, CSV) or first object (JSON)
   and its first rows are well formed. A bad file fails here, naming the file and line.
2. **The load** (:meth:`DataFile.load`): ``datasets.load_dataset("text" | "csv" | "json",
   data_files=path)`` into an in-memory Arrow table; tabular columns are read as text, never
   guessed as numbers or missing values.
3. **The re-scan**: only when the load fails, or its table holds what the format does not allow (a
   short row, a missing key, a value of the wrong type, a NUL byte), is the whole file read again
   line by line, with the same checks as the door, to name the line at fault.

Formats: ``txt``, one row a line; ``tsv``, a header line, TAB-separated, **no quoting** (a sentence
may begin with ``"``); ``csv``, a header line, standard quoting, strictly parsed; ``jsonl``, one
JSON object a line (blank lines are skipped); ``json``, JSON lines or one array of objects. Every
row of a TSV or CSV file has one field per header column. Locations are ``path:line``; messages
say what is wrong on which line, then how to fix it.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import gzip
import io
import json
import tempfile
import zlib
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fmicl_text.errors import FmiclError

if TYPE_CHECKING:
    import datasets

GZIP_MAGIC = b"\x1f\x8b"
# How much of a file the door reads and checks row by row before the parser sees it. Every row of a
# small file is checked here; a larger file's later rows are checked only if the load finds a problem.
DOOR_BYTES = 1 << 16
KINDS = ("txt", "tsv", "csv", "jsonl", "json")
DELIMITERS = {"tsv": "\t", "csv": ","}
_DELIMITER_NAMES = {",": "comma", "\t": "TAB", ";": "semicolon", "|": "pipe"}

# What a JSON key may hold (Key.kind).
TEXT = "a string"
ID = "a string or an integer"
TEXTS = "a list of strings"


@dataclass(frozen=True)
class Key:
    """What a JSON key must hold: ``kind`` (TEXT, ID, TEXTS), whether it may be absent, whether null is allowed."""

    kind: str = TEXT
    required: bool = True
    nullable: bool = False


def read_text(path: Path, *, label: str = "file", compressed: bool | None = None) -> str:
    """The whole file as text (gunzipped when ``compressed``, default: a ``.gz`` name), checked.

    A binary file, a gzip that is not one (or one without its ``.gz``) and non-UTF-8 bytes each get one
    message naming the file and line, not garbage or a ``UnicodeDecodeError`` later. ``label`` names the
    file in the messages ("training data file"). An empty file gives "".
    """
    raw = _read_bytes(Path(path), label, compressed, limit=None)
    return _decode(raw, label, str(path), final=True)


def _read_bytes(path: Path, label: str, compressed: bool | None, limit: int | None) -> bytes:
    """The file's bytes, gunzipped, all of them or the first ``limit`` (+1, to tell whether there is more)."""
    if compressed is None:
        compressed = path.suffix.lower() == ".gz"
    size = -1 if limit is None else limit + 1
    try:
        if compressed:
            with gzip.open(path, "rb") as fh:
                return fh.read(size)
        with path.open("rb") as fh:
            raw = fh.read(size)
    except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
        raise FmiclError(
            f"{label} is not valid gzip ({exc})",
            where=str(path),
            fix="a .gz file must be gzip-compressed; if it is plain text, drop the .gz suffix",
        ) from None
    except OSError as exc:
        raise FmiclError(f"cannot read the {label}: {exc.strerror or exc}", where=str(path)) from None
    if raw.startswith(GZIP_MAGIC):  # (compressed files returned above)
        raise FmiclError(
            f"{label} is gzip-compressed but its name does not end in .gz",
            where=str(path),
            fix=f"rename it to {path.name}.gz, or decompress it",
        )
    return raw


def _decode(raw: bytes, label: str, where: str, *, final: bool) -> str:
    """UTF-8 text from ``raw`` (a byte-order mark dropped); a NUL byte or bytes that are not UTF-8 fail,
    naming their line. ``final=False``: ``raw`` is the head of the file, so it may end inside a character."""
    nul = raw.find(b"\x00")
    if nul >= 0:
        line = _line_of(raw, nul)
        raise FmiclError(
            f"{label} is binary (a NUL byte on line {line}), not UTF-8 text",
            where=f"{where}:{line}",
            fix="pass a UTF-8 text file (UTF-16 text also has NUL bytes: save it as UTF-8)",
        )
    # the mark is dropped by hand, not by utf-8-sig, so that error offsets count from the file's first byte
    start = len(codecs.BOM_UTF8) if raw.startswith(codecs.BOM_UTF8) else 0
    try:
        return codecs.getincrementaldecoder("utf-8")().decode(raw[start:], final=final)
    except UnicodeDecodeError as err:
        line = _line_of(raw, start + err.start)
        raise FmiclError(
            f"{label} is not valid UTF-8 (byte {raw[start + err.start : start + err.start + 1]!r} on line {line})",
            where=f"{where}:{line}",
            fix="re-save the file as UTF-8, e.g. iconv -f latin1 -t utf-8",
        ) from None


def _line_of(raw: bytes, offset: int) -> int:
    return raw.count(b"\n", 0, offset) + 1


def file_kind(path: Path) -> tuple[str | None, bool]:
    """(txt | tsv | csv | jsonl | json, or None when the suffix names none of them; whether it is gzipped)."""
    name = path.name.lower()
    compressed = name.endswith(".gz")
    base = name.removesuffix(".gz")
    for kind in KINDS:
        if base.endswith("." + kind):
            return kind, compressed
    return None, compressed


# --------------------------------------------------------------------------- messages (one wording per kind)


def _fields_error(path: Path, kind: str, line: int, fields: Sequence[str], width: int) -> FmiclError:
    got = len(fields)
    hint = ""
    if kind == "tsv" and got < width and any("," in f for f in fields):
        hint = " (is this line comma-separated? a .tsv needs TABs)"
    elif kind == "tsv" and got > width:
        hint = " (a TAB inside a sentence? a .tsv has no quoting)"
    elif kind == "csv" and got > width:
        hint = ' (a comma inside a sentence? quote the field: "...")'
    return FmiclError(
        f"line {line} has too {'few' if got < width else 'many'} fields: {got}, the header has {width}{hint}",
        where=f"{path}:{line}",
        fix=f"each row needs one {_DELIMITER_NAMES[DELIMITERS[kind]]}-separated field per header column",
    )


def _json_fix(keys: Mapping[str, Key] | None) -> str:
    if not keys:
        return "one JSON object a line, with named fields"
    kinds = {
        name: key.kind + (" or null" if key.nullable else "") + ("" if key.required else " (optional)")
        for name, key in keys.items()
    }
    return "one JSON object a line, with " + ", ".join(f"{name!r}: {kind}" for name, kind in kinds.items())


def _check_object(obj: Any, keys: Mapping[str, Key], at: str, where: str) -> None:
    """``obj`` (the JSON at ``at``, "line 3" or "item 3") is an object whose ``keys`` hold what they must."""
    if not isinstance(obj, dict):
        raise FmiclError(f"{at} is not a JSON object", where=where, fix=_json_fix(keys))
    for name, key in keys.items():
        if name not in obj:
            if key.required:
                raise FmiclError(f"{at} lacks the key {name!r}", where=where, fix=_json_fix(keys))
            continue
        value = obj[name]
        if value is None and (key.nullable or not key.required):
            continue
        if key.kind == TEXT:
            ok = isinstance(value, str)
        elif key.kind == ID:
            ok = isinstance(value, str | int) and not isinstance(value, bool)
        else:
            ok = isinstance(value, list) and all(isinstance(v, str) for v in value)
        if not ok:
            kind = key.kind + (" or null" if key.nullable else "")
            raise FmiclError(f"{at}: {name!r} must be {kind}, got {repr(value)[:60]}", where=where, fix=_json_fix(keys))


# --------------------------------------------------------------------------- the door


class DataFile:
    """One input file, checked at the door when made; :meth:`load` parses it.

    ``kind`` defaults to what the suffix says; ``label`` names the file in messages; ``empty_fix`` is
    the fix for an empty file; ``formats`` are the kinds the caller accepts (a one-column header with
    another kind's delimiter is then met with "rename it", else with "convert it"); ``arrays``: a JSON
    file may hold one array of objects.
    """

    def __init__(
        self,
        path: str | Path,
        kind: str | None = None,
        *,
        label: str = "file",
        compressed: bool | None = None,
        empty_fix: str | None = None,
        formats: Sequence[str] = (),
        arrays: bool = False,
    ) -> None:
        self.path = Path(path)
        guessed, gz = file_kind(self.path)
        self.kind = kind or guessed or "txt"
        self.compressed = gz if compressed is None else compressed
        self.label = label
        self.empty_fix = empty_fix
        self.array: list[Any] | None = None  # the objects of a JSON array (read whole at the door)
        raw = _read_bytes(self.path, label, self.compressed, limit=DOOR_BYTES)
        self.whole = len(raw) <= DOOR_BYTES  # the head is the whole file
        head = _decode(raw[:DOOR_BYTES], label, str(self.path), final=self.whole)
        if not self.whole:  # whole lines only; a first line longer than the head: read all of it
            cut = head.rfind("\n")
            if cut >= 0:
                head = head[: cut + 1]
            else:
                head, self.whole = read_text(self.path, label=label, compressed=self.compressed), True
        self.head = head
        if not head.strip() and self.whole:
            raise FmiclError(
                f"{label} is empty" if not head else f"{label} has only blank lines",
                where=str(self.path),
                fix=self._empty_fix(),
            )
        self.header: list[str] = ["text"]  # csv/tsv: the header's names; json: the first object's keys
        self.header_line = 1
        if self.kind in DELIMITERS:
            self._read_header(formats)
        elif self.kind in ("jsonl", "json"):
            self._read_first_object(arrays)

    def where(self, line: int | None = None) -> str:
        return str(self.path) if line is None else f"{self.path}:{line}"

    def _empty_fix(self) -> str:
        if self.empty_fix:
            return self.empty_fix
        if self.kind in DELIMITERS:
            return f"expected a header line and {_DELIMITER_NAMES[DELIMITERS[self.kind]]}-separated rows"
        if self.kind in ("jsonl", "json"):
            return _json_fix(None)
        return "expected one row a line"

    def _reader(self, text: str) -> Any:
        # TSV has no quoting (a sentence may begin with "); CSV has standard quoting, strictly parsed.
        quoting = csv.QUOTE_NONE if self.kind == "tsv" else csv.QUOTE_MINIMAL
        return csv.reader(io.StringIO(text, newline=""), delimiter=DELIMITERS[self.kind], quoting=quoting, strict=True)

    def _csv_error(self, err: csv.Error, line: int) -> FmiclError:
        return FmiclError(
            f"line {line} is not valid {self.kind.upper()}: {err}",
            where=self.where(line),
            fix='in a .csv, a field with a comma or a quote must be quoted ("..."), its quotes doubled ("")'
            if self.kind == "csv"
            else "a .tsv has one TAB between fields and no TAB or newline inside a field",
        )

    def _read_header(self, formats: Sequence[str]) -> None:
        reader = self._reader(self.head)
        try:
            row = next((row for row in reader if any(f.strip() for f in row)), None)
        except csv.Error as err:
            raise self._csv_error(err, reader.line_num) from None
        if row is None:
            raise FmiclError(f"{self.label} has only blank lines", where=str(self.path), fix=self._empty_fix())
        self.raw_header = row
        self.header = [name.strip() for name in row]
        self.header_line = reader.line_num
        if len(row) == 1:
            own = DELIMITERS[self.kind]
            for delimiter, name in _DELIMITER_NAMES.items():
                if delimiter != own and delimiter in row[0]:
                    other = {",": "csv", "\t": "tsv"}.get(delimiter)
                    if other in formats:
                        fix = f"rename it to .{other}"
                    elif len(formats) > 1:
                        fix = "convert it to comma-separated (.csv) or TAB-separated (.tsv)"
                    else:
                        fix = f"convert it to {_DELIMITER_NAMES[own]}-separated"
                    raise FmiclError(
                        f"the header looks {name}-separated, but a .{self.kind} file is read as "
                        f"{_DELIMITER_NAMES[own]}-separated",
                        where=self.where(self.header_line),
                        fix=fix,
                    )

    def _read_first_object(self, arrays: bool) -> None:
        text = self.head  # (a byte-order mark is dropped when decoding)
        if arrays and text.lstrip().startswith("["):  # one array: read whole (datasets would take strings too)
            full = read_text(self.path, label=self.label, compressed=self.compressed)
            try:
                items = json.loads(full)
            except json.JSONDecodeError as exc:
                raise FmiclError(
                    f"line {exc.lineno} is not valid JSON: {exc.msg} (column {exc.colno})",
                    where=self.where(exc.lineno),
                    fix="a .json file holds one array of objects [{...}, {...}], or one object a line",
                ) from None
            if not items:
                raise FmiclError(f"{self.label} holds an empty JSON array", where=str(self.path), fix=_json_fix(None))
            for i, obj in enumerate(items, 1):
                _check_object(obj, {}, f"item {i}", str(self.path))
            self.array = items
            self.header = list(items[0])
            return
        for line_no, line in enumerate(text.split("\n"), 1):
            if line.strip():
                obj = self._parse_line(line, line_no)
                _check_object(obj, {}, f"line {line_no}", self.where(line_no))
                self.header, self.header_line = list(obj), line_no
                return
        raise FmiclError(f"{self.label} has only blank lines", where=str(self.path), fix=self._empty_fix())

    def _parse_line(self, line: str, line_no: int) -> Any:
        try:
            return json.loads(line)
        except json.JSONDecodeError as exc:
            raise FmiclError(
                f"line {line_no} is not valid JSON: {exc.msg} (column {exc.colno})",
                where=self.where(line_no),
                fix="one complete JSON object a line",
            ) from None

    def require(self, columns: Sequence[str]) -> None:
        """The header has every one of ``columns`` (for files whose columns are fixed, not detected)."""
        missing = [name for name in columns if name not in self.header]
        if missing:
            raise FmiclError(
                f"missing column(s) {', '.join(missing)}; header found: {self.header}",
                where=self.where(self.header_line),
                fix=f"the header must have {_DELIMITER_NAMES[DELIMITERS[self.kind]]}-separated columns "
                f"{', '.join(columns)}",
            )

    # ----------------------------------------------------------------------- row checks (door and re-scan)

    def _scan(self, text: str, keys: Mapping[str, Key], blank_lines: str, *, whole: bool) -> None:
        """Check every row of ``text`` (the head, or the ``whole`` file) as :meth:`load` wants it; raise at the
        first row that is not."""
        if self.kind in DELIMITERS:
            self._scan_rows(text, blank_lines, whole)
        elif self.kind in ("jsonl", "json") and self.array is None:
            for line_no, line in enumerate(text.split("\n"), 1):
                if line.strip():
                    _check_object(self._parse_line(line, line_no), keys, f"line {line_no}", self.where(line_no))

    def _records(self, text: str) -> Iterator[tuple[int, list[str]]]:
        """(line number, fields) of each record after the header (a blank line is a record of no fields)."""
        reader = self._reader(text)
        try:
            for row in reader:
                if reader.line_num > self.header_line:
                    yield reader.line_num, row
        except csv.Error as err:
            raise self._csv_error(err, reader.line_num) from None

    def _scan_rows(self, text: str, blank_lines: str, whole: bool) -> None:
        width = len(self.header)
        blank_at = None
        rows = 0
        for line, fields in self._records(text):
            if len(fields) != width:
                if not any(f.strip() for f in fields):  # a blank or whitespace-only line
                    blank_at = blank_at or line
                    continue
                raise _fields_error(self.path, self.kind, line, fields, width)
            if blank_at is not None and blank_lines == "error":
                raise self._blank_error(blank_at)
            rows += 1
        if not rows and whole:
            raise FmiclError(
                f"{self.label} has a header but no data rows",
                where=str(self.path),
                fix=f"add {_DELIMITER_NAMES[DELIMITERS[self.kind]]}-separated rows under the header",
            )

    def _blank_error(self, line: int) -> FmiclError:
        return FmiclError(
            f"line {line} is blank", where=self.where(line), fix="remove the blank lines between the rows"
        )

    def rescan(self, keys: Mapping[str, Key], blank_lines: str, reason: BaseException | str) -> FmiclError:
        """The error to raise when the load failed or found what the format does not allow: the first bad line
        of the whole file, or (if every line passes) the parser's own reason."""
        self._scan(read_text(self.path, label=self.label, compressed=self.compressed), keys, blank_lines, whole=True)
        if isinstance(reason, BaseException):
            cause = reason.__cause__ or reason.__context__ or reason
            reason = f"{type(cause).__name__}: {str(cause).strip().splitlines()[0] if str(cause).strip() else ''}"
        return FmiclError(f"{self.label} could not be read ({reason})", where=str(self.path))

    # ----------------------------------------------------------------------- the load

    def load(self, columns: Sequence[str] | Mapping[str, Key] = (), *, blank_lines: str = "keep") -> Table:
        """Parse the file with ``datasets.load_dataset`` into a :class:`Table` of ``columns``.

        TSV and CSV: ``columns`` are header names, read as text; a blank line is a row of nulls
        (``blank_lines="keep"``), or an error unless only blank lines follow it (``"error"``: they are
        dropped). JSON: ``columns`` maps keys to what they hold (:class:`Key`); an ID is read as text, an
        absent optional key as null. Text: one column, ``text``, one row a line.
        """
        keys: Mapping[str, Key] = columns if isinstance(columns, Mapping) else {}
        self._scan(self.head, keys, blank_lines, whole=self.whole)  # the first rows, at the door
        if self.array is not None:
            for i, obj in enumerate(self.array, 1):
                _check_object(obj, keys, f"item {i}", str(self.path))
        try:
            data = self._load_dataset()
        except FmiclError:
            raise
        except Exception as err:  # noqa: BLE001 - whatever the parser raises, the re-scan names the line
            raise self.rescan(keys, blank_lines, err) from None
        if self.kind in DELIMITERS:
            return self._tabular(data, list(columns), blank_lines)
        if self.kind in ("jsonl", "json"):
            return self._json(data, keys)
        table = Table(self, data, first_line=1)
        if _has_nul(data.data.table):
            raise self.rescan(keys, blank_lines, "a NUL byte")
        return table

    def _load_dataset(self) -> datasets.Dataset:
        if self.kind in DELIMITERS:
            import datasets

            names = _pandas_names(self.raw_header)
            return _load(
                "csv",
                self.path,
                sep=DELIMITERS[self.kind],
                quoting=csv.QUOTE_NONE if self.kind == "tsv" else csv.QUOTE_MINIMAL,
                engine="python",  # the csv module's strict parsing, as at the door
                skiprows=self.header_line - 1,  # blank lines above the header
                skip_blank_lines=False,  # a blank line stays a row, so rows keep their line numbers
                keep_default_na=False,
                na_filter=False,  # "NA", "null" and "" are text
                # every field as written: pandas' python engine reads "007" as 7 even with dtype=object
                converters=dict.fromkeys(names, _as_written),
                index_col=False,
                encoding="utf-8-sig",
                features=datasets.Features({name: datasets.Value("string") for name in names}),
            )
        if self.kind == "txt":
            return _load("text", self.path, encoding="utf-8-sig")
        return _load("json", self.path)

    def _tabular(self, data: datasets.Dataset, columns: list[str], blank_lines: str) -> Table:
        import pyarrow.compute as pc

        arrow = data.data.table
        if arrow.num_columns != len(self.header):
            raise self.rescan({}, blank_lines, f"{arrow.num_columns} columns parsed, {len(self.header)} in the header")
        arrow = arrow.rename_columns(self.header)
        # pandas gives a short row nulls for its missing fields, and a blank line nulls only
        short = blank = None
        for column in arrow.columns:
            missing = column.is_null()
            empty = pc.invert(pc.greater(pc.utf8_length(pc.utf8_trim_whitespace(column)), 0).fill_null(False))
            short = missing if short is None else pc.or_(short, missing)
            blank = empty if blank is None else pc.and_(blank, empty)
        assert short is not None and blank is not None
        bad = pc.and_(short, pc.invert(blank))
        first_line = self.header_line + 1
        if pc.any(bad).as_py():
            if self.kind == "tsv":  # one line a row: the row tells the line
                row = pc.index(bad, True).as_py()
                fields = [v for v in (arrow.column(i)[row].as_py() for i in range(arrow.num_columns)) if v is not None]
                raise _fields_error(self.path, self.kind, first_line + row, fields, len(self.header))
            raise self.rescan({}, blank_lines, "a row with too few fields")
        if _has_nul(arrow):
            raise self.rescan({}, blank_lines, "a NUL byte")
        empty = pc.and_(short, blank)
        if blank_lines == "error" and pc.any(empty).as_py():
            # blank lines at the end are dropped; one with a row after it is an error
            flags = empty.to_numpy(zero_copy_only=False)
            last = int(len(flags) - flags[::-1].argmin()) if not flags.all() else 0
            if flags[:last].any():
                raise self._blank_error(first_line + int(flags.argmax()))
            arrow = arrow.slice(0, last)
        if not arrow.num_rows:
            raise FmiclError(f"{self.label} has a header but no data rows", where=str(self.path))
        import datasets

        unique = list(dict.fromkeys(columns or self.header))
        picked = arrow.select([self.header.index(name) for name in unique])
        return Table(self, datasets.Dataset(picked), first_line=first_line if self.kind == "tsv" else None)

    def _json(self, data: datasets.Dataset, keys: Mapping[str, Key]) -> Table:
        import datasets
        import pyarrow as pa
        import pyarrow.compute as pc

        arrow = data.data.table
        text, null = datasets.Value("string"), datasets.Value("null")
        out, wrong, unsure = {}, [], []
        for name, key in keys.items():
            if name not in arrow.column_names:  # the key is in no row
                if key.required:
                    wrong.append(name)
                out[name] = pa.nulls(arrow.num_rows, pa.string())
                continue
            column, feature = arrow.column(name), data.features[name]
            if key.kind == TEXTS:
                ok = isinstance(feature, datasets.List) and feature.feature in (text, null)
                bad_nulls = column.null_count + (pc.list_flatten(column).null_count if ok else 0)
            else:
                ok = feature in (text, null) or (key.kind == ID and feature == datasets.Value("int64"))
                bad_nulls = column.null_count if not key.nullable and key.required else 0
            mixed_ids = key.kind == ID and isinstance(feature, datasets.Json)  # strings and integers: allowed
            if (not ok and not mixed_ids) or bad_nulls:
                wrong.append(name)
            elif mixed_ids or (column.null_count and key.required):  # nulls allowed, absent keys not
                unsure.append(name)
            if mixed_ids:
                column = pa.array([None if v is None else str(v) for v in data[name]], pa.string())
            out[name] = column if wrong else column.cast(pa.list_(pa.string()) if key.kind == TEXTS else pa.string())
        if wrong or unsure:
            error = self.rescan(keys, "keep", f"key(s) {', '.join(map(repr, wrong or unsure))}")  # raises at a bad line
            if wrong:
                raise error
        table = pa.table(out) if out else arrow
        if _has_nul(table):
            raise self.rescan(keys, "keep", "a NUL byte")
        return Table(self, datasets.Dataset(table), first_line=None)

    def count_lines(self) -> int:
        """Lines in the file (a last line without its newline counts): for JSON lines, whose blank lines the
        parser skips."""
        compressed = self.compressed
        lines, last = 0, b"\n"
        opener = gzip.open if compressed else open
        with opener(self.path, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                lines += chunk.count(b"\n")
                last = chunk[-1:]
        return lines + (last != b"\n")


def _as_written(field: str | None) -> str | None:
    return field


def _pandas_names(header: Sequence[str]) -> list[str]:
    """The column names pandas gives a header: a repeated name gets ``.1``, ``.2`` (pandas' own rule)."""
    names = list(header)
    counts: Counter[str] = Counter()
    for i, name in enumerate(names):
        count = counts[name]
        while count > 0:
            counts[name] = count + 1
            name = f"{name}.{count}"
            count = counts[name]
        names[i] = name
        counts[name] = count + 1
    return names


def _has_nul(table: Any) -> bool:
    import pyarrow as pa
    import pyarrow.compute as pc

    for column in table.columns:
        if pa.types.is_list(column.type):
            column = pc.list_flatten(column)
        if pa.types.is_string(column.type) and pc.any(pc.match_substring(column, "\x00")).as_py():
            return True
    return False


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """No progress bars, and no log lines or warnings from ``datasets`` or pandas: errors are ours to tell."""
    import warnings

    import datasets

    bars = datasets.are_progress_bars_disabled()
    verbosity = datasets.utils.logging.get_verbosity()
    datasets.disable_progress_bars()
    datasets.utils.logging.set_verbosity(datasets.utils.logging.CRITICAL + 10)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        datasets.utils.logging.set_verbosity(verbosity)
        if not bars:
            datasets.enable_progress_bars()


def _load(builder: str, path: Path, **config: Any) -> datasets.Dataset:
    """``load_dataset(builder, data_files=path)``, held in memory; its Arrow cache is a temporary folder, removed
    after: nothing is left in the user's folders or Hugging Face cache, and an edited file is never read stale."""
    import datasets

    with _quiet(), tempfile.TemporaryDirectory(prefix="fmicl-load-") as cache:
        return datasets.load_dataset(
            builder, data_files=str(path), split="train", cache_dir=cache, keep_in_memory=True, **config
        )


def floats(column: Any) -> Any:
    """A text column as float64 numbers (numpy), NaN where a value is not a number: Arrow's parser, and Python's
    ``float`` for the whole column where Arrow's declines a value (Python's also takes "1_000", " 2 ")."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    try:
        return np.array(pc.cast(pc.utf8_trim_whitespace(column), pa.float64()), dtype=np.float64)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return np.array([_float(value) for value in column.to_pylist()], dtype=np.float64)


def _float(value: str | None) -> float:
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return float("nan")


@dataclass
class Table:
    """What :meth:`DataFile.load` read: ``data`` (one column per requested name), and where each row came from."""

    file: DataFile
    data: datasets.Dataset
    first_line: int | None  # row i is on line first_line + i (TSV, text); None: found by re-reading (CSV, JSON)
    _lines: list[int] | None = field(default=None, repr=False)

    def line(self, row: int) -> int:
        """The line of ``row`` (for a CSV record spanning lines, its last line)."""
        return self.first_line + row if self.first_line is not None else self.lines()[row]

    def lines(self) -> list[int]:
        """The line of every row; for CSV and JSON lines, found by reading the file again (once)."""
        if self.first_line is not None:
            return list(range(self.first_line, self.first_line + len(self.data)))
        if self._lines is None:
            text = read_text(self.file.path, label=self.file.label, compressed=self.file.compressed)
            if self.file.kind in DELIMITERS:
                self._lines = [line for line, _ in self.file._records(text)]
            else:
                self._lines = [n for n, line in enumerate(text.split("\n"), 1) if line.strip()]
        return self._lines

    def where(self, row: int) -> str:
        if self.file.array is not None:
            return f"{self.file.path} (item {row + 1})"
        return self.file.where(self.line(row))
