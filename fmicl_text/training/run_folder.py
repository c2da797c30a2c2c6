"""A run's output folder: what in it is ours, whether a run can start or resume there, atomic writes.

transformers writes checkpoints in place, so a crash mid-write leaves a folder that looks like a
checkpoint and is not one, and ``--overwrite``-style restarts delete whatever is in the way. Here
every write of ours goes to a hidden staging folder, is fsynced, and is renamed into place; the
final model replaces the previous one only once it is complete; and nothing this tool did not
write is ever deleted or replaced (the manifest and the run state say what is ours).
Torch-free: these checks run before the heavy imports.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fmicl_text.errors import FmiclError
from fmicl_text.layout import (
    CHECKPOINTS_DIR,
    LOG_FILE,
    MANIFEST_FILE,
    RECIPE_FILE,
    RESULTS_FILE,
    RUN_STATE_FILE,
    STAGING,
    TRASH,
)

#: transformers writes this last into a checkpoint; a folder without it is no checkpoint
CHECKPOINT_DONE = "trainer_state.json"
_CHECKPOINT = re.compile(r"^checkpoint-(\d+)$")
#: names a saved model folder may use (sentence-transformers' layout), checked before training
_MODEL_NAMES = re.compile(
    r"^(README\.md|modules\.json|config.*\.json|sentence_bert_config\.json|model.*\.safetensors|"
    r"(tokenizer|special_tokens|vocab|merges|added_tokens|sentencepiece|spm).*|\d+_\w+|"
    + "|".join(re.escape(name) for name in (RECIPE_FILE, RESULTS_FILE, LOG_FILE, MANIFEST_FILE, CHECKPOINTS_DIR))
    + ")$"
)


def step_of(checkpoint: str | os.PathLike | None) -> int | None:
    """The step of a ``checkpoint-N`` folder (None for anything else)."""
    if not checkpoint:
        return None
    match = _CHECKPOINT.match(Path(checkpoint).name)
    return int(match.group(1)) if match else None


def complete_checkpoints(folder: Path) -> list[Path]:
    """The whole checkpoints in ``folder``, oldest first (staging folders and half-written ones excluded)."""
    if not folder.is_dir():
        return []
    found = [p for p in folder.iterdir() if step_of(p) is not None and (p / CHECKPOINT_DONE).is_file()]
    return sorted(found, key=step_of)


def fsync_tree(path: Path) -> None:
    """Flush every file and folder under ``path`` to disk, so a rename after it publishes whole files."""
    for root, _, files in os.walk(path):
        for name in files:
            with open(os.path.join(root, name), "rb") as handle:
                os.fsync(handle.fileno())
        fsync_dir(Path(root))


def fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # some platforms cannot open folders; the rename is still atomic there
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_json_atomic(path: Path, data: Any) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=2)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
    fsync_dir(path.parent)


def publish(staged: Path, target: Path) -> None:
    """Rename a complete ``staged`` file or folder to ``target``, moving a previous one aside first."""
    if staged.is_dir():
        fsync_tree(staged)
    else:
        _fsync_file(staged)
    if target.is_dir() and not target.is_symlink():
        trash = target.parent / TRASH
        trash.mkdir(exist_ok=True)
        aside = trash / f"{target.name}.{os.getpid()}"
        shutil.rmtree(aside, ignore_errors=True)
        os.rename(target, aside)
        os.rename(staged, target)
        shutil.rmtree(aside, ignore_errors=True)
        with contextlib.suppress(OSError):
            trash.rmdir()  # only when empty
    else:
        os.replace(staged, target)
    fsync_dir(target.parent)


def _fsync_file(path: Path) -> None:
    with open(path, "rb") as handle:
        os.fsync(handle.fileno())


@dataclass
class RunFolder:
    """The output folder of one run (``training.output_dir``)."""

    path: Path

    @property
    def checkpoints(self) -> Path:
        return self.path / CHECKPOINTS_DIR

    def run_state(self) -> dict[str, Any] | None:
        file = self.checkpoints / RUN_STATE_FILE
        try:
            return json.loads(file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None

    def manifest(self) -> list[str]:
        try:
            names = json.loads((self.path / MANIFEST_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return []
        if not isinstance(names, list):
            return []
        return [n for n in names if isinstance(n, str) and n and "/" not in n and n not in (".", "..")]

    def owned(self) -> set[str]:
        """Top-level names this tool wrote here."""
        ours = {STAGING, TRASH, MANIFEST_FILE, *self.manifest()}
        if self.run_state() is not None:
            ours.add(CHECKPOINTS_DIR)
        if not self.manifest() and (self.path / RECIPE_FILE).is_file() and (self.path / RESULTS_FILE).is_file():
            ours.update(p.name for p in self.path.iterdir())  # a run folder of a version without manifests
        return ours

    def foreign(self) -> list[str]:
        if not self.path.is_dir():
            return []
        ours = self.owned()
        return sorted(p.name for p in self.path.iterdir() if p.name not in ours)

    def last_checkpoint(self) -> Path | None:
        found = complete_checkpoints(self.checkpoints)
        return found[-1] if found else None

    # ------------------------------------------------------------------ starting, resuming

    def prepare(self, recipe: dict[str, Any], *, overwrite: bool, resume: str | None) -> Path | None:
        """Check that a run may start (or resume) here; returns the checkpoint to resume from, if any.

        Raises before anything is written. ``resume``: None, ``latest``, or a checkpoint folder.
        """
        out = self.path
        if out.exists() and not out.is_dir():
            raise FmiclError("the output path is a file, not a folder", where=str(out), fix="pass another --output-dir")
        state = self.run_state()
        if resume is not None:
            return self._resume_point(recipe, state, resume)
        if out.is_dir() and any(out.iterdir()):
            foreign = self.foreign()
            last = self.last_checkpoint()
            if state is not None and not state.get("finished") and last is None:
                state = None  # stopped before its first checkpoint: nothing to lose, a new run may start here
            if state is not None and not overwrite:
                if state.get("finished"):
                    what, fix = "holds a finished run", "pass --overwrite to train it again, or another --output-dir"
                else:
                    what = f"holds an unfinished run (last checkpoint: step {step_of(last)})"
                    fix = "add --resume to continue it, --overwrite to start again, or pass another --output-dir"
                raise FmiclError(f"the output folder {what}", where=str(out), fix=fix)
            if foreign and not overwrite:
                raise FmiclError(
                    f"the output folder holds files this tool did not write: {name_list(foreign)}",
                    where=str(out),
                    fix="pass another --output-dir (--overwrite writes beside them but never deletes or replaces them)",
                )
            clash = [name for name in foreign if _MODEL_NAMES.match(name)]
            if clash:
                raise FmiclError(
                    f"the output folder holds {name_list(clash)}, not written by this tool, where the model would go",
                    where=str(out),
                    fix="--overwrite never replaces files this tool did not write: move them, or pass another "
                    "--output-dir",
                )
            if not foreign and state is None and not overwrite and self.run_state() is None:
                raise FmiclError(
                    "the output folder is not empty", where=str(out), fix="pass --overwrite, or another --output-dir"
                )
        return None

    def _resume_point(self, recipe: dict[str, Any], state: dict[str, Any] | None, resume: str) -> Path | None:
        out = self.path
        if state is None:
            raise FmiclError(
                "nothing to resume: no run was started in the output folder",
                where=str(out),
                fix="drop --resume to start a new run, or pass the --output-dir of the run to continue",
            )
        if state.get("finished"):
            raise FmiclError(
                "the run in the output folder already finished; there is nothing to resume",
                where=str(out),
                fix="pass --overwrite (without --resume) to train it again",
            )
        from fmicl_text.recipe import differences, recipe_from_dict

        changed = differences(recipe_from_dict(state["recipe"]), recipe_from_dict(recipe))
        if changed:
            raise FmiclError(
                f"the recipe differs from the one the run was started with: {'; '.join(changed)}",
                where=str(self.checkpoints / RUN_STATE_FILE),
                fix="resume with the same recipe and flags, or start a new run in another --output-dir",
            )
        if resume == "latest":
            return self.last_checkpoint()  # None: killed before the first checkpoint, so it starts again
        point = Path(resume)
        if point.is_dir() and step_of(point) is None:
            found = complete_checkpoints(point / CHECKPOINTS_DIR) or complete_checkpoints(point)
            point = found[-1] if found else point
        if not (point / CHECKPOINT_DONE).is_file():
            raise FmiclError(
                "not a complete checkpoint (no trainer_state.json)",
                where=str(point),
                fix=f"pass a checkpoint-N folder of {self.checkpoints}, or --resume latest",
            )
        return point

    def start(self, recipe: dict[str, Any], *, fresh: bool) -> None:
        """Record the run (``fresh``: remove our previous checkpoints first; never anyone else's files)."""
        if fresh and CHECKPOINTS_DIR in self.owned():
            shutil.rmtree(self.checkpoints, ignore_errors=True)
        shutil.rmtree(self.path / STAGING, ignore_errors=True)
        self.checkpoints.mkdir(parents=True, exist_ok=True)
        if fresh or self.run_state() is None:
            write_json_atomic(self.checkpoints / RUN_STATE_FILE, {"recipe": recipe, "finished": False})

    # ------------------------------------------------------------------ the final folder

    def staging(self) -> Path:
        """An empty hidden folder inside the run folder (same file system, so renames are atomic)."""
        staging = self.path / STAGING
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        return staging

    def publish_final(self, staged: Path) -> None:
        """Move the complete final folder ``staged`` into place; then mark the run finished.

        Our previous final files are replaced (or removed when the new model has no such file); a
        name that belongs to someone else is never touched: that is an error before anything moves.
        """
        new = sorted(p.name for p in staged.iterdir())
        clash = [name for name in new if name in self.foreign()]
        if clash:
            raise FmiclError(
                f"the output folder holds {name_list(clash)}, not written by this tool, where the model goes",
                where=str(self.path),
                fix=f"move them away and rerun with --resume; the finished model is complete in {staged}",
            )
        for name in set(self.manifest()) - set(new) - {CHECKPOINTS_DIR}:
            old = self.path / name
            shutil.rmtree(old) if old.is_dir() else old.unlink(missing_ok=True)
        for name in new:
            publish(staged / name, self.path / name)
        write_json_atomic(self.path / MANIFEST_FILE, new)
        state = self.run_state() or {}
        write_json_atomic(self.checkpoints / RUN_STATE_FILE, {**state, "finished": True})
        shutil.rmtree(staged, ignore_errors=True)
        shutil.rmtree(self.path / TRASH, ignore_errors=True)


def keep_checkpoints(folder: Path, keep: int, best: str | None) -> list[Path]:
    """Delete all but the last ``keep`` checkpoints and the best one; returns what was deleted."""
    found = complete_checkpoints(folder)
    kept = set(found[-keep:]) | ({Path(best)} if best else set())
    gone = [p for p in found if p not in kept]
    for path in gone:
        shutil.rmtree(path, ignore_errors=True)
    return gone


def name_list(names: list[str], limit: int = 5) -> str:
    """Up to ``limit`` names, then how many more: a message stays one line."""
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")
