"""MTEB evaluation: local tasks of every type through mteb's own API, checkpoint identity, input validation.

Offline and small: a tiny random BERT (conftest's ``tiny_bert``) and a few rows per task. Where a random model
can still give an exact answer, the fixtures are built for it: a query whose relevant document is the query text
itself has cosine 1 with it (ranked first whatever the weights), so nDCG@10 and MAP are exactly 1.
"""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path

import pytest
from conftest import SENTENCES

from fmicl_text.errors import FmiclError
from fmicl_text.evaluation.mteb_eval import checkpoint_revision, evaluate_mteb
from fmicl_text.evaluation.mteb_tasks import build_local_task, discover_local_tasks, load_local_tasks

STS_ROWS = [
    # a sentence may begin with a double quote: no CSV quoting
    ['"Quoted" at the start, a man plays a guitar.', SENTENCES[0], "4.8", "x"],
    [SENTENCES[1], SENTENCES[10], "2.5", "x"],
    [SENTENCES[2], SENTENCES[3], "1.0", "x"],
    [SENTENCES[4], SENTENCES[2], "0.4", "x"],
    [SENTENCES[5], SENTENCES[6], "0.0", "x"],
    [SENTENCES[7], SENTENCES[9], "1.2", "x"],
    [SENTENCES[8], SENTENCES[0], "1.8", "x"],
    [SENTENCES[11], SENTENCES[7], "2.2", "x"],
    [SENTENCES[3], SENTENCES[2], "3.1", "x"],
    [SENTENCES[9], SENTENCES[8], "0.8", "x"],
    [SENTENCES[0], SENTENCES[0], "5.0", "x"],
    [SENTENCES[6], SENTENCES[11], "0.2", "x"],
]
TOPICS = {
    "music": ["A man is playing a guitar.", "The orchestra played a symphony by Mozart.", "She sings in a choir."],
    "food": ["A woman is slicing an onion.", "She is cooking pasta for dinner.", "He bakes bread every morning."],
    "nature": ["The river flows through the old town.", "Scientists discovered a new species of frog.", "Tall trees."],
}


def write_tsv(path: Path, header: list[str], rows: list[list]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join("\t".join(map(str, row)) for row in [header, *rows]) + "\n", encoding="utf-8")
    return path


def write_jsonl(path: Path, rows: list[dict], *, gz: bool = False) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = "".join(json.dumps(row) + "\n" for row in rows)
    if gz:
        path.write_bytes(gzip.compress(text.encode("utf-8")))
    else:
        path.write_text(text, encoding="utf-8")
    return path


def make_local_tasks(root: Path) -> Path:
    """One tiny task of every type under ``root``."""
    write_tsv(root / "sts" / "tiny-sts" / "test.tsv", ["sentence1", "sentence2", "score", "extra"], STS_ROWS)
    (root / "sts" / "tiny-sts" / "task.json").write_text('{"min_score": 0, "max_score": 5}', encoding="utf-8")

    labelled = [[text, label] for label, texts in TOPICS.items() for text in texts]
    write_tsv(root / "classification" / "tiny-cls" / "train.tsv", ["text", "label"], labelled)
    write_tsv(root / "classification" / "tiny-cls" / "test.tsv", ["label", "text"], [[b, a] for a, b in labelled])
    # identical texts within a cluster: k-means recovers the labels exactly, whatever the weights
    clusters = [[label.upper() + " " + texts[0], label] for label, texts in TOPICS.items() for _ in range(4)]
    write_tsv(root / "clustering" / "tiny-clu" / "test.tsv", ["text", "label"], clusters)
    # the positive pairs are identical sentences (cosine 1), the negatives are not: AP is exactly 1
    pairs = [[s, s, "1"] for s in SENTENCES[:4]] + [
        [a, b, "0"] for a, b in zip(SENTENCES[4:8], SENTENCES[8:12], strict=True)
    ]
    write_tsv(root / "pair_classification" / "tiny-pair" / "test.tsv", ["sentence1", "sentence2", "label"], pairs)

    ret = root / "retrieval" / "tiny-ret"
    corpus = [{"_id": f"d{i}", "title": "", "text": s} for i, s in enumerate(SENTENCES)]
    write_jsonl(ret / "corpus.jsonl.gz", corpus, gz=True)
    write_jsonl(ret / "queries.jsonl", [{"_id": "q1", "text": SENTENCES[2]}, {"_id": "q2", "text": SENTENCES[7]}])
    write_tsv(ret / "qrels" / "test.tsv", ["query-id", "corpus-id", "score"], [["q1", "d2", 1], ["q2", "d7", 1]])

    rerank = [
        {"query": SENTENCES[i], "positive": [SENTENCES[i]], "negative": [SENTENCES[j] for j in range(12) if j != i][:4]}
        for i in (0, 5, 9)
    ]
    write_jsonl(root / "reranking" / "tiny-rr" / "test.jsonl", rerank)
    return root


