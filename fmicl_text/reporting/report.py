"""``fmicl-text report RUN...``: result JSONs -> one markdown table and two PNG plots.

Each input is a training run folder (its ``eval_results.json``, and ``training_log.json`` for the
plots) or a results JSON file: a run's ``eval_results.json`` or the output of
``fmicl-text eval sts --output`` (``{"scores": {...}}``). The output folder gets

* ``report.md``: one table, runs as rows, the test tasks as columns (plus ``avg`` and the best dev
  score when known); a task a run lacks is blank, an undefined score ``n/a``;
* ``stsb_dev.png``: the dev score over steps, a line per run (from the training logs);
* ``align_uniform.png``: alignment vs uniformity, a point per logged evaluation step (the
  ``diag_*`` entries that :class:`~fmicl_text.evaluation.diagnostics.DiagnosticsEvaluator` logs), and
  the base model before training as a labelled cross when the run recorded it.

A run without the data of a plot is left out of it, with a note in the report.

The folder may hold other files: the report only writes, replaces or deletes the files its manifest
(``fmicl_report.json``: each name with the sha256 of what was written) says it wrote and that are
unchanged since. A file of one of its names that it did not write (or that was edited since) stops the
report before anything is written.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fmicl_text.data.files import read_text
from fmicl_text.errors import FmiclError
from fmicl_text.layout import DEV_KEY, LOG_FILE, RESULTS_FILE, log_key
from fmicl_text.reporting.plots import au_points, metric_series, plot_alignment_uniformity, plot_metric_over_steps
from fmicl_text.reporting.tables import markdown_table, task_columns
from fmicl_text.training.run_folder import name_list, publish, write_json_atomic

REPORT_FILE = "report.md"
DEV_PLOT = "stsb_dev.png"
AU_PLOT = "align_uniform.png"
#: in the output folder: what the report wrote there, name -> sha256 (only those files are ever replaced)
REPORT_MANIFEST = "fmicl_report.json"
REPORT_NAMES = (REPORT_FILE, DEV_PLOT, AU_PLOT)
MANIFEST_AUTHOR = "fmicl-text report"
DEV_METRIC = DEV_KEY
DEV_COLUMN = "best dev"
DEV_NAMES = {"stsb_dev": "STS-B dev", "sickr_dev": "SICK-R dev"}
NOT_OURS_FIX = "pass a run folder of `fmicl-text train` or the JSON file of `fmicl-text eval sts --output`"


@dataclass
class RunRecord:
    """What the report needs of one input."""

    label: str
    source: Path  # the folder or JSON file given
    scores: dict[str, float | None]  # test scores, incl. avg; empty without a final evaluation
    dev_suite: str | None = None
    dev_best: float | None = None
    dev_best_step: int | None = None
    log: list[dict[str, Any]] | None = None  # the trainer's log_history; None without a training log
    base_model: str | None = None  # the model the run started from, with its own scores when they were taken
    base_scores: dict[str, float | None] = field(default_factory=dict)
    base_dev: float | None = None
    base_au: tuple[float, float] | None = None  # the base's (alignment, uniformity), recorded with the diagnostics
    notes: list[str] = field(default_factory=list)


def _read_json(path: Path, label: str) -> Any:
    """A JSON file, with an empty, binary or non-UTF-8 file named as such (the shared text checks)."""
    text = read_text(path, label=label)
    if not text.strip():
        raise FmiclError(
            f"{label} is empty",
            where=str(path),
            fix="it holds nothing (an interrupted write?): rerun what wrote it, or leave it out",
        )
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise FmiclError(
            f"not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})",
            where=f"{path}:{exc.lineno}",
            fix=f"the {label} must be the JSON this tool wrote; restore it, or leave it out",
        ) from None


def _number(value: Any, name: str, where: str) -> float | None:
    """A score as the report prints it: a number, or None (undefined); anything else is not our file."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise FmiclError(f"{name} is {value!r}, not a number", where=where, fix=NOT_OURS_FIX)
    return float(value)


def _scores(value: Any, name: str, where: str) -> dict[str, float | None]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise FmiclError(
            f"{name} must map task names to scores, got a {type(value).__name__}", where=where, fix=NOT_OURS_FIX
        )
    return {str(key): _number(score, f"score {key!r}", where) for key, score in value.items()}


