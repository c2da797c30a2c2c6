"""Trainer callbacks: SimCSE's evaluation protocol."""

from __future__ import annotations

from transformers import TrainerCallback


class EvaluateAtEnd(TrainerCallback):
    """Evaluate (and checkpoint) at the last step too, so best-checkpoint selection sees it."""

    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step >= state.max_steps and args.eval_strategy != "no":
            control.should_evaluate = True
            control.should_save = True
        return control
