"""SentEval-style STS evaluation: the protocol behind SimCSE's tables.

Each task is one TSV file of sentence pairs with a gold score. A model's score on a task is the
Spearman correlation (x100) between the cosine similarity of the two embeddings and the gold score,
computed over *all* rows of the file at once (SimCSE's "all" setting: one correlation per STS year,
not the mean over its subsets). Per-subset correlations are kept too, to compare with SentEval's own
per-subset numbers.

All distinct sentences of a suite are encoded in a single ``encode`` call: the STS sets share many
sentences, and one call lets sentence-transformers sort everything by length for efficient batching.
"""

from __future__ import annotations

import csv
import logging
import math
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from scipy.stats import spearmanr

from fmicl_text.data.files import DataFile, Table, floats
from fmicl_text.data.home import STS_SCORE_RANGES, TEXT_VERSIONS, sts_path
from fmicl_text.errors import FmiclError, did_you_mean
from fmicl_text.layout import AVG

logger = logging.getLogger(__name__)

# Suite name -> (score key, STS set name, split), in table order.
SUITES: dict[str, tuple[tuple[str, str, str], ...]] = {
    "senteval7": (
        ("sts12", "sts12", "test"),
        ("sts13", "sts13", "test"),
        ("sts14", "sts14", "test"),
        ("sts15", "sts15", "test"),
        ("sts16", "sts16", "test"),
        ("stsb", "stsb", "test"),
        ("sickr", "sickr", "test"),
    ),
    "stsb-dev": (("stsb_dev", "stsb", "dev"),),
    "sickr-dev": (("sickr_dev", "sickr", "trial"),),
}

REQUIRED_COLUMNS = ("sentence1", "sentence2", "score")
CUSTOM_SUITE = "custom"


class Encoder(Protocol):
    """What evaluation needs of a model: a SentenceTransformer's ``encode``."""

    def encode(self, sentences: list[str], **kwargs: Any) -> Any: ...


@dataclass
class StsPairs:
    """The validated rows of one STS file."""

    sentence1: list[str]
    sentence2: list[str]
    scores: np.ndarray
    subsets: list[str] | None
    path: Path
    first_line: int = 2  # the line of the first pair (after the header)

    def __len__(self) -> int:
        return len(self.sentence1)


@dataclass
class StsResult:
    """Scores of one model on one suite (Spearman x100, unrounded)."""

    scores: dict[str, float]
    subsets: dict[str, dict[str, float]]
    suite: str
    text: str
    n_pairs: dict[str, int]
    n_sentences_encoded: int
    seconds: float
    task_keys: list[str] = field(default_factory=list)
    # With ``score_tasks(keep_embeddings=True)``: each distinct sentence -> its row of ``embedding_matrix``
    # (unit vectors, float64), for a caller that needs the same sentences' embeddings (the diagnostics).
    embedding_index: dict[str, int] | None = field(default=None, repr=False, compare=False)
    embedding_matrix: Any = field(default=None, repr=False, compare=False)

    def to_json(self, model_name: str) -> dict[str, Any]:
        """A self-describing record for results files (nothing rounded; an undefined score is null)."""
        return {
            "scores": {key: None if math.isnan(value) else value for key, value in self.scores.items()},
            "model": model_name,
            "suite": self.suite,
            "text": self.text,
            "n_pairs": dict(self.n_pairs),
            "subsets": {key: dict(value) for key, value in self.subsets.items()},
            "seconds": self.seconds,
            "time": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "versions": _versions(),
        }


def _versions() -> dict[str, str]:
    """Library versions, so a results file says what produced it."""
    from importlib import metadata

    versions: dict[str, str] = {}
    for key, dist in (
        ("fmicl_text", "fmicl-text"),
        ("sentence_transformers", "sentence-transformers"),
        ("torch", "torch"),
    ):
        try:
            versions[key] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            try:
                module = __import__(key)
            except ImportError:
                continue
            version = getattr(module, "__version__", None)
            if version:
                versions[key] = str(version)
    return versions


# --------------------------------------------------------------------------- reading


