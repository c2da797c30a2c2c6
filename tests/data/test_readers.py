"""Tests of the training-data reader: formats, cleaning, column detection, errors, name resolution."""

from __future__ import annotations

import gzip
import json
import os
import time
from pathlib import Path

import pytest

from fmicl_text.data import DataReport, load_training_data
from fmicl_text.errors import FmiclError


def write(folder: Path, name: str, content: str | bytes) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, str):
        content = content.encode("utf-8")
    if name.endswith(".gz"):
        content = gzip.compress(content)
    path.write_bytes(content)
    return path


def load_error(spec: str | Path, **kwargs) -> str:
    with pytest.raises(FmiclError) as info:
        load_training_data(str(spec), **kwargs)
    return str(info.value)


def as_rows(ds) -> list[tuple[str, ...]]:
    return list(zip(*(ds[c] for c in ds.column_names), strict=True))


# --- one sentence a line ------------------------------------------------------------------------

LINES = '  first sentence  \n\n"Quoted," she said, "start".\n   \nsecond  inner  spaces\nfirst sentence\n'
EXPECTED_LINES = ["first sentence", '"Quoted," she said, "start".', "second  inner  spaces", "first sentence"]


@pytest.mark.parametrize("name", ["corpus.txt", "corpus.txt.gz", "corpus.gz"])
def test_lines_are_stripped_cleaned_and_counted(tmp_path, name):
    ds, report = load_training_data(str(write(tmp_path, name, LINES)))
    assert ds.column_names == ["anchor", "positive"]
    assert ds["anchor"] == EXPECTED_LINES
    assert ds["positive"] == ds["anchor"]
    assert (report.mode, report.rows, report.blank_dropped, report.duplicates) == ("unsupervised", 4, 2, 1)
    assert report.columns == ["anchor", "positive"]
    assert report.format == ("txt" if name == "corpus.txt" else "txt.gz")
    assert report.source == str(tmp_path / name)
    assert "4 rows" in report.summary() and "1 duplicates kept" in report.summary()


def test_crlf_and_utf8_bom_are_handled(tmp_path):
    path = write(tmp_path, "win.txt", b"\xef\xbb\xbfcaf\xc3\xa9 au lait\r\n\r\nsecond\r\n")
    ds, report = load_training_data(str(path))
    assert ds["anchor"] == ["café au lait", "second"]
    assert report.blank_dropped == 1


def test_line_separators_inside_a_sentence_do_not_split_it(tmp_path):
    ds, _ = load_training_data(str(write(tmp_path, "u.txt", "one\u2028still one\x0cand one\nTwo\n")))
    assert ds["anchor"] == ["one\u2028still one\x0cand one", "Two"]


# --- tabular files ------------------------------------------------------------------------------


def test_csv_pairs_with_quoting_and_extra_columns(tmp_path):
    path = write(tmp_path, "pairs.csv", 'id,sent0,sent1\n1,"a, quoted",b\n2," c ",""" d"" "\n')
    ds, report = load_training_data(str(path))
    assert ds.column_names == ["anchor", "positive"]
    assert as_rows(ds) == [("a, quoted", "b"), ("c", '" d"')]
    assert (report.mode, report.input_columns, report.format) == ("pairs", ["sent0", "sent1"], "csv")


def test_csv_triplets_case_insensitive_header(tmp_path):
    path = write(tmp_path, "t.csv", "Anchor,Positive,Negative,label\na,b,c,0\n,x,y,1\nd,e,f,0\n")
    ds, report = load_training_data(str(path))
    assert ds.column_names == ["anchor", "positive", "negative"]
    assert as_rows(ds) == [("a", "b", "c"), ("d", "e", "f")]
    assert (report.mode, report.blank_dropped, report.input_columns) == (
        "triplets",
        1,
        ["Anchor", "Positive", "Negative"],
    )


