"""``train(recipe)``: one SimCSE-style run on sentence-transformers' trainer, end to end.

data -> model -> loss -> SentenceTransformerTrainer (STS-B dev every N steps, best checkpoint kept)
-> final STS suite -> an output folder that ``SentenceTransformer(path)`` loads, with the model
card, the resolved recipe and the eval results.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fmicl_text import recipe as recipe_module
from fmicl_text.errors import FmiclError, RunInterrupted, did_you_mean
from fmicl_text.layout import AVG, CHECKPOINTS_DIR, LOG_FILE, MODEL_CARD_FILE, RECIPE_FILE, RESULTS_FILE, log_key
from fmicl_text.recipe import LossConfig, Recipe, validate
from fmicl_text.training.run_folder import RunFolder, step_of

logger = logging.getLogger(__name__)

# recipe name -> sentence-transformers' batch sampler
BATCH_SAMPLERS = {"random": "batch_sampler", "no_duplicates": "no_duplicates"}
assert tuple(BATCH_SAMPLERS) == recipe_module.BATCH_SAMPLERS


@dataclass
class TrainResult:
    output_dir: Path
    steps: int
    best_dev: float | None
    best_step: int | None
    seconds: float
    test: Any = None  # the final StsResult, None without a final suite
    base: dict[str, Any] | None = None  # the untrained model's scores (:func:`score_base`), None when not scored
    is_main: bool = True  # False on the other processes of a distributed run (they write nothing)
    finished: bool = True  # False: paused at ``pause_after`` (a checkpoint; ``resume="latest"`` continues)


def precision_flags(precision: str) -> dict[str, bool]:
    """fp16/bf16 trainer flags from the recipe's precision, checked against the device."""
    import torch

    cuda = torch.cuda.is_available()
    if precision == "auto":
        precision = ("bf16" if torch.cuda.is_bf16_supported() else "fp16") if cuda else "fp32"
    if precision == "fp16" and not cuda:
        raise FmiclError("fp16 training needs a CUDA GPU", fix="use --precision bf16 or fp32 on CPU")
    return {"fp16": precision == "fp16", "bf16": precision == "bf16"}