@pytest.fixture(autouse=True, scope="module")
def mteb_default_cache(tmp_path_factory):
    """`import mteb` creates its default cache folder: keep it out of the home folder during these tests."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MTEB_CACHE", str(tmp_path_factory.mktemp("mteb-default-cache")))
        yield


@pytest.fixture(scope="module")
def local_dir(tmp_path_factory) -> Path:
    return make_local_tasks(tmp_path_factory.mktemp("local-tasks"))


@pytest.fixture(scope="module")
def all_types_result(tiny_bert, local_dir, tmp_path_factory) -> dict:
    names = ["tiny-sts", "tiny-cls", "tiny-clu", "tiny-pair", "tiny-ret", "tiny-rr"]
    cache = tmp_path_factory.mktemp("mteb-cache")
    return evaluate_mteb(tiny_bert, [",".join(names)], local_dir=local_dir, cache_dir=cache, show_progress=False)


def test_every_local_task_type_runs_with_mteb_metrics(all_types_result):
    scores = all_types_result["scores"]
    expected = {
        "tiny-sts": ("STS", "cosine_spearman"),
        "tiny-cls": ("Classification", "accuracy"),
        "tiny-clu": ("Clustering", "v_measure"),
        "tiny-pair": ("PairClassification", "max_ap"),
        "tiny-ret": ("Retrieval", "ndcg_at_10"),
        "tiny-rr": ("Reranking", "map_at_1000"),
    }
    assert list(scores) == list(expected)
    for name, (kind, metric) in expected.items():
        score = scores[name]
        assert (score["type"], score["metric"], score["split"], score["subset"]) == (kind, metric, "test", "default")
        assert score["local"] is True
        assert score["main_score"] == score["metrics"][metric]  # the main score is mteb's own metric
    assert -1.0 <= scores["tiny-sts"]["main_score"] <= 1.0
    assert 0.0 <= scores["tiny-cls"]["main_score"] <= 1.0
    # the exact answers the fixtures were built for
    assert scores["tiny-clu"]["main_score"] == pytest.approx(1.0)
    assert scores["tiny-pair"]["main_score"] == pytest.approx(1.0)
    assert scores["tiny-ret"]["main_score"] == pytest.approx(1.0)
    assert scores["tiny-rr"]["main_score"] == pytest.approx(1.0)
    assert all_types_result["mteb_model"].startswith("local/")
    assert all_types_result["revision"].startswith("sha256-")


def test_distinct_texts_are_encoded_once(all_types_result, local_dir):
    """Each distinct text once per task: STS shares texts across its two columns, reranking repeats documents."""
    sts_texts = {t for row in STS_ROWS for t in row[:2]}
    cls_texts = {t for texts in TOPICS.values() for t in texts}  # train and test: one call each
    expected = (
        len(sts_texts)
        + 2 * len(cls_texts)
        + len(TOPICS)  # clustering: one distinct text per cluster
        + 4
        + 8  # pair classification: 4 identical pairs, 4 distinct pairs
        + len(SENTENCES)
        + 2  # retrieval: corpus, queries
    )
    rerank_docs = {
        d
        for line in (local_dir / "reranking" / "tiny-rr" / "test.jsonl").read_text().splitlines()
        for d in json.loads(line)["positive"] + json.loads(line)["negative"]
    }
    expected += len(rerank_docs) + 3
    assert all_types_result["n_texts_encoded"] == expected


def test_local_sts_equals_eval_sts_on_the_same_file(all_types_result, tiny_bert, local_dir):
    from sentence_transformers import SentenceTransformer

    from fmicl_text.evaluation.sts import read_sts_tsv, score_tasks

    pairs = read_sts_tsv(local_dir / "sts" / "tiny-sts" / "test.tsv")
    ours = score_tasks(
        SentenceTransformer(tiny_bert), {"tiny": pairs}, suite=None, text="original", show_progress=False
    ).scores["tiny"]
    # mteb reports Spearman in [-1, 1]; `eval sts` reports it x100
    assert 100 * all_types_result["scores"]["tiny-sts"]["main_score"] == pytest.approx(ours, abs=1e-6)


def test_new_checkpoint_never_gets_old_cached_scores(tiny_bert, local_dir, tmp_path):
    from transformers import BertConfig, BertModel

    model_dir = tmp_path / "run" / "model"  # the same folder name for both checkpoints
    shutil.copytree(tiny_bert, model_dir)
    cache = tmp_path / "cache"

    def run() -> dict:
        return evaluate_mteb(str(model_dir), ["tiny-sts"], local_dir=local_dir, cache_dir=cache, show_progress=False)

    first = run()
    cached = cache / "results" / "local__model" / first["revision"] / "tiny-sts.json"
    assert cached.is_file()  # results land in mteb's cache, under this checkpoint's revision

    # a stale or tampered cache file is never returned: every run recomputes
    data = json.loads(cached.read_text())
    data["scores"]["test"][0]["main_score"] = data["scores"]["test"][0]["cosine_spearman"] = 0.123
    cached.write_text(json.dumps(data))
    again = run()
    assert again["revision"] == first["revision"]
    assert again["scores"]["tiny-sts"]["main_score"] == pytest.approx(first["scores"]["tiny-sts"]["main_score"])

    # new weights in the same folder: a new revision and its own score
    import torch

    torch.manual_seed(123)
    BertModel(BertConfig.from_pretrained(model_dir), add_pooling_layer=False).save_pretrained(model_dir)
    second = run()
    assert second["mteb_model"] == first["mteb_model"]
    assert second["revision"] != first["revision"]
    assert second["scores"]["tiny-sts"]["main_score"] != pytest.approx(first["scores"]["tiny-sts"]["main_score"])
    assert (cache / "results" / "local__model" / second["revision"] / "tiny-sts.json").is_file()


def test_revision_is_content_based(tiny_bert, tmp_path):
    copy = shutil.copytree(tiny_bert, tmp_path / "copy")
    assert checkpoint_revision(copy) == checkpoint_revision(tiny_bert)  # a copy keeps its identity
    (copy / "README.md").write_text("a new model card", encoding="utf-8")
    assert checkpoint_revision(copy) == checkpoint_revision(tiny_bert)  # the card does not change embeddings
    (copy / "config.json").write_text((copy / "config.json").read_text().replace("32", "33"), encoding="utf-8")
    assert checkpoint_revision(copy) != checkpoint_revision(tiny_bert)


def test_discovery_and_task_classes(local_dir):
    import mteb.abstasks as abstasks

    specs = discover_local_tasks(local_dir)
    assert {name: spec.kind for name, spec in specs.items()} == {
        "tiny-cls": "classification",
        "tiny-clu": "clustering",
        "tiny-pair": "pair_classification",
        "tiny-rr": "reranking",
        "tiny-ret": "retrieval",
        "tiny-sts": "sts",
    }
    sts = build_local_task(specs["tiny-sts"])
    assert isinstance(sts, abstasks.AbsTaskSTS)
    assert isinstance(build_local_task(specs["tiny-clu"]), abstasks.AbsTaskClustering)
    assert isinstance(build_local_task(specs["tiny-rr"]), abstasks.AbsTaskRetrieval)
    sts.load_data()
    assert (sts.min_score, sts.max_score) == (0.0, 5.0)  # from task.json
    assert sts.dataset["default"]["test"]["sentence1"][0].startswith('"Quoted"')


# --------------------------------------------------------------------------- bad input


def bad(tmp_path: Path, kind: str, files: dict[str, str], name: str = "bad") -> Path:
    (tmp_path / kind / name).mkdir(parents=True, exist_ok=True)
    for relative, text in files.items():
        path = tmp_path / kind / name / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return tmp_path


@pytest.mark.parametrize(
    ("kind", "files", "message", "where"),
    [
        ("sts", {}, "test.tsv not found", "test.tsv"),
        ("sts", {"test.tsv": "sentence1\tsentence2\tscore\na\tb\t1\nc\td\tnan\n"}, "not a finite number", ":3"),
        ("sts", {"test.tsv": "sentence1\tsentence2\na\tb\n"}, "missing column(s) score", ":1"),
        (
            "sts",
            {"test.tsv": "sentence1\tsentence2\tscore\na\tb\t1\nc\td\t6\n", "task.json": '{"max_score": 5}'},
            "outside",
            ":3",
        ),
        ("sts", {"test.tsv": "sentence1\tsentence2\tscore\na\tb\t1\n", "task.json": '{"max": 5}'}, "unknown key", ""),
        ("classification", {"test.tsv": "text\tlabel\na\tx\n"}, "train.tsv not found", "train.tsv"),
        ("classification", {"train.tsv": "text\tlabel\na\tx\nb\ty\n", "test.tsv": "text\nb\n"}, "label", ":1"),
        ("clustering", {"test.tsv": "text\tlabel\na\tx\nb\t\n"}, "empty label", ":3"),
        ("clustering", {"test.tsv": "text\tlabel\na\tx\nb\tx\tz\n"}, "too many fields", ":3"),
        ("pair_classification", {"test.tsv": "sentence1\tsentence2\tlabel\na\tb\t1\nc\td\t2\n"}, "not 0 or 1", ":3"),
        ("pair_classification", {"test.tsv": "sentence1\tsentence2\tlabel\na\tb\t1\nc\td\t1\n"}, "label 1", ""),
        (
            "retrieval",
            {
                "corpus.jsonl": '{"_id": "d1", "text": "x"}\n{"_id": "d2", "text": \n',
                "queries.jsonl": "",
                "qrels/test.tsv": "",
            },
            "not valid JSON",
            "corpus.jsonl:2",
        ),
        (
            "retrieval",
            {
                "corpus.jsonl": '{"_id": "d1", "text": "x"}\n',
                "queries.jsonl": '{"_id": "q1", "text": "y"}\n',
                "qrels/test.tsv": "query-id\tcorpus-id\tscore\nq1\td9\t1\n",
            },
            "corpus-id 'd9'",
            "test.tsv:2",
        ),
        ("retrieval", {"corpus.jsonl": '{"_id": "d1", "text": "x"}\n'}, "queries.jsonl", ""),
        ("reranking", {"test.jsonl": '{"query": "q", "positive": "p", "negative": []}\n'}, "must be a list", ":1"),
        ("reranking", {"test.jsonl": '{"query": "q", "negative": ["n"]}\n'}, "lacks the key 'positive'", ":1"),
    ],
)
def test_bad_local_files_fail_with_file_and_line(tmp_path, kind, files, message, where):
    root = bad(tmp_path, kind, files)
    with pytest.raises(FmiclError) as info:
        load_local_tasks(root)
    assert message in str(info.value)
    assert where in (info.value.where or "")


def test_unknown_type_folder(tmp_path):
    (tmp_path / "stss" / "x").mkdir(parents=True)
    with pytest.raises(FmiclError, match="unknown local task type folder 'stss'") as info:
        discover_local_tasks(tmp_path)
    assert "did you mean 'sts'" in info.value.fix


def test_bad_data_fails_before_the_model_loads(tmp_path):
    root = bad(tmp_path / "tasks", "sts", {"test.tsv": "sentence1\tsentence2\tscore\na\tb\tx\n"})
    with pytest.raises(FmiclError, match="not a finite number"):  # not "cannot load the model"
        evaluate_mteb(str(tmp_path / "no-such-model"), ["bad"], local_dir=root, cache_dir=tmp_path / "cache")


def test_unknown_task_names_give_a_clear_error(local_dir, tmp_path):
    with pytest.raises(FmiclError, match="unknown task 'tiny-stss'") as info:
        evaluate_mteb("no-such-model", ["tiny-stss"], local_dir=local_dir, cache_dir=tmp_path)
    assert "did you mean 'tiny-sts'" in info.value.fix
    with pytest.raises(FmiclError, match="unknown task 'STSBenchmarkk'") as info:
        evaluate_mteb("no-such-model", ["STSBenchmarkk"], cache_dir=tmp_path)
    assert "STSBenchmark" in info.value.fix


def test_mteb_task_offline_gives_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(FmiclError, match="cannot load the data of MTEB task 'STSBenchmark'") as info:
        evaluate_mteb("no-such-model", ["STSBenchmark"], cache_dir=tmp_path)
    assert "--local-dir" in info.value.fix


def test_cli_prints_a_table_and_writes_the_json(tiny_bert, local_dir, tmp_path, capsys):
    import argparse

    from fmicl_text.cli.evaluate import add_mteb_arguments, run_eval_mteb

    output = tmp_path / "out" / "scores.json"
    args = add_mteb_arguments(argparse.ArgumentParser()).parse_args(
        [tiny_bert, "--tasks", "tiny-sts", "--tasks", "tiny-pair", "--local-dir", str(local_dir)]
        + ["--output", str(output), "--cache-dir", str(tmp_path / "cache"), "--batch-size", "4"]
    )
    assert run_eval_mteb(args) == 0
    written = json.loads(output.read_text(encoding="utf-8"))
    assert {name: score["metric"] for name, score in written["scores"].items()} == {
        "tiny-sts": "cosine_spearman",
        "tiny-pair": "max_ap",
    }
    assert written["scores"]["tiny-pair"]["main_score"] == pytest.approx(1.0)
    assert written["batch_size"] == 4
    table = capsys.readouterr().out
    assert "tiny-sts" in table and "100.00" in table  # max_ap 1.0, shown x100
