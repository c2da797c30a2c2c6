"""``fmicl-text sweep``: hyper-parameter search on the dev score with Optuna.

Every trial is the recipe with some keys drawn from a search space, trained on the recipe's own
budget (so every loss gets the same one), scored by its best STS-B dev checkpoint: test sets
play no part. TPE samples, the median pruner stops a trial whose periodic dev score trails the
median of earlier trials at the same step, and the study lives in an Optuna storage: a SQLite file
in the output folder by default (a stopped sweep resumes and never reruns a finished trial; a
trial killed mid-way is failed by its missing heartbeat and run again with the same parameters),
or any storage URL (PostgreSQL, MySQL) that several machines share.

The space is YAML, one dotted recipe key per entry::

    loss.sigma: {type: float, low: 0.25, high: 4.0, log: true}
    loss.alpha: {type: float, low: 1.0, high: 100.0, log: true}
    loss.divergence: {type: categorical, choices: [kl, js]}
    training.batch_size: {type: int, low: 32, high: 128, step: 32}
"""

from __future__ import annotations

import logging
import math
import shutil
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from fmicl_text.errors import FmiclError, RunInterrupted, did_you_mean

TRIALS_TABLE, BEST_RECIPE, TRIALS_PLOT, STUDY_DB = "trials.md", "best_recipe.yaml", "trials.png", "study.db"
KINDS = ("float", "int", "categorical")
HEARTBEAT_SECONDS = 60
#: trial user attributes: stopped by a signal; the number of the stopped trial a queued one reruns
INTERRUPTED, RETRY_OF = "interrupted", "retry_of"


@dataclass(frozen=True)
class Dimension:
    key: str
    kind: str
    low: float | None = None
    high: float | None = None
    log: bool = False
    step: float | None = None
    choices: tuple[Any, ...] = ()

    def suggest(self, trial: Any) -> Any:
        if self.kind == "categorical":
            return trial.suggest_categorical(self.key, list(self.choices))
        if self.kind == "int":
            return trial.suggest_int(self.key, int(self.low), int(self.high), step=int(self.step or 1), log=self.log)
        return trial.suggest_float(self.key, self.low, self.high, step=self.step, log=self.log)


def load_space(path: str | Path) -> list[Dimension]:
    """Read a search space file; every entry is checked here, before any training."""
    path = Path(path)
    if not path.is_file():
        raise FmiclError(
            "search space file not found", where=str(path), fix="see fmicl-text sweep --help for the format"
        )
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise FmiclError(f"the search space is not valid YAML: {exc}".splitlines()[0], where=str(path)) from None
    return parse_space(raw, str(path))


def parse_space(raw: Any, where: str) -> list[Dimension]:
    """A search space given as a mapping (a file's content, or a comparison row's ``space``)."""
    if not isinstance(raw, dict) or not raw:
        raise FmiclError("a search space is a YAML mapping of recipe keys to ranges", where=where)
    dims = []
    for key, spec in raw.items():
        at = f"{where}: {key}"
        if not isinstance(spec, dict):
            raise FmiclError("each entry needs {type: float|int|categorical, ...}", where=at)
        kind = spec.get("type")
        if kind not in KINDS:
            raise FmiclError(f"unknown type {kind!r}", where=at, fix=did_you_mean(str(kind), KINDS))
        allowed = {"type", "choices"} if kind == "categorical" else {"type", "low", "high", "log", "step"}
        extra = set(spec) - allowed
        if extra:
            raise FmiclError(
                f"unknown field(s) {sorted(extra)} for type {kind}", where=at, fix=f"use {sorted(allowed)}"
            )
        if kind == "categorical":
            choices = spec.get("choices")
            if not isinstance(choices, list) or not choices:
                raise FmiclError("a categorical entry needs a non-empty list of choices", where=at)
            dims.append(Dimension(str(key), kind, choices=tuple(choices)))
            continue
        low, high = spec.get("low"), spec.get("high")
        numbers = all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in (low, high))
        if not numbers or not low < high:
            raise FmiclError(f"low and high must be numbers with low < high, got {low!r}, {high!r}", where=at)
        if spec.get("log") and low <= 0:
            raise FmiclError(f"a log range needs low > 0, got {low}", where=at)
        dims.append(Dimension(str(key), kind, float(low), float(high), bool(spec.get("log", False)), spec.get("step")))
    return dims


def trial_recipe(recipe: Any, params: dict[str, Any], folder: Path) -> Any:
    from fmicl_text.recipe import apply_overrides

    ordered = dict(sorted(params.items(), key=lambda kv: kv[0] != "loss.name"))  # a loss change first
    return apply_overrides(recipe, {**ordered, "training.output_dir": str(folder), "training.overwrite": True})