def _section(data: dict[str, Any], key: str, where: str) -> dict[str, Any]:
    value = data.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise FmiclError(f"{key} must be a JSON object, got a {type(value).__name__}", where=where, fix=NOT_OURS_FIX)
    return value


def load_run(path: str | Path) -> RunRecord:
    """Read a run folder or a results JSON file (see the module docstring)."""
    path = Path(path)
    if path.is_dir():
        results_path = path / RESULTS_FILE
        if not results_path.is_file():
            raise FmiclError(
                f"no {RESULTS_FILE} in the folder: not a finished training run",
                where=str(path),
                fix="pass a folder written by `fmicl-text train` (it writes eval_results.json at the end) "
                "or a JSON file from `fmicl-text eval sts --output`",
            )
        label = path.name or str(path)
    elif path.is_file():
        results_path = path
        label = path.parent.name if path.name == RESULTS_FILE and path.parent.name else path.stem
    else:
        raise FmiclError("no such run folder or results file", where=str(path), fix=f"check the path; {NOT_OURS_FIX}")

    data = _read_json(results_path, "results file")
    where = str(results_path)
    if not isinstance(data, dict):
        data = {}
    if "dev" in data or "recipe" in data or isinstance(data.get("test"), dict):  # a training run's results
        test, dev = _section(data, "test", where), _section(data, "dev", where)
        best_step = dev.get("best_step")
        if best_step is not None and (isinstance(best_step, bool) or not isinstance(best_step, int)):
            raise FmiclError(f"dev.best_step is {best_step!r}, not a step number", where=where, fix=NOT_OURS_FIX)
        suite = dev.get("suite")
        record = RunRecord(
            label=label,
            source=path,
            scores=_scores(test.get("scores"), "test.scores", where),
            dev_suite=None if suite is None else str(suite),
            dev_best=_number(dev.get("best"), "dev.best", where),
            dev_best_step=best_step,
        )
        base = data.get("base") if isinstance(data.get("base"), dict) else {}
        if base:
            record.base_model = str(base.get("model") or data.get("base_model") or "base")
            base_test = base.get("test") if isinstance(base.get("test"), dict) else {}
            record.base_scores = _scores(base_test.get("scores"), "base.test.scores", where) if base_test else {}
            record.base_dev = _number(base.get("dev"), "base.dev", where)
            align = _number(base.get("alignment"), "base.alignment", where)
            uniform = _number(base.get("uniformity"), "base.uniformity", where)
            if align is not None and uniform is not None:
                record.base_au = (align, uniform)
        if not record.scores:
            record.notes.append("no test scores (trained without a final evaluation)")
        log_path = results_path.parent / LOG_FILE
        if log_path.is_file():
            log = _read_json(log_path, "training log")
            if not isinstance(log, list):
                raise FmiclError(
                    f"{LOG_FILE} is not a list of log rows",
                    where=str(log_path),
                    fix="it is the trainer's log_history; restore it, or move it away to report without plots",
                )
            record.log = [row for row in log if isinstance(row, dict)]
        return record
    if "scores" in data:  # `fmicl-text eval sts --output`
        return RunRecord(label=label, source=path, scores=_scores(data["scores"], "scores", where))
    raise FmiclError(
        "not a results file: expected a run's eval_results.json or the JSON of `fmicl-text eval sts --output`",
        where=str(results_path),
        fix=NOT_OURS_FIX,
    )


def _unique_labels(records: Sequence[RunRecord]) -> None:
    counts = Counter(record.label for record in records)
    for record in records:
        if counts[record.label] > 1:
            record.label = str(record.source)


def _bases(records: Sequence[RunRecord], au: bool = False) -> dict[str, RunRecord]:
    """The base models the runs recorded, once each, by label: ``base: NAME``, or ``base: NAME (for RUN, ...)``
    where runs from the same name measured it differently (another pooling, another dev suite). ``au``: those
    with an alignment and uniformity, else those with scores."""

    def measured(r: RunRecord) -> Any:
        return r.base_au if au else (r.base_scores, r.base_dev)

    groups: dict[str, list[tuple[RunRecord, list[str]]]] = {}  # name -> (first record, run labels) per measurement
    for r in records:
        if not r.base_model or not (r.base_au if au else r.base_scores or r.base_dev is not None):
            continue
        same = groups.setdefault(r.base_model, [])
        for first, labels in same:
            if measured(first) == measured(r):
                labels.append(r.label)
                break
        else:
            same.append((r, [r.label]))
    return {
        f"base: {name}" + (f" (for {', '.join(labels)})" if len(same) > 1 else ""): first
        for name, same in groups.items()
        for first, labels in same
    }


