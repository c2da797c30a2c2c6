"""Local MTEB tasks: folders of plain files that become tasks built on mteb's own abstract task classes.

Every folder ``DIR/<type>/<name>/`` under a local task directory is one task named ``<name>``:

================================  ==========================================================================
``sts/<name>/``                   ``test.tsv``: sentence1, sentence2, score (optional ``task.json`` with
                                  ``min_score``, ``max_score``; otherwise the range is read from the data)
``classification/<name>/``        ``train.tsv`` and ``test.tsv``: text, label
``clustering/<name>/``            ``test.tsv``: text, label
``pair_classification/<name>/``   ``test.tsv``: sentence1, sentence2, label (0 or 1)
``retrieval/<name>/``             the BEIR layout: ``corpus.jsonl[.gz]`` (_id, title, text),
                                  ``queries.jsonl[.gz]`` (_id, text), ``qrels/test.tsv`` (query-id, corpus-id,
                                  score)
``reranking/<name>/``             ``test.jsonl``: one ``{"query": .., "positive": [..], "negative": [..]}`` a line
================================  ==========================================================================

TSV files have a header line, are TAB-separated with no quoting (a sentence may begin with ``"``) and UTF-8;
extra columns are ignored. Only the reading is ours: the metrics are mteb's. Each type is one class, written as
mteb writes its tasks: a subclass of mteb's abstract class of that type (``LocalSTSTask(AbsTaskSTS)`` and so on,
in ``LOCAL_TASK_CLASSES``), of which each folder is an instance holding its own ``TaskMetadata``. Reranking is an
``AbsTaskRetrieval`` with ``top_ranked`` candidates, as mteb v2's reranking tasks are (``AbsTaskReranking`` is
deprecated there and only converts Hub datasets of the old format).

``load_data`` reads and checks every file with ``datasets.load_dataset`` (through :mod:`fmicl_text.data.files`,
the reader of every input), failing with an :class:`FmiclError` that names the file and line, so a bad file stops
the run before any model is loaded; ``dataset_transform`` then turns what the files hold into what mteb's class
scores (class ids for labels; a reranking file's lines into a corpus and each query's candidates), on the Arrow
tables, as it does for mteb's own tasks.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
from abc import abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from datasets import Dataset, DatasetDict
from mteb import TaskMetadata
from mteb.abstasks import (
    AbsTask,
    AbsTaskClassification,
    AbsTaskClustering,
    AbsTaskPairClassification,
    AbsTaskRetrieval,
    AbsTaskSTS,
)

from fmicl_text.data.files import ID, TEXT, TEXTS, DataFile, Key, Table, floats
from fmicl_text.errors import FmiclError, did_you_mean
from fmicl_text.evaluation.sts import read_sts_table

logger = logging.getLogger(__name__)

# folder name -> (mteb task type, mteb main score): the main scores mteb's own tasks of that type use.
TASK_TYPES: dict[str, tuple[str, str]] = {
    "sts": ("STS", "cosine_spearman"),
    "classification": ("Classification", "accuracy"),
    "clustering": ("Clustering", "v_measure"),
    "pair_classification": ("PairClassification", "max_ap"),
    "retrieval": ("Retrieval", "ndcg_at_10"),
    "reranking": ("Reranking", "map_at_1000"),
}

# The keys a task.json may hold (per type; "*" for every type).
TASK_JSON_KEYS: dict[str, tuple[str, ...]] = {
    "*": ("description", "eval_langs"),
    "sts": ("min_score", "max_score"),
}

DEFAULT_LANGS = ["eng-Latn"]


@dataclass(frozen=True)
class LocalTaskSpec:
    """One local task folder: ``<root>/<kind>/<name>/``."""

    name: str
    kind: str
    folder: Path

    @property
    def mteb_type(self) -> str:
        return TASK_TYPES[self.kind][0]

    @property
    def main_score(self) -> str:
        return TASK_TYPES[self.kind][1]


# --------------------------------------------------------------------------- discovery


def discover_local_tasks(local_dir: str | os.PathLike) -> dict[str, LocalTaskSpec]:
    """Every ``<type>/<name>/`` folder under ``local_dir``, by task name (sorted)."""
    root = Path(local_dir).expanduser()
    if not root.is_dir():
        raise FmiclError(
            "local task directory not found",
            where=str(root),
            fix="--local-dir must be a folder holding <type>/<name>/ task folders",
        )
    specs: dict[str, LocalTaskSpec] = {}
    for type_dir in sorted(root.iterdir()):
        if not type_dir.is_dir() or type_dir.name.startswith((".", "_")):
            continue  # README files, hidden folders, __pycache__
        if type_dir.name not in TASK_TYPES:
            raise FmiclError(
                f"unknown local task type folder {type_dir.name!r}",
                where=str(type_dir),
                fix=did_you_mean(type_dir.name, TASK_TYPES),
            )
        for task_dir in sorted(type_dir.iterdir()):
            if not task_dir.is_dir() or task_dir.name.startswith((".", "_")):
                continue
            name = task_dir.name
            if name in specs:
                raise FmiclError(
                    f"two local tasks are named {name!r}",
                    where=f"{specs[name].folder} and {task_dir}",
                    fix="task names must be unique across types: rename one folder",
                )
            specs[name] = LocalTaskSpec(name=name, kind=type_dir.name, folder=task_dir)
    return specs


def build_local_task(spec: LocalTaskSpec) -> LocalTask:
    """The mteb task of ``spec``: an instance of its type's class (data not loaded yet: call ``load_data()``)."""
    options = _read_task_json(spec)
    return LOCAL_TASK_CLASSES[spec.kind](spec, _task_metadata(spec, options), options)


