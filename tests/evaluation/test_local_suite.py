"""The local MTEB suite (``fmicl-text eval build-tasks``): each task's content from a small fake data home in the real
files' layout, the rebuild that changes nothing, the refusal to replace a file, the missing source, and every task
loaded and scored by ``fmicl-text eval mteb`` on a tiny random model."""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path

import pytest
from conftest import write_tsv

from fmicl_text.errors import FmiclError

STS_HEADER = ["sentence1", "sentence2", "score", "subset"]  # sts/original/sts1x.test.tsv, stsb.*.tsv
SICK_HEADER = ["sentence1", "sentence2", "score", "pair_id", "entailment_label"]  # sts/original/sickr.*.tsv
SNLI_HEADER = ["sentence1", "sentence2", "label"]  # train/nli/snli_test.senteval_tok.tsv

SICK_ROWS = [
    ["A man is playing a guitar", "A person plays a guitar", "4.6", "1", "ENTAILMENT"],
    ["A man is playing a guitar", "Nobody is playing a guitar", "3.1", "2", "CONTRADICTION"],
    ["A dog runs in the park", "A cat sleeps on the sofa", "1.2", "3", "NEUTRAL"],
    ["Two kids are swimming", "Children are in the water", "4.4", "4", "ENTAILMENT"],
    ["A woman is cooking", "There is no woman cooking", "3.3", "5", "CONTRADICTION"],
]
SNLI_ROWS = [
    ["A choir sings in a church .", "The church is filled with song .", "entailment"],
    ["A choir sings in a church .", "A choir sings at a baseball game .", "contradiction"],
    ["A choir sings in a church .", "The church has cracks in the ceiling .", "neutral"],
    ["A man rides a bike .", "A person is outdoors .", "entailment"],  # no negative: not a reranking query
    ["A woman smiles .", "The woman is happy .", "entailment"],
    ["A woman smiles .", "The woman is young .", "neutral"],
    ["A boy jumps .", "The boy sits .", "contradiction"],  # no positive
]
STSB_TEST = [
    ["A girl is styling her hair.", "A girl is brushing her hair.", "2.500", "main-captions/MSRvid"],
    ["A man is cutting an onion.", "A man cuts an onion.", "4.800", "main-captions/MSRvid"],
    ["A man is cutting an onion.", "Someone is slicing an onion.", "4.000", "main-captions/MSRvid"],
    ["Stocks fell on Monday.", "Shares dropped on Monday.", "4.200", "main-news/headlines"],
    ["Rain is expected.", "A man is cutting an onion.", "0.200", "main-news/headlines"],  # a copy of a query
    ["How do I cite a book?", "Cite the book's edition.", "3.999", "main-forums/answer-answer"],
    ["A girl is styling her hair.", "A girl is brushing her hair.", "2.500", "main-captions/MSRvid"],
]
STSB_TRAIN = [
    ["A plane is taking off.", "An air plane is taking off.", "5.000", "main-captions/MSRvid"],
    ["A man is playing a flute.", "A man plays a flute.", "3.800", "main-captions/images"],
    ["Oil prices rose.", "Crude climbed.", "4.000", "main-news/MSRpar"],
    ["Stocks fell on Monday.", "Markets were down.", "3.000", "main-news/headlines"],  # also a test sentence
    ["Is this allowed?", "It depends.", "1.000", "main-forum/deft-forum"],
    ["A plane is taking off.", "A jet departs.", "4.400", "main-captions/MSRvid"],
]


def cluster_rows(source: str, count: int, *, start: int = 0) -> list[list[str]]:
    return [[f"{source} sentence number {i}.", f"Other {i}.", "2.0", source] for i in range(start, start + count)]


STS_YEARS = {
    # OnWN: 10 in STS12 (as surprise.OnWN) + 12 in STS13 = 22 -> kept; FNWN 5, answer-answer 3 -> dropped
    "sts12": cluster_rows("surprise.OnWN", 10) + cluster_rows("MSRpar", 20),
    "sts13": cluster_rows("OnWN", 12, start=10) + cluster_rows("FNWN", 5) + cluster_rows("headlines", 15),
    # headlines 0-14 again (one sentence, one row) and 15-24 new: 25 in all
    "sts14": cluster_rows("headlines", 25),
    "sts15": cluster_rows("MSRpar", 3),  # seen in STS12 already
    "sts16": cluster_rows("answer-answer", 3),
}
SIZES = {
    "sickr-entailment": "4 pairs (2 ENTAILMENT, 2 CONTRADICTION)",
    "snli-entailment": "5 pairs (3 entailment, 2 contradiction)",
    "snli-reranking": "2 queries, 5 candidates",
    "stsb-paraphrase-retrieval": "2 queries, 5 documents, 3 relevant",
    "sts-source-clustering": "67 sentences, 3 sources (FNWN, answer-answer dropped)",
    "stsb-genre-classification": "5 train / 4 test sentences, 3 genres",
}


