"""MTEB beside STS: local MTEB-style tasks built from the data home (``fmicl-text eval build-tasks``).

STS asks one question: does the cosine of two embeddings rank *given* pairs by graded similarity, pooled over
topics. These tasks ask what that does not, each from files the data home already holds (test splits, plus STS-B
train to fit the genre classifier; the STS-derived ones read the raw ``sts/original/`` text, as MTEB does), in the
folder format of :mod:`fmicl_text.evaluation.mteb_tasks`, scored by ``fmicl-text eval mteb --local-dir``:

``pair_classification/sickr-entailment``
    Does one cosine threshold separate entailment (1) from contradiction (0)? SICK's contradictions often differ
    from their premise by a negation, so a high STS-style similarity is the wrong answer (neutral dropped).
``pair_classification/snli-entailment``
    The same on SNLI test: crowd-written hypotheses that share their premise's topic (neutral dropped).
``reranking/snli-reranking``
    Per premise, rank its entailed hypotheses above its contradicting and neutral ones: a ranking among
    candidates of one topic, where STS's pooled correlation can be won on topic alone.
``retrieval/stsb-paraphrase-retrieval``
    Find a sentence's paraphrase (its STS-B test partners scored >= 4) among every distinct STS-B test
    ``sentence2``: one against many (search, hubness), not one pair at a time.
``clustering/sts-source-clustering``
    Do sentences group by where they come from (headlines, captions, glosses, forums ...)? The global layout of
    the space, across sources, which STS only compares within one.
``classification/stsb-genre-classification``
    What a logistic regression on the frozen embeddings reads of a sentence's genre (news, captions, forum):
    information kept, not similarity.

``build_local_suite`` reads every source first (a missing or bad file fails before anything is written), then
checks every task folder, then writes: files it has already written with the same bytes are left as they are
(a rebuild is a no-op); any other file in a task folder stops the build with one error, and nothing is replaced.
"""

from __future__ import annotations

import json
import math
import os
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from fmicl_text.data.files import DataFile, Table
from fmicl_text.data.home import ENV_VAR, data_home
from fmicl_text.errors import FmiclError

SICKR_TEST = "sts/original/sickr.test.tsv"
SNLI_TEST = "train/nli/snli_test.senteval_tok.tsv"
STSB_TRAIN = "sts/original/stsb.train.tsv"
STSB_TEST = "sts/original/stsb.test.tsv"
STS_YEARS = tuple(f"sts/original/sts{year}.test.tsv" for year in range(12, 17))

#: STS-B pairs scored at least this are paraphrases (the retrieval task's relevant pairs)
PARAPHRASE_SCORE = 4.0
#: a source with fewer sentences is left out of the clustering task
MIN_CLUSTER_SIZE = 20
#: STS-B spells one genre two ways: "main-forum" in train, "main-forums" in dev and test
GENRE_ALIASES = {"main-forums": "main-forum"}
#: STS12 names its surprise sets "surprise.OnWN" and "surprise.SMTnews"; OnWN is also an STS13-14 source
SURPRISE_PREFIX = "surprise."


# --------------------------------------------------------------------------- reading the data home


@dataclass(frozen=True)
class SourceRows:
    """Some columns of one source file, as text, and where each row came from."""

    relative: str
    columns: dict[str, list[str]]
    table: Table

    def column(self, name: str) -> list[str]:
        return self.columns[name]

    def line(self, row: int) -> int:
        return self.table.line(row)

    def where(self, row: int) -> str:
        return self.table.where(row)