def load_local_tasks(local_dir: str | os.PathLike, names: list[str] | None = None) -> dict[str, LocalTask]:
    """Build and load (hence validate) the named local tasks, or all of them."""
    specs = discover_local_tasks(local_dir)
    if names is None:
        names = list(specs)
    tasks = {}
    for name in names:
        if name not in specs:
            raise FmiclError(f"no local task named {name!r}", where=str(local_dir), fix=did_you_mean(name, specs))
        task = build_local_task(specs[name])
        task.load_data()
        tasks[name] = task
    return tasks


def folder_hash(folder: Path) -> str:
    """A short content hash of every file in ``folder``: the task's dataset revision."""
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(path.relative_to(folder).as_posix().encode() + b"\0")
        with path.open("rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
        digest.update(b"\0")
    return digest.hexdigest()[:12]


def _task_metadata(spec: LocalTaskSpec, options: dict[str, Any]) -> TaskMetadata:
    """The folder's ``TaskMetadata``: its name, its type's main score, and its content hash as dataset revision."""
    description = options.get("description") or f"Local {spec.mteb_type} task read from {spec.kind}/{spec.name}/"
    langs = options.get("eval_langs", DEFAULT_LANGS)
    try:
        return TaskMetadata(
            name=spec.name,
            description=str(description),
            reference=None,
            dataset={"path": f"local/{spec.kind}/{spec.name}", "revision": folder_hash(spec.folder)},
            type=spec.mteb_type,
            category="t2t",
            modalities=["text"],
            eval_splits=["test"],
            eval_langs=langs,
            main_score=spec.main_score,
            date=None,
            domains=None,
            task_subtypes=None,
            license=None,
            annotations_creators=None,
            dialect=None,
            sample_creation=None,
            bibtex_citation="",
        )
    except ValueError as exc:  # pydantic's validation error, e.g. a bad eval_langs
        raise FmiclError(
            f"invalid task settings: {exc}".splitlines()[0],
            where=str(spec.folder / "task.json"),
            fix='eval_langs is a list of "<iso639-3>-<script>" codes such as ["eng-Latn"]',
        ) from None


def _read_task_json(spec: LocalTaskSpec) -> dict[str, Any]:
    path = spec.folder / "task.json"
    if not path.is_file():
        return {}
    try:
        options = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        line = getattr(exc, "lineno", 1)
        raise FmiclError(f"task.json is not valid JSON: {exc}", where=f"{path}:{line}") from None
    if not isinstance(options, dict):
        raise FmiclError("task.json must hold one JSON object", where=str(path))
    allowed = (*TASK_JSON_KEYS["*"], *TASK_JSON_KEYS.get(spec.kind, ()))
    for key in options:
        if key not in allowed:
            raise FmiclError(f"task.json has an unknown key {key!r}", where=str(path), fix=did_you_mean(key, allowed))
    langs = options.get("eval_langs")
    if langs is not None and not (isinstance(langs, list) and langs and all(isinstance(x, str) for x in langs)):
        raise FmiclError("task.json: eval_langs must be a non-empty list of strings", where=str(path))
    for key in ("min_score", "max_score"):
        value = options.get(key)
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value)
        ):
            raise FmiclError(f"task.json: {key} must be a number, got {value!r}", where=str(path))
    return options


