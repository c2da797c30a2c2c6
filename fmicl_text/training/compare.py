"""``fmicl-text compare SPEC.yaml``: several objectives (or views) on one budget, tuned alike, seeded.

A comparison spec names a recipe (the shared budget: model, data, steps, batch, length, views), the
overrides every row shares, and the rows: each a few recipe keys (the loss and its fixed parameters)
and a search space. It runs in two stages, both resumable:

1. **tune**: every row with a space gets ``trials`` trials of ``fmicl-text sweep`` (Optuna, one study
   per row in one storage), scored on the dev set only, with the test suite off. Trials advance in
   rounds (one more for every row per round), so a stopped comparison leaves its rows equally tuned.
2. **seeds**: every row's best recipe is trained once per seed and scored on the test suite, with the
   diagnostics (alignment, uniformity, effective rank, I_NCE) of the kept model. Each finished run is
   a line of ``records.jsonl``; a rerun skips it. Models of the first seed are kept (for
   ``eval mteb``); the other seeds' folders are removed once their line is written.
3. **mteb** (when the spec has ``mteb:``): the first seed's models of the ``top`` rows by test average, and
   the reference's, scored on MTEB tasks (local folders or Hub names) through ``eval mteb``, so that the
   best on STS is not the only ranking; the untrained base too (row null). One line of ``mteb.jsonl`` per
   row and task; a rerun skips it.

The table (``comparison.md``, :mod:`fmicl_text.reporting.compare`) is rewritten after every run.

Spec format::

    name: objectives-minilm
    recipe: ../../recipes/quickstart-minilm.yaml   # relative to this file
    set: {training.max_steps: 200, eval.eval_steps: 50}
    trials: 8             # per row with a space (the same for every row: a fair comparison)
    startup_trials: 4     # random draws before TPE models the scores
    seeds: [42, 43, 44]
    reference: infonce    # the row the others are compared with, seed for seed
    # mteb: {tasks: [sickr-entailment], local_dir: ../../runs/mteb-local, top: 5}   # stage 3 (top: all)
    # extends: other.yaml # take that spec's keys (rows included); this file's win, ``set`` merged
    # x-anything: ...     # ignored: a place for YAML anchors (&space) the rows refer to (*space)
    rows:
      infonce:
        set: {loss.name: infonce}
        space: {loss.temperature: {type: float, low: 0.01, high: 0.2, log: true}}
"""

from __future__ import annotations

import dataclasses
import fnmatch
import logging
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from fmicl_text.errors import FmiclError, did_you_mean
from fmicl_text.training.records import append_record, continue_or_restart, read_records, recipe_key
from fmicl_text.training.search import STUDY_DB, Dimension, parse_space

logger = logging.getLogger(__name__)

RECORDS_FILE = "records.jsonl"
MTEB_FILE = "mteb.jsonl"
REPRODUCE_FILE, REPRODUCE_DIR = "reproduce.jsonl", "reproduce"
TABLE_FILE = "comparison.md"
PLOT_FILE = "comparison.png"
TUNE_DIR, RUNS_DIR = "tune", "runs"
SPEC_KEYS = ("name", "description", "extends", "recipe", "set", "trials", "startup_trials", "pruner_startup", "seeds",
             "reference", "rows", "mteb")  # fmt: skip
ROW_KEYS = ("set", "space")
MTEB_KEYS = ("tasks", "local_dir", "top")
# reproduce: a check on demand, never part of all; report: rewrite the tables from what is recorded, train nothing
STAGES = ("tune", "seeds", "mteb", "all", "reproduce", "report")


@dataclass(frozen=True)
class MtebPlan:
    """Stage 3: the MTEB tasks the best rows' models are also scored on."""

    tasks: tuple[str, ...]
    local_dir: Path | None  # local task folders (``fmicl-text eval build-tasks``); None: Hub tasks only
    top: int | None  # rows by test average (the reference is always scored too); None: every row


@dataclass(frozen=True)
class Row:
    name: str
    overrides: dict[str, Any]  # recipe keys of this row, on top of the shared ones
    space: tuple[Dimension, ...]  # empty: nothing to tune


