"""sentence-transformers' trainer with atomic checkpoints that also hold our own training state.

transformers writes a checkpoint in place, file by file; a crash mid-write leaves a folder that
resume would take for a checkpoint. Here the trainer's own ``_save_checkpoint`` writes into a
hidden staging folder, and the complete, fsynced folder is renamed into place; then all but the
last K checkpoints and the best one are deleted.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any, Protocol

from safetensors.torch import load_file, save_file
from sentence_transformers import SentenceTransformerTrainer
from transformers.trainer import TRAINER_STATE_NAME, TRAINING_ARGS_NAME

from fmicl_text.layout import STAGING, TRAINING_STATE_FILE, TRAINING_TENSORS_FILE
from fmicl_text.training.run_folder import keep_checkpoints, publish


class Stateful(Protocol):
    def checkpoint_state(self, step: int) -> dict[str, Any]:
        """JSON-able state to save in the checkpoint of ``step``."""

    def restore_state(self, state: dict[str, Any]) -> None: ...


class FmiclTrainer(SentenceTransformerTrainer):
    """``SentenceTransformerTrainer`` + atomic checkpoints, keep-last-K-and-best, and ``extra_state``.

    ``extra_state``: name -> object with ``checkpoint_state(step)`` / ``restore_state()`` (JSON), saved in
    every checkpoint (``fmicl_state.json``) and restored by :meth:`load_extra_state` before resuming;
    objects that hold weights outside the model (the MLM head) also give ``checkpoint_tensors()`` /
    ``restore_tensors()`` (``fmicl_state.safetensors``).
    """

    def __init__(self, *args: Any, keep: int = 1, extra_state: dict[str, Stateful] | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.keep = keep
        self.extra_state = extra_state or {}
        self._staging: Path | None = None

    def add_model_card_callback(self, default_args_dict: dict[str, Any]) -> None:
        """No card data collected (sentence-transformers' docs invite this override): the run's card is
        written by ``reporting.model_card`` at the end, and collecting widget examples costs a pass over
        the data and a progress bar at the start."""

    def _save(self, output_dir: str | None = None, state_dict: Any = None) -> None:
        """sentence-transformers' ``_save`` without the model card: a checkpoint would otherwise get its
        default card (a Hub-id placeholder in the usage snippet, no recipe, no scores); the run's card is
        written once, for the final folder. Only process zero gets here."""
        import torch

        output_dir = output_dir if output_dir is not None else self.args.output_dir
        os.makedirs(output_dir, exist_ok=True)
        self.model.save_pretrained(
            output_dir, create_model_card=False, safe_serialization=getattr(self.args, "save_safetensors", True)
        )
        if self.processing_class is not None:
            self.processing_class.save_pretrained(output_dir)
        torch.save(self.args, os.path.join(output_dir, TRAINING_ARGS_NAME))

    def _get_output_dir(self, trial: Any) -> str:
        return str(self._staging) if self._staging is not None else super()._get_output_dir(trial)

    def _save_checkpoint(self, model: Any, trial: Any) -> None:
        run_dir = Path(super()._get_output_dir(trial))
        staging = run_dir / STAGING
        if self.args.should_save:
            shutil.rmtree(staging, ignore_errors=True)
            staging.mkdir(parents=True)
        self.accelerator.wait_for_everyone()  # every process writes its RNG state into the staging folder
        self._staging = staging
        try:
            super()._save_checkpoint(model, trial)
        finally:
            self._staging = None
        self.accelerator.wait_for_everyone()
        name = f"checkpoint-{self.state.global_step}"
        # The trainer looked for the best checkpoint in the staging folder: point at the published one
        # (on every process: each loads the best model at the end).
        best = self.state.best_global_step
        if best and ((run_dir / f"checkpoint-{best}").is_dir() or best == self.state.global_step):
            self.state.best_model_checkpoint = str(run_dir / f"checkpoint-{best}")
        if not self.args.should_save:
            return
        self.state.save_to_json(str(staging / name / TRAINER_STATE_NAME))
        extra = {key: obj.checkpoint_state(self.state.global_step) for key, obj in self.extra_state.items()}
        (staging / name / TRAINING_STATE_FILE).write_text(json.dumps(extra), encoding="utf-8")
        tensors = {
            f"{key}.{name}": tensor
            for key, obj in self.extra_state.items()
            if hasattr(obj, "checkpoint_tensors")
            for name, tensor in obj.checkpoint_tensors().items()
        }
        if tensors:
            save_file(tensors, str(staging / name / TRAINING_TENSORS_FILE))
        publish(staging / name, run_dir / name)
        shutil.rmtree(staging, ignore_errors=True)
        keep_checkpoints(run_dir, self.keep, self.state.best_model_checkpoint)

    def log(self, logs: dict[str, float], *args: Any, **kwargs: Any) -> None:
        if self.eval_dataset is None:
            # The evaluators score their own data; the trainer's evaluation loop runs over an empty loader, so
            # its throughput is 0 samples/s (eval_runtime, the evaluators' time, is kept).
            for key in ("eval_samples_per_second", "eval_steps_per_second"):
                if logs.get(key) == 0:
                    del logs[key]
        if "loss" in logs:  # a training row: add what the extra-state objects report (skipped updates)
            for obj in self.extra_state.values():
                logs.update(getattr(obj, "log_values", dict)())
        super().log(logs, *args, **kwargs)

    def load_extra_state(self, checkpoint: str | Path, tensors_only: bool = False) -> None:
        """Restore ``extra_state`` from a checkpoint (``tensors_only``: the weights, e.g. the kept step's head)."""
        file = Path(checkpoint) / TRAINING_STATE_FILE
        if file.is_file() and not tensors_only:
            saved = json.loads(file.read_text(encoding="utf-8"))
            for key, obj in self.extra_state.items():
                if key in saved:
                    obj.restore_state(saved[key])
        file = Path(checkpoint) / TRAINING_TENSORS_FILE
        if file.is_file():
            tensors = load_file(str(file))
            for key, obj in self.extra_state.items():
                own = {name[len(key) + 1 :]: t for name, t in tensors.items() if name.startswith(key + ".")}
                if own and hasattr(obj, "restore_tensors"):
                    obj.restore_tensors(own)
