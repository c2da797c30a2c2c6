"""``fmicl-text eval mteb``: any MTEB task by name, or local task folders, through mteb's own API.

Tasks are resolved by name (local folders first, then ``mteb.get_tasks``) and their data is loaded and checked
before the model is loaded, so a typo or a bad file fails in seconds. The model is a sentence-transformers
model wrapped for mteb and named after *this* checkpoint; ``mteb.evaluate`` runs every task with an explicit
``ResultCache``, and the scores returned are the ones mteb computed (its scale: e.g. Spearman in [-1, 1]).

Speed: mteb hands each text column to the model in one ``encode`` call, and sentence-transformers sorts that
call's texts by length and batches them (with a progress bar). mteb does not de-duplicate texts: an STS task
encodes column 1, then column 2, and the sentence slots of SICK-R hold about half as many distinct sentences.
The thin wrapper below (``DedupEncoder``) encodes each distinct text once per call, and once per task for the
pair tasks (STS, pair classification), whose two columns share sentences.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import logging
import math
import os
import time
import warnings
from datetime import datetime, timezone
from functools import cache
from pathlib import Path
from typing import Any

import mteb
import numpy as np
from datasets import Dataset
from mteb.get_tasks import TASK_LIST
from mteb.models import SentenceTransformerEncoderWrapper
from torch.utils.data import DataLoader

from fmicl_text.errors import FmiclError, did_you_mean
from fmicl_text.evaluation.mteb_defaults import DEFAULT_BATCH_SIZE
from fmicl_text.evaluation.mteb_tasks import LocalTask, build_local_task, discover_local_tasks

logger = logging.getLogger(__name__)

# Task types whose two text columns are encoded in two calls and share many texts: embeddings are kept across
# the calls of one task (and split and subset). Other types keep nothing between calls (a retrieval corpus is
# encoded in chunks that may not fit in memory twice).
PAIR_TASK_TYPES = frozenset({"STS", "PairClassification"})

# Files of a model folder that cannot change its embeddings (model cards, training state); left out of the
# revision hash so that a re-saved card does not look like a new checkpoint. Anything else counts.
NOT_MODEL_FILES = frozenset(
    {
        "README.md",
        "optimizer.pt",
        "scheduler.pt",
        "scaler.pt",
        "trainer_state.json",
        "training_args.bin",
        ".gitattributes",
    }
)


# --------------------------------------------------------------------------- tasks


def _task_names(tasks: list[str] | str) -> list[str]:
    """``["a,b", "c"]`` or ``"a,b"`` -> ``["a", "b", "c"]`` (order kept, duplicates dropped)."""
    items = [tasks] if isinstance(tasks, str) else list(tasks)
    names = [name.strip() for item in items for name in str(item).split(",") if name.strip()]
    if not names:
        raise FmiclError("no task names given", fix="--tasks NAME[,NAME...] (MTEB task names or local task names)")
    return list(dict.fromkeys(names))


def resolve_tasks(names: list[str], local_dir: str | os.PathLike | None = None) -> list[Any]:
    """mteb task objects, data loaded: local task folders first, then mteb's registry.

    Loading happens here, before any model is loaded: a local file is validated (errors name file and line),
    and an MTEB task whose data cannot be fetched (offline, no Hub cache) fails now, not after model loading.
    """
    specs = discover_local_tasks(local_dir) if local_dir is not None else {}
    tasks = []
    for name in names:
        if name in specs:
            task = build_local_task(specs[name])
            _warn_if_shadowing(name)
        else:
            try:
                found = mteb.get_tasks(tasks=[name])
            except KeyError:
                raise FmiclError(f"unknown task {name!r}", fix=_unknown_task_fix(name, specs)) from None
            if len(found) != 1:
                raise FmiclError(f"mteb returned {len(found)} tasks for {name!r}", fix="name one MTEB task")
            task = found[0]
        tasks.append(task)
    for name, task in zip(names, tasks, strict=True):  # every name is known before any data is read
        _load_task_data(task, local=name in specs)
    return tasks


@cache
def mteb_task_names() -> frozenset[str]:
    """The names ``mteb.get_task`` knows: those of mteb's task classes (``mteb.get_tasks.TASK_LIST``)."""
    return frozenset(cls.metadata.name for cls in TASK_LIST)