class DataHome:
    """The source files of the suite in the data home, each read once (through the project's one file reader)."""

    def __init__(self, data_dir: str | os.PathLike | None = None) -> None:
        self.root = data_home(data_dir)
        self._tables: dict[str, Table] = {}

    def check(self, relatives: Iterable[str]) -> None:
        """Fail now, naming the first missing file, if the data home lacks any of them."""
        relatives = list(dict.fromkeys(relatives))
        missing = [relative for relative in relatives if not (self.root / relative).is_file()]
        if missing:
            more = f" ({len(missing) - 1} more of the suite's sources are missing)" if len(missing) > 1 else ""
            raise FmiclError(
                f"source file {missing[0]} is not in the data home{more}",
                where=str(self.root / missing[0]),
                fix=f"pass --data-dir DIR or set {ENV_VAR} to the data home (the folder holding sts/original/ and "
                "train/nli/)",
            )

    def read(self, relative: str, columns: tuple[str, ...]) -> SourceRows:
        """``columns`` of the TSV file ``relative`` (the whole file is read and checked once)."""
        if relative not in self._tables:
            self.check([relative])
            file = DataFile(self.root / relative, "tsv", label="source file", formats=("tsv",))
            self._tables[relative] = file.load(blank_lines="error")
        table = self._tables[relative]
        table.file.require(columns)
        arrow = table.data.data.table
        return SourceRows(relative, {name: arrow.column(name).to_pylist() for name in columns}, table)


def _mapped(rows: SourceRows, column: str, mapping: dict[str, int | None]) -> list[int | None]:
    """Each row's ``column`` through ``mapping``; a value it does not know fails, naming the line."""
    out = []
    for row, value in enumerate(rows.column(column)):
        key = value.strip()
        if key not in mapping:
            raise FmiclError(
                f"unknown {column} {value!r} on line {rows.line(row)}",
                where=rows.where(row),
                fix=f"{rows.relative}'s {column} is one of {', '.join(mapping)}",
            )
        out.append(mapping[key])
    return out


def _scores(rows: SourceRows) -> list[float]:
    """The score column as numbers; one that is not a finite number fails, naming the line."""
    out = []
    for row, raw in enumerate(rows.column("score")):
        try:
            value = float(raw)
        except ValueError:
            value = math.nan
        if not math.isfinite(value):
            raise FmiclError(
                f"score {raw!r} on line {rows.line(row)} is not a finite number",
                where=rows.where(row),
                fix="every row needs a numeric gold score",
            )
        out.append(value)
    return out


def _labels(rows: SourceRows, column: str, normalize: Callable[[str], str]) -> list[str]:
    """Each row's label (``normalize`` of ``column``); an empty one fails, naming the line."""
    out = []
    for row, value in enumerate(rows.column(column)):
        label = normalize(value.strip())
        if not label:
            raise FmiclError(
                f"line {rows.line(row)} has an empty {column}",
                where=rows.where(row),
                fix=f"every row of {rows.relative} needs its {column}",
            )
        out.append(label)
    return out


# --------------------------------------------------------------------------- what a task's files hold


@dataclass(frozen=True)
class TaskFiles:
    """One task's files (path in its folder -> bytes) and its size in words ("2,134 pairs ...")."""

    files: dict[str, bytes]
    size: str


def _tsv(header: tuple[str, ...], rows: Iterable[tuple[str, ...]]) -> bytes:
    lines = ["\t".join(header)]
    for row in rows:
        if any(c in field for field in row for c in "\t\r\n"):
            raise FmiclError(f"a text holds a TAB or a line break: {row!r}", fix="the task files are TAB-separated")
        lines.append("\t".join(row))
    return ("\n".join(lines) + "\n").encode("utf-8")


def _jsonl(objects: Iterable[dict]) -> bytes:
    return "".join(json.dumps(obj, ensure_ascii=False) + "\n" for obj in objects).encode("utf-8")