def make_data_home(home: Path) -> Path:
    """The suite's source files, a few rows each, at their paths in the shared data folder."""
    write_tsv(home / "sts" / "original" / "sickr.test.tsv", SICK_HEADER, SICK_ROWS)
    write_tsv(home / "train" / "nli" / "snli_test.senteval_tok.tsv", SNLI_HEADER, SNLI_ROWS)
    write_tsv(home / "sts" / "original" / "stsb.test.tsv", STS_HEADER, STSB_TEST)
    write_tsv(home / "sts" / "original" / "stsb.train.tsv", STS_HEADER, STSB_TRAIN)
    for year, rows in STS_YEARS.items():
        write_tsv(home / "sts" / "original" / f"{year}.test.tsv", STS_HEADER, rows)
    return home


def read_tsv(path: Path) -> list[list[str]]:
    return [line.split("\t") for line in path.read_text(encoding="utf-8").splitlines()]


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def snapshot(root: Path) -> dict[str, tuple[str, int]]:
    return {
        p.relative_to(root).as_posix(): (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns)
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def home(tmp_path_factory) -> Path:
    return make_data_home(tmp_path_factory.mktemp("fake-data-home"))


@pytest.fixture(scope="module")
def suite(home, tmp_path_factory) -> Path:
    from fmicl_text.evaluation.local_suite import build_local_suite

    out = tmp_path_factory.mktemp("suite")
    folders = build_local_suite(out, data_dir=home)
    assert folders == {
        "sickr-entailment": out / "pair_classification" / "sickr-entailment",
        "snli-entailment": out / "pair_classification" / "snli-entailment",
        "snli-reranking": out / "reranking" / "snli-reranking",
        "stsb-paraphrase-retrieval": out / "retrieval" / "stsb-paraphrase-retrieval",
        "sts-source-clustering": out / "clustering" / "sts-source-clustering",
        "stsb-genre-classification": out / "classification" / "stsb-genre-classification",
    }
    return out


def test_the_suite_lists_each_task_once_with_its_type():
    from fmicl_text.evaluation.local_suite import LOCAL_SUITE
    from fmicl_text.evaluation.mteb_tasks import TASK_TYPES

    assert list(LOCAL_SUITE) == list(SIZES)
    assert all(task.kind in TASK_TYPES for task in LOCAL_SUITE.values())


def test_pair_classification_maps_entailment_and_drops_neutral(suite):
    sick = read_tsv(suite / "pair_classification" / "sickr-entailment" / "test.tsv")
    assert sick == [
        ["sentence1", "sentence2", "label"],
        ["A man is playing a guitar", "A person plays a guitar", "1"],
        ["A man is playing a guitar", "Nobody is playing a guitar", "0"],
        ["Two kids are swimming", "Children are in the water", "1"],
        ["A woman is cooking", "There is no woman cooking", "0"],
    ]
    snli = read_tsv(suite / "pair_classification" / "snli-entailment" / "test.tsv")
    assert snli[0] == ["sentence1", "sentence2", "label"]
    assert snli[1:] == [[s1, s2, {"entailment": "1", "contradiction": "0"}[label]]
                        for s1, s2, label in SNLI_ROWS if label != "neutral"]  # fmt: skip
    description = json.loads((suite / "pair_classification" / "sickr-entailment" / "task.json").read_text())
    assert set(description) == {"description"} and "sts/original/sickr.test.tsv" in description["description"]


def test_reranking_keeps_premises_with_a_positive_and_a_negative(suite):
    assert read_jsonl(suite / "reranking" / "snli-reranking" / "test.jsonl") == [
        {
            "query": "A choir sings in a church .",
            "positive": ["The church is filled with song ."],
            "negative": ["A choir sings at a baseball game .", "The church has cracks in the ceiling ."],
        },
        {"query": "A woman smiles .", "positive": ["The woman is happy ."], "negative": ["The woman is young ."]},
    ]


def test_retrieval_queries_corpus_and_qrels(suite):
    folder = suite / "retrieval" / "stsb-paraphrase-retrieval"
    assert read_jsonl(folder / "queries.jsonl") == [
        {"_id": "q0", "text": "A man is cutting an onion."},
        {"_id": "q1", "text": "Stocks fell on Monday."},
    ]
    # every distinct sentence2, first seen first; the copy of query q0's own text is left out
    assert read_jsonl(folder / "corpus.jsonl") == [
        {"_id": "d0", "title": "", "text": "A girl is brushing her hair."},
        {"_id": "d1", "title": "", "text": "A man cuts an onion."},
        {"_id": "d2", "title": "", "text": "Someone is slicing an onion."},
        {"_id": "d3", "title": "", "text": "Shares dropped on Monday."},
        {"_id": "d4", "title": "", "text": "Cite the book's edition."},
    ]
    # score >= 4.0 (4.000 in, 3.999 out)
    assert read_tsv(folder / "qrels" / "test.tsv") == [
        ["query-id", "corpus-id", "score"],
        ["q0", "d1", "1"],
        ["q0", "d2", "1"],
        ["q1", "d3", "1"],
    ]


def test_clustering_labels_are_sources_and_small_ones_are_dropped(suite):
    rows = read_tsv(suite / "clustering" / "sts-source-clustering" / "test.tsv")
    assert rows[0] == ["text", "label"]
    texts = [text for text, _ in rows[1:]]
    assert len(texts) == len(set(texts))  # each sentence once, across years
    counts = {label: sum(1 for _, lab in rows[1:] if lab == label) for label in {lab for _, lab in rows[1:]}}
    # surprise.OnWN (STS12) and OnWN (STS13) are one source; FNWN (5) and answer-answer (3) have under 20
    assert counts == {"OnWN": 22, "MSRpar": 20, "headlines": 25}
    assert rows[1] == ["surprise.OnWN sentence number 0.", "OnWN"]


def test_classification_genres_are_split_at_the_slash(suite):
    folder = suite / "classification" / "stsb-genre-classification"
    assert read_tsv(folder / "train.tsv") == [
        ["text", "label"],
        ["A plane is taking off.", "main-captions"],
        ["A man is playing a flute.", "main-captions"],
        ["Oil prices rose.", "main-news"],
        ["Stocks fell on Monday.", "main-news"],
        ["Is this allowed?", "main-forum"],
    ]
    # distinct sentences; "Stocks fell on Monday." is in train and so left out; main-forums is main-forum
    assert read_tsv(folder / "test.tsv") == [
        ["text", "label"],
        ["A girl is styling her hair.", "main-captions"],
        ["A man is cutting an onion.", "main-captions"],
        ["Rain is expected.", "main-news"],
        ["How do I cite a book?", "main-forum"],
    ]


def test_a_rebuild_changes_nothing(home, tmp_path):
    from fmicl_text.evaluation.local_suite import build_tasks

    first = build_tasks(tmp_path, data_dir=home)
    assert [task.written for task in first] == [True] * 6
    before = snapshot(tmp_path)
    second = build_tasks(tmp_path, data_dir=home)
    assert [task.written for task in second] == [False] * 6
    assert [task.size for task in second] == list(SIZES.values())
    assert snapshot(tmp_path) == before  # same bytes, not even rewritten
    assert not [p for p in tmp_path.rglob("*") if p.name.endswith(".tmp")]
    # an interrupted build (a file missing) is completed, the rest left as it was
    (tmp_path / "retrieval" / "stsb-paraphrase-retrieval" / "qrels" / "test.tsv").unlink()
    third = build_tasks(tmp_path, data_dir=home)
    assert [task.name for task in third if task.written] == ["stsb-paraphrase-retrieval"]
    assert snapshot(tmp_path).keys() == before.keys()


@pytest.mark.parametrize(
    ("relative", "content", "message"),
    [
        ("pair_classification/sickr-entailment/test.tsv", "sentence1\tsentence2\tlabel\nMine.\tMine too.\t1\n",
         "cannot build pair_classification/sickr-entailment: it holds a different test.tsv"),
        ("clustering/sts-source-clustering/notes.txt", "my notes",
         "cannot build clustering/sts-source-clustering: it holds a file the build does not write (notes.txt)"),
        ("reranking", "a file where a type folder goes", "cannot build reranking/snli-reranking: a file is where"),
    ],
    ids=["different-file", "extra-file", "file-for-folder"],
)  # fmt: skip
def test_a_user_file_is_never_replaced(home, tmp_path, relative, content, message):
    from fmicl_text.evaluation.local_suite import build_local_suite

    mine = tmp_path / relative
    mine.parent.mkdir(parents=True, exist_ok=True)
    mine.write_text(content, encoding="utf-8")
    before = snapshot(tmp_path)
    with pytest.raises(FmiclError, match="cannot build") as info:
        build_local_suite(tmp_path, data_dir=home)
    assert info.value.what.startswith(message)
    assert info.value.where == str(mine)
    assert "never replaces" in info.value.fix
    assert snapshot(tmp_path) == before  # untouched, and no other task written either


def test_a_missing_source_names_the_file_and_the_data_home_flags(home, tmp_path):
    import shutil

    from fmicl_text.evaluation.local_suite import build_local_suite

    partial = tmp_path / "home"
    shutil.copytree(home, partial)
    (partial / "train" / "nli" / "snli_test.senteval_tok.tsv").unlink()
    with pytest.raises(FmiclError) as info:
        build_local_suite(tmp_path / "out", data_dir=partial)
    assert info.value.what == "source file train/nli/snli_test.senteval_tok.tsv is not in the data home"
    assert info.value.where == str(partial / "train" / "nli" / "snli_test.senteval_tok.tsv")
    assert "--data-dir" in info.value.fix and "FMICL_DATA_DIR" in info.value.fix
    assert not (tmp_path / "out").exists()  # nothing written


def test_a_bad_source_row_names_its_line(home, tmp_path):
    from fmicl_text.evaluation.local_suite import build_local_suite

    bad = tmp_path / "home"
    make_data_home(bad)
    write_tsv(bad / "sts" / "original" / "sickr.test.tsv", SICK_HEADER, [*SICK_ROWS, ["A.", "B.", "3", "9", "MAYBE"]])
    with pytest.raises(FmiclError, match="unknown entailment_label 'MAYBE' on line 7") as info:
        build_local_suite(tmp_path / "out", data_dir=bad)
    assert info.value.where.endswith("sickr.test.tsv:7")


def test_the_data_home_comes_from_the_environment(home, tmp_path, monkeypatch):
    from fmicl_text.evaluation.local_suite import build_tasks

    monkeypatch.setenv("FMICL_DATA_DIR", str(home))
    assert [task.size for task in build_tasks(tmp_path)] == list(SIZES.values())


def test_cli_prints_each_task_and_its_size(home, tmp_path, capsys):
    from fmicl_text.cli import main

    assert main(["eval", "build-tasks", str(tmp_path / "tasks"), "--data-dir", str(home)]) == 0
    out = capsys.readouterr().out
    for name, size in SIZES.items():
        assert f"| {name} |" in out and f"| {size} |" in out
    assert f"--local-dir {tmp_path / 'tasks'}" in out


def test_help_examples_parse(capsys):
    import re
    import shlex

    from fmicl_text.cli import build_parser, main

    with pytest.raises(SystemExit):
        main(["eval", "build-tasks", "--help"])
    text = capsys.readouterr().out.split("examples:", 1)[1]
    examples = [re.split(r"\s{3,}", line.strip())[0] for line in text.splitlines() if line.startswith("  fmicl-text ")]
    assert len(examples) == 3
    for example in examples:
        assert build_parser().parse_args(shlex.split(example)[1:]).run, example


@pytest.mark.filterwarnings("ignore:Precision is ill-defined")  # a few test rows: some genre never predicted
def test_every_task_loads_and_scores_with_eval_mteb(suite, tiny_bert, tmp_path):
    from fmicl_text.cli import main
    from fmicl_text.evaluation.local_suite import LOCAL_SUITE
    from fmicl_text.evaluation.mteb_tasks import TASK_TYPES, load_local_tasks

    tasks = load_local_tasks(suite)
    assert sorted(tasks) == sorted(LOCAL_SUITE)
    for name, task in tasks.items():
        assert task.metadata.main_score == TASK_TYPES[LOCAL_SUITE[name].kind][1]
        assert task.metadata.description.startswith(("sts/original/", "train/nli/"))  # from task.json
    output = tmp_path / "scores.json"
    argv = ["eval", "mteb", tiny_bert, "--tasks", ",".join(LOCAL_SUITE), "--local-dir", str(suite)]
    assert main([*argv, "--output", str(output), "--cache-dir", str(tmp_path / "cache"), "--batch-size", "8"]) == 0
    scores = json.loads(output.read_text(encoding="utf-8"))["scores"]
    assert list(scores) == list(LOCAL_SUITE)
    for name, score in scores.items():
        assert score["local"] is True
        assert score["metric"] == TASK_TYPES[LOCAL_SUITE[name].kind][1]
        assert math.isfinite(score["main_score"]), (name, score)


def test_the_real_data_home(data_dir, tmp_path):
    """The sizes the README quotes, from the shared data folder."""
    from fmicl_text.evaluation.local_suite import build_tasks

    sizes = {task.name: task.size for task in build_tasks(tmp_path, data_dir=data_dir)}
    assert sizes == {
        "sickr-entailment": "2,134 pairs (1,414 ENTAILMENT, 720 CONTRADICTION)",
        "snli-entailment": "6,605 pairs (3,368 entailment, 3,237 contradiction)",
        "snli-reranking": "3,079 queries, 9,156 candidates",
        "stsb-paraphrase-retrieval": "309 queries, 1,327 documents, 338 relevant",
        "sts-source-clustering": "10,594 sentences, 18 sources",
        "stsb-genre-classification": "5,436 train / 1,170 test sentences, 3 genres",
    }
