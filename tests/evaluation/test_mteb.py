"""MTEB evaluation: local tasks of every type through mteb's own API, checkpoint identity, input validation.

Offline and small: a tiny random BERT (conftest's ``tiny_bert``) and a few rows per task. Where a random model
can still give an exact answer, the fixtures are built for it: a query whose relevant document is the query text
itself has cosine 1 with it (ranked first whatever the weights), so nDCG@10 and MAP are exactly 1.

The modules under test import mteb, and ``import mteb`` creates its default cache folder: they are imported inside
the tests, after conftest has pointed ``MTEB_CACHE`` at a temporary folder of the test session.
"""

from __future__ import annotations

import gzip
import json
import math
import os
import shutil
from pathlib import Path

import pytest
from conftest import SENTENCES, write_tsv

from fmicl_text.errors import FmiclError

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
LABELLED = [[text, label] for label, texts in TOPICS.items() for text in texts]
# identical texts within a cluster: k-means recovers the labels exactly, whatever the weights
CLUSTERS = [[label.upper() + " " + texts[0], label] for label, texts in TOPICS.items() for _ in range(4)]
# the positive pairs are identical sentences (cosine 1), the negatives are not: AP is exactly 1
PAIRS = [[s, s, "1"] for s in SENTENCES[:4]] + [
    [a, b, "0"] for a, b in zip(SENTENCES[4:8], SENTENCES[8:12], strict=True)
]
CORPUS = [{"_id": f"d{i}", "title": "", "text": s} for i, s in enumerate(SENTENCES)]
QUERIES = [{"_id": "q1", "text": SENTENCES[2]}, {"_id": "q2", "text": SENTENCES[7]}]
QRELS = [["q1", "d2", 1], ["q2", "d7", 1]]
RERANK = [
    {"query": SENTENCES[i], "positive": [SENTENCES[i]], "negative": [SENTENCES[j] for j in range(12) if j != i][:4]}
    for i in (0, 5, 9)
]


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

    write_tsv(root / "classification" / "tiny-cls" / "train.tsv", ["text", "label"], LABELLED)
    write_tsv(root / "classification" / "tiny-cls" / "test.tsv", ["label", "text"], [[b, a] for a, b in LABELLED])
    write_tsv(root / "clustering" / "tiny-clu" / "test.tsv", ["text", "label"], CLUSTERS)
    write_tsv(root / "pair_classification" / "tiny-pair" / "test.tsv", ["sentence1", "sentence2", "label"], PAIRS)
    ret = root / "retrieval" / "tiny-ret"
    write_jsonl(ret / "corpus.jsonl.gz", CORPUS, gz=True)
    write_jsonl(ret / "queries.jsonl", QUERIES)
    write_tsv(ret / "qrels" / "test.tsv", ["query-id", "corpus-id", "score"], QRELS)
    write_jsonl(root / "reranking" / "tiny-rr" / "test.jsonl", RERANK)
    return root