def _task_json(description: str) -> bytes:
    return (json.dumps({"description": description}, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def _need(ok: bool, what: str, source: str, home: DataHome) -> None:
    """A task the data leaves empty or one-sided fails here, naming its source, not later in mteb."""
    if not ok:
        raise FmiclError(what, where=str(home.root / source), fix="the suite needs the full source file")


# --------------------------------------------------------------------------- the tasks


def _pairs(home: DataHome, name: str, source: str, column: str, labels: dict[str, int | None]) -> TaskFiles:
    rows = home.read(source, ("sentence1", "sentence2", column))
    mapped = _mapped(rows, column, labels)
    pairs = [
        (s1, s2, str(label))
        for s1, s2, label in zip(rows.column("sentence1"), rows.column("sentence2"), mapped, strict=True)
        if label is not None
    ]
    positive = sum(label == "1" for *_, label in pairs)
    _need(0 < positive < len(pairs), f"{name}: {source} gives no positive or no negative pair", source, home)
    one, zero = (next(k for k, v in labels.items() if v == value) for value in (1, 0))
    dropped = [k for k, v in labels.items() if v is None]
    description = (
        f"{source}, {column}: {one} -> 1, {zero} -> 0, {', '.join(dropped)} dropped. Scores whether a cosine "
        "threshold separates entailed from contradicting pairs."
    )
    return TaskFiles(
        {"test.tsv": _tsv(("sentence1", "sentence2", "label"), pairs), "task.json": _task_json(description)},
        f"{len(pairs):,} pairs ({positive:,} {one}, {len(pairs) - positive:,} {zero})",
    )


def sickr_entailment(home: DataHome) -> TaskFiles:
    labels = {"ENTAILMENT": 1, "CONTRADICTION": 0, "NEUTRAL": None}
    return _pairs(home, "sickr-entailment", SICKR_TEST, "entailment_label", labels)


def snli_entailment(home: DataHome) -> TaskFiles:
    labels = {"entailment": 1, "contradiction": 0, "neutral": None}
    return _pairs(home, "snli-entailment", SNLI_TEST, "label", labels)


def snli_reranking(home: DataHome) -> TaskFiles:
    rows = home.read(SNLI_TEST, ("sentence1", "sentence2", "label"))
    relevant = _mapped(rows, "label", {"entailment": 1, "contradiction": 0, "neutral": 0})
    premises: dict[str, tuple[dict[str, None], dict[str, None]]] = {}  # premise -> (positives, negatives), in order
    for premise, hypothesis, label in zip(rows.column("sentence1"), rows.column("sentence2"), relevant, strict=True):
        positives, negatives = premises.setdefault(premise, ({}, {}))
        (positives if label else negatives)[hypothesis] = None
    lines = [
        {"query": premise, "positive": list(positives), "negative": list(negatives)}
        for premise, (positives, negatives) in premises.items()
        if positives and negatives
    ]
    _need(bool(lines), f"snli-reranking: no premise of {SNLI_TEST} has both kinds of hypothesis", SNLI_TEST, home)
    candidates = sum(len(line["positive"]) + len(line["negative"]) for line in lines)
    description = (
        f"{SNLI_TEST}: one query per premise, its entailment hypotheses positive, its contradiction and neutral "
        "hypotheses negative; premises without both left out. Scores ranking among candidates of one topic."
    )
    return TaskFiles(
        {"test.jsonl": _jsonl(lines), "task.json": _task_json(description)},
        f"{len(lines):,} queries, {candidates:,} candidates",
    )


def stsb_paraphrase_retrieval(home: DataHome) -> TaskFiles:
    rows = home.read(STSB_TEST, ("sentence1", "sentence2", "score"))
    first, second, scores = rows.column("sentence1"), rows.column("sentence2"), _scores(rows)
    relevant: dict[str, dict[str, None]] = {}  # query text -> its paraphrases, first seen first
    for query, doc, score in zip(first, second, scores, strict=True):
        if score >= PARAPHRASE_SCORE and query != doc:
            relevant.setdefault(query, {})[doc] = None
    _need(bool(relevant), f"stsb-paraphrase-retrieval: no pair of {STSB_TEST} scores >= 4", STSB_TEST, home)
    wanted = {doc for docs in relevant.values() for doc in docs}
    # A copy of a query's own text in the corpus would rank first for every model and tell nothing: left out,
    # unless it is some query's paraphrase.
    corpus = [doc for doc in dict.fromkeys(second) if doc not in relevant or doc in wanted]
    doc_ids = {doc: f"d{i}" for i, doc in enumerate(corpus)}
    query_ids = {query: f"q{i}" for i, query in enumerate(relevant)}
    qrels = [(query_ids[query], doc_ids[doc], "1") for query, docs in relevant.items() for doc in docs]
    description = (
        f"{STSB_TEST}: queries are the distinct sentence1 of the pairs scored >= {PARAPHRASE_SCORE:g}, relevant "
        "documents their sentence2, the corpus every distinct sentence2 (copies of a query's text left out). "
        "Scores finding a paraphrase among many sentences."
    )
    files = {
        "corpus.jsonl": _jsonl({"_id": doc_ids[doc], "title": "", "text": doc} for doc in corpus),
        "queries.jsonl": _jsonl({"_id": query_ids[query], "text": query} for query in relevant),
        "qrels/test.tsv": _tsv(("query-id", "corpus-id", "score"), qrels),
        "task.json": _task_json(description),
    }
    return TaskFiles(files, f"{len(relevant):,} queries, {len(corpus):,} documents, {len(qrels):,} relevant")


def source_of(subset: str) -> str:
    """The source an STS12-16 subset comes from (STS12's "surprise.OnWN" is OnWN)."""
    return subset.removeprefix(SURPRISE_PREFIX)


def sts_source_clustering(home: DataHome) -> TaskFiles:
    sources: dict[str, set[str]] = {}  # sentence -> its sources, first seen first
    for relative in STS_YEARS:
        rows = home.read(relative, ("sentence1", "sentence2", "score", "subset"))
        for text, source in zip(rows.column("sentence1"), _labels(rows, "subset", source_of), strict=True):
            sources.setdefault(text, set()).add(source)
    texts = {text: labels.pop() for text, labels in sources.items() if len(labels) == 1}  # ambiguous: left out
    counts = Counter(texts.values())
    kept = {label for label, n in counts.items() if n >= MIN_CLUSTER_SIZE}
    rows_out = [(text, label) for text, label in texts.items() if label in kept]
    _need(len(kept) >= 2, f"sts-source-clustering: fewer than 2 sources have {MIN_CLUSTER_SIZE} sentences",
          STS_YEARS[0], home)  # fmt: skip
    dropped = sorted(label for label in counts if label not in kept)
    description = (
        f"{', '.join(STS_YEARS)}: each distinct sentence1, labelled with its subset (its source; STS12's "
        f"'surprise.' prefix dropped); sources with fewer than {MIN_CLUSTER_SIZE} sentences left out. Scores "
        "whether sentences group by source."
    )
    size = f"{len(rows_out):,} sentences, {len(kept)} sources" + (f" ({', '.join(dropped)} dropped)" if dropped else "")
    return TaskFiles({"test.tsv": _tsv(("text", "label"), rows_out), "task.json": _task_json(description)}, size)


def genre_of(subset: str) -> str:
    """The genre of an STS-B ``subset`` (``genre/source``): "main-news/headlines" -> "main-news"."""
    genre = subset.split("/", 1)[0].strip()
    return GENRE_ALIASES.get(genre, genre)


def stsb_genre_classification(home: DataHome) -> TaskFiles:
    splits: dict[str, dict[str, str]] = {}
    for split, relative in (("train", STSB_TRAIN), ("test", STSB_TEST)):
        rows = home.read(relative, ("sentence1", "sentence2", "score", "subset"))
        texts: dict[str, str] = {}
        for text, genre in zip(rows.column("sentence1"), _labels(rows, "subset", genre_of), strict=True):
            texts.setdefault(text, genre)
        splits[split] = texts
    # a test sentence also in train would be scored on what the classifier was fitted to
    splits["test"] = {text: genre for text, genre in splits["test"].items() if text not in splits["train"]}
    genres = sorted(set(splits["train"].values()))
    _need(len(genres) >= 2, f"stsb-genre-classification: {STSB_TRAIN} has fewer than 2 genres", STSB_TRAIN, home)
    _need(bool(splits["test"]), f"stsb-genre-classification: {STSB_TEST} has no new sentence", STSB_TEST, home)
    description = (
        f"{STSB_TRAIN} (train) and {STSB_TEST} (test): each distinct sentence1, labelled with its genre (subset "
        "before '/', 'main-forums' read as 'main-forum'); test sentences also in train left out. Scores what a "
        "classifier on the embeddings reads of a sentence's genre."
    )
    files = {split: _tsv(("text", "label"), texts.items()) for split, texts in splits.items()}
    size = f"{len(splits['train']):,} train / {len(splits['test']):,} test sentences, {len(genres)} genres"
    return TaskFiles(
        {"train.tsv": files["train"], "test.tsv": files["test"], "task.json": _task_json(description)}, size
    )


@dataclass(frozen=True)
class SuiteTask:
    """One task of the suite: its type folder, the data-home files it reads, and what builds its files."""

    kind: str
    sources: tuple[str, ...]
    build: Callable[[DataHome], TaskFiles]


#: The suite's tasks by name, in the order they are built and listed.
LOCAL_SUITE: dict[str, SuiteTask] = {
    "sickr-entailment": SuiteTask("pair_classification", (SICKR_TEST,), sickr_entailment),
    "snli-entailment": SuiteTask("pair_classification", (SNLI_TEST,), snli_entailment),
    "snli-reranking": SuiteTask("reranking", (SNLI_TEST,), snli_reranking),
    "stsb-paraphrase-retrieval": SuiteTask("retrieval", (STSB_TEST,), stsb_paraphrase_retrieval),
    "sts-source-clustering": SuiteTask("clustering", STS_YEARS, sts_source_clustering),
    "stsb-genre-classification": SuiteTask("classification", (STSB_TRAIN, STSB_TEST), stsb_genre_classification),
}


# --------------------------------------------------------------------------- writing


@dataclass(frozen=True)
class BuiltTask:
    """A task of the suite as built: its name, type, folder and size; ``written``: False when it was there."""

    name: str
    kind: str
    folder: Path
    size: str
    written: bool


def _conflict(folder: Path, files: dict[str, bytes]) -> tuple[Path, str] | None:
    """The first thing in the way of writing ``files`` into ``folder``: (its path, what it is), or None when the
    folder is free or holds nothing but the same files (all of them, or some after an interrupted build)."""
    for parent in (folder, *folder.parents):
        if parent.exists() or parent.is_symlink():
            if not parent.is_dir():
                return parent, f"a file is where the folder {parent.name} goes"
            break
    if not folder.is_dir():
        return None
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder).as_posix()
        if path.is_dir() and not path.is_symlink():
            if not any(name.startswith(relative + "/") for name in files):
                return path, f"it holds a folder the build does not write ({relative}/)"
        elif relative not in files:
            return path, f"it holds a file the build does not write ({relative})"
        elif path.is_symlink() or path.read_bytes() != files[relative]:
            return path, f"it holds a different {relative}"
    return None


def _write_atomic(path: Path, data: bytes) -> None:
    """``data`` to ``path`` whole or not at all: a temporary file in the same folder, flushed, then renamed."""
    from fmicl_text.training.run_folder import fsync_dir

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


def build_tasks(out_dir: str | os.PathLike, data_dir: str | os.PathLike | None = None) -> list[BuiltTask]:
    """Build every task of :data:`LOCAL_SUITE` under ``out_dir`` (``<type>/<name>/``) from the data home.

    All sources are read and all tasks made in memory before anything is written; then every task folder is
    checked: one that holds any other file, or another version of a file, stops the build with an
    :class:`FmiclError` (nothing written, nothing replaced); files already there with the same bytes are kept.
    """
    out = Path(out_dir).expanduser()
    home = DataHome(data_dir)
    home.check(source for task in LOCAL_SUITE.values() for source in task.sources)
    made = {name: task.build(home) for name, task in LOCAL_SUITE.items()}
    for name, task in LOCAL_SUITE.items():
        folder = out / task.kind / name
        conflict = _conflict(folder, made[name].files)
        if conflict is not None:
            path, why = conflict
            raise FmiclError(
                f"cannot build {task.kind}/{name}: {why}",
                where=str(path),
                fix=f"the build never replaces a file: move {folder} away, or build into another folder",
            )
    built = []
    for name, task in LOCAL_SUITE.items():
        folder = out / task.kind / name
        written = False
        for relative, data in made[name].files.items():
            path = folder / relative
            if not path.is_file():
                _write_atomic(path, data)
                written = True
        built.append(BuiltTask(name, task.kind, folder, made[name].size, written))
    return built


def build_local_suite(out_dir: str | os.PathLike, data_dir: str | os.PathLike | None = None) -> dict[str, Path]:
    """Build the suite's task folders under ``out_dir`` from the data home (``data_dir``, else ``$FMICL_DATA_DIR``,
    else the cache folder); task name -> its folder. See :func:`build_tasks`."""
    return {task.name: task.folder for task in build_tasks(out_dir, data_dir)}
