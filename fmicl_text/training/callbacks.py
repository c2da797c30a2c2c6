"""Trainer callbacks: SimCSE's evaluation protocol and the non-finite loss guard."""

from __future__ import annotations

import math

from transformers import TrainerCallback


class EvaluateAtEnd(TrainerCallback):
    """Evaluate (and checkpoint) at the last step too, so best-checkpoint selection sees it."""

    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step >= state.max_steps and args.eval_strategy != "no":
            control.should_evaluate = True
            control.should_save = True
        return control


class NonFiniteLossGuard(TrainerCallback):
    """Stop training at the first logged NaN/inf loss and remember the step.

    The trainer then raises a clear error naming the step and the last good checkpoint instead of
    saving a broken model. Needs ``logging_nan_inf_filter=False``, else the trainer hides NaNs.
    """

    def __init__(self) -> None:
        self.bad_step: int | None = None
        self.bad_logs: dict | None = None

    def on_log(self, args, state, control, logs=None, **kwargs):
        values = {k: v for k, v in (logs or {}).items() if k == "loss" or k.startswith("loss_") or k.endswith("loss")}
        if any(isinstance(v, float) and not math.isfinite(v) for v in values.values()):
            self.bad_step, self.bad_logs = state.global_step, values
            control.should_training_stop = True
            control.should_save = False
        return control