@dataclass
class Report:
    markdown: str
    table: str
    files: list[Path]
    notes: list[str]


def build_report(paths: Sequence[str | Path], output_dir: str | Path, *, dev_metric: str = DEV_METRIC) -> Report:
    """Read every input (all of them before writing anything), then write the table and the plots."""
    if not paths:
        raise FmiclError("no runs given", fix="pass one or more run folders or results JSON files")
    records = [load_run(path) for path in paths]
    if not any(record.scores or record.dev_best is not None or record.log for record in records):
        raise FmiclError(
            "nothing to report: no input has a score or a training log",
            where=", ".join(str(record.source) for record in records),
            fix="pass run folders of `fmicl-text train` or JSON files of `fmicl-text eval sts --output` with scores",
        )
    _unique_labels(records)
    dev_metric = log_key(dev_metric)
    out = Path(output_dir)
    if out.exists() and not out.is_dir():
        raise FmiclError("the output path is a file, not a folder", where=str(out), fix="pass --output-dir FOLDER")
    ours = owned_report_files(out)  # a file of ours someone else wrote (or edited) stops the report here
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:  # a file where a parent folder should be, no permission
        raise FmiclError(f"cannot create the output folder: {exc.strerror or exc}", where=str(out)) from None
    notes = [f"{record.label}: {note}" for record in records for note in record.notes]

    # The table: test tasks, avg, then the best dev score when any run has one.
    # Each distinct base model once, as a reference row (its scores were taken before training).
    bases = _bases(records)
    columns = task_columns([*(record.scores for record in records), *(r.base_scores for r in bases.values())])
    rows = [(record.label, dict(record.scores)) for record in records]
    rows += [(label, dict(r.base_scores)) for label, r in bases.items()]
    headers: dict[str, str] = {}
    if any(record.dev_best is not None for record in records):
        suites = {record.dev_suite for record in records if record.dev_best is not None}
        columns.append(DEV_COLUMN)
        headers[DEV_COLUMN] = f"{suites.pop()} (best)" if len(suites) == 1 else DEV_COLUMN
        for (_, scores), record in zip(rows, records, strict=False):
            if record.dev_best is not None:
                scores[DEV_COLUMN] = record.dev_best
        for (_, scores), r in zip(rows[len(records) :], bases.values(), strict=True):
            if r.base_dev is not None:
                scores[DEV_COLUMN] = r.base_dev
    table = markdown_table(rows, columns, headers=headers)

    sections: list[str] = []
    dev_series: dict[str, list[tuple[int, float]]] = {}
    au: dict[str, list[tuple[int, float, float]]] = {}
    for record in records:
        if record.log is None:
            notes.append(f"{record.label}: no {LOG_FILE}, left out of the plots")
            continue
        series = metric_series(record.log, dev_metric)
        if series:
            dev_series[record.label] = series
        else:
            notes.append(f"{record.label}: no {dev_metric} in the training log, left out of the dev plot")
        points = au_points(record.log)
        if points:
            au[record.label] = points
        else:
            notes.append(
                f"{record.label}: no eval_diag_alignment/eval_diag_uniformity in the training log "
                "(trained without the diagnostics evaluator), left out of the alignment-uniformity plot"
            )
    short = dev_metric.removeprefix("eval_").removeprefix("sts_")
    dev_name = DEV_NAMES.get(short, short)
    staging = Path(tempfile.mkdtemp(prefix=".fmicl-report-", dir=out))  # hidden, never a name of anyone's
    try:
        plots: list[tuple[str, str]] = []
        if dev_series:
            best = {record.label: record.dev_best_step for record in records if record.label in dev_series}
            references = {label: r.base_dev for label, r in bases.items() if r.base_dev is not None}
            plot_metric_over_steps(
                dev_series, staging / DEV_PLOT, title=f"{dev_name} over training", best=best, references=references
            )
            plots.append((DEV_PLOT, f"{dev_name} over training steps"))
        if au:
            base_au = {label: r.base_au for label, r in _bases(records, au=True).items()}
            plot_alignment_uniformity(au, staging / AU_PLOT, references=base_au)
            plots.append((AU_PLOT, "Alignment and uniformity (a point per evaluation step)"))
        written = {name for name, _ in plots}
        for name in (DEV_PLOT, AU_PLOT):
            if name not in written:
                notes.append(f"{name} not written: no run has the data for it")
        for name, heading in plots:
            sections += [f"## {heading}", "", f"![{heading}]({name})", ""]

        lines = [
            "# fmicl-text report",
            "",
            'Spearman x100 of cosine similarity (SentEval protocol, "all" setting); blank: not evaluated.',
            "",
            table,
            "",
            *sections,
        ]
        if notes:
            lines += ["## Notes", "", *(f"- {note}" for note in notes), ""]
        markdown = "\n".join(lines)
        (staging / REPORT_FILE).write_text(markdown, encoding="utf-8")
        new = [REPORT_FILE, *(name for name, _ in plots)]
        _publish_report(out, staging, new, ours)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return Report(markdown=markdown, table=table, files=[out / name for name in new], notes=notes)