# --------------------------------------------------------------------------- file readers


def _require_file(spec: LocalTaskSpec, relative: str) -> Path:
    path = spec.folder / relative
    if not path.is_file():
        raise FmiclError(f"{relative} not found", where=str(path), fix=f"a {spec.kind} task folder needs {relative}")
    return path


def _read_tsv(spec: LocalTaskSpec, relative: str, columns: tuple[str, ...]) -> Table:
    """The task file's ``columns`` (a headed TSV; extra columns ignored), as text."""
    file = DataFile(_require_file(spec, relative), "tsv", formats=("tsv",))
    file.require(columns)
    return file.load(columns, blank_lines="error")


def _arrow(data: Dataset) -> pa.Table:
    return data.with_format("arrow")[:]  # honours any indices mapping


def _labels(table: Table) -> pa.ChunkedArray:
    """The label column, stripped; an empty label fails, naming its line."""
    labels = pc.utf8_trim_whitespace(_arrow(table.data).column("label"))
    empty = pc.equal(pc.utf8_length(labels), 0)
    if pc.any(empty).as_py():
        row = pc.index(empty, True).as_py()
        raise FmiclError(
            f"line {table.line(row)} has an empty label", where=table.where(row), fix="every row needs a label"
        )
    return labels


def _first_duplicate(ids: pa.ChunkedArray) -> int | None:
    """The row of the first id seen before, if any."""
    if len(pc.unique(ids)) == len(ids):
        return None
    seen: set[str] = set()
    for row, value in enumerate(ids.to_pylist()):
        if value in seen:
            return row
        seen.add(value)
    return None


def _label_ids(labels: list[str]) -> dict[str, int]:
    """Label name -> class id: integer labels keep their value, any other labels are numbered in sorted order."""
    names = sorted(set(labels))
    try:
        return {name: int(name) for name in names}
    except ValueError:
        return {name: i for i, name in enumerate(names)}


def _first_existing(folder: Path, names: tuple[str, ...]) -> Path:
    for name in names:
        if (folder / name).is_file():
            return folder / name
    raise FmiclError(f"{' or '.join(names)} not found", where=str(folder), fix="a retrieval task uses the BEIR layout")


# --------------------------------------------------------------------------- the task classes (one per type)


class LocalTask(AbsTask):
    """What a local task adds to mteb's abstract class of its type: its folder, read by ``load_data``.

    mteb's own tasks keep ``metadata`` on the class, one class per dataset. Here one class serves every folder of
    its type, so each instance holds the ``TaskMetadata`` of its folder (AbsTask reads ``self.metadata``).
    """

    def __init__(self, spec: LocalTaskSpec, metadata: TaskMetadata, options: dict[str, Any]) -> None:
        self.metadata = metadata  # before AbsTask.__init__, which reads it
        self.local_spec = spec
        self.local_options = options
        super().__init__()

    def load_data(self, num_proc: int | None = None, **kwargs: Any) -> None:
        """Read and check the folder (``read_files``), then ``dataset_transform``, as mteb's ``load_data`` does.

        AbsTask.load_data's docstring says not to override it but to use ``dataset_transform`` after it has called
        ``datasets.load_dataset(**metadata.dataset)``. That cannot read a local folder the way these tasks need:
        ``TaskMetadata.dataset`` accepts only ``path``, ``revision``, ``name``, ``split`` and
        ``trust_remote_code`` (``data_files``, a delimiter or ``quoting`` are refused as extra fields), and a bad
        file must fail naming its line before any model loads. mteb's guide overrides ``load_data`` for such
        cases, setting ``self.dataset`` and ``self.data_loaded`` itself ("Adding a Dataset", the "Overwriting
        load_data" example: docs/contributing/adding_a_dataset.md in the mteb repository), as its own tasks with
        other layouts do (``AbsTaskRetrieval.load_data``, for one). The files still go through
        ``datasets.load_dataset`` (``read_files``), and ``dataset_transform`` does the rest.
        """
        if self.data_loaded:
            return
        self.dataset = {"default": self.read_files()}
        self.dataset_transform(num_proc=num_proc)
        self.data_loaded = True

    def unload_data(self) -> None:
        """Free the data (``load_data`` reads the folder again).

        Not mteb's ``unload_data``: that one drops the instance's ``metadata`` (in mteb, a filtered copy shadowing
        the class's published metadata) and then reads the class's, which a local task does not have.
        """
        self.dataset = None
        self.data_loaded = False

    @abstractmethod
    def read_files(self) -> dict[str, Any]:
        """The folder's data by split (a bad file raises :class:`FmiclError` naming the file and line)."""