def mteb_style_tasks(meta: dict) -> list:
    """The fixture rows as tasks written the way mteb's guide writes one ("Adding a Dataset": ``metadata`` on the
    class, a ``load_data`` that sets ``self.dataset``), in the column layout of mteb's defaults, which is the layout
    the local tasks had before they were classes of their own. ``meta``: each local task's metadata, by name."""
    from datasets import Dataset, DatasetDict
    from mteb.abstasks import (
        AbsTaskClassification,
        AbsTaskClustering,
        AbsTaskPairClassification,
        AbsTaskRetrieval,
        AbsTaskSTS,
    )

    def test_split(**columns) -> DatasetDict:
        return DatasetDict({"test": Dataset.from_dict(columns)})

    ids = {name: i for i, name in enumerate(sorted(TOPICS))}  # label names, numbered in sorted order
    labelled = Dataset.from_dict({"text": [t for t, _ in LABELLED], "label": [ids[x] for _, x in LABELLED]})
    docs, relevant, top_ranked = {}, {}, {}
    for line_no, line in enumerate(RERANK, start=1):
        query_id = f"q{line_no}"
        relevant[query_id], top_ranked[query_id] = {}, []
        for key in ("positive", "negative"):
            for i, text in enumerate(line[key]):
                docs[f"{query_id}_{key}_{i}"] = text
                relevant[query_id][f"{query_id}_{key}_{i}"] = int(key == "positive")
                top_ranked[query_id].append(f"{query_id}_{key}_{i}")
    data = {
        "tiny-sts": test_split(
            sentence1=[r[0] for r in STS_ROWS],
            sentence2=[r[1] for r in STS_ROWS],
            score=[float(r[2]) for r in STS_ROWS],
        ),
        "tiny-cls": DatasetDict({"train": labelled, "test": labelled}),
        "tiny-clu": test_split(sentences=[t for t, _ in CLUSTERS], labels=[x for _, x in CLUSTERS]),
        "tiny-pair": test_split(
            sentence1=[a for a, _, _ in PAIRS], sentence2=[b for _, b, _ in PAIRS], labels=[int(x) for *_, x in PAIRS]
        ),
        "tiny-ret": {
            "test": {
                "corpus": Dataset.from_dict(
                    {"id": [d["_id"] for d in CORPUS], "title": [""] * len(CORPUS), "text": [d["text"] for d in CORPUS]}
                ),  # fmt: skip
                "queries": Dataset.from_dict({"id": [q["_id"] for q in QUERIES], "text": [q["text"] for q in QUERIES]}),
                "relevant_docs": {q: {d: score} for q, d, score in QRELS},
                "top_ranked": None,
            }
        },
        "tiny-rr": {
            "test": {
                "corpus": Dataset.from_dict({"id": list(docs), "title": [""] * len(docs), "text": list(docs.values())}),
                "queries": Dataset.from_dict({"id": list(relevant), "text": [line["query"] for line in RERANK]}),
                "relevant_docs": relevant,
                "top_ranked": top_ranked,
            }
        },
    }

    class InCode:
        def load_data(self, num_proc=None, **kwargs) -> None:
            self.dataset = {"default": data[self.metadata.name]}
            self.data_loaded = True

    class STS(InCode, AbsTaskSTS):
        metadata = meta["tiny-sts"]
        min_score, max_score = 0, 5

    class Classification(InCode, AbsTaskClassification):
        metadata = meta["tiny-cls"]

    class Clustering(InCode, AbsTaskClustering):
        metadata = meta["tiny-clu"]
        max_fraction_of_documents_to_embed = None

    class PairClassification(InCode, AbsTaskPairClassification):
        metadata = meta["tiny-pair"]

    class Retrieval(InCode, AbsTaskRetrieval):
        metadata = meta["tiny-ret"]

    class Reranking(InCode, AbsTaskRetrieval):
        metadata = meta["tiny-rr"]

    return [cls() for cls in (STS, Classification, Clustering, PairClassification, Retrieval, Reranking)]


@pytest.fixture(scope="module")
def local_dir(tmp_path_factory) -> Path:
    return make_local_tasks(tmp_path_factory.mktemp("local-tasks"))


@pytest.fixture(scope="module")
def all_types_result(tiny_bert, local_dir, tmp_path_factory) -> dict:
    from fmicl_text.evaluation.mteb_eval import evaluate_mteb

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

    from fmicl_text.evaluation.mteb_eval import evaluate_mteb

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
    from fmicl_text.evaluation.mteb_eval import checkpoint_revision

    copy = shutil.copytree(tiny_bert, tmp_path / "copy")
    assert checkpoint_revision(copy) == checkpoint_revision(tiny_bert)  # a copy keeps its identity
    (copy / "README.md").write_text("a new model card", encoding="utf-8")
    assert checkpoint_revision(copy) == checkpoint_revision(tiny_bert)  # the card does not change embeddings
    (copy / "config.json").write_text((copy / "config.json").read_text().replace("32", "33"), encoding="utf-8")
    assert checkpoint_revision(copy) != checkpoint_revision(tiny_bert)


def test_cache_dir_is_passed_to_mteb_not_set_in_the_environment(tiny_bert, local_dir, tmp_path):
    from fmicl_text.evaluation.mteb_eval import evaluate_mteb

    before = dict(os.environ)
    result = evaluate_mteb(
        tiny_bert, ["tiny-sts"], local_dir=local_dir, cache_dir=tmp_path / "cache", show_progress=False
    )
    assert dict(os.environ) == before
    assert result["cache"] == str(tmp_path / "cache")
    assert (tmp_path / "cache" / "results" / result["mteb_model"].replace("/", "__") / result["revision"]).is_dir()


