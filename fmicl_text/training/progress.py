"""What a run prints: one progress bar in a terminal, plain lines in a log file.

transformers' own ``ProgressCallback`` prints each log as a Python dict of strings on the bar's line,
and its ``PrinterCallback`` (the one without tqdm) prints the dicts alone; neither says the best dev
score so far. This callback replaces both: in a terminal one bar, with a concise line written above it
per evaluation (step, dev score, best so far, elapsed) and the loss in the bar's postfix; when the
output is not a terminal, no bar at all and one plain line per log and per evaluation, so a log file
holds no control characters.
"""

from __future__ import annotations

import sys
import time
from typing import Any, TextIO

from transformers import TrainerCallback

from fmicl_text.layout import ALIGNMENT_KEY, UNIFORMITY_KEY

# The loss parts the trainer logs besides ``loss`` (the objectives' additive parts and the MLM term).
SKIPPED_KEYS = {"loss", "grad_norm", "learning_rate", "epoch", "step"}


def _clock(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


def _num(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


class RunProgress(TrainerCallback):
    """The run's output (see the module docstring). ``dev_key``: the metric that picks checkpoints."""

    def __init__(self, dev_key: str | None, dev_name: str | None, stream: TextIO | None = None) -> None:
        self.dev_key, self.dev_name = dev_key, dev_name
        self.stream = stream
        self.bar: Any = None
        self.start = time.monotonic()
        self.best: tuple[float, int] | None = None

    @property
    def out(self) -> TextIO:
        return self.stream or sys.stderr

    def _say(self, line: str) -> None:
        if self.bar is not None:
            self.bar.write(line, file=self.out)
        else:
            print(line, file=self.out, flush=True)

    def _where(self, state) -> str:
        return f"step {state.global_step}/{state.max_steps}"

    def on_train_begin(self, args, state, control, **kwargs):
        if not state.is_world_process_zero:
            return
        self.start = time.monotonic()
        if self.out.isatty():
            from tqdm.auto import tqdm

            self.bar = tqdm(
                total=state.max_steps, initial=state.global_step, unit="step", file=self.out, dynamic_ncols=True
            )
        else:
            begun = f" (resumed at step {state.global_step})" if state.global_step else ""
            self._say(f"training: {state.max_steps} steps{begun}")

    def on_step_end(self, args, state, control, **kwargs):
        if self.bar is not None:
            self.bar.update(state.global_step - self.bar.n)

    def on_log(self, args, state, control, logs=None, **kwargs):
        if not state.is_world_process_zero or not logs or "loss" not in logs:
            return
        parts = {k: v for k, v in logs.items() if k not in SKIPPED_KEYS and not k.startswith(("eval_", "train_"))}
        if self.bar is not None:
            self.bar.set_postfix(loss=_num(logs["loss"]), refresh=False)
            return
        detail = ", ".join(f"{k} {_num(v)}" for k, v in parts.items())
        lr = logs.get("learning_rate")
        self._say(
            f"{self._where(state)}  loss {_num(logs['loss'])}" + (f" ({detail})" if detail else "")
            + (f"  lr {lr:.3g}" if isinstance(lr, float) else "") + f"  {_clock(time.monotonic() - self.start)}"
        )  # fmt: skip

    def on_evaluate(self, args, state, control, metrics=None, **kwargs):
        if not state.is_world_process_zero or not metrics or self.dev_key not in metrics:
            return
        score = metrics[self.dev_key]
        if self.best is None or score > self.best[0]:
            self.best = (score, state.global_step)
        diagnostics = ", ".join(
            f"{metric} {_num(metrics[key])}"
            for metric, key in (("alignment", ALIGNMENT_KEY), ("uniformity", UNIFORMITY_KEY))
            if key in metrics
        )
        self._say(
            f"{self._where(state)}  {self.dev_name} {score:.2f}  best {self.best[0]:.2f} (step {self.best[1]})"
            + (f"  [{diagnostics}]" if diagnostics else "") + f"  {_clock(time.monotonic() - self.start)}"
        )  # fmt: skip

    def on_train_end(self, args, state, control, **kwargs):
        if self.bar is not None:
            self.bar.close()
            self.bar = None