class LocalSTSTask(LocalTask, AbsTaskSTS):
    """``sts/<name>/``: ``test.tsv`` with sentence1, sentence2, score; the score range from task.json or the data."""

    def read_files(self) -> DatasetDict:
        spec = self.local_spec
        path = _require_file(spec, "test.tsv")
        table, scores = read_sts_table(path)  # the same reader, checks and messages as `fmicl-text eval sts`
        low, high = float(scores.min()), float(scores.max())
        options = self.local_options
        min_score = float(options.get("min_score", low))
        max_score = float(options.get("max_score", high))
        if not min_score < max_score:
            ranged = "min_score" in options or "max_score" in options
            raise FmiclError(
                f"the score range is empty (min_score {min_score} >= max_score {max_score})",
                where=str(spec.folder / ("task.json" if ranged else "test.tsv")),
                fix="an STS task needs gold scores that differ; set min_score < max_score in task.json",
            )
        outside = np.flatnonzero((scores < min_score) | (scores > max_score))
        if outside.size:
            row = int(outside[0])
            raise FmiclError(
                f"score {float(scores[row])} on line {table.line(row)} is outside "
                f"[min_score {min_score}, max_score {max_score}]",
                where=table.where(row),
                fix="fix the score or the range in task.json",
            )
        if low == high:
            raise FmiclError(f"every gold score is {low}: Spearman is undefined", where=str(path))
        self.min_score, self.max_score = min_score, max_score
        rows = _arrow(table.data)
        data = pa.table({"sentence1": rows["sentence1"], "sentence2": rows["sentence2"], "score": scores})
        return DatasetDict({"test": Dataset(data)})


class LocalClassificationTask(LocalTask, AbsTaskClassification):
    """``classification/<name>/``: ``train.tsv`` and ``test.tsv`` with text, label."""

    def read_files(self) -> DatasetDict:
        spec = self.local_spec
        splits: dict[str, pa.Table] = {}
        for split in ("train", "test"):
            table = _read_tsv(spec, f"{split}.tsv", ("text", "label"))
            splits[split] = pa.table({"text": _arrow(table.data)["text"], "label": _labels(table)})
        train_labels = pc.unique(splits["train"]["label"]).to_pylist()
        if len(train_labels) < 2:
            raise FmiclError(
                f"train.tsv has a single label ({train_labels[0]!r})",
                where=str(spec.folder / "train.tsv"),
                fix="a classifier needs at least two labels to learn from",
            )
        unseen = sorted(set(pc.unique(splits["test"]["label"]).to_pylist()) - set(train_labels))
        if unseen:
            logger.warning("%s: test labels never seen in train.tsv (never predicted): %s", spec.name, unseen)
        return DatasetDict({split: Dataset(table) for split, table in splits.items()})

    def dataset_transform(self, num_proc: int | None = None, **kwargs: Any) -> None:
        """Label names -> class ids, one numbering for the train and test splits (see ``_label_ids``)."""
        for subset in self.dataset.values():
            names = sorted({label for split in subset.values() for label in split.unique("label")})
            ids = _label_ids(names)
            numbers = pa.array([ids[name] for name in names], pa.int64())
            for name, split in subset.items():
                table = _arrow(split)
                labels = pc.take(numbers, pc.index_in(table["label"], value_set=pa.array(names, pa.string())))
                subset[name] = Dataset(table.set_column(table.schema.get_field_index("label"), "label", labels))


class LocalClusteringTask(LocalTask, AbsTaskClustering):
    """``clustering/<name>/``: ``test.tsv`` with text, label."""

    input_column_name = "text"
    label_column_name = "label"
    # mteb's default embeds a 4 % sample of the documents (fine for 100k-row Hub sets, zero rows of a small local
    # set); like most of mteb's own clustering tasks, local ones embed every document.
    max_fraction_of_documents_to_embed = None

    def read_files(self) -> DatasetDict:
        table = _read_tsv(self.local_spec, "test.tsv", ("text", "label"))
        labels = _labels(table)
        if len(pc.unique(labels)) < 2:
            raise FmiclError(
                f"every row has the label {labels[0].as_py()!r}",
                where=str(table.file.path),
                fix="clustering needs at least two labels (clusters)",
            )
        return DatasetDict({"test": Dataset(pa.table({"text": _arrow(table.data)["text"], "label": labels}))})


