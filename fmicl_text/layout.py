"""The names of what a run writes: one place for every layer (training writes, the rest reads)."""

RECIPE_FILE = "fmicl_recipe.yaml"  # the resolved recipe, every loss parameter spelled out
RESULTS_FILE = "eval_results.json"  # steps, dev and test scores, timings
LOG_FILE = "training_log.json"  # the trainer's log rows
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