# --------------------------------------------------------------------------- what in the folder is ours


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _read_manifest(out: Path) -> dict[str, list[str]] | None:
    """name -> the sha256 values the report wrote under that name (two while a write is in progress); {} without
    a manifest, None for a file of the manifest's name that is not one (someone else's)."""
    path = out / REPORT_MANIFEST
    if not path.exists() and not path.is_symlink():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return None
    files = data.get("files") if isinstance(data, dict) and data.get("written_by") == MANIFEST_AUTHOR else None
    if not isinstance(files, dict) or path.is_symlink():
        return None
    known: dict[str, list[str]] = {}
    for name, digests in files.items():
        digests = [digests] if isinstance(digests, str) else digests
        if isinstance(digests, list):
            known[name] = [d for d in digests if isinstance(d, str)]
    return known


def owned_report_files(out: Path) -> set[str]:
    """The report's names in ``out`` that this tool wrote there and nobody changed since (it may replace or
    delete those). Raises, before anything is written, when a report name holds anyone else's file."""
    if not out.is_dir():
        return set()
    manifest = _read_manifest(out)
    foreign = [REPORT_MANIFEST] if manifest is None else []
    ours: set[str] = set()
    for name in REPORT_NAMES:
        path = out / name
        if not path.exists() and not path.is_symlink():
            continue
        if path.is_file() and not path.is_symlink() and sha256_of(path) in (manifest or {}).get(name, []):
            ours.add(name)
        else:
            foreign.append(name)
    if foreign:
        changed = any(name in (manifest or {}) for name in foreign)
        raise FmiclError(
            f"the report folder holds {name_list(foreign)}, not written by fmicl-text report"
            + (" (or changed since)" if changed else ""),
            where=str(out),
            fix=f"the report never replaces files it did not write ({REPORT_MANIFEST} lists those it did): "
            "move or rename them, or pass another --output-dir",
        )
    return ours


def _publish_report(out: Path, staging: Path, new: list[str], ours: set[str]) -> None:
    """Move the staged files into ``out``; remove our own earlier files the new report does not have (a stale
    plot would mislead). The manifest first lists old and new digests, so that a crash mid-way leaves every
    file recognisable as ours."""
    before = {name: sha256_of(out / name) for name in ours}
    after = {name: sha256_of(staging / name) for name in new}
    both = {name: sorted({d for d in (before.get(name), after.get(name)) if d}) for name in {*before, *after}}
    write_json_atomic(out / REPORT_MANIFEST, {"written_by": MANIFEST_AUTHOR, "files": both})
    for name in new:
        publish(staging / name, out / name)
    for name in ours - set(new):
        (out / name).unlink(missing_ok=True)
    write_json_atomic(out / REPORT_MANIFEST, {"written_by": MANIFEST_AUTHOR, "files": after})