def private_mteb_names_and_environment_writes(source: str) -> list[str]:
    """What ``source`` takes from mteb under a private name (``_x``, not ``__x__``), and its writes to os.environ."""
    import ast

    def private(name: str) -> bool:
        return any(part.startswith("_") and not part.endswith("__") for part in name.split("."))

    def is_environ(node: ast.AST) -> bool:
        return isinstance(node, ast.Attribute) and node.attr == "environ" and getattr(node.value, "id", None) == "os"

    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "mteb":
            found += [name for name in (node.module, *(a.name for a in node.names)) if private(name)]
        elif isinstance(node, ast.Import):
            found += [a.name for a in node.names if a.name.split(".")[0] == "mteb" and private(a.name)]
        elif isinstance(node, ast.Attribute) and getattr(node.value, "id", None) == "mteb" and private(node.attr):
            found.append(f"mteb.{node.attr}")
        elif isinstance(node, ast.Assign | ast.AugAssign | ast.Delete):
            targets = [node.target] if isinstance(node, ast.AugAssign) else node.targets
            found += [ast.unparse(t) for t in targets if isinstance(t, ast.Subscript) and is_environ(t.value)]
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            environ_write = is_environ(node.func.value) and node.func.attr != "get"
            if environ_write or ast.unparse(node.func) in ("os.putenv", "os.unsetenv"):
                found.append(ast.unparse(node.func))
    return found


def test_mteb_modules_use_public_mteb_names_and_write_no_environment():
    bad_source = (
        "import os\nimport mteb\nfrom mteb._create_dataloaders import x\nfrom mteb.get_tasks import _TASKS_REGISTRY\n"
        "mteb._private\nos.environ['MTEB_CACHE'] = 'x'\nos.environ.setdefault('A', 'b')\nos.putenv('A', 'b')\n"
        "os.environ.get('HF_HUB_OFFLINE')\n"
    )
    assert len(private_mteb_names_and_environment_writes(bad_source)) == 6  # the check sees each kind, reads pass
    package = Path(__file__).resolve().parents[2] / "fmicl_text" / "evaluation"
    for path in (package / "mteb_eval.py", package / "mteb_tasks.py"):
        assert private_mteb_names_and_environment_writes(path.read_text(encoding="utf-8")) == [], path


def test_discovery_finds_each_task_folder_and_its_type(local_dir):
    from fmicl_text.evaluation.mteb_tasks import discover_local_tasks

    specs = discover_local_tasks(local_dir)
    assert {name: (spec.kind, spec.folder) for name, spec in specs.items()} == {
        "tiny-cls": ("classification", local_dir / "classification" / "tiny-cls"),
        "tiny-clu": ("clustering", local_dir / "clustering" / "tiny-clu"),
        "tiny-pair": ("pair_classification", local_dir / "pair_classification" / "tiny-pair"),
        "tiny-rr": ("reranking", local_dir / "reranking" / "tiny-rr"),
        "tiny-ret": ("retrieval", local_dir / "retrieval" / "tiny-ret"),
        "tiny-sts": ("sts", local_dir / "sts" / "tiny-sts"),
    }


def test_each_type_is_one_explicit_subclass_of_mteb_s_abstract_class(local_dir, tmp_path):
    import mteb.abstasks as abstasks

    from fmicl_text.evaluation import mteb_tasks

    expected = {
        "sts": abstasks.AbsTaskSTS,
        "classification": abstasks.AbsTaskClassification,
        "clustering": abstasks.AbsTaskClustering,
        "pair_classification": abstasks.AbsTaskPairClassification,
        "retrieval": abstasks.AbsTaskRetrieval,
        "reranking": abstasks.AbsTaskRetrieval,  # mteb v2 reranking: retrieval among top_ranked candidates
    }
    assert list(mteb_tasks.LOCAL_TASK_CLASSES) == list(mteb_tasks.TASK_TYPES) == list(expected)
    shutil.copytree(local_dir / "sts" / "tiny-sts", tmp_path / "sts" / "tiny-sts-2")
    specs = {**mteb_tasks.discover_local_tasks(local_dir), **mteb_tasks.discover_local_tasks(tmp_path)}
    for name, spec in specs.items():
        task = mteb_tasks.build_local_task(spec)
        cls = type(task)
        # a class statement at module level, found under its own name: not a class made at run time
        assert (cls.__module__, cls.__qualname__) == (mteb_tasks.__name__, cls.__name__)
        assert getattr(mteb_tasks, cls.__name__) is cls is mteb_tasks.LOCAL_TASK_CLASSES[spec.kind]
        assert issubclass(cls, expected[spec.kind]) and issubclass(cls, mteb_tasks.LocalTask)
        # one class per type; each folder's own metadata on its instance
        assert "metadata" not in vars(cls)
        assert (task.metadata.name, task.metadata.type) == (name, spec.mteb_type)
    sts, sts_2 = (mteb_tasks.build_local_task(specs[name]) for name in ("tiny-sts", "tiny-sts-2"))
    assert type(sts) is type(sts_2) and sts.metadata.name != sts_2.metadata.name