def train(
    recipe: Recipe, callbacks: list | None = None, resume: str | None = None, pause_after: int | None = None
) -> TrainResult:
    """Run a recipe; returns where the model went and its scores.

    ``callbacks``: extra trainer callbacks. ``resume``: ``latest`` or a checkpoint folder, to continue
    the unfinished run in ``training.output_dir`` (same recipe) instead of starting one.
    ``pause_after``: stop at that step with a checkpoint and return unfinished (the schedule is still
    the whole run's), e.g. to measure a long pre-training along the way.
    Every check that needs no model runs before the heavy imports and before anything is written.
    """
    start = time.time()
    validate(recipe)
    report_to(recipe.training.report_to)  # a tracker that cannot run fails before anything loads
    tc, ec = recipe.training, recipe.eval
    out = Path(tc.output_dir)
    folder = RunFolder(out)
    if resume is not None and tc.overwrite:
        raise FmiclError(
            "--resume continues the run in the output folder, --overwrite starts it again", fix="pass one of them"
        )
    resume_from = folder.prepare(recipe.to_dict(), overwrite=tc.overwrite, resume=resume)

    from fmicl_text.evaluation.sts import SUITES, load_suite
    from fmicl_text.modeling.build import check_weights, resolve_model_path

    for key, suite in (("eval.dev", ec.dev), ("eval.final_suite", ec.final_suite)):
        if suite is not None and suite not in SUITES:
            raise FmiclError(f"unknown {key} suite {suite!r}", fix=did_you_mean(suite, SUITES))
    if ec.dev is not None and not ec.dev.endswith("-dev"):
        raise FmiclError(
            f"eval.dev {ec.dev!r} is a test suite: choosing checkpoints on it would leak the test set",
            fix=f"use a dev suite: {', '.join(s for s in SUITES if s.endswith('-dev'))}",
        )

    import torch

    from fmicl_text import losses
    from fmicl_text.data import load_training_data

    accepts_negatives = check_loss(recipe).accepts_negatives
    dataset, report = load_training_data(
        recipe.data.train,
        data_dir=recipe.data.data_dir,
        max_samples=recipe.data.max_samples,
        columns=recipe.data.columns,
    )
    logger.info("training data: %s", report.summary())
    if "negative" in dataset.column_names and not accepts_negatives:
        raise FmiclError(
            f"loss {recipe.loss.name!r} uses in-batch negatives only, but the training data has hard negatives",
            where=report.summary(),
            fix=f"give pairs, or use a loss that takes hard negatives: {', '.join(losses.hard_negative_losses())}",
        )
    if len(dataset) < tc.batch_size:
        raise FmiclError(f"the training data has {len(dataset)} rows, fewer than one batch of {tc.batch_size}")
    check_weights(resolve_model_path(recipe.model.name_or_path), allow_pickle=recipe.model.allow_pickle)
    final_tasks = load_suite(ec.final_suite, text=ec.text, data_dir=recipe.data.data_dir) if ec.final_suite else None

    if pause_after is not None:
        from fmicl_text.training.callbacks import PauseAt

        callbacks = [*(callbacks or []), PauseAt(pause_after)]
    with quiet_library_bars():
        trainer = build_trainer(recipe, dataset, callbacks)
    stop = trainer.stop_on_signal
    if int(os.environ.get("RANK", "0")) == 0:  # under torchrun, one process owns the folder
        folder.start(recipe.to_dict(), fresh=resume is None)
    base = None
    if ec.score_base and int(os.environ.get("RANK", "0")) == 0:
        base = score_base(recipe, trainer, final_tasks)
    if resume_from is not None:
        trainer.load_extra_state(resume_from)
        logger.info("resuming from %s", resume_from)
    from tqdm.contrib.logging import logging_redirect_tqdm

    try:
        with stop, quiet_library_bars(), logging_redirect_tqdm():
            trainer.train(resume_from_checkpoint=str(resume_from) if resume_from else None)
    except FloatingPointError as exc:  # NonFiniteLossError or NonFiniteGradientError: before any bad update
        last = folder.last_checkpoint()
        what = getattr(exc, "parts", None) or "non-finite gradients"
        raise FmiclError(
            f"the loss or its gradients became non-finite at step {trainer.state.global_step + 1}: {what}",
            where=str(out),
            fix=f"training stopped before the update; the last good checkpoint is {last or 'none yet'}; lower the "
            "learning rate, raise the temperature, use fp32, or set training.on_nonfinite: skip",
        ) from None
    except (torch.OutOfMemoryError, RuntimeError) as exc:
        if "out of memory" not in str(exc) and "can't allocate memory" not in str(exc):
            raise
        raise FmiclError(
            f"out of memory at step {trainer.state.global_step + 1} (batch {tc.batch_size}, "
            f"max length {recipe.data.max_seq_length})",
            where=str(exc).splitlines()[0][:200],
            fix="lower --batch-size or --max-seq-length, or use --precision bf16 on a GPU that supports it",
        ) from None
    state = trainer.state
    if stop.received:
        import signal

        last = folder.last_checkpoint()
        raise RunInterrupted(
            f"{stop.received} at step {state.global_step}: checkpoint written",
            signal_number=int(getattr(signal, stop.received)),
            where=str(last),
            fix="rerun the same command with --resume",
        )
    if not trainer.is_world_process_zero():  # under DDP, one process evaluates and writes the folder
        return TrainResult(
            out, state.global_step, state.best_metric, step_of(state.best_model_checkpoint), 0.0, is_main=False
        )
    if pause_after is not None and state.global_step == pause_after < state.max_steps:
        return TrainResult(out, state.global_step, state.best_metric, step_of(state.best_model_checkpoint),
                           round(time.time() - start, 1), finished=False)  # fmt: skip
    resumed = step_of(resume_from) if resume_from else None
    return finalize_run(
        recipe, trainer, data_report=report, base=base, final_tasks=final_tasks, started=start, resumed_from=resumed
    )