def test_tsv_triplets_keep_leading_quotes_verbatim(tmp_path):
    text = 'sent0\tsent1\thard_neg\n"Hi," he said .\t"open quote\tno "quote" rules\nA\tB\tC\n\nA\tB\tC\n'
    ds, report = load_training_data(str(write(tmp_path, "nli.tsv", text)))
    assert ds.column_names == ["anchor", "positive", "negative"]
    assert as_rows(ds) == [
        ('"Hi," he said .', '"open quote', 'no "quote" rules'),
        ("A", "B", "C"),
        ("A", "B", "C"),
    ]
    assert (report.mode, report.blank_dropped, report.duplicates) == ("triplets", 1, 1)


def test_tsv_gz_is_read_as_tsv(tmp_path):
    ds, report = load_training_data(str(write(tmp_path, "x.tsv.gz", "sentence1\tsentence2\thard_negative\na\tb\tc\n")))
    assert (report.format, report.mode, as_rows(ds)) == ("tsv.gz", "triplets", [("a", "b", "c")])


def test_tsv_query_positive_pairs(tmp_path):
    ds, report = load_training_data(str(write(tmp_path, "q.tsv", "query\tpositive\tscore_note\nq1\tp1\tx\n")))
    assert (report.mode, ds.column_names, as_rows(ds)) == ("pairs", ["anchor", "positive"], [("q1", "p1")])


def test_single_text_column_is_unsupervised(tmp_path):
    ds, report = load_training_data(str(write(tmp_path, "s.csv", "id,Sentence\n1,hello there\n2,  \n3,bye\n")))
    assert (report.mode, report.blank_dropped, ds["anchor"], ds["positive"]) == (
        "unsupervised",
        1,
        ["hello there", "bye"],
        ["hello there", "bye"],
    )


def test_jsonl_pairs_triplets_and_nulls(tmp_path):
    rows = [
        {"query": " q1 ", "positive": "p1", "id": 1},
        {"query": "q2", "positive": None, "id": 2},
        {"query": "q3", "positive": "p3", "id": 3},
    ]
    text = "\n".join(json.dumps(r) for r in rows[:2]) + "\n\n" + json.dumps(rows[2]) + "\n"
    ds, report = load_training_data(str(write(tmp_path, "p.jsonl", text)))
    assert (ds.column_names, as_rows(ds)) == (["anchor", "positive"], [("q1", "p1"), ("q3", "p3")])
    assert (report.mode, report.blank_dropped, report.format) == ("pairs", 2, "jsonl")

    trip = json.dumps({"sent0": "a", "sent1": "b", "hard_neg": "c", "extra": [1, 2]})
    ds, report = load_training_data(str(write(tmp_path, "t.jsonl", trip + "\n")))
    assert (report.mode, as_rows(ds)) == ("triplets", [("a", "b", "c")])


def test_json_array(tmp_path):
    text = json.dumps([{"text": "one"}, {"text": "two"}], indent=2)
    ds, report = load_training_data(str(write(tmp_path, "a.json", text)))
    assert (report.mode, report.format, ds["anchor"]) == ("unsupervised", "json", ["one", "two"])


def test_explicit_column_mapping(tmp_path):
    path = write(tmp_path, "nli.csv", "premise,hypothesis,contra,label\np1,h1,c1,0\np2,h2,c2,0\n")
    ds, report = load_training_data(str(path), columns={"anchor": "premise", "positive": "Hypothesis"})
    assert (report.mode, ds.column_names, as_rows(ds)) == (
        "pairs",
        ["anchor", "positive"],
        [("p1", "h1"), ("p2", "h2")],
    )
    ds, report = load_training_data(
        str(path), columns={"anchor": "premise", "positive": "hypothesis", "negative": "contra"}
    )
    assert (report.mode, as_rows(ds)[0]) == ("triplets", ("p1", "h1", "c1"))
    ds, report = load_training_data(str(path), columns={"anchor": "hypothesis"})
    assert (report.mode, ds["anchor"], ds["positive"]) == ("unsupervised", ["h1", "h2"], ["h1", "h2"])

    jpath = write(tmp_path, "m.jsonl", json.dumps({"q": "a", "d": "b"}) + "\n")
    ds, _ = load_training_data(str(jpath), columns={"anchor": "q", "positive": "d"})
    assert as_rows(ds) == [("a", "b")]