def _unknown_task_fix(name: str, specs: dict) -> str:
    hints = []
    close = difflib.get_close_matches(name, mteb_task_names())  # the suggestion mteb.get_task puts in its KeyError
    if close:
        hints.append(f"MTEB: did you mean '{close[0]}'?")
    if specs:
        local = "local tasks: " + did_you_mean(name, specs)
        # a near miss of a local name is the likelier typo: say it first
        hints.insert(0 if local.startswith("local tasks: did you mean") else len(hints), local)
    else:
        hints.append("no --local-dir given: local tasks are folders <dir>/<type>/<name>/")
    return "; ".join(hints)


def _warn_if_shadowing(name: str) -> None:
    if name in mteb_task_names():
        logger.warning("local task %r shadows the MTEB task of the same name (the local one is used)", name)


def _parts(task: Any) -> list[Any]:
    """The tasks whose data is loaded: an aggregate task's sub-tasks, else the task itself."""
    return list(task.metadata.tasks) if task.is_aggregate else [task]


def _load_task_data(task: Any, *, local: bool) -> None:
    for part in _parts(task):
        if local:
            part.load_data()  # raises FmiclError on bad input
            continue
        try:
            part.load_data()
        except Exception as exc:
            offline = os.environ.get("HF_HUB_OFFLINE") == "1" or os.environ.get("HF_DATASETS_OFFLINE") == "1"
            dataset = part.metadata.dataset
            raise FmiclError(
                f"cannot load the data of MTEB task {part.metadata.name!r}: {exc}".splitlines()[0],
                where=f"Hub dataset {dataset.get('path')}@{dataset.get('revision')}",
                fix=(
                    "HF_HUB_OFFLINE/HF_DATASETS_OFFLINE is set, so only datasets already in the Hugging Face cache load"
                    if offline
                    else "check the network (the Hugging Face Hub must be reachable) or the dataset access"
                )
                + "; or evaluate a local copy: --local-dir DIR with DIR/<type>/<name>/",
            ) from exc


# --------------------------------------------------------------------------- model identity


