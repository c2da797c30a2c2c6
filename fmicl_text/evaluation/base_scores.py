"""The base model's scores, shown beside a run's (model card, results, report).

Scoring the base costs one pass of the test suite, so the result is cached per (weights digest, suite,
text version): the first run from a base pays it, every later run from the same base reads it back.
The same holds for its alignment and uniformity (the reference point of the report's
alignment-uniformity plot). The cache lives beside the bases (``$XDG_CACHE_HOME/fmicl-text/base-scores``),
never in the data home, which may be shared and read-only.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable
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


def _cached(key: str, name: str, compute: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """``compute()`` (a JSON-able record) from the cache file of ``key`` when there is one, else computed and
    cached; with ``model``: ``name`` and ``cached``: whether it was read back."""
    path = cache_dir() / f"{key}.json"
    if path.is_file():
        try:
            cached = json.loads(path.read_text(encoding="utf-8"))
            return {**cached, "model": name, "cached": True}
        except (OSError, json.JSONDecodeError):
            logger.warning("ignoring an unreadable cached base score: %s", path)
    record = {**compute(), "digest": key}
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(record, indent=1), encoding="utf-8")
        tmp.replace(path)
    except OSError as exc:  # a read-only home: the run goes on, it only pays the pass again next time
        logger.warning("could not cache the base model's scores in %s: %s", path.parent, exc)
    return {**record, "model": name, "cached": False}


def base_model_scores(model: Any, tasks: Any, *, suite: str, text: str, batch_size: int, name: str) -> dict[str, Any]:
    """``score_tasks(model, tasks).to_json(name)`` of the untrained model (any suite: dev or test), from the cache
    when it has it."""
    from fmicl_text.modeling.identity import weights_digest

    def compute() -> dict[str, Any]:
        was_training = model.training
        model.eval()
        try:
            result = score_tasks(model, tasks, suite=suite, text=text, batch_size=batch_size, show_progress=False)
        finally:
            model.train(was_training)
        return result.to_json(model_name=name)

    return _cached(f"{weights_digest(model)}-{suite}-{text}", name, compute)


def base_model_geometry(model: Any, data: Any, *, batch_size: int, name: str) -> dict[str, Any]:
    """Alignment, uniformity and effective rank of the untrained model on the diagnostics' STS-B sentences
    (``data``: :func:`~fmicl_text.evaluation.diagnostics.load_diagnostics_data`), measured as the
    diagnostics evaluator measures a training step; cached per weights digest, split, text and size.
    I_NCE is left out: it depends on the run's views, not on the base alone."""
    import torch

    from fmicl_text.evaluation.diagnostics import effective_rank
    from fmicl_text.losses.functional import alignment, uniformity
    from fmicl_text.modeling.identity import weights_digest

    def compute() -> dict[str, Any]:
        was_training = model.training
        try:
            z = model.encode(data.sentences, batch_size=batch_size, show_progress_bar=False, convert_to_tensor=True)
        finally:
            model.train(was_training)
        z = z.detach().float().cpu()
        left = z[[i for i, _ in data.positive_pairs]]
        right = z[[j for _, j in data.positive_pairs]]
        return {
            "alignment": float(alignment(left, right)),
            "uniformity": float(uniformity(z)),
            "erank": effective_rank(torch.nn.functional.normalize(z, dim=-1)),
            "split": data.split,
            "text": data.text,
            "n_pairs": len(data.positive_pairs),
            "n_sentences": len(data.sentences),
        }

    key = f"{weights_digest(model)}-geometry-stsb-{data.split}-{data.text}-{len(data.sentences)}"
    return _cached(key, name, compute)