def test_max_samples_takes_the_first_rows_after_cleaning(tmp_path):
    path = write(tmp_path, "c.txt", "\n".join(["", "a", " ", "b", "c", "b"]) + "\n")
    ds, report = load_training_data(str(path), max_samples=2)
    assert ds["anchor"] == ["a", "b"]
    assert (report.rows, report.rows_before_limit, report.duplicates) == (2, 4, 0)
    assert "first 2 of 4" in report.summary()
    ds, report = load_training_data(str(path), max_samples=100)
    assert (report.rows, ds["anchor"]) == (4, ["a", "b", "c", "b"])
    assert "max_samples" in load_error(path, max_samples=0)


def test_report_summary_is_one_line():
    report = DataReport(
        source="x.tsv",
        format="tsv",
        rows=3,
        blank_dropped=1,
        duplicates=0,
        columns=["anchor", "positive", "negative"],
        mode="triplets",
        input_columns=["sent0", "sent1", "hard_neg"],
    )
    line = report.summary()
    assert "\n" not in line
    assert "x.tsv [tsv]: 3 rows, triplets (anchor<-sent0, positive<-sent1, negative<-hard_neg)" in line


# --- bad input -> FmiclError naming the file and the line ---------------------------------------


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("empty.txt", b"", "empty"),
        ("empty.txt.gz", b"", "empty"),
        ("blank.txt", b"\n   \n\t\n", "only blank lines"),
        ("blank.tsv", b"\n\n", "only blank lines"),
        ("header.csv", b"sent0,sent1\n", "no data rows"),
        ("allblank.csv", b"sent0,sent1\n,x\n \n", "no usable rows"),
        ("latin1.txt", b"ok\nfine\ncaf\xe9\n", "line 3"),
        ("bin.txt", b"ok\n\x00\x01\x02", "line 2"),
        ("bin.txt", b"ok\n\x00\x01\x02", "binary"),
        ("fake.txt.gz", b"plain text, not gzip\n", "gzip"),
        ("table.parquet", b"PAR1", "unsupported"),
        ("cols.csv", b"premise,hypothesis\na,b\n", "['premise', 'hypothesis']"),
        ("cols.csv", b"premise,hypothesis\na,b\n", "--columns anchor=COL"),
        ("cols.csv", b"premise,hypothesis\na,b\n", "sent0, sent1, hard_neg"),
        ("comma.tsv", b"sent0,sent1,hard_neg\na,b,c\n", "comma-separated"),
        ("tab.csv", b"sent0\tsent1\na\tb\n", "TAB-separated"),
        ("bad.csv", b'sent0,sent1\na,b\nc,"d"e\n', "line 3"),
        ("unclosed.csv", b'sent0,sent1\na,b\nc,"d\ne,f\n', "line 4 is not valid CSV"),
        ("few.tsv", b"sent0\tsent1\thard_neg\na\tb\tc\nd\te\n", "line 3"),
        ("few.tsv", b"sent0\tsent1\thard_neg\na\tb\tc\nd\te\n", "too few fields"),
        ("commarow.tsv", b"sent0\tsent1\na\tb\nc,d\n", "comma-separated"),
        ("many.tsv", b"sent0\tsent1\na\tb\tc\n", "too many fields"),
        ("labelled.tsv", b"sentence1\tsentence2\tlabel\na\tb\tneutral\n", "'label' column"),
        ("bad.jsonl", b'{"text": "a"}\n{"text": "b"\n', "line 2"),
        ("key.jsonl", b'{"sent0": "a", "sent1": "b"}\n\n{"sent0": "c"}\n', "line 3"),
        ("key.jsonl", b'{"sent0": "a", "sent1": "b"}\n\n{"sent0": "c"}\n', "'sent1'"),
        ("list.jsonl", b'{"text": "a"}\n["b"]\n', "line 2"),
        ("num.jsonl", b'{"text": "a"}\n{"text": 3}\n', "'text' must be a string"),
    ],
)
def test_bad_files_name_the_file_and_line(tmp_path, name, content, expected):
    path = tmp_path / name
    path.write_bytes(gzip.compress(content) if name == "empty.txt.gz" else content)
    message = load_error(path)
    assert str(path) in message
    assert expected in message