def test_each_type_scores_as_the_same_data_in_mteb_s_own_task_layout(all_types_result, tiny_bert, local_dir):
    """To the last digit, every metric: reading files and the explicit classes change no score."""
    import mteb

    from fmicl_text.evaluation.mteb_defaults import DEFAULT_BATCH_SIZE
    from fmicl_text.evaluation.mteb_eval import load_encoder
    from fmicl_text.evaluation.mteb_tasks import build_local_task, discover_local_tasks

    specs = discover_local_tasks(local_dir)
    reference = mteb_style_tasks({name: build_local_task(spec).metadata for name, spec in specs.items()})
    encoder = load_encoder(tiny_bert)
    assert [task.metadata.name for task in reference] == list(all_types_result["scores"])
    for task in reference:
        result = mteb.evaluate(
            encoder,
            task,
            cache=None,
            encode_kwargs={"batch_size": DEFAULT_BATCH_SIZE, "show_progress_bar": False},
            co2_tracker=False,
            show_progress_bar=False,
        ).task_results[0]
        [entry] = result.scores["test"]
        numbers = {
            key: float(value) if math.isfinite(value) else None
            for key, value in entry.items()
            if isinstance(value, int | float) and not isinstance(value, bool)
        }
        assert numbers == all_types_result["scores"][task.metadata.name]["metrics"], task.metadata.name


def test_sts_task_reads_its_range_and_quoted_sentences(local_dir):
    from fmicl_text.evaluation.mteb_tasks import build_local_task, discover_local_tasks

    sts = build_local_task(discover_local_tasks(local_dir)["tiny-sts"])
    sts.load_data()
    assert (sts.min_score, sts.max_score) == (0.0, 5.0)  # from task.json
    assert sts.dataset["default"]["test"]["sentence1"][0].startswith('"Quoted"')