@dataclass(frozen=True)
class Comparison:
    name: str
    description: str
    recipe: Any  # the shared recipe (the spec's ``set`` applied)
    rows: tuple[Row, ...]
    trials: int
    seeds: tuple[int, ...]
    reference: str
    startup_trials: int
    pruner_startup: int
    source: Path
    mteb: MtebPlan | None = None

    def row(self, name: str) -> Row:
        return next(row for row in self.rows if row.name == name)


def _mapping(value: Any, what: str, where: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise FmiclError(f"{what} must be a mapping of dotted recipe keys to values", where=where)
    return value


def _whole(value: Any, what: str, where: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise FmiclError(f"{what} must be a whole number >= {minimum}, got {value!r}", where=where)
    return value


def load_comparison(path: str | Path) -> Comparison:
    """Read and check a spec: every row's recipe is built and checked here, before any training."""
    from fmicl_text.recipe import apply_overrides, load_recipe

    path = Path(path)
    raw = _read_spec(path, ())
    where = str(path)
    for key in ("name", "recipe", "rows"):
        if not raw.get(key):
            raise FmiclError(f"the spec needs {key!r}", where=where, fix="see fmicl-text compare --help")
    recipe_path = Path(str(raw["recipe"]))
    try:
        shared = apply_overrides(load_recipe(recipe_path), _mapping(raw.get("set"), "set", where))
    except FmiclError as exc:
        raise FmiclError(exc.what, where=f"{where}: recipe/set ({exc.where or recipe_path})", fix=exc.fix) from None
    if shared.eval.dev is None:
        raise FmiclError("a comparison tunes on the dev score", where=where, fix="keep eval.dev (e.g. stsb-dev)")
    if shared.eval.final_suite is None:
        raise FmiclError("a comparison scores its rows on a test suite", where=where,
                         fix="set eval.final_suite (e.g. senteval7)")  # fmt: skip
    seeds = raw.get("seeds", [shared.training.seed])
    if not isinstance(seeds, list) or not seeds or len(set(map(str, seeds))) != len(seeds):
        raise FmiclError(f"seeds must be a non-empty list of distinct whole numbers, got {seeds!r}", where=where)
    for seed in seeds:
        _whole(seed, "a seed", where, 0)
    rows = []
    if not isinstance(raw["rows"], dict):
        raise FmiclError("rows must map row names to {set: ..., space: ...}", where=where)
    for name, spec in raw["rows"].items():
        at = f"{where}: rows.{name}"
        spec = _mapping(spec, "a row", at)
        for key in spec:
            if key not in ROW_KEYS:
                raise FmiclError(f"unknown row key {key!r}", where=at, fix=did_you_mean(str(key), ROW_KEYS))
        space = tuple(parse_space(spec["space"], f"{at}.space")) if spec.get("space") else ()
        rows.append(Row(str(name), dict(_mapping(spec.get("set"), "set", at)), space))
    comparison = Comparison(
        name=str(raw["name"]),
        description=str(raw.get("description") or ""),
        recipe=shared,
        rows=tuple(rows),
        trials=_whole(raw.get("trials", 0), "trials", where, 0),
        seeds=tuple(seeds),
        reference=str(raw.get("reference") or rows[0].name),
        startup_trials=_whole(raw.get("startup_trials", 10), "startup_trials", where, 1),
        pruner_startup=_whole(raw.get("pruner_startup", 5), "pruner_startup", where, 0),
        source=path,
        mteb=_mteb_plan(raw.get("mteb"), path),
    )
    if comparison.reference not in {row.name for row in rows}:
        raise FmiclError(f"reference {comparison.reference!r} is not a row", where=where,
                         fix=did_you_mean(comparison.reference, [row.name for row in rows]))  # fmt: skip
    if comparison.trials == 0 and any(row.space for row in rows):
        raise FmiclError("rows have search spaces but trials is 0", where=where, fix="set trials (e.g. 8)")
    for row in rows:  # every row builds a valid recipe, and its space's ends too (before any training)
        _check_row(comparison, row, Path("."))
    return comparison


def _mteb_plan(raw: Any, path: Path) -> MtebPlan | None:
    if raw is None:
        return None
    where = f"{path}: mteb"
    raw = _mapping(raw, "mteb", where)
    for key in raw:
        if key not in MTEB_KEYS:
            raise FmiclError(f"unknown mteb key {key!r}", where=where, fix=did_you_mean(str(key), MTEB_KEYS))
    tasks = raw.get("tasks")
    if not isinstance(tasks, list) or not tasks or not all(isinstance(t, str) and t.strip() for t in tasks):
        raise FmiclError(f"tasks must be a non-empty list of task names, got {tasks!r}", where=where)
    if any("," in t or t != t.strip() for t in tasks) or len(set(tasks)) != len(tasks):
        raise FmiclError(f"tasks must be distinct single names (no commas or spaces around), got {tasks!r}",
                         where=where)  # fmt: skip
    local = raw.get("local_dir")
    return MtebPlan(
        tasks=tuple(tasks),
        local_dir=None if local is None else Path(str(local)),  # made absolute by _read_spec
        top=None if raw.get("top") == "all" else _whole(raw.get("top", 5), "top", where, 1),
    )


def _read_spec(path: Path, seen: tuple[Path, ...]) -> dict[str, Any]:
    """A spec's mapping, with ``extends: OTHER.yaml`` merged under it (its keys win; ``set`` merged key by key)
    and the recipe path made absolute, so a spec for another base repeats none of the rows."""
    if not path.is_file():
        raise FmiclError("comparison spec not found", where=str(path), fix="see fmicl-text compare --help")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise FmiclError(f"the spec is not valid YAML: {exc}".splitlines()[0], where=str(path)) from None
    if not isinstance(raw, dict):
        raise FmiclError("a comparison spec is a YAML mapping", where=str(path), fix="see fmicl-text compare --help")
    raw = {key: value for key, value in raw.items() if not str(key).startswith("x-")}  # YAML anchors' home
    for key in raw:
        if key not in SPEC_KEYS:
            raise FmiclError(f"unknown spec key {key!r}", where=str(path), fix=did_you_mean(str(key), SPEC_KEYS))
    if raw.get("recipe"):
        raw["recipe"] = str((path.parent / str(raw["recipe"])).resolve())
    if isinstance(raw.get("mteb"), dict) and raw["mteb"].get("local_dir") is not None:  # relative to this file
        raw["mteb"] = {**raw["mteb"], "local_dir": str((path.parent / str(raw["mteb"]["local_dir"])).resolve())}
    parent = raw.pop("extends", None)
    if parent is None:
        return raw
    parent_path = (path.parent / str(parent)).resolve()
    if parent_path in seen or parent_path == path.resolve():
        raise FmiclError("specs extend each other in a circle", where=str(path), fix=f"check extends: {parent}")
    base = _read_spec(parent_path, (*seen, path.resolve()))
    shared = {**_mapping(base.get("set"), "set", str(parent_path)), **_mapping(raw.get("set"), "set", str(path))}
    return {**base, **raw, "set": shared}


def row_recipe(comparison: Comparison, row: Row, output_dir: Path, **extra: Any) -> Any:
    """The shared recipe with the row's keys (a loss change first, so its parameters apply to the new loss)."""
    from fmicl_text.recipe import apply_overrides

    keys = dict(sorted(row.overrides.items(), key=lambda kv: kv[0] != "loss.name"))
    return apply_overrides(
        comparison.recipe, {"name": row.name, **keys, "training.output_dir": str(output_dir), **extra}
    )


def tuning_recipe(comparison: Comparison, row: Row, out: Path) -> Any:
    """What a trial trains: the row on the shared budget, scored on dev only (the test suite off)."""
    return row_recipe(comparison, row, out / TUNE_DIR / row.name, **{"eval.final_suite": None})


def _check_row(comparison: Comparison, row: Row, out: Path) -> None:
    from fmicl_text.recipe import validate
    from fmicl_text.training.search import check_space
    from fmicl_text.training.trainer import check_loss

    where = f"{comparison.source}: rows.{row.name}"
    try:
        recipe = validate(tuning_recipe(comparison, row, out))
        check_loss(recipe)
        if row.space:
            check_space(recipe, list(row.space), out)
    except FmiclError as exc:
        raise FmiclError(exc.what, where=where, fix=exc.fix) from None


def _storage(out: Path, storage: str | None) -> str:
    return storage or f"sqlite:///{(out / STUDY_DB).resolve()}"


def pick_rows(comparison: Comparison, patterns: str | None) -> list[Row]:
    """The rows named by comma-separated shell patterns (``fmicl-*,infonce``); None: every row."""
    if patterns is None:
        return list(comparison.rows)
    names = [row.name for row in comparison.rows]
    wanted = [p.strip() for p in patterns.split(",") if p.strip()]
    for pattern in wanted:
        if not fnmatch.filter(names, pattern):
            raise FmiclError(f"no row matches {pattern!r}", where=str(comparison.source),
                             fix=did_you_mean(pattern, names))  # fmt: skip
    return [row for row in comparison.rows if any(fnmatch.fnmatchcase(row.name, p) for p in wanted)]


def tune(
    comparison: Comparison, out: Path, storage: str | None = None, after_round=None, rows: list[Row] | None = None
) -> dict[str, Any]:
    """Tune every row with a space (or those of ``rows``) to ``comparison.trials`` finished trials, in rounds;
    returns the studies."""
    from fmicl_text.training.search import sweep

    studies: dict[str, Any] = {}
    tuned = [row for row in (comparison.rows if rows is None else rows) if row.space]
    for done in range(1, comparison.trials + 1):
        for row in tuned:
            studies[row.name] = sweep(
                tuning_recipe(comparison, row, out),
                space=list(row.space),
                trials=done,
                output_dir=out / TUNE_DIR / row.name,
                storage=_storage(out, storage),
                study_name=row.name,
                pruner_startup=comparison.pruner_startup,
                sampler_startup=comparison.startup_trials,
            )
        if after_round is not None:
            after_round()
    return studies


def load_studies(comparison: Comparison, out: Path, storage: str | None = None) -> dict[str, Any]:
    """The rows' studies as stored so far (a row not tuned yet is absent)."""
    import optuna

    url = _storage(out, storage)
    if storage is None and not (out / STUDY_DB).is_file():
        return {}
    names = {summary.study_name for summary in optuna.get_all_study_summaries(url, include_best_trial=False)}
    return {row.name: optuna.load_study(study_name=row.name, storage=url)
            for row in comparison.rows if row.space and row.name in names}  # fmt: skip


def chosen_params(comparison: Comparison, row: Row, studies: dict[str, Any]) -> dict[str, Any]:
    """The row's tuned values: its study's best trial, once the study has all its trials."""
    from optuna.trial import TrialState

    from fmicl_text.training.search import finished_trials

    if not row.space:
        return {}
    study = studies.get(row.name)
    done = finished_trials(study) if study is not None else 0
    if done < comparison.trials:
        raise FmiclError(
            f"row {row.name!r} has {done} of its {comparison.trials} tuning trials",
            where=str(comparison.source),
            fix="run the tune stage first (fmicl-text compare SPEC --stage tune)",
        )
    if not study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
        raise FmiclError(f"no tuning trial of row {row.name!r} completed", where=str(comparison.source),
                         fix="look at its trials table; widen or move its space")  # fmt: skip
    return dict(study.best_params)


def seed_recipe(comparison: Comparison, row: Row, params: dict[str, Any], seed: int, out: Path) -> Any:
    from fmicl_text.training.search import trial_recipe

    recipe = trial_recipe(row_recipe(comparison, row, out), params, out / RUNS_DIR / row.name / f"seed-{seed}")
    return dataclasses.replace(recipe, training=dataclasses.replace(recipe.training, seed=seed))


def run_seed(recipe: Any, *, keep_model: bool) -> dict[str, Any]:
    """Train one seed of a row, score it on the test suite, measure its geometry; returns its record."""
    from fmicl_text.evaluation.diagnostics import compute_diagnostics
    from fmicl_text.modeling import load_model
    from fmicl_text.training.trainer import train

    recipe, resume = continue_or_restart(recipe)
    result = train(recipe, resume=resume)
    model = load_model(str(result.output_dir))
    geometry = compute_diagnostics(model, data_dir=recipe.data.data_dir, text=recipe.eval.text)
    record = {
        "dev": result.best_dev,
        "best_step": result.best_step,
        "steps": result.steps,
        "test": result.test.to_json(model_name=recipe.name)["scores"] if result.test is not None else {},
        "diagnostics": geometry.metrics(),
        "seconds": result.seconds,
        "resumed": resume is not None,
        "trajectory": eval_trajectory(Path(result.output_dir)),
        "base": base_record(result.base),
    }
    if not keep_model:  # its numbers are in the record; the weights of every seed would fill the disk
        shutil.rmtree(result.output_dir, ignore_errors=True)
    return record


def base_record(base: dict[str, Any] | None) -> dict[str, Any] | None:
    """The untrained model's scores as a seed record keeps them (``{"model", "dev", "test": {task: score},
    "alignment", "uniformity"}``), so the table can show what training moved; None when it was not scored."""
    if not base:
        return None
    return {"model": base.get("model"), "dev": base.get("dev"), "test": (base.get("test") or {}).get("scores") or {},
            **{key: base[key] for key in ("alignment", "uniformity") if key in base}}  # fmt: skip


def eval_trajectory(run_dir: Path) -> list[dict[str, float]]:
    """Every evaluation of a run from its training log: ``{"step", "sts_stsb_dev", "diag_erank", ...}``, so
    curves over training (effective rank, alignment, uniformity) outlive the run's deleted folder."""
    import json

    from fmicl_text.layout import LOG_FILE

    path = run_dir / LOG_FILE
    if not path.is_file():
        return []
    timing = ("eval_runtime", "eval_samples_per_second", "eval_steps_per_second", "eval_loss")
    by_step: dict[int, dict[str, float]] = {}
    for row in json.loads(path.read_text(encoding="utf-8")):
        values = {key.removeprefix("eval_"): float(value) for key, value in row.items()
                  if key.startswith("eval_") and key not in timing and isinstance(value, int | float)}  # fmt: skip
        if values and isinstance(row.get("step"), int):
            by_step.setdefault(row["step"], {"step": row["step"]}).update(values)
    return [by_step[step] for step in sorted(by_step)]


def run_seeds(
    comparison: Comparison, out: Path, studies: dict[str, Any], after_run=None, rows: list[Row] | None = None
) -> list[dict[str, Any]]:
    """Train every row's (or ``rows``') chosen recipe once per seed (seeds outer, so the rows stay level);
    skip what is done."""
    rows = list(comparison.rows) if rows is None else rows
    params = {row.name: chosen_params(comparison, row, studies) for row in rows}
    path = out / RECORDS_FILE
    done = {(r["row"], r["seed"], r["key"]) for r in read_records(path)}
    for index, seed in enumerate(comparison.seeds):
        for row in rows:
            recipe = seed_recipe(comparison, row, params[row.name], seed, out)
            key = recipe_key(recipe)
            if (row.name, seed, key) in done:
                continue
            logger.info("compare %s: row %s, seed %d", comparison.name, row.name, seed)
            record = run_seed(recipe, keep_model=index == 0)
            append_record(path, {"row": row.name, "seed": seed, "key": key, "params": params[row.name], **record})
            done.add((row.name, seed, key))
            if after_run is not None:
                after_run()
    return current_records(comparison, out, studies)


def current_records(comparison: Comparison, out: Path, studies: dict[str, Any]) -> list[dict[str, Any]]:
    """The records of the rows' recipes as the spec and studies now choose them (stale ones left out)."""
    keys = {}
    for row in comparison.rows:
        try:
            params = chosen_params(comparison, row, studies)
        except FmiclError:
            continue  # not tuned yet: no record of it counts
        for seed in comparison.seeds:
            keys[(row.name, seed)] = recipe_key(seed_recipe(comparison, row, params, seed, out))
    return [r for r in read_records(out / RECORDS_FILE) if keys.get((r["row"], r["seed"])) == r["key"]]


def mteb_rows(comparison: Comparison, records: list[dict[str, Any]]) -> list[str]:
    """The rows stage 3 scores: the ``top`` by mean test average over their seeds, and the reference."""
    import statistics

    from fmicl_text.layout import AVG

    averages: dict[str, list[float]] = {}
    for record in records:
        if record["test"].get(AVG) is not None:
            averages.setdefault(record["row"], []).append(record["test"][AVG])
    ranked = sorted(averages, key=lambda row: -statistics.fmean(averages[row]))
    chosen = set(ranked[: comparison.mteb.top]) | {comparison.reference} if comparison.mteb else set()
    return [row.name for row in comparison.rows if row.name in chosen and row.name in averages]


def run_mteb(
    comparison: Comparison, out: Path, studies: dict[str, Any], after_run=None, rows: list[Row] | None = None
) -> list[dict[str, Any]]:
    """Score the first seed's kept model of each row :func:`mteb_rows` picks (within ``rows``) on the spec's
    MTEB tasks; skip what ``mteb.jsonl`` holds."""
    from fmicl_text.evaluation.mteb_eval import evaluate_mteb, resolve_tasks

    plan = comparison.mteb
    if plan is None:
        raise FmiclError(
            "the spec has no mteb: section", where=str(comparison.source),
            fix="add mteb: {tasks: [...], local_dir: ..., top: 5}, or run --stage tune or seeds",
        )  # fmt: skip
    if plan.local_dir is not None and not plan.local_dir.is_dir():
        raise FmiclError("the local MTEB task folder does not exist", where=str(plan.local_dir),
                         fix=f"build it: fmicl-text eval build-tasks {plan.local_dir}")  # fmt: skip
    resolve_tasks(list(plan.tasks), plan.local_dir)  # every task found and its files checked before any scoring
    allowed = None if rows is None else {row.name for row in rows}
    path = out / MTEB_FILE
    done = {(r["row"], r["key"], r["task"]) for r in read_records(path)}

    def score(name: str | None, key: str, model: str) -> None:
        for task in [task for task in plan.tasks if (name, key, task) not in done]:
            # a line as each task ends: a stop loses at most the task in progress
            logger.info("compare %s: %s on %s", comparison.name, f"row {name}" if name else f"base {model}", task)
            result = evaluate_mteb(model, [task], local_dir=plan.local_dir, cache_dir=out / "mteb-cache",
                                   show_progress=False)["scores"][task]  # fmt: skip
            append_record(path, {"row": name, "key": key, "task": task, "main_score": result["main_score"],
                                 "metric": result["metric"], "type": result["type"]})  # fmt: skip
            done.add((name, key, task))
            if after_run is not None:
                after_run()

    records = current_records(comparison, out, studies)
    base = base_model(records)
    if base is not None:  # the model every row starts from, scored alike: did training move these tasks at all?
        score(None, base, base)
    for name in mteb_rows(comparison, records):
        if allowed is not None and name not in allowed:
            continue
        row = comparison.row(name)
        recipe = seed_recipe(comparison, row, chosen_params(comparison, row, studies), comparison.seeds[0], out)
        key = recipe_key(recipe)
        if all((name, key, task) in done for task in plan.tasks):
            continue
        if _finished_state(Path(recipe.training.output_dir)) is None:
            _retrain_first_seed(comparison, name, recipe, key, records)
        _check_kept_model(comparison, name, recipe, out)
        score(name, key, str(recipe.training.output_dir))
    return current_mteb_records(comparison, out, studies)


def _finished_state(folder: Path) -> dict[str, Any] | None:
    """The run state of a finished run kept in ``folder`` (weights and config there); None otherwise."""
    from fmicl_text.training.run_folder import RunFolder

    state = RunFolder(folder).run_state()
    finished = (folder / "config.json").is_file() and state is not None and state.get("finished")
    return state if finished else None


def _retrain_first_seed(
    comparison: Comparison, name: str, recipe: Any, key: str, records: list[dict[str, Any]]
) -> None:
    """Train a row's first seed again when its kept weights are gone (they are not committed, so a fresh
    checkout lacks them); its recorded scores stay, and a rerun that does not match them is logged."""
    from fmicl_text.layout import AVG

    logger.info("compare %s: row %s: the first seed's model is gone; training it again", comparison.name, name)
    rerun = run_seed(recipe, keep_model=True)
    recorded = next((r for r in records if (r["row"], r["seed"], r["key"]) == (name, comparison.seeds[0], key)), None)
    before = None if recorded is None else recorded["test"].get(AVG)
    after = rerun["test"].get(AVG)
    if before is not None and after is not None and before != after:  # on one machine, reruns are identical
        logger.warning("compare %s: row %s: the retrained first seed scores %.4f (test avg), its record %.4f; "
                       "MTEB scores the retrained model", comparison.name, name, after, before)  # fmt: skip


def base_model(records: list[dict[str, Any]]) -> str | None:
    """The untrained model every record starts from (its ``mteb.jsonl`` lines have row null and this key);
    None when the records start from several, or have no base scores."""
    models = {(r.get("base") or {}).get("model") for r in records}
    return next(iter(models)) if len(models) == 1 and None not in models else None


def _check_kept_model(comparison: Comparison, name: str, recipe: Any, out: Path) -> None:
    """The first seed's kept folder must hold the finished run of the row's current recipe, not another's."""
    from fmicl_text.recipe import differences, recipe_from_dict

    folder = Path(recipe.training.output_dir)
    state = _finished_state(folder)
    fix = (f"delete that row's seed-{comparison.seeds[0]} line of {out / RECORDS_FILE} and rerun --stage seeds "
           "(it trains it again)")  # fmt: skip
    if state is None:
        raise FmiclError(f"the first seed's model of row {name!r} is gone", where=str(folder), fix=fix)
    changed = differences(recipe_from_dict(state["recipe"]), recipe)
    if changed:
        raise FmiclError(f"the first seed's model of row {name!r} was trained from another recipe ({changed[0]})",
                         where=str(folder), fix=fix)  # fmt: skip


def current_mteb_records(comparison: Comparison, out: Path, studies: dict[str, Any]) -> list[dict[str, Any]]:
    """``mteb.jsonl``'s lines of the spec's tasks for the rows' first-seed recipes as now chosen."""
    if comparison.mteb is None:
        return []
    first, records = comparison.seeds[0], current_records(comparison, out, studies)
    keys = {r["row"]: r["key"] for r in records if r["seed"] == first}
    keys[None] = base_model(records)  # the base's lines: row null, the model as key
    return [r for r in read_records(out / MTEB_FILE)
            if keys.get(r["row"]) == r["key"] and r["task"] in comparison.mteb.tasks]  # fmt: skip


def reproduce(
    comparison: Comparison, out: Path, studies: dict[str, Any], rows: list[Row] | None = None
) -> list[dict[str, Any]]:
    """Train the first seed of ``rows`` (default: the reference) again, in a scratch folder, and keep its
    scores beside the recorded ones (``reproduce.jsonl``), with the row's seed-to-seed spread as the noise.
    A row already reproduced for its current record is not trained again (delete its line to redo it)."""
    import statistics

    from fmicl_text.layout import AVG

    rows = [comparison.row(comparison.reference)] if rows is None else rows
    seed, records = comparison.seeds[0], current_records(comparison, out, studies)
    done = {(e["row"], e["key"]): e for e in read_records(out / REPRODUCE_FILE)}
    entries = []
    for row in rows:
        own = [r for r in records if r["row"] == row.name]
        original = next((r for r in own if r["seed"] == seed), None)
        if original is None:
            raise FmiclError(f"row {row.name!r} has no record of seed {seed} to reproduce",
                             where=str(out / RECORDS_FILE), fix="train its seeds first: --stage seeds")  # fmt: skip
        if (row.name, original["key"]) in done:
            entries.append(done[(row.name, original["key"])])
            continue
        logger.info("compare %s: row %s, seed %d, again", comparison.name, row.name, seed)
        recipe = seed_recipe(comparison, row, chosen_params(comparison, row, studies), seed, out / REPRODUCE_DIR)
        rerun = run_seed(recipe, keep_model=False)
        averages = [r["test"][AVG] for r in own if r["test"].get(AVG) is not None]
        entry = {
            "row": row.name, "seed": seed, "key": original["key"],
            "recorded": {"dev": original["dev"], "test": original["test"], "resumed": original.get("resumed")},
            "rerun": {"dev": rerun["dev"], "test": rerun["test"], "seconds": rerun["seconds"]},
            "seed_sd": statistics.stdev(averages) if len(averages) > 1 else None,
        }  # fmt: skip
        append_record(out / REPRODUCE_FILE, entry)
        entries.append(entry)
    return entries


def tuning_summary(comparison: Comparison, studies: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Per tuned row: finished trials, the best dev score and its parameters so far."""
    from optuna.trial import TrialState

    from fmicl_text.training.search import finished_trials

    summary = {}
    for row in comparison.rows:
        study = studies.get(row.name)
        if not row.space:
            continue
        complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)) if study else []
        best = max(complete, key=lambda t: t.value) if complete else None
        summary[row.name] = {
            "trials": finished_trials(study) if study else 0,
            "best_dev": best.value if best else None,
            "params": dict(best.params) if best else {},
        }
    return summary


def describe_budget(comparison: Comparison) -> str:
    """One paragraph: what every run of the comparison trained on and how rows were tuned and scored.

    A field that some row sets or tunes (the batch of a batch comparison, the views of a views
    comparison) reads "per row": the shared recipe's value is not what those rows ran."""
    recipe = comparison.recipe
    tc, ec = recipe.training, recipe.eval
    varied = {key for row in comparison.rows for key in (*row.overrides, *(d.key for d in row.space))}
    per_row: list[str] = []  # the fields some row sets or tunes

    def field(label: str, value: str, *keys: str) -> str:
        if any(v == key or v.startswith(f"{key}.") for v in varied for key in keys):
            per_row.append(label)
            return f"{label} per row"
        return value

    length = f"{tc.max_steps} steps" if tc.max_steps > 0 else f"{tc.epochs:g} epochs"
    views = "dropout only" if recipe.views.is_identity else f"`{recipe.views.describe()}`"
    budget = ", ".join((
        field("steps", length, "training.max_steps", "training.epochs"),
        field("batch", f"batch {tc.batch_size}", "training.batch_size"),
        field("lr", f"lr {tc.learning_rate:g}", "training.learning_rate"),
        field("length", f"length {recipe.data.max_seq_length}", "data.max_seq_length"),
        field("views", f"views {views}", "views"),
    ))  # fmt: skip
    scoring = field(f"{ec.dev} at intervals", f"{ec.dev} every {ec.eval_steps} steps", "eval.eval_steps")
    pointer = " (a row's values: its `set` in the spec)" if per_row else ""
    tuned = sum(1 for row in comparison.rows if row.space)
    tuning = (
        f"Tuning: {comparison.trials} trials for every row with a search space ({tuned} of {len(comparison.rows)}; "
        f"Optuna TPE after {comparison.startup_trials} random draws, median pruning), on {ec.dev} only. "
        "Then each row's best recipe"
        if tuned else "Nothing tuned: every row's parameters are fixed in the spec. Each row's recipe"
    )  # fmt: skip
    return (
        f"Every run: `{recipe.model.name_or_path}` ({recipe.model.pooling} pooling), data `{recipe.data.train}`, "
        f"{budget}; {scoring}, the best checkpoint kept{pointer}. {tuning} once per seed "
        f"({', '.join(map(str, comparison.seeds))}), scored on {ec.final_suite} (test sets: never used to choose). "
        f"Spec: `{comparison.source.name}`."
    )