def test_gzip_without_gz_suffix(tmp_path):
    path = tmp_path / "packed.txt"
    path.write_bytes(gzip.compress(b"hello\n"))
    message = load_error(path)
    assert str(path) in message and ".gz" in message


def test_missing_file_and_folder(tmp_path):
    missing = tmp_path / "nope" / "train.csv"
    message = load_error(missing)
    assert "not found" in message and str(missing) in message
    assert "not found" in load_error("data/train.txt.gz")
    assert "folder" in load_error(tmp_path)


def test_bad_column_mappings(tmp_path):
    path = write(tmp_path, "p.csv", "premise,hypothesis\na,b\n")
    message = load_error(path, columns={"anchor": "premise", "positive": "missing"})
    assert "'missing'" in message and str(path) in message and "premise" in message
    assert "unknown output column" in load_error(path, columns={"query": "premise"})
    assert "must map anchor" in load_error(path, columns={"positive": "premise"})
    assert "needs column names" in load_error(path, columns={"anchor": 3})
    txt = write(tmp_path, "l.txt", "a\n")
    assert str(txt) in load_error(txt, columns={"anchor": "text"})


# --- names, the data home and the Hub -----------------------------------------------------------


@pytest.fixture
def offline(monkeypatch, tmp_path):
    """Hub unreachable for sure: env vars for subprocesses, and the flags `datasets` and
    `huggingface_hub` read once at import (so this holds even if they were imported earlier)."""
    import datasets.config
    import huggingface_hub.constants

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    # An empty cache, so that a copy cached on this machine cannot make the load succeed.
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", tmp_path / "hf-datasets")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hf-hub"))


def make_home(root: Path) -> Path:
    write(root, "train/unsup/wiki200k.txt.gz", "alpha\nbeta\n\ngamma\n")
    write(root, "train/nli/snli_dev.simcse_triplets.senteval_tok.tsv", 'sent0\tsent1\thard_neg\n"a\tb\tc\n')
    return root


def test_named_corpus_from_data_dir(tmp_path):
    home = make_home(tmp_path / "home")
    ds, report = load_training_data("wiki", data_dir=home)
    assert (ds["anchor"], report.name, report.blank_dropped) == (["alpha", "beta", "gamma"], "wiki", 1)
    assert report.source == str(home / "train/unsup/wiki200k.txt.gz")
    assert report.summary().startswith("wiki (wiki200k.txt.gz) [txt.gz]: 3 rows")
    assert str(home) not in report.summary()
    ds, report = load_training_data("snli-dev-triplets", data_dir=str(home))
    assert (report.mode, as_rows(ds)) == ("triplets", [('"a', "b", "c")])


def test_named_corpus_from_env_var(tmp_path, monkeypatch):
    home = make_home(tmp_path / "envhome")
    monkeypatch.setenv("FMICL_DATA_DIR", str(home))
    ds, report = load_training_data("wiki")
    assert (report.rows, report.source) == (3, str(home / "train/unsup/wiki200k.txt.gz"))


def test_file_paths_and_names(tmp_path, monkeypatch):
    home = make_home(tmp_path / "home")
    monkeypatch.chdir(tmp_path)
    write(tmp_path, "wiki", "a stray file without a suffix\n")
    ds, report = load_training_data("wiki", data_dir=home)
    assert (report.name, report.rows) == ("wiki", 3), "a suffix-less file must not hide the corpus name"
    write(tmp_path, "wiki.txt", "from the file\n")
    ds, report = load_training_data("wiki.txt", data_dir=home)
    assert (ds["anchor"], report.name, report.source) == (["from the file"], None, "wiki.txt")
    write(tmp_path, "notes", "x\n")
    assert "unsupported" in load_error("notes")


def test_unknown_name_suggests_the_closest():
    message = load_error("wikki")
    assert "did you mean 'wiki'" in message