def check_space(recipe: Any, dims: list[Dimension], out: Path) -> None:
    """Every key exists and every range's ends make a valid recipe (loss parameters included)."""
    from fmicl_text.recipe import validate
    from fmicl_text.training.trainer import check_loss

    if recipe.eval.dev is None:
        raise FmiclError("a sweep chooses on the dev score", fix="keep eval.dev (stsb-dev) in the recipe")
    for dim in dims:
        ends = list(dim.choices) if dim.kind == "categorical" else [dim.low, dim.high]
        for value in ends:
            value = int(value) if dim.kind == "int" else value
            try:
                check_loss(validate(trial_recipe(recipe, {dim.key: value}, out)))
            except FmiclError as exc:
                raise FmiclError(f"search space entry {dim.key} = {value!r}: {exc.what}", fix=exc.fix) from None


def make_objective(recipe: Any, dims: list[Dimension], out: Path, keep_models: bool):
    import optuna
    from transformers import TrainerCallback

    from fmicl_text.training.trainer import train

    class ReportToOptuna(TrainerCallback):
        def __init__(self, trial: Any) -> None:
            self.trial = trial

        def on_evaluate(self, args, state, control, metrics=None, **kwargs):
            value = (metrics or {}).get(args.metric_for_best_model)
            if value is not None and math.isfinite(value):
                self.trial.report(value, state.global_step)
                if self.trial.should_prune():
                    raise optuna.TrialPruned(f"dev {value:.2f} at step {state.global_step}")

    def objective(trial: Any) -> float:
        params = {dim.key: dim.suggest(trial) for dim in dims}
        folder = out / "trials" / f"{trial.number:04d}"
        start = time.time()
        try:
            result = train(trial_recipe(recipe, params, folder), callbacks=[ReportToOptuna(trial)])
        except (RunInterrupted, KeyboardInterrupt) as exc:  # Ctrl-C / SIGTERM stops the sweep; the trial reruns
            trial.set_user_attr(INTERRUPTED, True)
            if isinstance(exc, KeyboardInterrupt):  # before or after training, where no handler turns it into one
                exc = RunInterrupted(f"SIGINT in trial {trial.number}", signal_number=2)
            raise _SweepInterrupted(exc) from None
        finally:
            trial.set_user_attr("seconds", round(time.time() - start, 1))
            if not keep_models:  # scores stay in the table; weights of every trial would fill the disk
                shutil.rmtree(folder, ignore_errors=True)
        trial.set_user_attr("best_step", result.best_step)
        return float(result.best_dev)

    return objective


class _SweepInterrupted(Exception):
    """A trial's training stopped on a signal: not an FmiclError, so Optuna does not catch it and go on."""

    def __init__(self, cause: RunInterrupted) -> None:
        super().__init__(cause.what)
        self.cause = cause


