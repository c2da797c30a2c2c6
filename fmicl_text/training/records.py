"""The results files of long jobs made of many runs (view sweeps, base probes, comparisons).

A job appends one JSON line per finished run and reruns only what its file lacks, so a stopped job
resumes where it was; a run killed mid-training continues from its last checkpoint.
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import Any

from fmicl_text.errors import FmiclError


def read_records(path: Path) -> list[dict[str, Any]]:
    """The rows of a JSON-lines results file (none if it does not exist yet)."""
    if not path.is_file():
        return []
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            raise FmiclError(
                "a line of the results file is not JSON (a write cut short?)",
                where=f"{path}:{number}",
                fix="delete that line: its run is redone on the next start",
            ) from None
    return rows


def append_record(path: Path, row: dict[str, Any]) -> None:
    """Add one row, flushed to disk before the job moves on (a kill then loses at most the run in progress)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as fh:
        fh.write(json.dumps(row) + "\n")
        fh.flush()
        os.fsync(fh.fileno())


#: recipe keys (None: a whole section) added after records were first written, at the defaults that keep the
#: old behaviour or change no score: left out of a key while at that default, so older records still count
LATER_KEYS: dict[tuple[str, str | None], Any] = {
    ("data", "columns"): None,
    ("eval", "score_base"): True,
    ("mlm", None): {"weight": 0.0, "probability": 0.15, "contrastive_weight": 1.0, "save_head": False},
    ("model", "allow_pickle"): False,
    ("model", "config"): {},
    ("model", "init"): "pretrained",
    ("model", "projection_layers"): None,
    ("training", "cache_batch_size"): None,
    ("training", "keep_checkpoints"): 1,
    ("training", "keep_freed_memory"): True,
    ("training", "max_nonfinite_in_row"): 5,
    ("training", "on_nonfinite"): "stop",
    ("training", "report_to"): "none",
}


def recipe_key(recipe: Any) -> str:
    """Everything that makes a run what it is, but where it was written."""
    raw = recipe.to_dict()
    raw["training"] = {k: v for k, v in raw["training"].items() if k not in ("output_dir", "overwrite")}
    for (section, key), default in LATER_KEYS.items():
        if key is None:
            if raw.get(section) == default:
                del raw[section]
        elif key in raw.get(section, {}) and raw[section][key] == default:
            del raw[section][key]
    return json.dumps(raw, sort_keys=True)


def continue_or_restart(recipe: Any) -> tuple[Any, str | None]:
    """``(recipe, resume)`` for :func:`~fmicl_text.training.trainer.train`: a run of this very recipe killed
    mid-training continues from its last checkpoint; anything else in its folder is replaced."""
    from fmicl_text.recipe import differences, recipe_from_dict
    from fmicl_text.training.run_folder import RunFolder

    state = RunFolder(Path(recipe.training.output_dir)).run_state()
    if state and not state.get("finished") and not differences(recipe_from_dict(state["recipe"]), recipe):
        return dataclasses.replace(recipe, training=dataclasses.replace(recipe.training, overwrite=False)), "latest"
    return recipe, None