def read_sts_tsv(path: str | os.PathLike) -> StsPairs:
    """Read and validate one STS TSV (header line, TAB-separated, no quoting, UTF-8).

    Validation happens here, at the door, so a bad file fails with its name and line number
    instead of as a NaN correlation or a stack trace after minutes of encoding.
    """
    table, scores = read_sts_table(path)
    data = table.data
    subsets = data["subset"] if "subset" in data.column_names else None
    return StsPairs(data["sentence1"], data["sentence2"], scores, subsets, table.file.path, table.line(0))


def read_sts_table(path: str | os.PathLike) -> tuple[Table, np.ndarray]:
    """The rows of one STS TSV (sentence1, sentence2, score[, subset], as text) and its gold scores, checked;
    the reader of ``eval sts`` and of local MTEB STS tasks."""
    path = Path(path)
    if not path.is_file():
        raise FmiclError("STS file not found", where=str(path), fix="check the path or the data home")
    fix = f"expected a header line ({', '.join(REQUIRED_COLUMNS)}) and TAB-separated rows"
    file = DataFile(path, "tsv", empty_fix=fix, formats=("tsv",))
    file.require(REQUIRED_COLUMNS)
    table = file.load([*REQUIRED_COLUMNS, *(["subset"] if "subset" in file.header else [])], blank_lines="error")
    return table, _gold_scores(table)


def _gold_scores(table: Table) -> np.ndarray:
    """The score column as float64; a score that is not a finite number fails, naming its line."""
    raw = table.data.data.table.column("score")
    scores = floats(raw)
    bad = np.flatnonzero(~np.isfinite(scores))
    if bad.size:
        row = int(bad[0])
        raise FmiclError(
            f"score {raw[row].as_py()!r} on line {table.line(row)} is not a finite number",
            where=table.where(row),
            fix="every row needs a numeric gold score",
        )
    return scores


def suite_tasks(suite: str | None, files: Mapping[str, str | os.PathLike] | None = None) -> list[str]:
    """The score keys of a suite, in table order (``suite=None``: the keys of ``files``)."""
    if suite is None:
        if not files:
            raise FmiclError("no STS suite and no files given", fix=f"pick a suite: {', '.join(SUITES)}")
        return list(files)
    if suite not in SUITES:
        raise FmiclError(f"unknown STS suite {suite!r}", fix=did_you_mean(suite, SUITES))
    keys = [key for key, _, _ in SUITES[suite]]
    for key in files or {}:
        if key not in keys:
            raise FmiclError(f"suite {suite!r} has no task {key!r}", fix=did_you_mean(key, keys))
    return keys


def load_suite(
    suite: str | None = "senteval7",
    *,
    text: str = "senteval",
    data_dir: str | os.PathLike | None = None,
    files: Mapping[str, str | os.PathLike] | None = None,
) -> dict[str, StsPairs]:
    """Read and validate every file of a suite; ``files`` (key -> path) overrides the data home."""
    if text not in TEXT_VERSIONS:
        raise FmiclError(f"unknown text version {text!r}", fix=did_you_mean(text, TEXT_VERSIONS))
    keys = suite_tasks(suite, files)
    specs = {key: (name, split) for key, name, split in SUITES.get(suite or "", ())}
    tasks: dict[str, StsPairs] = {}
    for key in keys:
        if files and key in files:
            pairs = read_sts_tsv(files[key])
        else:
            name, split = specs[key]
            pairs = read_sts_tsv(sts_path(name, split, text=text, data_dir=data_dir))
            check_gold_scale(pairs, name)
        check_scorable(pairs)
        tasks[key] = pairs
    return tasks


def check_gold_scale(pairs: StsPairs, name: str) -> None:
    """A data-home file stands for a named set: its gold scores must lie on that set's scale.

    Spearman would not notice a rescaled copy or a wrong column; the diagnostics' threshold would.
    """
    low, high = STS_SCORE_RANGES[name]
    outside = np.flatnonzero((pairs.scores < low) | (pairs.scores > high))
    if outside.size:
        row = int(outside[0])
        line = pairs.first_line + row  # an STS file has no blank line between its rows
        raise FmiclError(
            f"score {pairs.scores[row]:g} on line {line} is outside {name}'s gold scale [{low:g}, {high:g}]",
            where=f"{pairs.path}:{line}",
            fix=f"{name}'s gold scores run from {low:g} to {high:g} as released: check the score column, "
            "or restore the original scale of a rescaled copy",
        )


