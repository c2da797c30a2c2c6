"""The base model's test scores, shown beside a run's (model card, results, report).

Scoring the base costs one pass of the test suite, so the result is cached per (weights digest, suite,
text version): the first run from a base pays it, every later run from the same base reads it back.
The cache lives beside the bases (``$XDG_CACHE_HOME/fmicl-text/base-scores``), never in the data home,
which may be shared and read-only.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

from fmicl_text.evaluation.sts import score_tasks

logger = logging.getLogger(__name__)
CACHE_ENV_VAR = "FMICL_CACHE_DIR"


def cache_dir() -> Path:
    """``$FMICL_CACHE_DIR/base-scores``, else ``$XDG_CACHE_HOME/fmicl-text/base-scores``."""
    root = (
        os.environ.get(CACHE_ENV_VAR) or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "fmicl-text"
    )
    return Path(root) / "base-scores"


def base_model_scores(model: Any, tasks: Any, *, suite: str, text: str, batch_size: int, name: str) -> dict[str, Any]:
    """``score_tasks(model, tasks).to_json(name)`` of the untrained model (any suite: dev or test), from the cache
    when it has it."""
    from fmicl_text.modeling.identity import weights_digest

    key = f"{weights_digest(model)}-{suite}-{text}"
    path = cache_dir() / f"{key}.json"
    if path.is_file():
        try:
            cached = json.loads(path.read_text(encoding="utf-8"))
            return {**cached, "model": name, "cached": True}
        except (OSError, json.JSONDecodeError):
            logger.warning("ignoring an unreadable cached base score: %s", path)
    was_training = model.training
    model.eval()
    try:
        result = score_tasks(model, tasks, suite=suite, text=text, batch_size=batch_size, show_progress=False)
    finally:
        model.train(was_training)
    record = {**result.to_json(model_name=name), "digest": key}
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(record, indent=1), encoding="utf-8")
        tmp.replace(path)
    except OSError as exc:  # a read-only home: the run goes on, it only pays the pass again next time
        logger.warning("could not cache the base model's scores in %s: %s", path.parent, exc)
    return {**record, "cached": False}
