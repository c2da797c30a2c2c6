"""Training data for ``--train-data``: a file or a dataset name, read into (anchor, positive[, negative]).

The output columns are what sentence-transformers losses consume, in order: ``anchor``,
``positive`` and, when the input has a hard negative, ``negative``.

How ``spec`` is resolved, first match wins:

1. an existing file, read by its suffix (below); a file without a data suffix (such as a stray
   ``wiki`` in the working folder) does not hide the corpus name spelled the same;
2. a name of :data:`~fmicl_text.data.home.TRAIN_CORPORA`: its file in the data home, else its Hub copy;
3. a Hub dataset id ``owner/name`` or ``owner/name:split`` (default split ``train``; the split may
   be a slice such as ``train[:10000]``), e.g. ``sentence-transformers/all-nli:train``;
4. anything else is an error (with the closest corpus name).

File formats (UTF-8; a ``.gz`` suffix is decompressed first, the suffix before it picks the format):

* ``.txt`` (and ``.gz`` of any other text): one sentence per line. Each sentence is both anchor and
  positive: unsupervised SimCSE gets its two views from dropout, not from the data.
* ``.csv`` (standard quoting) and ``.tsv`` (TAB, no quoting: sentences may begin with ``"``), with
  a header row; ``.jsonl`` (one object a line) and ``.json`` (JSON lines, or one array of objects).
  Columns are detected by name, case-insensitively, first match wins: the sets of
  :data:`TRIPLET_COLUMNS`, then :data:`PAIR_COLUMNS`, then one of :data:`SINGLE_COLUMNS` (read
  like ``.txt``). ``columns={"anchor": ..., "positive": ..., "negative": ...}`` (``data.columns``,
  ``--columns anchor=COL,positive=COL``) maps them
  explicitly (``anchor`` alone means unsupervised). Other columns are ignored.

Cleaning: fields are stripped; a blank line, or a row with a blank field, is dropped and counted;
exact duplicate rows are counted but kept (dropping them would change the corpus the user named);
order is kept. Sentences are not truncated here: the tokenizer does it (``max_seq_length``).

Hub datasets come through ``datasets.load_dataset`` and are cleaned on their Arrow table. Local files
are read here, once, into the dataset: ``load_dataset("text"|"csv"|"json")`` would parse them too, but
not with these checks of every line (TSV without quoting, a row of the wrong width, a JSON line that
does not parse, each named by file and line); reading the 200k-line ``wiki`` file this way is no
slower than ``load_dataset("text")`` plus the cleaning ``map``.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fmicl_text.data.files import parse_json, read_text
from fmicl_text.data.home import ENV_VAR, TRAIN_CORPORA, data_home
from fmicl_text.errors import FmiclError, did_you_mean

if TYPE_CHECKING:
    import os

    import datasets

ROLES = ("anchor", "positive", "negative")
# Known column sets, tried in this order (case-insensitive). Hard-negative triplets first so a
# triplet file is never read as pairs.
TRIPLET_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("sent0", "sent1", "hard_neg"),
    ("anchor", "positive", "negative"),
    ("sentence1", "sentence2", "hard_negative"),
    ("query", "positive", "negative"),
)
PAIR_COLUMNS: tuple[tuple[str, str], ...] = (
    ("sent0", "sent1"),
    ("anchor", "positive"),
    ("sentence1", "sentence2"),
    ("query", "positive"),
)
SINGLE_COLUMNS: tuple[str, ...] = ("text", "sentence", "sent0")
# A pair file with one of these is labelled data (NLI classes, STS scores): its pairs are not all
# positives, so it is not read as pairs unless the user maps the columns explicitly.
LABEL_COLUMNS: tuple[str, ...] = ("label", "labels", "gold_label", "score")
SUPPORTED_SUFFIXES: tuple[str, ...] = (".txt", ".csv", ".tsv", ".jsonl", ".json", ".gz")
HUB_ID = re.compile(r"^(?P<repo>[A-Za-z0-9][\w.-]*/[\w.-]+)(?::(?P<split>[\w.\[\]:%+-]+))?$")
_DELIMITER_NAMES = {",": "comma", "\t": "TAB", ";": "semicolon", "|": "pipe"}
_EMPTY_FIX = "pass the file with the sentences: one a line (.txt), or a header and rows (.csv, .tsv, .jsonl)"


@dataclass
class DataReport:
    """What was read and what cleaning found; ``summary()`` is the line for logs and the model card."""

    source: str  # the file path, or the Hub id (with split)
    format: str  # txt, txt.gz, csv, tsv, jsonl, json (+ .gz), or hub
    rows: int  # rows in the returned dataset
    blank_dropped: int  # blank lines and rows with a blank field, dropped
    duplicates: int  # rows of the returned dataset equal to an earlier one (kept)
    columns: list[str]  # output columns: anchor, positive[, negative]
    mode: str  # "unsupervised" | "pairs" | "triplets"
    input_columns: list[str] = field(default_factory=list)  # the input column behind each output one
    rows_before_limit: int | None = None  # rows after cleaning, before max_samples
    name: str | None = None  # the corpus name when spec was one

    def summary(self) -> str:
        # A named corpus shows its name and file name, not the machine's data-home path.
        origin = f"{self.name} ({Path(self.source).name})" if self.name else self.source
        count = f"{self.rows:,} rows"
        if self.rows_before_limit is not None and self.rows_before_limit > self.rows:
            count += f" (first {self.rows:,} of {self.rows_before_limit:,})"
        if self.mode == "unsupervised":
            cols = f"anchor = positive = {self.input_columns[0] if self.input_columns else 'text'}"
        else:
            cols = ", ".join(f"{out}<-{src}" for out, src in zip(self.columns, self.input_columns, strict=True))
        return (
            f"{origin} [{self.format}]: {count}, {self.mode} ({cols}); "
            f"{self.blank_dropped:,} blank dropped, {self.duplicates:,} duplicates kept"
        )


@dataclass
class _Table:
    mode: str
    inputs: list[str]  # input column per output column (anchor, positive[, negative])
    values: list[list[str]]  # the cleaned fields, one list per distinct input column
    blank: int


def load_training_data(
    spec: str,
    *,
    data_dir: str | os.PathLike | None = None,
    max_samples: int | None = None,
    columns: dict[str, str] | None = None,
) -> tuple[datasets.Dataset, DataReport]:
    """Read ``spec`` (a file, a corpus name or a Hub id) into a dataset of anchor/positive[/negative].

    ``max_samples`` keeps the first N rows after cleaning, not a random sample: the same N rows
    whatever the seed, so runs differ only by what the seed controls in training (shuffling is the
    trainer's job).
    Raises :class:`FmiclError` for anything the user can fix.
    """
    if max_samples is not None and max_samples < 1:
        raise FmiclError(f"max_samples must be a positive number of rows, not {max_samples}")
    if columns is not None:
        check_column_mapping(columns)

    path = Path(spec).expanduser()
    name = None
    if path.is_file() and (spec not in TRAIN_CORPORA or spec.lower().endswith(SUPPORTED_SUFFIXES)):
        table, fmt, source = _read_file(path, columns), _file_format(path), str(spec)
    elif spec in TRAIN_CORPORA:
        name, corpus = spec, TRAIN_CORPORA[spec]
        local = data_home(data_dir) / corpus.local
        if local.is_file():
            table, fmt, source = _read_file(local, columns), _file_format(local), str(local)
        elif corpus.hub is None:
            raise FmiclError(
                f"training corpus {spec!r} is not in the data home, and it has no Hub copy",
                where=f"looked for {local}",
                fix=f"pass --data-dir DIR or set {ENV_VAR} to a folder with {corpus.local}",
            )
        else:
            hub = corpus.hub
            source = f"{hub.path}:{hub.split}" + (f" ({hub.data_files})" if hub.data_files else "")
            try:
                ds = _hub_load(hub.path, hub.split, hub.data_files)
            except Exception as err:
                raise FmiclError(
                    f"training corpus {spec!r} is neither in the data home nor reachable on the Hub",
                    where=f"looked for {local}; Hub {source}: {_reason(err)}",
                    fix=(
                        f"pass --data-dir DIR or set {ENV_VAR} to a folder with {corpus.local}, "
                        f"or go online (unset HF_HUB_OFFLINE / HF_DATASETS_OFFLINE) to download it"
                    ),
                ) from err
            return _hub_dataset(ds, source, columns, name, max_samples)
    elif path.is_dir():
        raise FmiclError(f"training data {spec!r} is a folder, not a file", where=str(path), fix=_spec_fix())
    elif (m := HUB_ID.match(spec)) and not _looks_like_file(spec):
        repo, split = m["repo"], m["split"] or "train"
        source = f"{repo}:{split}"
        try:
            ds = _hub_load(repo, split, None)
        except Exception as err:
            raise FmiclError(
                f"training data {spec!r} is not a file or a known corpus name, and loading it from the Hub failed",
                where=f"Hub {source}: {_reason(err)}",
                fix=(
                    "check the id and split (syntax owner/name or owner/name:split), go online, "
                    f"or pass a local file; {did_you_mean(spec, TRAIN_CORPORA)}"
                ),
            ) from err
        return _hub_dataset(ds, source, columns, None, max_samples)
    elif _looks_like_file(spec):
        raise FmiclError(f"training data file not found: {spec}", where=str(path.absolute()), fix=_spec_fix())
    else:
        raise FmiclError(
            f"training data {spec!r} is not a file, a known corpus name or a Hub id (owner/name[:split])",
            fix=did_you_mean(spec, TRAIN_CORPORA),
        )
    return _build(table, source=source, fmt=fmt, name=name, max_samples=max_samples)


def _build(table: _Table, *, source: str, fmt: str, name: str | None, max_samples: int | None):
    import datasets

    total = len(table.values[0])
    values = [col[:max_samples] for col in table.values] if max_samples else table.values
    rows = len(values[0])
    duplicates = rows - len(set(zip(*values, strict=True))) if len(values) > 1 else rows - len(set(values[0]))
    out = ["anchor", "positive"] if table.mode == "unsupervised" else list(ROLES[: len(table.inputs)])
    if table.mode == "unsupervised":
        data = {"anchor": values[0], "positive": values[0]}
    else:
        data = dict(zip(out, values, strict=True))
    report = DataReport(
        source=source,
        format=fmt,
        rows=rows,
        blank_dropped=table.blank,
        duplicates=duplicates,
        columns=out,
        mode=table.mode,
        input_columns=list(table.inputs),
        rows_before_limit=total,
        name=name,
    )
    return datasets.Dataset.from_dict(data), report


# --- resolution helpers -------------------------------------------------------------------------


def _hub_load(path: str, split: str, data_files: str | None):
    # Imported here: `datasets` is slow to import and only needed when the data comes from the Hub.
    import datasets

    return datasets.load_dataset(path, data_files=data_files, split=split)


def _reason(err: BaseException) -> str:
    """One short line from a library exception (the user needs the gist, not the traceback)."""
    text = str(err).strip().splitlines()
    line = text[0] if text else ""
    line = line if len(line) <= 200 else line[:197] + "..."
    return f"{type(err).__name__}: {line}" if line else type(err).__name__


def _looks_like_file(spec: str) -> bool:
    lower = spec.lower()
    return (
        lower.endswith(SUPPORTED_SUFFIXES)
        or spec.startswith((".", "/", "~", "\\"))
        or spec.count("/") > 1
        or "\\" in spec
    )


def _spec_fix() -> str:
    corpora = "; ".join(f"{key} = {corpus.about}" for key, corpus in sorted(TRAIN_CORPORA.items()))
    return f"pass a file ({', '.join(SUPPORTED_SUFFIXES)}), a Hub id owner/name[:split] or a corpus name: {corpora}"


def check_column_mapping(columns: dict[str, str]) -> None:
    """A column mapping names output roles (anchor, positive, negative) with input column names."""
    unknown = [k for k in columns if k not in ROLES]
    if unknown:
        raise FmiclError(
            f"the column mapping (data.columns) has unknown output column(s) {unknown}",
            fix=f"keys must be among {', '.join(ROLES)}, e.g. --columns anchor=premise,positive=hypothesis",
        )
    bad = {k: v for k, v in columns.items() if not isinstance(v, str) or not v.strip()}
    if bad:
        raise FmiclError(f"the column mapping (data.columns) needs column names, got {bad}")
    if "anchor" not in columns or ("negative" in columns and "positive" not in columns):
        raise FmiclError(
            f"the column mapping (data.columns) must map anchor (alone: unsupervised), anchor and positive "
            f"(pairs) or all three (triplets); got {columns}",
        )


# --- column detection ---------------------------------------------------------------------------


def _choose_columns(available: Sequence[str], columns: dict[str, str] | None, where: str) -> tuple[str, list[str]]:
    """The mode and the input column names for anchor, positive[, negative] (one name: unsupervised)."""
    by_lower: dict[str, str] = {}
    for col in available:
        by_lower.setdefault(col.strip().lower(), col)
    if columns is not None:
        picked = []
        for role in ROLES:
            if role not in columns:
                continue
            want = columns[role]
            col = want if want in available else by_lower.get(want.strip().lower())
            if col is None:
                raise FmiclError(
                    f"the column mapping (data.columns) sends {role} to {want!r}, which is not a column of the data",
                    where=where,
                    fix=f"columns found: {list(available)}",
                )
            picked.append(col)
        mode = {1: "unsupervised", 2: "pairs", 3: "triplets"}[len(picked)]
        return mode, picked
    for names in TRIPLET_COLUMNS:
        if all(n in by_lower for n in names):
            return "triplets", [by_lower[n] for n in names]
    for names in PAIR_COLUMNS:
        if all(n in by_lower for n in names):
            labels = [by_lower[n] for n in LABEL_COLUMNS if n in by_lower]
            if labels:
                raise FmiclError(
                    f"the data has a {labels[0]!r} column: its {names} pairs are labelled (NLI classes "
                    "or similarity scores), not all positives, so they are not used as pairs",
                    where=where,
                    fix=(
                        "use hard-negative triplets (sent0, sent1, hard_neg), keep only the positive pairs, "
                        "or map them explicitly if every pair is positive: "
                        f"--columns anchor={by_lower[names[0]]},positive={by_lower[names[1]]} (recipe: data.columns)"
                    ),
                )
            return "pairs", [by_lower[n] for n in names]
    for n in SINGLE_COLUMNS:
        if n in by_lower:
            return "unsupervised", [by_lower[n]]

    def sets(groups: Iterable[Sequence[str]]) -> str:
        return " ".join("(" + ", ".join(g) + ")" for g in groups)

    accepted = (
        f"triplets {sets(TRIPLET_COLUMNS)}; pairs {sets(PAIR_COLUMNS)}; "
        f"one column (unsupervised) {' | '.join(SINGLE_COLUMNS)}"
    )
    raise FmiclError(
        f"no known columns in {list(available)}",
        where=where,
        fix=(
            f"name the columns as one of these sets (case-insensitive): {accepted}; or map them "
            "with --columns anchor=COL,positive=COL[,negative=COL] (recipe: data.columns)"
        ),
    )


# --- reading ------------------------------------------------------------------------------------


def _file_format(path: Path) -> str:
    """txt, csv, tsv, jsonl or json, plus ``.gz`` when compressed."""
    name = path.name.lower()
    gz = name.endswith(".gz")
    base = name[:-3] if gz else name
    for kind in ("csv", "tsv", "jsonl", "json", "txt"):
        if base.endswith("." + kind):
            return kind + (".gz" if gz else "")
    if gz:
        return "txt.gz"
    raise FmiclError(
        f"unsupported training data file type: {path.name}",
        where=str(path),
        fix=f"use one of {', '.join(SUPPORTED_SUFFIXES)} (.gz: compressed, e.g. .txt.gz, .tsv.gz)",
    )


def _read_file(path: Path, columns: dict[str, str] | None) -> _Table:
    fmt = _file_format(path)
    kind = fmt.removesuffix(".gz")
    text = _read_text(path, compressed=fmt.endswith(".gz"))
    where = str(path)
    if kind == "txt":
        if columns is not None:
            raise FmiclError(
                "a column mapping (data.columns) applies to csv/tsv/jsonl files and Hub datasets, "
                "not to one-sentence-a-line text",
                where=where,
            )
        return _read_lines(text, where)
    if kind in ("csv", "tsv"):
        return _read_csv(text, kind, where, columns)
    return _read_json(text, where, columns)


def _read_text(path: Path, *, compressed: bool) -> str:
    """The file's text; binary files, broken gzip and non-UTF-8 bytes are caught by the shared ``read_text``."""
    text = read_text(path, label="training data file", compressed=compressed)
    if not text:
        raise FmiclError("training data file is empty", where=str(path), fix=_EMPTY_FIX)
    return text


def _read_lines(text: str, where: str) -> _Table:
    # split("\n"), not splitlines(): the latter also splits on U+2028, \x0c, \x1c... inside sentences.
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    kept = [s for s in (line.strip() for line in lines) if s]
    if not kept:
        raise FmiclError("no sentences: the training data file has only blank lines", where=where, fix=_EMPTY_FIX)
    return _Table("unsupervised", ["line"], [kept], len(lines) - len(kept))


def _read_csv(text: str, kind: str, where: str, columns: dict[str, str] | None) -> _Table:
    delimiter = "\t" if kind == "tsv" else ","
    # TSV has no quoting (a sentence may begin with "); CSV uses standard quoting, strictly parsed.
    quoting = csv.QUOTE_NONE if kind == "tsv" else csv.QUOTE_MINIMAL
    reader = csv.reader(io.StringIO(text), delimiter=delimiter, quoting=quoting, strict=True)
    try:
        header = next((row for row in reader if row), None)
        if header is None:
            raise FmiclError("no sentences: the training data file has only blank lines", where=where, fix=_EMPTY_FIX)
        header = [h.strip() for h in header]
        if len(header) == 1:
            _check_delimiter(header[0], kind, where, reader.line_num)
        mode, inputs = _choose_columns(header, columns, f"{where}, line {reader.line_num} (header)")
        unique = list(dict.fromkeys(inputs))
        idx = [header.index(c) for c in unique]
        width = len(header)
        cols: list[list[str]] = [[] for _ in unique]
        blank = data_rows = 0
        for row in reader:
            data_rows += 1
            if len(row) != width:
                if not any(f.strip() for f in row):  # a blank or whitespace-only line
                    blank += 1
                    continue
                if len(row) < width or any(f.strip() for f in row[width:]):
                    _bad_width(row, width, kind, f"{where}, line {reader.line_num}")
            blank += not _add_row(cols, [row[i].strip() for i in idx])
    except csv.Error as err:
        raise FmiclError(
            f"malformed {kind.upper()}: {err}",
            where=f"{where}, line {reader.line_num}",
            fix='in a .csv, a field with a comma or a quote must be quoted ("..."), its quotes doubled ("")'
            if kind == "csv"
            else "a .tsv has one TAB between fields and no TAB or newline inside a field",
        ) from err
    if not data_rows:
        raise FmiclError("no rows: the training data file has a header and nothing else", where=where)
    if not cols[0]:
        raise FmiclError(f"no usable rows: all {data_rows:,} rows are blank or have a blank field", where=where)
    return _Table(mode, inputs, _expand(cols, unique, inputs), blank)


def _check_delimiter(field_: str, kind: str, where: str, line: int) -> None:
    """A one-column header that contains another delimiter means the wrong file type."""
    for delim, label in _DELIMITER_NAMES.items():
        if delim in field_ and delim != ("\t" if kind == "tsv" else ","):
            expected = "TAB" if kind == "tsv" else "comma"
            fix = {",": "rename it to .csv", "\t": "rename it to .tsv"}.get(
                delim, "convert it to comma-separated (.csv) or TAB-separated (.tsv)"
            )
            raise FmiclError(
                f"the header looks {label}-separated, but a .{kind} file is read as {expected}-separated",
                where=f"{where}, line {line}: {field_[:120]!r}",
                fix=fix,
            )


def _bad_width(row: list[str], width: int, kind: str, where: str) -> None:
    n = len(row)
    hint = ""
    if kind == "tsv" and n < width and any("," in f for f in row):
        hint = " (is this line comma-separated? a .tsv needs TABs)"
    elif kind == "tsv" and n > width:
        hint = " (a TAB inside a sentence? a .tsv has no quoting)"
    raise FmiclError(
        f"a row has {'too few' if n < width else 'too many'} fields: {n}, the header has {width}{hint}",
        where=where,
        fix="every row needs one field per header column",
    )


def _expand(cols: list[list[str]], unique: list[str], inputs: list[str]) -> list[list[str]]:
    """One value list per output column (the same input column may feed two roles)."""
    return [cols[unique.index(c)] for c in inputs] if len(unique) != len(inputs) else cols


def _read_json(text: str, where: str, columns: dict[str, str] | None) -> _Table:
    records: Iterable[tuple[str, Any]]
    if text.lstrip().startswith("["):  # a .json holding one array of objects
        items = parse_json(
            text, where, 1, "a .json file holds one array of objects [{...}, {...}], or one object a line"
        )
        records = ((f"item {i + 1}", obj) for i, obj in enumerate(items))
        blank_lines = 0
    else:
        lines = text.split("\n")
        if lines[-1] == "":
            lines.pop()
        records = _json_lines(lines, where)
        blank_lines = sum(1 for line in lines if not line.strip())
    mode: str | None = None
    inputs: list[str] = []
    unique: list[str] = []
    cols: list[list[str]] = []
    blank = data_rows = 0
    for loc, obj in records:
        if not isinstance(obj, dict):
            raise FmiclError(
                f"expected a JSON object with named fields, found {type(obj).__name__}",
                where=f"{where}, {loc}",
            )
        if mode is None:
            mode, inputs = _choose_columns(list(obj), columns, f"{where}, {loc} (first row)")
            unique = list(dict.fromkeys(inputs))
            cols = [[] for _ in unique]
        data_rows += 1
        vals = []
        for key in unique:
            if key not in obj:
                raise FmiclError(
                    f"a row has no key {key!r} (the first row set the columns {inputs})",
                    where=f"{where}, {loc}",
                )
            vals.append(_text(obj[key], key, f"{where}, {loc}"))
        blank += not _add_row(cols, vals)
    if not data_rows:
        raise FmiclError("no rows: the training data file has only blank lines or an empty array", where=where)
    if not cols[0]:
        raise FmiclError(f"no usable rows: all {data_rows:,} rows have a blank field", where=where)
    assert mode is not None
    return _Table(mode, inputs, _expand(cols, unique, inputs), blank + blank_lines)


def _text(value: Any, key: str, where: str) -> str:
    """A JSON or Hub field as stripped text: None counts as blank, anything not a string is an error."""
    if value is None:
        return ""
    if not isinstance(value, str):
        raise FmiclError(
            f"field {key!r} is {type(value).__name__}, not text: {repr(value)[:60]}",
            where=where,
            fix=f"every {key!r} must be a JSON string (or null to drop the row)",
        )
    return value.strip()


def _add_row(cols: list[list[str]], vals: list[str]) -> bool:
    """Append a row of fields to the columns unless a field is blank; says whether it was kept."""
    if not all(vals):
        return False
    for col, v in zip(cols, vals, strict=True):
        col.append(v)
    return True


def _json_lines(lines: list[str], where: str) -> Iterable[tuple[str, Any]]:
    for i, line in enumerate(lines, 1):
        if line.strip():
            yield f"line {i}", parse_json(line, where, i, "a .jsonl file has one complete JSON object per line")


def _hub_dataset(ds: Any, source: str, columns: dict[str, str] | None, name: str | None, max_samples: int | None):
    """A loaded Hub dataset, with the same column detection and cleaning as a file, done on its Arrow
    table (no round trip through Python lists): strip, drop rows with a blank or null field, count."""
    import datasets
    import pyarrow as pa
    import pyarrow.compute as pc

    where = f"Hub dataset {source}"
    mode, inputs = _choose_columns(list(ds.column_names), columns, where)
    unique = list(dict.fromkeys(inputs))
    table = ds.select_columns(unique).with_format("arrow")[:]  # honours any indices mapping (a slice, a select)
    for key in unique:
        kind = table.schema.field(key).type
        if not (pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_null(kind)):
            raise FmiclError(
                f"column {key!r} holds {kind}, not text", where=where, fix="map text columns with --columns"
            )
    stripped = {key: pc.utf8_trim_whitespace(table.column(key).cast(pa.string())) for key in unique}
    keep = None
    for column in stripped.values():
        usable = pc.and_(pc.is_valid(column), pc.greater(pc.utf8_length(column), 0)).fill_null(False)
        keep = usable if keep is None else pc.and_(keep, usable)
    clean = pa.table(stripped).filter(keep)
    if not clean.num_rows:
        raise FmiclError("no usable rows in the Hub dataset (empty, or every row has a blank field)", where=where)
    total = clean.num_rows
    if max_samples:
        clean = clean.slice(0, max_samples)
    distinct = clean.group_by(unique).aggregate([]).num_rows
    out = ["anchor", "positive"] if mode == "unsupervised" else list(ROLES[: len(inputs)])
    sources = [inputs[0], inputs[0]] if mode == "unsupervised" else inputs
    result = pa.table({role: clean.column(key) for role, key in zip(out, sources, strict=True)})
    report = DataReport(
        source=source,
        format="hub",
        rows=clean.num_rows,
        blank_dropped=table.num_rows - total,
        duplicates=clean.num_rows - distinct,
        columns=out,
        mode=mode,
        input_columns=list(inputs),
        rows_before_limit=total,
        name=name,
    )
    return datasets.Dataset(result), report