def check_scorable(pairs: StsPairs) -> None:
    """At least 2 pairs and 2 different gold scores: else Spearman is undefined (found here, not after encoding)."""
    if len(pairs) < 2:
        raise FmiclError(
            f"{len(pairs)} pair: the Spearman correlation needs at least 2",
            where=str(pairs.path),
            fix="an STS file needs at least 2 pairs with different gold scores",
        )
    if np.all(pairs.scores == pairs.scores[0]):
        raise FmiclError(
            f"every gold score is {pairs.scores[0]:g}: the Spearman correlation is undefined",
            where=str(pairs.path),
            fix="an STS file needs pairs with different gold scores",
        )


# --------------------------------------------------------------------------- scoring


def spearman_x100(pred: Sequence[float] | np.ndarray, gold: Sequence[float] | np.ndarray) -> float:
    """Spearman's rho x100; an error rather than NaN when it is undefined."""
    pred = np.asarray(pred, dtype=np.float64)
    gold = np.asarray(gold, dtype=np.float64)
    if pred.shape != gold.shape or pred.ndim != 1:
        raise FmiclError(f"spearman needs two 1-D arrays of one length, got {pred.shape} and {gold.shape}")
    if len(pred) < 2:
        raise FmiclError(f"spearman needs at least 2 pairs, got {len(pred)}")
    for label, values in (("predicted similarities", pred), ("gold scores", gold)):
        if not np.all(np.isfinite(values)):
            raise FmiclError(f"spearman: the {label} contain NaN or inf")
        if np.all(values == values[0]):
            raise FmiclError(f"spearman is undefined: all {label} are equal ({values[0]!r})")
    rho = spearmanr(pred, gold).statistic
    if not math.isfinite(rho):
        raise FmiclError("spearman correlation came out NaN")
    return float(rho) * 100.0


def score_tasks(
    model: Encoder,
    tasks: Mapping[str, StsPairs],
    *,
    suite: str | None,
    text: str,
    batch_size: int = 128,
    show_progress: bool = True,
    keep_embeddings: bool = False,
) -> StsResult:
    """Encode every distinct sentence of ``tasks`` once, then score each task (shared by both APIs).

    ``keep_embeddings``: also return the (normalised) embeddings, so that another measurement of the same
    sentences at the same step need not encode them again."""
    if batch_size < 1:
        raise FmiclError(f"batch size must be at least 1, got {batch_size}", fix="pass --batch-size N with N >= 1")
    start = time.perf_counter()
    index: dict[str, int] = {}
    for pairs in tasks.values():
        for sentence in (*pairs.sentence1, *pairs.sentence2):
            index.setdefault(sentence, len(index))
    unique = list(index)
    embeddings = model.encode(unique, batch_size=batch_size, show_progress_bar=show_progress, convert_to_numpy=True)
    if hasattr(embeddings, "detach"):  # a torch tensor despite convert_to_numpy
        embeddings = embeddings.detach().cpu().float().numpy()
    embeddings = np.asarray(embeddings, dtype=np.float64)
    if embeddings.ndim != 2 or embeddings.shape[0] != len(unique):
        raise FmiclError(
            f"model.encode returned shape {embeddings.shape} for {len(unique)} sentences",
            fix="encode must return one embedding row per sentence",
        )
    norms = np.linalg.norm(embeddings, axis=1, keepdims=True)
    embeddings = embeddings / np.where(norms == 0, 1.0, norms)

    scores: dict[str, float] = {}
    subsets: dict[str, dict[str, float]] = {}
    n_pairs: dict[str, int] = {}
    for key, pairs in tasks.items():
        left = embeddings[[index[s] for s in pairs.sentence1]]
        right = embeddings[[index[s] for s in pairs.sentence2]]
        cosine = np.einsum("ij,ij->i", left, right)
        if not np.all(np.isfinite(cosine)) or np.ptp(cosine) == 0:
            # A model problem (collapsed or broken embeddings), not a data problem: report it, don't stop.
            logger.warning("%s: every pair gets the same or a non-finite similarity; Spearman is undefined", key)
            scores[key] = float("nan")
        else:
            try:
                scores[key] = spearman_x100(cosine, pairs.scores)
            except FmiclError as err:
                raise FmiclError(f"{key}: {err.what}", where=str(pairs.path), fix=err.fix) from None
        n_pairs[key] = len(pairs)
        if pairs.subsets is not None:
            subsets[key] = _per_subset(key, cosine, pairs)
    scores[AVG] = float(np.mean([scores[key] for key in tasks]))
    result = StsResult(
        scores=scores,
        subsets=subsets,
        suite=suite or CUSTOM_SUITE,
        text=text,
        n_pairs=n_pairs,
        n_sentences_encoded=len(unique),
        seconds=time.perf_counter() - start,
        task_keys=list(tasks),
        embedding_index=index if keep_embeddings else None,
        embedding_matrix=embeddings if keep_embeddings else None,
    )
    logger.debug(  # callers print the scores their way (a table, the run's evaluation line)
        "STS %s (%s text): %s | %d sentences in %.1fs",
        result.suite,
        text,
        " ".join(f"{key} {value:.2f}" for key, value in scores.items()),
        len(unique),
        result.seconds,
    )
    return result


