"""Trainer callbacks: SimCSE's evaluation protocol, non-finite updates, and stopping on a signal."""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from typing import Any

import torch
from transformers import TrainerCallback


class EvaluateAtEnd(TrainerCallback):
    """Evaluate (and checkpoint) at the last step too, so best-checkpoint selection sees it."""

    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step >= state.max_steps and args.eval_strategy != "no":
            control.should_evaluate = True
            control.should_save = True
        return control


class PauseAt(TrainerCallback):
    """Stop at ``step`` with a checkpoint, as a signal would, but quietly (``train(pause_after=...)``)."""

    def __init__(self, step: int) -> None:
        self.step = step

    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step == self.step:
            control.should_save = True
            control.should_training_stop = True
        return control


class NonFiniteGradientError(FloatingPointError):
    """Gradients came out NaN or infinite: raised before the optimizer step, so no bad update is applied."""

    def __init__(self, step: int, in_row: int = 1) -> None:
        self.step, self.in_row = step, in_row
        super().__init__(f"non-finite gradients at step {step}" + (f" ({in_row} in a row)" if in_row > 1 else ""))


class NonFiniteGuard(TrainerCallback):
    """Checks the loss and the gradients before each optimizer step (``training.on_nonfinite``).

    ``stop`` raises :class:`NonFiniteGradientError`; ``skip`` drops that batch's update (every
    gradient set to None, which AdamW skips entirely: no moment or weight-decay change) and stops
    after ``max_in_row`` such batches in a row. The count goes into the log as ``skipped_steps``.
    Under fp16 the gradient scaler already skips overflowing steps, so only the loss is checked.
    """

    def __init__(self, loss: Any, mode: str = "stop", max_in_row: int = 5) -> None:
        self.loss, self.mode, self.max_in_row = loss, mode, max_in_row
        self.skipped = 0
        self.in_row = 0
        if hasattr(loss, "raise_on_nonfinite"):
            loss.raise_on_nonfinite = mode == "stop"

    def on_pre_optimizer_step(self, args, state, control, model=None, **kwargs):
        params = [p for p in model.parameters() if p.grad is not None]
        bad = getattr(self.loss, "nonfinite_parts", None) is not None
        if not bad and params and not args.fp16:
            bad = not bool(torch.isfinite(torch.nn.utils.get_total_norm([p.grad for p in params])))
        if hasattr(self.loss, "nonfinite_parts"):
            self.loss.nonfinite_parts = None
        if not bad:
            self.in_row = 0
            return control
        step = state.global_step + 1
        if self.mode == "stop":
            raise NonFiniteGradientError(step)
        self.in_row += 1
        if self.in_row >= self.max_in_row:
            raise NonFiniteGradientError(step, self.in_row)
        self.skipped += 1
        for p in params:
            p.grad = None
        return control

    def log_values(self) -> dict[str, int]:
        """Added to each training-loss log row (once an update was skipped)."""
        return {"skipped_steps": self.skipped} if self.skipped else {}

    def checkpoint_state(self, step: int) -> dict[str, int]:
        return {"skipped": self.skipped, "in_row": self.in_row}

    def restore_state(self, state: dict[str, int]) -> None:
        self.skipped, self.in_row = int(state.get("skipped", 0)), int(state.get("in_row", 0))


class StopOnSignal(TrainerCallback):
    """SIGINT / SIGTERM: finish the step, write a checkpoint, stop. A second signal exits at once.

    Use as a context manager around ``trainer.train()``; ``received`` names the signal afterwards.
    Under DDP every process stops at the same step (the flag is all-reduced at each step end).
    """

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self) -> None:
        self.received: str | None = None
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> StopOnSignal:
        for sig in self.SIGNALS:
            with contextlib.suppress(ValueError):  # not the main thread: leave the handlers alone
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous.clear()

    def _handle(self, signum: int, frame: object) -> None:
        name = signal.Signals(signum).name
        if self.received is not None:
            print(f"\n{name} again: exiting now, without a checkpoint of this step", file=sys.stderr, flush=True)
            os._exit(128 + signum)
        self.received = name
        print(
            f"\n{name}: finishing this step, then writing a checkpoint (Ctrl-C again exits at once)",
            file=sys.stderr,
            flush=True,
        )

    def _stop(self, args, control):
        flag = self.received is not None
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            value = torch.tensor([int(flag)], device=args.device)
            torch.distributed.all_reduce(value, op=torch.distributed.ReduceOp.MAX)
            flag = bool(value.item())
            if flag and self.received is None:
                self.received = "SIGTERM"  # another process got the signal
        if flag:
            control.should_save = True
            control.should_training_stop = True
        return control

    def on_step_end(self, args, state, control, **kwargs):
        return self._stop(args, control)

    def on_evaluate(self, args, state, control, **kwargs):
        # A signal during an evaluation: save right after it instead of one step later (one process only:
        # under DDP the step-end all-reduce decides, so that every process stops at the same step).
        distributed = torch.distributed.is_available() and torch.distributed.is_initialized()
        if self.received is not None and not distributed:
            control.should_save = True
            control.should_training_stop = True
        return control
