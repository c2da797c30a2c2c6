"""The one reader of data files: the door, the load through ``datasets.load_dataset``, the re-scan that names a line."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from fmicl_text.data import files
from fmicl_text.data.files import DOOR_BYTES, ID, TEXT, TEXTS, DataFile, Key
from fmicl_text.errors import FmiclError


@pytest.fixture
def loads(monkeypatch) -> list[str]:
    """The builders ``datasets.load_dataset`` was called with, in order."""
    calls: list[str] = []
    real = files._load

    def spy(builder, path, **config):
        calls.append(builder)
        return real(builder, path, **config)

    monkeypatch.setattr(files, "_load", spy)
    return calls


def write(path: Path, content: str | bytes) -> Path:
    data = content.encode("utf-8") if isinstance(content, str) else content
    path.write_bytes(gzip.compress(data) if path.name.endswith(".gz") else data)
    return path


def error_of(path: Path, kind: str, columns=(), **load) -> FmiclError:
    with pytest.raises(FmiclError) as info:
        DataFile(path, kind).load(columns, **load)
    return info.value


N = 6000  # rows enough to put the last ones past the door
TSV_ROWS = "".join(f"left {i}\tright {i}\n" for i in range(N))
CSV_ROWS = "".join(f'"left, {i}",right {i}\n' for i in range(N))
JSON_ROWS = "".join(json.dumps({"text": f"sentence {i}", "n": i}) + "\n" for i in range(N))
TEXT_ROWS = "a sentence of a few words\n" * N
TEXT_KEY = {"text": Key(TEXT)}


@pytest.mark.parametrize(
    ("name", "content", "columns", "line", "what"),
    [
        ("few.tsv", "a\tb\n" + TSV_ROWS + "only one\n", ["a", "b"], N + 2, "has too few fields: 1, the header has 2"),
        ("many.tsv", "a\tb\n" + TSV_ROWS + "x\ty\tz\n", ["a", "b"], N + 2, "has too many fields: 3, the header has 2"),
        ("few.tsv.gz", "a\tb\n" + TSV_ROWS + "only one\n", ["a"], N + 2, "has too few fields"),
        ("quote.csv", "a,b\n" + CSV_ROWS + 'x,"y"z\n', ["a", "b"], N + 2, "is not valid CSV: ',' expected after '\"'"),
        ("few.csv", "a,b\n" + CSV_ROWS + "x\n", ["a", "b"], N + 2, "has too few fields: 1, the header has 2"),
        ("many.csv", "a,b\n" + CSV_ROWS + "x,y,z\n", ["a", "b"], N + 2, "has too many fields: 3, the header has 2"),
        ("json.jsonl", JSON_ROWS + "\n" + '{"text": \n', TEXT_KEY, N + 2, "is not valid JSON: Expecting value"),
        ("key.jsonl", JSON_ROWS + '{"txt": "a"}\n', TEXT_KEY, N + 1, "lacks the key 'text'"),
        ("type.jsonl", JSON_ROWS + '{"text": 5}\n', TEXT_KEY, N + 1, "'text' must be a string, got 5"),
        ("null.jsonl", JSON_ROWS + '{"text": null}\n', TEXT_KEY, N + 1, "'text' must be a string, got None"),
        ("list.jsonl", JSON_ROWS + '["a"]\n', TEXT_KEY, N + 1, "is not a JSON object"),
        ("utf8.txt", TEXT_ROWS.encode() + b"caf\xe9\n", (), N + 1, "is not valid UTF-8 (byte b'\\xe9'"),
        ("nul.txt", TEXT_ROWS.encode() + b"a\x00b\n", (), N + 1, "is binary (a NUL byte"),
    ],
)
def test_an_error_past_the_door_is_found_by_the_load_and_named_by_the_rescan(
    tmp_path, loads, name, content, columns, line, what
):
    path = write(tmp_path / name, content)
    kind = name.removesuffix(".gz").rsplit(".", 1)[1]
    file = DataFile(path, kind)
    assert not file.whole and len(file.head.encode()) <= DOOR_BYTES  # the bad line is not in what the door read
    with pytest.raises(FmiclError) as info:
        file.load(columns)
    assert loads == [{"tsv": "csv", "txt": "text", "jsonl": "json"}.get(kind, kind)]  # the parser ran, and failed
    assert f"line {line}" in info.value.what and what in info.value.what
    assert info.value.where == f"{path}:{line}"
    assert info.value.fix


def test_a_blank_line_between_rows_is_an_error_where_the_caller_says_so(tmp_path):
    path = write(tmp_path / "blank.tsv", "a\tb\n" + TSV_ROWS + "\nx\ty\n")
    assert error_of(path, "tsv", ["a"], blank_lines="error").where == f"{path}:{N + 2}"
    table = DataFile(path, "tsv").load(["a"])  # kept as a row of nulls for the caller to drop and count
    assert len(table.data) == N + 2 and table.data["a"][N] is None and table.line(N + 1) == N + 3
    ends = write(tmp_path / "ends.tsv", "a\tb\n" + TSV_ROWS + "\n \n")
    assert len(DataFile(ends, "tsv").load(["a"], blank_lines="error").data) == N  # blank lines at the end: dropped


def test_the_door_stops_a_bad_first_row_before_the_parser(tmp_path, loads):
    path = write(tmp_path / "few.tsv", "a\tb\nx\ty\nonly one\n" + TSV_ROWS)
    assert error_of(path, "tsv", ["a"]).where == f"{path}:3"
    json_path = write(tmp_path / "bad.jsonl", '{"text": "a"}\n{"text": 3}\n' + JSON_ROWS)
    assert "line 2: 'text' must be a string" in str(error_of(json_path, "jsonl", TEXT_KEY))
    assert loads == []


def test_rows_are_read_as_text_with_their_lines(tmp_path, loads):
    tsv = write(tmp_path / "t.tsv", '\n b \tNA\tc\n"quoted\t007\t\n\nnull\t1.50\tx\n')
    table = DataFile(tsv, "tsv").load(["b", "NA"])
    assert table.data.column_names == ["b", "NA"]  # the header's names, stripped, in the order asked
    assert table.data.to_dict() == {"b": ['"quoted', None, "null"], "NA": ["007", None, "1.50"]}
    assert table.lines() == [3, 4, 5] and table.where(2) == f"{tsv}:5"
    csv_path = write(tmp_path / "c.csv", 'a,b\n"two\nlines",x\ny,z\n')
    table = DataFile(csv_path, "csv").load(["a", "b"])
    assert table.data["a"] == ["two\nlines", "y"] and table.lines() == [3, 4]
    jsonl = write(tmp_path / "j.jsonl", '{"_id": 1, "q": "a", "p": ["x"]}\n\n{"_id": 2, "q": "b", "p": [], "t": "T"}\n')
    keys = {"_id": Key(ID), "q": Key(TEXT), "p": Key(TEXTS), "t": Key(TEXT, required=False)}
    table = DataFile(jsonl, "jsonl").load(keys)
    assert table.data.to_dict() == {"_id": ["1", "2"], "q": ["a", "b"], "p": [["x"], []], "t": [None, "T"]}
    assert table.lines() == [1, 3]
    assert loads == ["csv", "csv", "json"]


def test_the_loader_leaves_no_cache_behind(tmp_path, monkeypatch):
    import tempfile

    import datasets.config

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", tmp_path / "hf")
    (tmp_path / "tmp").mkdir()
    (tmp_path / "data").mkdir()
    path = write(tmp_path / "data" / "x.txt.gz", "one\ntwo\n")
    assert DataFile(path).load().data["text"] == ["one", "two"]
    assert list((tmp_path / "tmp").iterdir()) == [] and not (tmp_path / "hf").exists()
    assert sorted(p.name for p in (tmp_path / "data").iterdir()) == ["x.txt.gz"]