def _per_subset(key: str, cosine: np.ndarray, pairs: StsPairs) -> dict[str, float]:
    """Spearman per subset, in order of first appearance; subsets where it is undefined are left out."""
    labels = np.asarray(pairs.subsets)
    out: dict[str, float] = {}
    for subset in dict.fromkeys(pairs.subsets or ()):
        mask = labels == subset
        try:
            out[subset] = spearman_x100(cosine[mask], pairs.scores[mask])
        except FmiclError as err:
            logger.warning("%s subset %s: no correlation (%s)", key, subset, err.what)
    return out


def evaluate_sts(
    model: Encoder,
    suite: str | None = "senteval7",
    *,
    text: str = "senteval",
    data_dir: str | os.PathLike | None = None,
    batch_size: int = 128,
    show_progress: bool = True,
    files: Mapping[str, str | os.PathLike] | None = None,
) -> StsResult:
    """Evaluate ``model`` on an STS suite (SentEval protocol, "all" setting, Spearman x100)."""
    start = time.perf_counter()
    tasks = load_suite(suite, text=text, data_dir=data_dir, files=files)
    result = score_tasks(model, tasks, suite=suite, text=text, batch_size=batch_size, show_progress=show_progress)
    result.seconds = time.perf_counter() - start
    return result


# --------------------------------------------------------------------------- tables


def _columns(result: StsResult) -> list[str]:
    keys = result.task_keys or [key for key in result.scores if key != AVG]
    return [*keys, AVG]


def format_table(result: StsResult, label: str | None = None, *, header: bool = True) -> str:
    """A markdown table of the scores (2 decimals); ``header=False`` gives just the row, to stack runs."""
    columns = _columns(result)
    names = (["model"] if label is not None else []) + columns
    values = ([label] if label is not None else []) + [f"{result.scores[key]:.2f}" for key in columns]
    lines = []
    if header:
        lines.append("| " + " | ".join(names) + " |")
        aligns = (["---"] if label is not None else []) + ["---:"] * len(columns)
        lines.append("|" + "|".join(aligns) + "|")
    lines.append("| " + " | ".join(values) + " |")
    return "\n".join(lines)


# --------------------------------------------------------------------------- evaluator CSVs


def append_csv_row(folder: str | os.PathLike, file_name: str, headers: list[str], row: list[Any]) -> None:
    """Append one evaluation's row to an evaluator's CSV (as sentence-transformers' evaluators do)."""
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, file_name)
    exists = os.path.isfile(path)
    with open(path, "a" if exists else "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        if not exists:
            writer.writerow(headers)
        writer.writerow(row)