def test_known_name_missing_locally_and_hub_offline(tmp_path, offline):
    start = time.monotonic()
    with pytest.raises(FmiclError) as info:
        load_training_data("wiki1m", data_dir=tmp_path / "empty-home")
    assert time.monotonic() - start < 10, "the offline Hub fallback must fail fast, not retry the network"
    assert type(info.value) is FmiclError
    message = str(info.value)
    assert str(tmp_path / "empty-home" / "train" / "unsup" / "wiki1m_for_simcse.txt") in message
    assert "neither in the data home nor reachable on the Hub" in message
    assert "--data-dir" in message and "FMICL_DATA_DIR" in message
    assert "\n  fix:" in message


@pytest.mark.parametrize("name", ["wiki", "wiki1m-head"])
def test_known_name_without_hub_copy(tmp_path, name):
    message = load_error(name, data_dir=tmp_path)
    assert "no Hub copy" in message and str(tmp_path) in message


def test_hub_id_offline_is_a_clear_error(tmp_path, offline):
    start = time.monotonic()
    message = load_error("sentence-transformers/all-nli:train", data_dir=tmp_path)
    assert time.monotonic() - start < 10
    assert "sentence-transformers/all-nli:train" in message and "Hub" in message


def test_not_a_file_name_or_hub_id():
    message = load_error("no such thing")
    assert "not a file, a known corpus name or a Hub id" in message


def test_hub_data_is_cleaned_on_its_arrow_table(monkeypatch):
    """A Hub dataset is cleaned without a round trip through Python lists: a selection's indices are
    honoured, duplicates counted, a column that is not text is an error naming it."""
    import datasets

    rows = {"sent0": ["a", " b ", "a", "c", None], "sent1": ["x", "y", "x", "z", "w"], "n": [1, 2, 3, 4, 5]}
    hub = datasets.Dataset.from_dict(rows).select([4, 0, 1, 2])  # an indices mapping over the table
    monkeypatch.setattr(datasets, "load_dataset", lambda *a, **k: hub)
    monkeypatch.setattr(datasets.Dataset, "to_dict", lambda *a, **k: pytest.fail("round trip through Python"))
    ds, report = load_training_data("someone/pairs")
    assert as_rows(ds) == [("a", "x"), ("b", "y"), ("a", "x")]
    assert (report.blank_dropped, report.duplicates, report.mode) == (1, 1, "pairs")
    assert "holds int64, not text" in load_error("someone/pairs", columns={"anchor": "n"})


def test_hub_fallback_calls_load_dataset_and_detects_columns(tmp_path, monkeypatch):
    import datasets

    calls = []

    def fake_load_dataset(path, data_files=None, split=None):
        calls.append((path, data_files, split))
        if data_files == "wiki1m_for_simcse.txt":
            return datasets.Dataset.from_dict({"text": ["one ", "", "two"]})
        return datasets.Dataset.from_dict(
            {"id": [1, 2], "anchor": ["a", "d"], "positive": ["b", "e"], "negative": ["c", None]}
        )

    monkeypatch.setattr(datasets, "load_dataset", fake_load_dataset)
    ds, report = load_training_data("wiki1m", data_dir=tmp_path)
    assert calls[-1] == ("princeton-nlp/datasets-for-simcse", "wiki1m_for_simcse.txt", "train")
    assert (ds["anchor"], report.blank_dropped, report.format, report.mode) == (
        ["one", "two"],
        1,
        "hub",
        "unsupervised",
    )
    ds, report = load_training_data("someone/triplets:validation[:10]", data_dir=tmp_path)
    assert calls[-1] == ("someone/triplets", None, "validation[:10]")
    assert (ds.column_names, as_rows(ds), report.blank_dropped) == (
        ["anchor", "positive", "negative"],
        [("a", "b", "c")],
        1,
    )
    assert report.source == "someone/triplets:validation[:10]"
    ds, _ = load_training_data("someone/triplets", columns={"anchor": "positive"})
    assert calls[-1][2] == "train" and ds["anchor"] == ["b", "e"]
    assert "'id'" in load_error("someone/triplets", columns={"anchor": "id"})


