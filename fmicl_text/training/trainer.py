"""``train(recipe)``: one SimCSE-style run on sentence-transformers' trainer, end to end.

data -> model -> loss -> SentenceTransformerTrainer (STS-B dev every N steps, best checkpoint kept)
-> final STS suite -> an output folder that ``SentenceTransformer(path)`` loads, with the model
card, the resolved recipe and the eval results.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fmicl_text.errors import FmiclError, did_you_mean
from fmicl_text.recipe import LossConfig, Recipe

logger = logging.getLogger(__name__)

RECIPE_FILE = "fmicl_recipe.yaml"
RESULTS_FILE = "eval_results.json"
LOG_FILE = "training_log.json"
# recipe name -> sentence-transformers' batch sampler
BATCH_SAMPLERS = {"random": "batch_sampler", "no_duplicates": "no_duplicates"}


@dataclass
class TrainResult:
    output_dir: Path
    steps: int
    best_dev: float | None
    best_step: int | None
    seconds: float
    test: Any = None  # the final StsResult, None without a final suite
    is_main: bool = True  # False on the other processes of a distributed run (they write nothing)


def precision_flags(precision: str) -> dict[str, bool]:
    """fp16/bf16 trainer flags from the recipe's precision, checked against the device."""
    import torch

    cuda = torch.cuda.is_available()
    if precision == "auto":
        precision = ("bf16" if torch.cuda.is_bf16_supported() else "fp16") if cuda else "fp32"
    if precision not in ("fp32", "fp16", "bf16"):
        raise FmiclError(f"unknown precision {precision!r}", fix="use auto, fp32, fp16 or bf16")
    if precision == "fp16" and not cuda:
        raise FmiclError("fp16 training needs a CUDA GPU", fix="use --precision bf16 or fp32 on CPU")
    return {"fp16": precision == "fp16", "bf16": precision == "bf16"}


def _check_output_dir(out: Path, overwrite: bool) -> None:
    if out.exists() and not out.is_dir():
        raise FmiclError("the output path is a file, not a folder", where=str(out))
    if out.is_dir() and any(out.iterdir()) and not overwrite:
        raise FmiclError(
            "the output folder is not empty",
            where=str(out),
            fix="pass another --output-dir, or --overwrite to write over the files this tool made there",
        )