def cpu_model() -> str | None:
    """The CPU's model name (``/proc/cpuinfo`` on Linux, else what ``platform`` says), None when unknown."""
    import platform

    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as handle:
            for line in handle:
                key, _, value = line.partition(":")
                if key.strip() in ("model name", "Model", "Hardware") and value.strip():
                    return " ".join(value.split())
    except OSError:
        pass
    return platform.processor() or platform.machine() or None


def hardware(device: Any) -> str:
    """What a run ran on, for the card: the GPU's name, else the CPU's model and its threads."""
    import torch

    device = torch.device(device)
    if device.type == "cuda":
        props = torch.cuda.get_device_properties(device)
        return f"{torch.cuda.get_device_name(device)} ({props.total_memory / 2**30:.0f} GiB)"
    threads = f"{os.cpu_count()} threads" if os.cpu_count() else None
    if device.type == "mps":
        return ", ".join(filter(None, ["Apple GPU (MPS)", cpu_model()]))
    cpu = cpu_model()
    return f"CPU: {cpu}, {threads}" if cpu and threads else f"CPU: {cpu or threads or 'unknown'}"


def score_base(recipe: Recipe, trainer: Any, final_tasks: Any) -> dict[str, Any] | None:
    """The untrained model's dev and test scores, and with the diagnostics its alignment and uniformity on
    their sentences (each cached per weights digest): the run's reference."""
    from fmicl_text.evaluation.base_scores import base_model_geometry, base_model_scores

    ec, dev = recipe.eval, trainer.dev_evaluator
    name = recipe.model.name_or_path
    out: dict[str, Any] = {"model": name, "test": None, "dev": None}
    if dev is None and final_tasks is None:
        return None
    logger.info("scoring the untrained model (once per base; cached)")
    if dev is not None:
        record = base_model_scores(trainer.model, dev.tasks, suite=ec.dev, text=ec.text, batch_size=ec.batch_size,
                                  name=name)  # fmt: skip
        out["dev"] = record["scores"][AVG]
    diagnostics = getattr(trainer, "diagnostics_evaluator", None)
    if diagnostics is not None:
        geometry = base_model_geometry(trainer.model, diagnostics.data, batch_size=ec.batch_size, name=name)
        out |= {key: geometry[key] for key in ("alignment", "uniformity")}
    if final_tasks is not None:
        out["test"] = base_model_scores(
            trainer.model, final_tasks, suite=ec.final_suite, text=ec.text, batch_size=ec.batch_size, name=name
        )
    return out


@contextlib.contextmanager
def quiet_library_bars():
    """No transformers / huggingface_hub progress bars while training ("Writing model shards" at each
    checkpoint, "Loading weights" for the best one); restored after."""
    import huggingface_hub.utils as hub
    from transformers.utils import logging as hf_logging

    was_hf, was_hub = hf_logging.is_progress_bar_enabled(), not hub.are_progress_bars_disabled()
    hf_logging.disable_progress_bar()
    hub.disable_progress_bars()
    try:
        yield
    finally:
        if was_hf:
            hf_logging.enable_progress_bar()
        if was_hub:
            hub.enable_progress_bars()


def report_to(spec: str) -> list[str] | str:
    """``training.report_to`` as transformers takes it, each tracker checked: known, and its package installed."""
    names = [name.strip() for name in spec.split(",") if name.strip()]
    if names in ([], ["none"]):
        return "none"
    from transformers.integrations import get_available_reporting_integrations
    from transformers.integrations.integration_utils import INTEGRATION_TO_CALLBACK

    for name in names:
        if name not in INTEGRATION_TO_CALLBACK:
            raise FmiclError(
                f"unknown training.report_to tracker {name!r}",
                fix=did_you_mean(name, sorted(INTEGRATION_TO_CALLBACK)) + "; or none",
            )
        if name not in get_available_reporting_integrations():
            raise FmiclError(
                f"training.report_to {name!r}: its package is not installed",
                fix=f"install it (tensorboard: pip install 'fmicl-text[tracking]'), or drop {name!r}",
            )
    return names


def check_loss(recipe: Recipe) -> Any:
    """The recipe's loss on a placeholder model: unknown names and bad parameters fail before an encoder loads."""
    import torch

    from fmicl_text import losses

    return losses.build(recipe.loss.name, torch.nn.Identity(), **recipe.loss.params)