@pytest.mark.parametrize("suffix", [".tsv", ".jsonl", ".csv"])
@pytest.mark.parametrize("max_samples", [None, 3])
def test_a_file_and_the_same_rows_from_the_hub_are_cleaned_alike(tmp_path, monkeypatch, suffix, max_samples):
    """One cleaning for files and Hub datasets: the same rows give the same dataset and the same counts."""
    import datasets

    rows = [
        (" a ", "x", "n1"),
        ("", "y", "n2"),  # a blank field: dropped
        ("b", " \t ", "n3") if suffix != ".tsv" else ("b", " ", "n3"),
        ("a", "x", "n1"),  # a duplicate (after stripping): kept, counted
        ("007", "NA", "null"),  # text, not numbers or missing values
        ("c\u2028d", "z\x0c", "n4"),
        ("e", None if suffix == ".jsonl" else "", "n5"),  # null (JSON) or empty: dropped
        ('"quoted', "f", "n6") if suffix != ".csv" else ("quoted, with comma", "f", "n6"),
    ]
    columns = ("sent0", "sent1", "hard_neg")
    if suffix == ".jsonl":
        text = "".join(json.dumps(dict(zip(columns, row, strict=True))) + "\n" for row in rows)
    else:
        sep = "\t" if suffix == ".tsv" else ","
        quote = (lambda v: f'"{v}"') if suffix == ".csv" else (lambda v: v)
        text = sep.join(columns) + "\n" + "".join(sep.join(quote(v or "") for v in row) + "\n" for row in rows)
    file_ds, file_report = load_training_data(str(write(tmp_path, "t" + suffix, text)), max_samples=max_samples)

    hub = datasets.Dataset.from_dict({c: [row[i] for row in rows] for i, c in enumerate(columns)})
    monkeypatch.setattr(datasets, "load_dataset", lambda *a, **k: hub)
    hub_ds, hub_report = load_training_data("someone/triplets", max_samples=max_samples)

    assert file_ds.features == hub_ds.features
    assert as_rows(file_ds) == as_rows(hub_ds)
    assert as_rows(hub_ds)[:3] == [("a", "x", "n1"), ("a", "x", "n1"), ("007", "NA", "null")]
    fields = ("rows", "blank_dropped", "duplicates", "columns", "mode", "input_columns", "rows_before_limit")
    assert [getattr(file_report, f) for f in fields] == [getattr(hub_report, f) for f in fields]
    assert (file_report.format, hub_report.format) == (suffix[1:], "hub")


# --- the real data folder -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def real_data() -> Path:
    folder = Path(os.environ.get("FMICL_DATA_DIR") or Path(__file__).resolve().parents[2].parent / "shared" / "data")
    if not (folder / "train").is_dir():
        pytest.fail(f"the real data folder is missing: {folder} (set FMICL_DATA_DIR to the shared data folder)")
    return folder


def test_real_wiki(real_data, capfd):
    start = time.monotonic()
    ds, report = load_training_data("wiki", data_dir=real_data)
    elapsed = time.monotonic() - start
    assert report.rows + report.blank_dropped == 200_000
    assert (report.rows, report.blank_dropped, report.duplicates, report.mode) == (
        200_000,
        0,
        0,
        "unsupervised",
    )
    assert (len(ds), ds.column_names) == (200_000, ["anchor", "positive"])
    assert ds[0]["anchor"].startswith("In February 2020 he signed for Club Trouville")
    assert elapsed < 30, f"reading wiki took {elapsed:.1f}s"
    assert capfd.readouterr() == ("", "")


def test_real_snli_dev_triplets(real_data, capfd):
    ds, report = load_training_data("snli-dev-triplets", data_dir=real_data)
    assert (report.rows, report.blank_dropped, report.duplicates, report.mode) == (2954, 0, 0, "triplets")
    assert ds.column_names == ["anchor", "positive", "negative"]
    assert report.input_columns == ["sent0", "sent1", "hard_neg"]
    assert ds[0] == {
        "anchor": "Two women are embracing while holding to go packages .",
        "positive": "Two woman are holding packages .",
        "negative": "The men are fighting outside a deli .",
    }
    assert capfd.readouterr() == ("", "")
