"""The names of what a run writes: one place for every layer (training writes, the rest reads)."""

RECIPE_FILE = "fmicl_recipe.yaml"  # the resolved recipe, every loss parameter spelled out
RESULTS_FILE = "eval_results.json"  # steps, dev and test scores, timings
LOG_FILE = "training_log.json"  # the trainer's log rows
MODEL_CARD_FILE = "README.md"  # the model card, where the Hub looks for it
CHECKPOINTS_DIR = "checkpoints"
#: in ``checkpoints/``: the recipe of the run that writes there, and whether it finished
RUN_STATE_FILE = "fmicl_run.json"
#: in the run folder: the top-level names the final write put there (written last: the run is complete)
MANIFEST_FILE = "fmicl_files.json"
#: in each checkpoint: our own training state (views' random stream, skipped batches, MLM step)
TRAINING_STATE_FILE = "fmicl_state.json"
TRAINING_TENSORS_FILE = "fmicl_state.safetensors"  # weights outside the model (the MLM head)
#: hidden, ours: a write in progress, and what a replace moved aside
STAGING, TRASH = ".fmicl-staging", ".fmicl-trash"

# Metric keys. A suite's scores are keyed by task (``stsb_dev``, ``sts12``...) plus their mean ``AVG``; an
# evaluator returns ``{evaluator}_{metric}`` (sentence-transformers' convention) and the trainer logs it as
# ``eval_{evaluator}_{metric}``. The trainer, the progress lines, the report and the plots all read these.
AVG = "avg"
STSB_DEV = "stsb_dev"
STS_EVALUATOR = "sts"  # the dev suite's evaluator
DIAGNOSTICS_EVALUATOR = "diag"
DIAGNOSTIC_METRICS = ("alignment", "uniformity", "erank", "i_nce")


def metric_name(evaluator: str | None, metric: str) -> str:
    """What an evaluator named ``evaluator`` calls ``metric`` (no name: the metric itself)."""
    return f"{evaluator}_{metric}" if evaluator else metric


def log_key(name: str) -> str:
    """The training log's key of an evaluator's metric name (``stsb_dev`` -> ``eval_stsb_dev``; idempotent)."""
    return name if name.startswith("eval_") else f"eval_{name}"


DEV_KEY = log_key(metric_name(STS_EVALUATOR, STSB_DEV))  # the default dev curve: STS-B dev
ALIGNMENT_KEY = log_key(metric_name(DIAGNOSTICS_EVALUATOR, "alignment"))
UNIFORMITY_KEY = log_key(metric_name(DIAGNOSTICS_EVALUATOR, "uniformity"))

#: I_NCE's default temperature everywhere it is measured (diagnostics, ``views mi``, view sweeps): SimCSE's,
#: so I_NCE is read at the temperature the training loss sees
I_NCE_TEMPERATURE = 0.05
#: I_NCE's default batch N everywhere it is measured: I_NCE <= log N, so N is part of what it means
I_NCE_BATCH_SIZE = 64