class _NoTraceOfAStop(logging.Filter):
    """Drop Optuna's report of a trial failed by a stop: the user gets one 'stopped' message instead."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "_SweepInterrupted" not in record.getMessage()


def _retry_interrupted(study: Any) -> None:
    """Queue once more, with its own parameters, each trial a signal stopped (so draws are not lost)."""
    from optuna.trial import TrialState

    retried = {t.user_attrs.get(RETRY_OF) for t in study.get_trials(deepcopy=False)}
    for trial in study.get_trials(deepcopy=False, states=(TrialState.FAIL,)):
        if trial.user_attrs.get(INTERRUPTED) and trial.number not in retried:
            study.enqueue_trial(trial.params, user_attrs={RETRY_OF: trial.number})


def sweep(
    recipe: Any,
    *,
    space: list[Dimension],
    trials: int,
    output_dir: str | Path,
    storage: str | None = None,
    study_name: str = "sweep",
    keep_models: bool = False,
    pruner_startup: int = 5,
    sampler_startup: int = 10,
) -> Any:
    """Run (or resume) the study until ``trials`` trials have finished; write the table, best recipe and plot.

    ``pruner_startup``: trials finished before the median pruner stops any; ``sampler_startup``: random
    draws before TPE models the scores (Optuna's default, 10)."""
    import optuna
    from optuna.storages import RDBStorage, RetryHeartbeatStaleTrialCallback
    from optuna.study import MaxTrialsCallback
    from optuna.trial import TrialState

    out = Path(output_dir)
    check_space(recipe, space, out)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)  # heartbeats: stable enough
    out.mkdir(parents=True, exist_ok=True)
    url = storage or f"sqlite:///{(out / STUDY_DB).resolve()}"
    try:
        backend = RDBStorage(
            url,
            heartbeat_interval=HEARTBEAT_SECONDS,
            heartbeat_stale_trial_callback=RetryHeartbeatStaleTrialCallback(max_retry=1),
        )
    except Exception as exc:  # noqa: BLE001 - SQLAlchemy raises many types for a bad URL or an unreachable server
        raise FmiclError(f"cannot open the study storage: {exc}".splitlines()[0], where=url) from None
    study = optuna.create_study(
        storage=backend,
        study_name=study_name,
        direction="maximize",
        load_if_exists=True,
        pruner=optuna.pruners.MedianPruner(n_startup_trials=pruner_startup),
    )
    keys = sorted(dim.key for dim in space)
    stored = study.user_attrs.get("space")
    if stored is not None and stored != keys:
        raise FmiclError(
            f"study {study_name!r} searched {stored}, not {keys}",
            where=url,
            fix="use another --study name or --output-dir for another space",
        )
    study.set_user_attr("space", keys)
    # A resumed study must not replay the first sitting's draws: the sampler's seed moves on with it.
    study.sampler = optuna.samplers.TPESampler(
        seed=recipe.training.seed + len(study.trials), n_startup_trials=sampler_startup
    )
    done = finished_trials(study)
    if done < trials:
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        _retry_interrupted(study)
        quiet = _NoTraceOfAStop()
        for handler in logging.getLogger("optuna").handlers:  # Optuna logs a failed trial with its traceback
            handler.addFilter(quiet)
        try:
            study.optimize(
                make_objective(recipe, space, out, keep_models),
                n_trials=trials - done,
                callbacks=[MaxTrialsCallback(trials, states=(TrialState.COMPLETE, TrialState.PRUNED))],
                catch=(FmiclError,),
            )
        except _SweepInterrupted as exc:
            write_outputs(study, recipe, out, study_name)
            cause = exc.cause
            raise RunInterrupted(
                f"{cause.what} (sweep {study_name!r})", signal_number=cause.exit_code - 128, where=url,
                fix="rerun the same command: the study resumes and the stopped trial runs again",
            ) from None  # fmt: skip
        finally:
            for handler in logging.getLogger("optuna").handlers:
                handler.removeFilter(quiet)
    write_outputs(study, recipe, out, study_name)
    return study


def finished_trials(study: Any) -> int:
    """Trials that ran to an end (complete or pruned): what ``trials`` counts."""
    from optuna.trial import TrialState

    return len(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED)))


def write_outputs(study: Any, recipe: Any, out: Path, title: str) -> None:
    from optuna.trial import TrialState

    rows = study.get_trials(deepcopy=False)
    keys = sorted({key for trial in rows for key in trial.params})
    lines = [
        f"# Sweep {title}: {recipe.name}",
        "",
        f"{len(rows)} trials; each trains the recipe's own budget ({recipe.training.max_steps} steps, batch "
        f"{recipe.training.batch_size}) and scores its best {recipe.eval.dev} checkpoint (Spearman x100; dev only). "
        "TPE sampler, median pruning on the periodic dev scores.",
        "",
        "| trial | state | " + " | ".join(keys) + " | dev | best step | seconds |",
        "|---:|---|" + "---:|" * len(keys) + "---:|---:|---:|",
    ]
    for trial in rows:
        values = [_fmt(trial.params.get(key)) for key in keys]
        dev = "-" if trial.value is None else f"{trial.value:.2f}"
        if trial.state == TrialState.PRUNED and trial.intermediate_values:
            last = max(trial.intermediate_values)
            dev = f"({trial.intermediate_values[last]:.2f} at {last})"
        lines.append(
            f"| {trial.number} | {trial.state.name.lower()} | " + " | ".join(values)
            + f" | {dev} | {trial.user_attrs.get('best_step', '-')} | {trial.user_attrs.get('seconds', '-')} |"
        )  # fmt: skip
    complete = [t for t in rows if t.state == TrialState.COMPLETE]
    if complete:
        best = study.best_trial
        lines += ["", f"Best: trial {best.number}, dev {best.value:.2f}: " + ", ".join(
            f"{k} = {_fmt(v)}" for k, v in sorted(best.params.items()))]  # fmt: skip
        trial_recipe(recipe, best.params, Path(recipe.training.output_dir)).save(out / BEST_RECIPE)
        _plot(complete, out / TRIALS_PLOT, title)
    (out / TRIALS_TABLE).write_text("\n".join(lines) + "\n", encoding="utf-8")


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _plot(trials: list[Any], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    numbers = [t.number for t in trials]
    values = [t.value for t in trials]
    best = [max(values[: i + 1]) for i in range(len(values))]
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.scatter(numbers, values, label="trial")
    ax.step(numbers, best, where="post", color="C1", label="best so far")
    ax.set_xlabel("trial")
    ax.set_ylabel("dev score (Spearman x100)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