def model_files(folder: Path) -> list[Path]:
    """The files a sentence-transformers model is read from: the top level plus its module folders."""
    folders = [folder]
    modules = folder / "modules.json"
    if modules.is_file():
        try:
            entries = json.loads(modules.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            entries = []
        for entry in entries if isinstance(entries, list) else []:
            sub = folder / str(entry.get("path", "")) if isinstance(entry, dict) else folder
            if sub != folder and sub.is_dir():
                folders.append(sub)
    files = [p for p in folders[0].iterdir() if p.is_file()]
    for sub in folders[1:]:
        files.extend(p for p in sub.rglob("*") if p.is_file())
    return sorted(
        (p for p in files if p.name not in NOT_MODEL_FILES and not p.name.startswith("rng_state")),
        key=lambda p: p.relative_to(folder).as_posix(),
    )


def checkpoint_revision(folder: str | os.PathLike) -> str:
    """A short SHA-256 of the contents (and relative names) of every file the model is read from."""
    folder = Path(folder)
    digest = hashlib.sha256()
    for path in model_files(folder):
        digest.update(path.relative_to(folder).as_posix().encode() + b"\0")
        with path.open("rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
        digest.update(b"\0")
    return "sha256-" + digest.hexdigest()[:16]


def _weights_revision(model: Any) -> str:
    """For a model not read from a local folder: the Hub commit if transformers recorded one, else a weights hash."""
    for module in model.modules():
        commit = getattr(getattr(module, "config", None), "_commit_hash", None)
        if isinstance(commit, str) and commit:
            return commit
    from fmicl_text.modeling.identity import weights_digest

    return weights_digest(model)


def model_identity(name_or_path: str, resolved: str, model: Any | None = None) -> tuple[str, str]:
    """(mteb model name, revision) of this checkpoint.

    Why both a content revision *and* ``overwrite_strategy="always"``: mteb caches scores under
    ``<name>/<revision>/<task>.json`` and, with its default strategy, returns a cached file instead of running.
    A local folder has no Hub revision (mteb then uses ``no_revision_available`` for every model), and a
    retrained checkpoint usually keeps its folder name, so the name alone would hand it the old scores. The
    revision is therefore a hash of the files the model is read from (not mtime/size: a copy keeps its identity,
    and an in-place rewrite of the same size is still caught); that keeps each checkpoint's results in its own
    cache folder. We still always recompute, because mteb keys a cached result on model and task *name* only: a
    local task edited under the same name, or a different local task sharing a name with an MTEB task, would
    otherwise be answered from the cache. Results are still written to the cache, under this checkpoint's revision.
    """
    path = Path(resolved)
    local = path.is_dir() and Path(name_or_path).expanduser().is_dir()
    name = f"local/{path.resolve().name}" if local else name_or_path
    if "/" not in name:  # mteb wants "organization/model"
        name = f"hub/{name}"
    if path.is_dir():  # a local folder, or a Hub name served from a packaged copy
        revision = checkpoint_revision(path)
    elif model is not None:
        revision = _weights_revision(model)
    else:
        revision = "no_revision_available"
    return name, revision


# --------------------------------------------------------------------------- the encoder wrapper


# Why not mteb's own cache, ``mteb.models.CachedEmbeddingWrapper``: it keeps vectors per task and prompt type across
# calls and splits, but sends every slot of a call to the model, repeats included (with a warning per repeat), and
# writes every vector to a memory-mapped file on disk. Measured by eval/bench_mteb_cache.py (texts that reach
# SentenceTransformer.encode, wall time of mteb.evaluate, scores; STS-B and SICK-R test as local STS tasks;
# results in eval/bench/mteb_cache.md): it encodes more texts than this wrapper wherever one call holds repeats
# (a few more on STS-B, far more on SICK-R, whose columns repeat sentences); mteb.evaluate took longer with it in
# every repetition, the extra time being encoding (its own bookkeeping costs little); the scores are the same. So
# we keep ours. What mteb's wrapper saves and ours does not: texts shared between calls of a non-pair task (a
# classification task's train and test splits), which ours encodes again.


class DedupEncoder(SentenceTransformerEncoderWrapper):
    """mteb's sentence-transformers wrapper, encoding each distinct text once (see the module docstring)."""

    def __init__(self, model: Any, name: str, revision: str) -> None:
        # ModelMeta.from_sentence_transformer_model warns about its own defaults and calls a renamed
        # sentence-transformers method: noise for the user, nothing to act on
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            warnings.simplefilter("ignore", FutureWarning)
            super().__init__(model)
        self.mteb_model_meta = self.mteb_model_meta.model_copy(update={"name": name, "revision": revision})
        self._memo_key: tuple | None = None
        self._memo_index: dict[str, int] = {}
        self._memo_rows: np.ndarray | None = None
        self.n_encoded = 0  # distinct texts actually sent to the model

    def encode(self, inputs, *, task_metadata, hf_split, hf_subset, prompt_type=None, **kwargs):
        if list(task_metadata.modalities) != ["text"]:
            return super().encode(
                inputs,
                task_metadata=task_metadata,
                hf_split=hf_split,
                hf_subset=hf_subset,
                prompt_type=prompt_type,
                **kwargs,
            )
        texts = [text for batch in inputs for text in batch["text"]]
        key = (task_metadata.name, hf_split, hf_subset, prompt_type)
        if key != self._memo_key or task_metadata.type not in PAIR_TASK_TYPES:
            self._memo_key, self._memo_index, self._memo_rows = key, {}, None
        new = [text for text in dict.fromkeys(texts) if text not in self._memo_index]
        if new:
            # the new texts as mteb hands a text column to encode: a loader over a Dataset with a "text" column
            loader = DataLoader(Dataset.from_dict({"text": new}), batch_size=kwargs.get("batch_size", 32))
            rows = super().encode(
                loader,
                task_metadata=task_metadata,
                hf_split=hf_split,
                hf_subset=hf_subset,
                prompt_type=prompt_type,
                **kwargs,
            )
            rows = rows.numpy() if hasattr(rows, "numpy") else np.asarray(rows)
            self.n_encoded += len(new)
            start = len(self._memo_index)
            self._memo_index.update((text, start + i) for i, text in enumerate(new))
            self._memo_rows = rows if self._memo_rows is None else np.concatenate([self._memo_rows, rows])
        out = self._memo_rows[[self._memo_index[text] for text in texts]]
        if task_metadata.type not in PAIR_TASK_TYPES:
            self._memo_key, self._memo_index, self._memo_rows = None, {}, None
        return out


def load_encoder(model_name_or_path: str, *, device: str | None = None) -> Any:
    """The sentence-transformers model wrapped for mteb, named and versioned after this checkpoint."""
    from fmicl_text.modeling import load_model, resolve_model_path

    resolved = resolve_model_path(model_name_or_path)
    model = load_model(model_name_or_path, device=device)
    name, revision = model_identity(model_name_or_path, resolved, model)
    return DedupEncoder(model, name, revision)


# --------------------------------------------------------------------------- evaluation


def evaluate_mteb(
    model_name_or_path: str,
    tasks: list[str] | str,
    *,
    local_dir: str | os.PathLike | None = None,
    cache_dir: str | os.PathLike | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    device: str | None = None,
    show_progress: bool = True,
) -> dict[str, Any]:
    """Run ``tasks`` (MTEB names or local task names) on a model with ``mteb.evaluate``.

    Returns ``{"scores": {task: {"main_score", "metric", "type", "split", "subset", ...}}, "model", "mteb_model",
    "revision", "cache", "time", "seconds", "mteb_version"}``; main scores are mteb's, on mteb's scale.
    ``cache_dir`` is mteb's result cache (default: ``$MTEB_CACHE``, else ``~/.cache/mteb``).
    """
    start = time.perf_counter()
    if batch_size < 1:
        raise FmiclError(f"batch size must be at least 1, got {batch_size}", fix="pass --batch-size N with N >= 1")
    names = _task_names(tasks)
    task_objects = resolve_tasks(names, local_dir)  # all data read and checked before the model loads
    encoder = load_encoder(model_name_or_path, device=device)
    cache = mteb.ResultCache(cache_path=Path(cache_dir).expanduser() if cache_dir is not None else None)

    scores: dict[str, dict[str, Any]] = {}
    for name, task in zip(names, task_objects, strict=True):
        result = mteb.evaluate(
            encoder,
            task,
            cache=cache,
            overwrite_strategy="always",  # see model_identity: never answer from a cached file
            encode_kwargs={"batch_size": batch_size, "show_progress_bar": show_progress},
            co2_tracker=False,
            show_progress_bar=show_progress,
        )
        scores[name] = _summarize(task, result.task_results[0], local=_is_local(task))
        for part in _parts(task):
            part.unload_data()  # all tasks were loaded up front (to fail early); keep only the next ones

    meta = encoder.mteb_model_meta
    return {
        "scores": scores,
        "model": model_name_or_path,
        "mteb_model": meta.name,
        "revision": meta.revision,
        "cache": str(cache.cache_path),
        "batch_size": batch_size,
        "n_texts_encoded": encoder.n_encoded,
        "time": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "seconds": time.perf_counter() - start,
        "mteb_version": mteb.__version__,
    }


def _is_local(task: Any) -> bool:
    return isinstance(task, LocalTask)


def _number(value: Any) -> float | None:
    """A JSON-safe float (NaN, e.g. from collapsed embeddings, becomes null)."""
    value = float(value)
    return None if math.isnan(value) or math.isinf(value) else value


def _summarize(task: Any, task_result: Any, *, local: bool) -> dict[str, Any]:
    metric = task.metadata.main_score
    entries = [(split, entry) for split, items in task_result.scores.items() for entry in items]
    main = task_result.get_score()  # mteb's own aggregate: the mean over splits and subsets
    summary: dict[str, Any] = {
        "main_score": _number(main),
        "metric": metric,
        "type": task.metadata.type,
        "split": ",".join(dict.fromkeys(split for split, _ in entries)),
        "subset": ",".join(dict.fromkeys(entry["hf_subset"] for _, entry in entries)),
        "local": local,
        "dataset_revision": task_result.dataset_revision,
        "evaluation_time": task_result.evaluation_time,
    }
    if len(entries) == 1:
        summary["metrics"] = {
            key: _number(value)
            for key, value in entries[0][1].items()
            if isinstance(value, int | float) and not isinstance(value, bool)
        }
    else:
        summary["per_subset"] = [
            {"split": split, "subset": entry["hf_subset"], "main_score": _number(entry["main_score"])}
            for split, entry in entries
        ]
    return summary