def build_trainer(recipe: Recipe, dataset: Any = None, callbacks: list | None = None) -> Any:
    """The model, loss, evaluators, collator and ``FmiclTrainer`` (a ``SentenceTransformerTrainer``) of a recipe.

    ``dataset``: the training rows (anchor, positive[, negative]); by default the recipe's data, read and
    cleaned. With ``training.keep_freed_memory`` (the default) it sets glibc's allocator for training,
    process-wide (:mod:`fmicl_text.training.allocator`). The views are the trainer's data collator
    (``trainer.data_collator``). The trainer also carries ``dev_evaluator`` (None without ``eval.dev``),
    ``diagnostics_evaluator`` (None without ``eval.diagnostics``), ``nonfinite_guard`` and ``stop_on_signal``
    (the callbacks :func:`finalize_run` and :func:`train` read), and ``data_report`` (None for a given
    ``dataset``). The heavy imports happen here.
    """
    import torch
    import transformers
    from sentence_transformers import SentenceTransformerTrainingArguments
    from sentence_transformers.base.evaluation import SequentialEvaluator

    from fmicl_text import losses
    from fmicl_text.evaluation.evaluators import DiagnosticsEvaluator, StsEvaluator
    from fmicl_text.modeling import build_model
    from fmicl_text.training.callbacks import EvaluateAtEnd, NonFiniteGuard, StopOnSignal
    from fmicl_text.training.fmicl_trainer import FmiclTrainer
    from fmicl_text.views.collator import ViewsDataCollator

    tc, ec = recipe.training, recipe.eval
    if tc.keep_freed_memory:
        from fmicl_text.training.allocator import keep_freed_memory

        keep_freed_memory()
    data_report = None
    if dataset is None:
        from fmicl_text.data import load_training_data

        d = recipe.data
        dataset, data_report = load_training_data(
            d.train, data_dir=d.data_dir, max_samples=d.max_samples, columns=d.columns
        )
    out = Path(tc.output_dir)
    dev = (
        StsEvaluator(suite=ec.dev, text=ec.text, data_dir=recipe.data.data_dir, batch_size=ec.batch_size)
        if ec.dev
        else None
    )
    evaluator, diagnostics = dev, None
    if dev is not None and ec.diagnostics:
        diagnostics = DiagnosticsEvaluator(
            text=ec.text,
            data_dir=recipe.data.data_dir,
            batch_size=ec.batch_size,
            i_nce_batches=ec.i_nce_batches,
            views=recipe.views,
            embeddings_from=dev,  # STS-B dev's embeddings of the same step: encoded once
        )
        # Checkpoints are still chosen on the STS score (metric_for_best_model below names it).
        evaluator = SequentialEvaluator([dev, diagnostics], main_score_function=lambda scores: scores[0])

    transformers.set_seed(tc.seed)
    model = build_model(recipe.model)
    if os.environ.get("HF_HUB_OFFLINE") == "1":
        model.model_card_data.local_files_only = True
    if not Path(recipe.model.name_or_path).exists():
        model.model_card_data.base_model = recipe.model.name_or_path
    loss = losses.build(recipe.loss.name, model, **recipe.loss.params)
    mlm_model = None
    if recipe.mlm.weight > 0:  # before the collator, which hooks the encoder for the cutoff views
        from fmicl_text.losses.mlm import MLMObjective
        from fmicl_text.modeling.build import attach_mlm_head

        head, mlm_model = attach_mlm_head(model, recipe.model)
        m = recipe.mlm
        loss = MLMObjective(loss, model, head, m.weight, m.probability, m.contrastive_weight, seed=tc.seed)

    if tc.cache_batch_size is not None:
        from fmicl_text.losses.cached import CachedLoss

        loss = CachedLoss(loss, mini_batch_size=tc.cache_batch_size)
    eval_steps = ec.eval_steps
    if tc.max_steps > 0:
        eval_steps = min(eval_steps, tc.max_steps)
    args = SentenceTransformerTrainingArguments(
        output_dir=str(out / CHECKPOINTS_DIR),
        max_steps=tc.max_steps,
        num_train_epochs=tc.epochs,
        per_device_train_batch_size=tc.batch_size,
        learning_rate=tc.learning_rate,
        warmup_steps=tc.warmup_ratio,  # a float below 1 is a ratio in transformers 5
        weight_decay=tc.weight_decay,
        seed=tc.seed,
        data_seed=tc.seed,
        logging_steps=tc.logging_steps,
        logging_first_step=True,
        eval_strategy="steps" if dev else "no",
        eval_steps=eval_steps,
        save_strategy="steps",
        save_steps=eval_steps,
        save_total_limit=None,  # FmiclTrainer keeps the last K and the best itself
        load_best_model_at_end=dev is not None,
        metric_for_best_model=log_key(dev.primary_metric) if dev else None,
        greater_is_better=True,
        batch_sampler=BATCH_SAMPLERS[tc.batch_sampler],
        dataloader_drop_last=True,
        dataloader_num_workers=tc.dataloader_workers,
        dataloader_pin_memory=torch.cuda.is_available(),
        # Without it, transformers runs torchrun-launched CPU processes as independent runs, not DDP.
        use_cpu=not torch.cuda.is_available(),
        report_to=report_to(tc.report_to),
        disable_tqdm=True,  # RunProgress prints the run (one bar in a terminal, plain lines otherwise)
        **precision_flags(tc.precision),
    )
    # Truncate training inputs only: evaluation encodes full sentences, as SimCSE does. The views act
    # after truncation (a repeated word may lengthen a view past max_seq_length, as in ESimCSE).
    collator = ViewsDataCollator(model, recipe.views, seed=tc.seed, max_length=recipe.data.max_seq_length)
    guard = NonFiniteGuard(loss, tc.on_nonfinite, tc.max_nonfinite_in_row)
    stop = StopOnSignal()
    trainer = FmiclTrainer(
        model=model,
        args=args,
        train_dataset=dataset,
        loss=loss,
        evaluator=evaluator,
        data_collator=collator,
        callbacks=[EvaluateAtEnd(), guard, stop, *(callbacks or [])],
        keep=tc.keep_checkpoints,
        extra_state={"nonfinite": guard, "views": ViewsState(collator), **({"mlm": loss} if mlm_model else {})},
    )
    from transformers.trainer_callback import PrinterCallback, ProgressCallback

    from fmicl_text.training.progress import RunProgress

    trainer.remove_callback(PrinterCallback)
    trainer.remove_callback(ProgressCallback)
    trainer.add_callback(RunProgress(log_key(dev.primary_metric) if dev else None, ec.dev))
    trainer.mlm_model = mlm_model  # the encoder + MLM head, saved whole with mlm.save_head
    trainer.dev_evaluator, trainer.nonfinite_guard, trainer.stop_on_signal = dev, guard, stop
    trainer.diagnostics_evaluator = diagnostics
    trainer.data_report = data_report
    return trainer


