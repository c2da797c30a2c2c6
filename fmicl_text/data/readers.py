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

Files and Hub datasets both come through ``datasets.load_dataset`` (files by way of
:mod:`fmicl_text.data.files`, which checks them first and names the file and line of a bad row) and
are cleaned by one function on their Arrow table (:func:`_clean`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fmicl_text.data.files import TEXT, DataFile, Key, file_kind
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
    if path.is_file() and (spec not in TRAIN_CORPORA or spec.lower().endswith(SUPPORTED_SUFFIXES)):
        return _from_file(path, columns, source=str(spec), name=None, max_samples=max_samples)
    elif spec in TRAIN_CORPORA:
        name, corpus = spec, TRAIN_CORPORA[spec]
        local = data_home(data_dir) / corpus.local
        if local.is_file():
            return _from_file(local, columns, source=str(local), name=name, max_samples=max_samples)
        if corpus.hub is None:
            raise FmiclError(
                f"training corpus {spec!r} is not in the data home, and it has no Hub copy",
                where=f"looked for {local}",
                fix=f"pass --data-dir DIR or set {ENV_VAR} to a folder with {corpus.local}",
            )
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
    raise FmiclError(
        f"training data {spec!r} is not a file, a known corpus name or a Hub id (owner/name[:split])",
        fix=did_you_mean(spec, TRAIN_CORPORA),
    )


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


# --- reading and cleaning ---------------------------------------------------------------------


def _file_format(path: Path) -> str:
    """txt, csv, tsv, jsonl or json, plus ``.gz`` when compressed (a ``.gz`` of anything else: txt.gz)."""
    kind, gz = file_kind(path)
    if kind is None and not gz:
        raise FmiclError(
            f"unsupported training data file type: {path.name}",
            where=str(path),
            fix=f"use one of {', '.join(SUPPORTED_SUFFIXES)} (.gz: compressed, e.g. .txt.gz, .tsv.gz)",
        )
    return (kind or "txt") + (".gz" if gz else "")


def _from_file(path: Path, columns: dict[str, str] | None, *, source: str, name: str | None, max_samples: int | None):
    """A training data file through the shared reader (checks, then ``load_dataset``), then :func:`_clean`."""
    fmt = _file_format(path)
    kind = fmt.removesuffix(".gz")
    file = DataFile(
        path,
        kind,
        label="training data file",
        compressed=fmt.endswith(".gz"),
        empty_fix=_EMPTY_FIX,
        formats=("csv", "tsv"),
        arrays=True,
    )
    skipped = 0  # blank lines the parser skips (JSON lines); other formats keep them as rows, dropped by _clean
    if kind == "txt":
        if columns is not None:
            raise FmiclError(
                "a column mapping (data.columns) applies to csv/tsv/jsonl files and Hub datasets, "
                "not to one-sentence-a-line text",
                where=str(path),
            )
        mode, inputs = "unsupervised", ["line"]
        data = file.load().data.rename_column("text", "line")
    else:
        mode, inputs = _choose_columns(file.header, columns, file.where(file.header_line))
        unique = list(dict.fromkeys(inputs))
        if kind in ("csv", "tsv"):
            data = file.load(unique).data
        else:  # a null is a blank field; a missing key or a value that is not text is an error
            data = file.load({key: Key(TEXT, nullable=True) for key in unique}).data
            skipped = 0 if file.array is not None else file.count_lines() - len(data)
    return _clean(data, mode, inputs, source=source, fmt=fmt, name=name, max_samples=max_samples, skipped=skipped)


def _hub_dataset(ds: Any, source: str, columns: dict[str, str] | None, name: str | None, max_samples: int | None):
    mode, inputs = _choose_columns(list(ds.column_names), columns, f"Hub dataset {source}")
    return _clean(ds, mode, inputs, source=source, fmt="hub", name=name, max_samples=max_samples)


def _clean(
    ds: Any,
    mode: str,
    inputs: list[str],
    *,
    source: str,
    fmt: str,
    name: str | None,
    max_samples: int | None,
    skipped: int = 0,
):
    """The cleaning of every training dataset, file or Hub, on its Arrow table (no round trip through Python
    lists): strip the fields of the ``inputs`` columns, drop a row with a blank or null field, count; keep
    ``max_samples`` rows; name the columns anchor, positive[, negative]. ``skipped``: blank lines the parser
    already dropped, counted with the rest."""
    import datasets
    import pyarrow as pa
    import pyarrow.compute as pc

    where = source if fmt != "hub" else f"Hub dataset {source}"
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
        rows = table.num_rows + skipped
        raise FmiclError(
            f"no usable rows: all {rows:,} rows are blank or have a blank field" if rows else "no rows",
            where=where,
            fix="rows need a text in every column used (blank and null fields drop the row)",
        )
    total = clean.num_rows
    if max_samples:
        clean = clean.slice(0, max_samples)
    distinct = clean.group_by(unique).aggregate([]).num_rows
    out = ["anchor", "positive"] if mode == "unsupervised" else list(ROLES[: len(inputs)])
    sources = [inputs[0], inputs[0]] if mode == "unsupervised" else inputs
    result = pa.table({role: clean.column(key) for role, key in zip(out, sources, strict=True)})
    report = DataReport(
        source=source,
        format=fmt,
        rows=clean.num_rows,
        blank_dropped=skipped + table.num_rows - total,
        duplicates=clean.num_rows - distinct,
        columns=out,
        mode=mode,
        input_columns=list(inputs),
        rows_before_limit=total,
        name=name,
    )
    return datasets.Dataset(result), report