class LocalPairClassificationTask(LocalTask, AbsTaskPairClassification):
    """``pair_classification/<name>/``: ``test.tsv`` with sentence1, sentence2, label (0 or 1)."""

    label_column_name = "label"

    def read_files(self) -> DatasetDict:
        table = _read_tsv(self.local_spec, "test.tsv", ("sentence1", "sentence2", "label"))
        rows = _arrow(table.data)
        raw = pc.utf8_trim_whitespace(rows["label"])
        values = floats(raw)
        wrong = np.flatnonzero((values != 0.0) & (values != 1.0))
        if wrong.size:
            row = int(wrong[0])
            raise FmiclError(
                f"label {raw[row].as_py()!r} on line {table.line(row)} is not 0 or 1",
                where=table.where(row),
                fix="pair classification labels are 1 (the pair matches) or 0 (it does not)",
            )
        labels = values.astype(np.int64)
        if len(np.unique(labels)) < 2:
            raise FmiclError(
                f"every pair has the label {labels[0]}",
                where=str(table.file.path),
                fix="average precision needs both positive (1) and negative (0) pairs",
            )
        data = pa.table({"sentence1": rows["sentence1"], "sentence2": rows["sentence2"], "label": labels})
        return DatasetDict({"test": Dataset(data)})


class LocalRetrievalTask(LocalTask, AbsTaskRetrieval):
    """``retrieval/<name>/``: the BEIR layout, ``corpus.jsonl[.gz]``, ``queries.jsonl[.gz]``, ``qrels/test.tsv``."""

    def read_files(self) -> dict[str, Any]:
        spec = self.local_spec
        corpus_path = _first_existing(spec.folder, ("corpus.jsonl", "corpus.jsonl.gz"))
        queries_path = _first_existing(spec.folder, ("queries.jsonl", "queries.jsonl.gz"))
        qrels_path = _require_file(spec, "qrels/test.tsv")

        corpus = DataFile(corpus_path, "jsonl").load(
            {"_id": Key(ID), "title": Key(TEXT, required=False), "text": Key(TEXT)}
        )
        queries = DataFile(queries_path, "jsonl").load({"_id": Key(ID), "text": Key(TEXT)})
        for table, what in ((corpus, "corpus"), (queries, "query")):
            row = _first_duplicate(_arrow(table.data)["_id"])
            if row is not None:
                doc_id = _arrow(table.data)["_id"][row].as_py()
                raise FmiclError(f"duplicate {what} _id {doc_id!r} on line {table.line(row)}", where=table.where(row))
        corpus_ids = set(_arrow(corpus.data)["_id"].to_pylist())
        query_ids = set(_arrow(queries.data)["_id"].to_pylist())

        relevant: dict[str, dict[str, int]] = {}
        qrels = _read_tsv(spec, "qrels/test.tsv", ("query-id", "corpus-id", "score"))
        columns = [pc.utf8_trim_whitespace(column).to_pylist() for column in _arrow(qrels.data).columns]
        for row, (query_id, doc_id, raw) in enumerate(zip(*columns, strict=True)):  # mteb takes qrels as dicts
            line_no, where = qrels.line(row), qrels.where(row)
            if query_id not in query_ids:
                raise FmiclError(f"line {line_no}: query-id {query_id!r} is not in {queries_path.name}", where=where)
            if doc_id not in corpus_ids:
                raise FmiclError(f"line {line_no}: corpus-id {doc_id!r} is not in {corpus_path.name}", where=where)
            try:
                score = int(raw)
            except ValueError:
                raise FmiclError(
                    f"line {line_no}: score {raw!r} is not an integer",
                    where=where,
                    fix="qrels scores are graded integers",
                ) from None
            relevant.setdefault(query_id, {})[doc_id] = score
        if not any(score > 0 for docs in relevant.values() for score in docs.values()):
            raise FmiclError("no query has a relevant document (score > 0)", where=str(qrels_path))
        docs, asked = _arrow(corpus.data), _arrow(queries.data)
        return {
            "test": {
                "corpus": Dataset(
                    pa.table({"id": docs["_id"], "title": pc.fill_null(docs["title"], ""), "text": docs["text"]})
                ),
                "queries": Dataset(pa.table({"id": asked["_id"], "text": asked["text"]})),
                "relevant_docs": relevant,
                "top_ranked": None,
            }
        }