class ViewsState:
    """The views' random stream in a checkpoint: as it was before the next step's batch was drawn."""

    def __init__(self, collator: Any) -> None:
        self.collator = collator

    def checkpoint_state(self, step: int) -> dict[str, Any]:
        return self.collator.state_before(step)  # batch ``step`` (0-based) is step + 1's: no accumulation

    def restore_state(self, state: dict[str, Any]) -> None:
        self.collator.load_state(state)


def finalize_run(
    recipe: Recipe,
    trainer: Any,
    *,
    data_report: Any = None,
    base: dict[str, Any] | None = None,
    final_tasks: Any = None,
    started: float | None = None,
    resumed_from: int | None = None,
) -> TrainResult:
    """Finish a trained :func:`build_trainer` run: strip train-only modules, score the kept model on
    ``final_tasks`` (loaded STS tasks; its dev score is the one the trainer kept it for), and write the
    output folder atomically (staging, then rename).

    ``data_report``: what the training data was (``load_training_data``'s report; by default the one
    :func:`build_trainer` read, else the row count); ``base``: the untrained model's scores
    (:func:`score_base`), shown beside the run's; ``started``: the
    ``time.time()`` the run began (for its seconds); ``resumed_from``: the step it resumed from, if any.
    """
    import torch

    from fmicl_text import losses
    from fmicl_text.evaluation.sts import score_tasks
    from fmicl_text.modeling import strip_train_only_modules
    from fmicl_text.reporting.model_card import EXAMPLES, model_card

    ec, state = recipe.eval, trainer.state
    dev, guard, folder = trainer.dev_evaluator, trainer.nonfinite_guard, RunFolder(Path(recipe.training.output_dir))
    loss_params = {**losses.loss_parameters(recipe.loss.name), **recipe.loss.params}
    report = data_report or trainer.data_report
    model = trainer.model
    strip_train_only_modules(model)
    model.eval()
    test = None
    if final_tasks is not None:
        logger.info("scoring the kept model on %s", ec.final_suite)
        test = score_tasks(
            model, final_tasks, suite=ec.final_suite, text=ec.text, batch_size=ec.batch_size,
            show_progress=sys.stderr.isatty(),
        )  # fmt: skip
    best_dev = state.best_metric
    best_step = step_of(state.best_model_checkpoint)

    staging = folder.staging()
    with quiet_library_bars():
        model.save(str(staging), create_model_card=False)  # our card below
    if recipe.mlm.save_head:  # the same encoder with its head, in transformers' MLM layout (AutoModel reads it too)
        if state.best_model_checkpoint:
            trainer.load_extra_state(state.best_model_checkpoint, tensors_only=True)  # the kept step's head
        trainer.mlm_model.save_pretrained(str(staging))
    # The recipe as run: every loss parameter spelled out, and run-only switches (--overwrite) off.
    resolved = dataclasses.replace(
        recipe,
        loss=LossConfig(recipe.loss.name, loss_params),
        training=dataclasses.replace(recipe.training, overwrite=False),
    )
    resolved.save(staging / RECIPE_FILE)
    results: dict[str, Any] = {
        "recipe": recipe.name,
        "base_model": recipe.model.name_or_path,
        "loss": {"name": recipe.loss.name, **loss_params},
        "views": recipe.views.describe(),
        **({"mlm": dataclasses.asdict(recipe.mlm)} if recipe.mlm.weight > 0 else {}),
        "data": report.summary() if report else f"{len(trainer.train_dataset)} rows",
        "steps": state.global_step,
        "skipped_steps": guard.skipped,
        "dev": {"suite": ec.dev, "best": best_dev, "best_step": best_step},
        "seconds": round(
            time.time() - (started or time.time()), 1
        ),  # this sitting's (from ``resumed_from_step`` when resumed)
        "resumed_from_step": resumed_from,
        "device": str(model.device),
        "hardware": hardware(model.device),
        "precision": "bf16" if trainer.args.bf16 else "fp16" if trainer.args.fp16 else "fp32",
        "world_size": trainer.args.world_size,
        "torch": torch.__version__,
    }
    out = folder.path
    if test is not None:
        results["test"] = test.to_json(model_name=str(out))
    if base is not None:
        results["base"] = base
    (staging / RESULTS_FILE).write_text(json.dumps(results, indent=2), encoding="utf-8")
    (staging / LOG_FILE).write_text(json.dumps(state.log_history, indent=1), encoding="utf-8")
    examples = model.encode(list(EXAMPLES), convert_to_tensor=True, show_progress_bar=False)
    card = model_card(
        recipe=resolved,
        results=results,
        log_history=state.log_history,
        dev_key=log_key(dev.primary_metric) if dev is not None else None,
        loss_class=losses.loss_class(recipe.loss.name).__name__,
        citation=losses.loss_class(recipe.loss.name).citation,
        dimension=model.get_embedding_dimension(),
        folder=str(out),
        similarities=model.similarity(examples, examples).tolist(),
    )
    (staging / MODEL_CARD_FILE).write_text(card, encoding="utf-8")
    folder.publish_final(staging)
    return TrainResult(
        output_dir=out,
        steps=state.global_step,
        best_dev=best_dev,
        best_step=best_step,
        seconds=results["seconds"],
        test=test,
        base=base,
    )