def train(recipe: Recipe, callbacks: list | None = None) -> TrainResult:
    """Run a recipe; returns where the model went and its scores. ``callbacks``: extra trainer callbacks."""
    import torch
    import transformers
    from sentence_transformers import SentenceTransformerTrainer, SentenceTransformerTrainingArguments
    from sentence_transformers.base.evaluation import SequentialEvaluator

    from fmicl_text import losses
    from fmicl_text.data import load_training_data
    from fmicl_text.evaluation.evaluators import DiagnosticsEvaluator, StsEvaluator
    from fmicl_text.evaluation.sts import load_suite, score_tasks
    from fmicl_text.losses.base import NonFiniteLossError
    from fmicl_text.modeling import build_model, strip_train_only_modules
    from fmicl_text.reporting.model_card import write_run_section
    from fmicl_text.training.callbacks import EvaluateAtEnd
    from fmicl_text.views.collator import ViewsDataCollator

    start = time.time()
    tc, ec = recipe.training, recipe.eval
    out = Path(tc.output_dir)
    _check_output_dir(out, tc.overwrite)
    if tc.batch_size < 2:
        raise FmiclError(f"batch size must be at least 2 for in-batch negatives, got {tc.batch_size}")
    flags = precision_flags(tc.precision)
    if tc.batch_sampler not in BATCH_SAMPLERS:
        raise FmiclError(
            f"unknown batch sampler {tc.batch_sampler!r}", fix=did_you_mean(tc.batch_sampler, BATCH_SAMPLERS)
        )

    # Validate everything cheap before the model is loaded (the loss on a placeholder model).
    loss_params = {**losses.loss_parameters(recipe.loss.name), **recipe.loss.params}
    accepts_negatives = losses.build(recipe.loss.name, torch.nn.Identity(), **recipe.loss.params).accepts_negatives
    dataset, report = load_training_data(
        recipe.data.train, data_dir=recipe.data.data_dir, max_samples=recipe.data.max_samples
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
    dev = (
        StsEvaluator(suite=ec.dev, text=ec.text, data_dir=recipe.data.data_dir, batch_size=ec.batch_size)
        if ec.dev
        else None
    )
    final_tasks = load_suite(ec.final_suite, text=ec.text, data_dir=recipe.data.data_dir) if ec.final_suite else None
    evaluator = dev
    if dev is not None and ec.diagnostics:
        diagnostics = DiagnosticsEvaluator(
            text=ec.text,
            data_dir=recipe.data.data_dir,
            batch_size=ec.batch_size,
            i_nce_batches=ec.i_nce_batches,
            views=recipe.views,
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

    eval_steps = ec.eval_steps
    if tc.max_steps > 0:
        eval_steps = min(eval_steps, tc.max_steps)
    args = SentenceTransformerTrainingArguments(
        output_dir=str(out / "checkpoints"),
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
        save_total_limit=1,
        load_best_model_at_end=dev is not None,
        metric_for_best_model=f"eval_{dev.primary_metric}" if dev else None,
        greater_is_better=True,
        batch_sampler=BATCH_SAMPLERS[tc.batch_sampler],
        dataloader_drop_last=True,
        dataloader_num_workers=tc.dataloader_workers,
        dataloader_pin_memory=torch.cuda.is_available(),
        # Without it, transformers runs torchrun-launched CPU processes as independent runs, not DDP.
        use_cpu=not torch.cuda.is_available(),
        report_to="none",
        disable_tqdm=False,
        **flags,
    )
    # Truncate training inputs only: evaluation encodes full sentences, as SimCSE does. The views act
    # after truncation (a repeated word may lengthen a view past max_seq_length, as in ESimCSE).
    collator = ViewsDataCollator(model, recipe.views, seed=tc.seed, max_length=recipe.data.max_seq_length)
    trainer = SentenceTransformerTrainer(
        model=model,
        args=args,
        train_dataset=dataset,
        loss=loss,
        evaluator=evaluator,
        data_collator=collator,
        callbacks=[EvaluateAtEnd(), *(callbacks or [])],
    )
    try:
        trainer.train()
    except NonFiniteLossError as exc:
        # Raised inside the forward pass, before backward: no bad update reached the weights or a checkpoint.
        last = _last_checkpoint(out / "checkpoints")
        raise FmiclError(
            f"the loss became non-finite at step {trainer.state.global_step + 1}: {exc.parts}",
            where=str(out),
            fix=f"training stopped; the last good checkpoint is {last or 'none (no checkpoint was written yet)'}; "
            "lower the learning rate, raise the temperature, or use fp32",
        ) from None
    state = trainer.state
    if not trainer.is_world_process_zero():  # under DDP, one process evaluates and writes the folder
        return TrainResult(
            out, state.global_step, state.best_metric, _step_of(state.best_model_checkpoint), 0.0, is_main=False
        )

    model = trainer.model
    strip_train_only_modules(model)
    model.eval()
    if dev is not None:
        # Score the model being saved, so the card's dev metrics are the kept checkpoint's, not the last step's.
        dev(model)
    test = None
    if final_tasks is not None:
        test = score_tasks(model, final_tasks, suite=ec.final_suite, text=ec.text, batch_size=ec.batch_size)
    best_dev = state.best_metric
    best_step = _step_of(state.best_model_checkpoint)

    model.save(str(out))
    resolved = dataclasses.replace(recipe, loss=LossConfig(recipe.loss.name, loss_params))
    resolved.save(out / RECIPE_FILE)
    results: dict[str, Any] = {
        "recipe": recipe.name,
        "base_model": recipe.model.name_or_path,
        "loss": {"name": recipe.loss.name, **loss_params},
        "views": recipe.views.describe(),
        "data": report.summary(),
        "steps": state.global_step,
        "dev": {"suite": ec.dev, "best": best_dev, "best_step": best_step},
        "seconds": round(time.time() - start, 1),
        "device": str(model.device),
        "world_size": args.world_size,
        "torch": torch.__version__,
    }
    if test is not None:
        results["test"] = test.to_json(model_name=str(out))
    (out / RESULTS_FILE).write_text(json.dumps(results, indent=2), encoding="utf-8")
    (out / LOG_FILE).write_text(json.dumps(state.log_history, indent=1), encoding="utf-8")
    write_run_section(out / "README.md", recipe=resolved, results=results, test=test)
    return TrainResult(
        output_dir=out,
        steps=state.global_step,
        best_dev=best_dev,
        best_step=best_step,
        seconds=results["seconds"],
        test=test,
    )


def _step_of(checkpoint: str | None) -> int | None:
    if not checkpoint:
        return None
    tail = Path(checkpoint).name.rpartition("-")[2]
    return int(tail) if tail.isdigit() else None


def _last_checkpoint(folder: Path) -> str | None:
    found = sorted(folder.glob("checkpoint-*"), key=lambda p: _step_of(str(p)) or -1)
    return str(found[-1]) if found else None