def test_unloading_keeps_the_metadata_and_loading_reads_the_folder_again(local_dir):
    from fmicl_text.evaluation.mteb_tasks import build_local_task, discover_local_tasks

    task = build_local_task(discover_local_tasks(local_dir)["tiny-rr"])
    metadata = task.metadata
    task.load_data()
    first = task.dataset
    task.unload_data()
    assert (task.data_loaded, task.dataset, task.metadata) == (False, None, metadata)
    task.load_data()
    assert task.data_loaded and task.dataset is not first
    assert task.dataset["default"]["test"]["top_ranked"] == first["default"]["test"]["top_ranked"]


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
        ("sts", {}, "test.tsv not found", "/test.tsv"),
        (
            "sts",
            {"test.tsv": "sentence1\tsentence2\tscore\na\tb\t1\nc\td\tnan\n"},
            "not a finite number",
            "/test.tsv:3",
        ),
        ("sts", {"test.tsv": "sentence1\tsentence2\na\tb\n"}, "missing column(s) score", "/test.tsv:1"),
        (
            "sts",
            {"test.tsv": "sentence1\tsentence2\tscore\na\tb\t1\nc\td\t6\n", "task.json": '{"max_score": 5}'},
            "outside",
            "/test.tsv:3",
        ),
        (
            "sts",
            {"test.tsv": "sentence1\tsentence2\tscore\na\tb\t1\n", "task.json": '{"max": 5}'},
            "unknown key",
            "/task.json",
        ),
        ("classification", {"test.tsv": "text\tlabel\na\tx\n"}, "train.tsv not found", "/train.tsv"),
        ("classification", {"train.tsv": "text\tlabel\na\tx\nb\ty\n", "test.tsv": "text\nb\n"}, "label", "/test.tsv:1"),
        ("clustering", {"test.tsv": "text\tlabel\na\tx\nb\t\n"}, "empty label", "/test.tsv:3"),
        ("clustering", {"test.tsv": "text\tlabel\na\tx\nb\tx\tz\n"}, "too many fields", "/test.tsv:3"),
        (
            "pair_classification",
            {"test.tsv": "sentence1\tsentence2\tlabel\na\tb\t1\nc\td\t2\n"},
            "not 0 or 1",
            "/test.tsv:3",
        ),
        (
            "pair_classification",
            {"test.tsv": "sentence1\tsentence2\tlabel\na\tb\t1\nc\td\t1\n"},
            "label 1",
            "/test.tsv",
        ),
        (
            "retrieval",
            {
                "corpus.jsonl": '{"_id": "d1", "text": "x"}\n{"_id": "d2", "text": \n',
                "queries.jsonl": "",
                "qrels/test.tsv": "",
            },
            "not valid JSON",
            "/corpus.jsonl:2",
        ),
        (
            "retrieval",
            {
                "corpus.jsonl": '{"_id": "d1", "text": "x"}\n',
                "queries.jsonl": '{"_id": "q1", "text": "y"}\n',
                "qrels/test.tsv": "query-id\tcorpus-id\tscore\nq1\td9\t1\n",
            },
            "corpus-id 'd9'",
            "/qrels/test.tsv:2",
        ),
        ("retrieval", {"corpus.jsonl": '{"_id": "d1", "text": "x"}\n'}, "queries.jsonl", "/bad"),
        (
            "reranking",
            {"test.jsonl": '{"query": "q", "positive": "p", "negative": []}\n'},
            "must be a list",
            "/test.jsonl:1",
        ),
        (
            "reranking",
            {"test.jsonl": '{"query": "q", "negative": ["n"]}\n'},
            "lacks the key 'positive'",
            "/test.jsonl:1",
        ),
    ],
)
def test_bad_local_files_fail_naming_the_file(tmp_path, kind, files, message, where):
    """``where`` is the file at fault (the folder, for a missing one), with the line where one line is at fault."""
    from fmicl_text.evaluation.mteb_tasks import load_local_tasks

    root = bad(tmp_path, kind, files)
    with pytest.raises(FmiclError) as info:
        load_local_tasks(root)
    assert message in str(info.value)
    assert info.value.where.startswith(str(root / kind / "bad")) and info.value.where.endswith(where)


def test_unknown_type_folder(tmp_path):
    from fmicl_text.evaluation.mteb_tasks import discover_local_tasks

    (tmp_path / "stss" / "x").mkdir(parents=True)
    with pytest.raises(FmiclError, match="unknown local task type folder 'stss'") as info:
        discover_local_tasks(tmp_path)
    assert "did you mean 'sts'" in info.value.fix


def test_bad_data_fails_before_the_model_loads(tmp_path):
    from fmicl_text.evaluation.mteb_eval import evaluate_mteb

    root = bad(tmp_path / "tasks", "sts", {"test.tsv": "sentence1\tsentence2\tscore\na\tb\tx\n"})
    with pytest.raises(FmiclError, match="not a finite number"):  # not "cannot load the model"
        evaluate_mteb(str(tmp_path / "no-such-model"), ["bad"], local_dir=root, cache_dir=tmp_path / "cache")


def test_unknown_task_names_give_a_clear_error(local_dir, tmp_path):
    from fmicl_text.evaluation.mteb_eval import evaluate_mteb

    with pytest.raises(FmiclError, match="unknown task 'tiny-stss'") as info:
        evaluate_mteb("no-such-model", ["tiny-stss"], local_dir=local_dir, cache_dir=tmp_path)
    assert "did you mean 'tiny-sts'" in info.value.fix
    with pytest.raises(FmiclError, match="unknown task 'STSBenchmarkk'") as info:
        evaluate_mteb("no-such-model", ["STSBenchmarkk"], cache_dir=tmp_path)
    assert "STSBenchmark" in info.value.fix


def test_mteb_task_offline_gives_a_clear_error(tmp_path, monkeypatch):
    from fmicl_text.evaluation.mteb_eval import evaluate_mteb

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