class LocalRerankingTask(LocalTask, AbsTaskRetrieval):
    """``reranking/<name>/``: ``test.jsonl``, one query with its positive and negative candidates a line.

    mteb v2 scores reranking as retrieval among each query's ``top_ranked`` candidates; ``dataset_transform``
    turns the lines (the layout of mteb v1's reranking datasets) into that.
    """

    def read_files(self) -> DatasetDict:
        path = _require_file(self.local_spec, "test.jsonl")
        table = DataFile(path, "jsonl").load({"query": Key(TEXT), "positive": Key(TEXTS), "negative": Key(TEXTS)})
        lines = _arrow(table.data)
        ids = pa.array([f"q{line}" for line in table.lines()], pa.string())  # query ids name their line
        return DatasetDict({"test": Dataset(lines.add_column(0, "id", ids))})

    def dataset_transform(self, num_proc: int | None = None, **kwargs: Any) -> None:
        """Each line's positives (relevance 1) and negatives (0) become its query's ``top_ranked`` candidates."""
        for subset in self.dataset.values():
            for split, lines in subset.items():
                subset[split] = self._candidates(_arrow(lines))

    def _candidates(self, lines: pa.Table) -> dict[str, Any]:
        usable = pc.and_(
            pc.greater(pc.list_value_length(lines["positive"]), 0),
            pc.greater(pc.list_value_length(lines["negative"]), 0),
        )
        kept = lines.filter(usable)  # as mteb's own conversion does: a line without both has nothing to rank
        if not kept.num_rows:
            raise FmiclError(
                "no line has both a positive and a negative", where=str(self.local_spec.folder / "test.jsonl")
            )
        if kept.num_rows < lines.num_rows:
            logger.warning(
                "%s: skipped %d line(s) without a positive or without a negative",
                self.local_spec.name,
                lines.num_rows - kept.num_rows,
            )
        # the candidates of query q: q_positive_0.., then q_negative_0.., query by query
        query, group, index, texts, names = [], [], [], [], []
        for number, key in enumerate(("positive", "negative")):
            candidates = kept[key].combine_chunks()
            parent = pc.list_parent_indices(candidates).to_numpy()
            offsets = candidates.offsets.to_numpy()
            query.append(parent)
            group.append(np.full(len(parent), number))
            index.append(np.arange(len(parent)) - (offsets[parent] - offsets[0]))
            texts.append(pc.list_flatten(candidates))
            names.append(pa.repeat(pa.scalar(f"_{key}_"), len(parent)))
        order = np.lexsort((np.concatenate(index), np.concatenate(group), np.concatenate(query)))
        query_ids = kept["id"].combine_chunks().take(np.concatenate(query)[order])
        doc_ids = pc.binary_join_element_wise(
            query_ids,
            pa.concat_arrays(names).take(order),
            pc.cast(pa.array(np.concatenate(index)[order]), pa.string()),
            "",
        )
        relevance = (1 - np.concatenate(group)[order]).tolist()
        relevant: dict[str, dict[str, int]] = {}
        top_ranked: dict[str, list[str]] = {}
        for query_id, doc_id, score in zip(query_ids.to_pylist(), doc_ids.to_pylist(), relevance, strict=True):
            relevant.setdefault(query_id, {})[doc_id] = score  # mteb takes qrels and candidates as dicts
            top_ranked.setdefault(query_id, []).append(doc_id)
        docs = {
            "id": doc_ids,
            "title": pa.repeat(pa.scalar(""), len(doc_ids)),
            "text": pa.concat_arrays(texts).take(order),
        }
        return {
            "corpus": Dataset(pa.table(docs)),
            "queries": Dataset(pa.table({"id": kept["id"], "text": kept["query"]})),
            "relevant_docs": relevant,
            "top_ranked": top_ranked,
        }


# folder name -> the class of its tasks
LOCAL_TASK_CLASSES: dict[str, type[LocalTask]] = {
    "sts": LocalSTSTask,
    "classification": LocalClassificationTask,
    "clustering": LocalClusteringTask,
    "pair_classification": LocalPairClassificationTask,
    "retrieval": LocalRetrievalTask,
    "reranking": LocalRerankingTask,
}
