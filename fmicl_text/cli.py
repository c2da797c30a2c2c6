"""The ``fmicl-text`` command: parses flags, builds a recipe, calls the library. No logic of its own."""

from __future__ import annotations

import argparse
import json
import logging
import math
import shlex
import sys
import traceback
from pathlib import Path
from typing import Any

import yaml

from fmicl_text.errors import FmiclError, RunInterrupted

# flag -> dotted recipe key. These names are part of the product's interface.
TRAIN_FLAGS: dict[str, tuple[str, type, str]] = {
    "--model": ("model.name_or_path", str, "encoder: Hub name or local path"),
    "--train-data": (
        "data.train",
        str,
        "training data: a file (.txt[.gz], .csv, .tsv, .jsonl), a data-home name (wiki, nli, ...) or a Hub dataset id",
    ),
    "--loss": ("loss.name", str, "loss from the registry: infonce, fmicl, au, gcl, dhel, kcl"),
    "--max-steps": ("training.max_steps", int, "stop after this many steps (-1: train --epochs epochs)"),
    "--epochs": ("training.epochs", float, "epochs when --max-steps is -1"),
    "--batch-size": ("training.batch_size", int, "pairs per batch (in-batch negatives: batch size - 1)"),
    "--max-seq-length": ("data.max_seq_length", int, "truncate training inputs to this many tokens"),
    "--learning-rate": ("training.learning_rate", float, "peak learning rate"),
    "--warmup-ratio": ("training.warmup_ratio", float, "share of steps for linear warm-up"),
    "--output-dir": ("training.output_dir", str, "where the model folder is written"),
    "--seed": ("training.seed", int, "random seed"),
    "--data-dir": ("data.data_dir", str, "data home folder (default: $FMICL_DATA_DIR, else a cache folder)"),
    "--max-train-samples": ("data.max_samples", int, "use only the first N training rows"),
    "--pooling": ("model.pooling", str, "cls, cls_before_pooler, mean (avg) or avg_first_last"),
    "--dropout": ("model.dropout", float, "encoder dropout, the source of the dropout views (0: none)"),
    "--temperature": ("loss.temperature", float, "loss temperature"),
    "--divergence": ("loss.divergence", str, "f-MICL divergence: kl, js, pearson, squared_hellinger, tsallis, vlc"),
    "--similarity": ("loss.similarity", str, "f-MICL critic: gaussian or cosine"),
    "--sigma": ("loss.sigma", float, "f-MICL Gaussian bandwidth"),
    "--alpha": ("loss.alpha", float, "f-MICL weight of the negative term"),
    "--negatives": ("loss.negatives", str, "f-MICL negative pairs: cross, within or both"),
    "--tsallis-alpha": ("loss.tsallis_alpha", float, "order of the Tsallis divergence (> 1)"),
    "--prior": ("loss.prior", str, "generalised contrastive prior: logsumexp, normal, hypersphere, hypercube"),
    "--lam": ("loss.lam", float, "weight of the uniformity / distribution term (au, gcl)"),
    "--kernel": ("loss.kernel", str, "KCL kernel: gaussian, log, imq, riesz"),
    "--gamma": ("loss.gamma", float, "KCL weight of the negative term"),
    "--precision": ("training.precision", str, "auto, fp32, fp16 or bf16"),
    "--eval-steps": ("eval.eval_steps", int, "evaluate on the dev set every N steps"),
    "--dev": ("eval.dev", str, "dev suite for checkpoint selection (stsb-dev, sickr-dev)"),
    "--final-suite": ("eval.final_suite", str, "test suite run on the best checkpoint (senteval7)"),
    "--text": ("eval.text", str, "STS text version: senteval or original"),
}


VIEWS_HELP = (
    "the two views, replacing the recipe's: LIST (both views) or a=LIST; b=LIST; shared_bits=K, "
    "LIST = none or NAME(KEY=VALUE,...)+..., e.g. 'b=word_repetition(rate=0.32)' [views.*]"
)


def _parse_value(text: str) -> Any:
    """``--set`` values are YAML scalars: 0.1 -> float, true -> bool, null -> None."""
    return yaml.safe_load(text)


def add_recipe_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """The recipe and the flags that override it (``train`` and ``views sweep``)."""
    parser.add_argument("recipe", nargs="?", help="YAML recipe (flags override it)")
    for flag, (key, kind, help_text) in TRAIN_FLAGS.items():
        parser.add_argument(flag, type=kind, dest=key, default=None, help=f"{help_text} [{key}]")
    parser.add_argument("--views", default=None, metavar="SPEC", help=VIEWS_HELP)
    parser.add_argument("--no-dev", action="store_true", help="no dev evaluation or checkpoint selection")
    parser.add_argument("--no-final-eval", action="store_true", help="skip the final test suite")
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="start again in a folder that holds a run (files this tool did not write are never touched)",
    )
    parser.add_argument(
        "--resume",
        nargs="?",
        const="latest",
        default=None,
        metavar="latest|PATH",
        help="continue the unfinished run in --output-dir from its last checkpoint (or from PATH)",
    )
    parser.add_argument(
        "--allow-pickle", action="store_true", help="also load pickled .bin weights (only files you trust)"
    )
    parser.add_argument(
        "--gather-across-devices", action="store_true", help="negatives from every process (DDP), with gradient"
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override any recipe key, e.g. --set loss.symmetric=true (repeatable)",
    )
    return parser


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fmicl-text", description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)

    train = sub.add_parser("train", help="train an encoder from a recipe", description="Train an encoder.")
    add_recipe_arguments(train)

    evaluate = sub.add_parser("eval", help="evaluate a model")
    eval_sub = evaluate.add_subparsers(dest="eval_command", required=True)
    sts = eval_sub.add_parser("sts", help="SentEval-style STS (Spearman x100 of cosine similarity)")
    sts.add_argument("model", help="a saved folder or any sentence-transformers model name/path")
    sts.add_argument("--suite", default="senteval7", help="senteval7 (default), stsb-dev or sickr-dev")
    sts.add_argument("--text", default="senteval", choices=["senteval", "original"], help="STS text version")
    sts.add_argument("--data-dir", default=None, help="data home folder (default: $FMICL_DATA_DIR)")
    sts.add_argument("--output", default=None, help="write the scores as JSON to this file")
    sts.add_argument("--batch-size", type=int, default=128, help="sentences per encoding batch")
    sts.add_argument("--device", default=None, help="cpu, cuda, ... (default: best available)")
    sts.add_argument("--allow-pickle", action="store_true", help="also load pickled .bin weights (trusted only)")

    from fmicl_text.evaluation.diagnostics import add_diagnostics_arguments
    from fmicl_text.evaluation.mteb_eval import add_mteb_arguments
    from fmicl_text.reporting.report import add_report_arguments

    add_mteb_arguments(eval_sub.add_parser("mteb", help="any MTEB task by name, or local task folders"))
    add_diagnostics_arguments(
        eval_sub.add_parser("diagnostics", help="alignment, uniformity, effective rank and I_NCE on STS-B")
    )
    add_report_arguments(sub.add_parser("report", help="tables and plots from run folders or result files"))

    from fmicl_text.evaluation.views_mi import add_views_mi_arguments
    from fmicl_text.training.search import add_sweep_arguments

    add_sweep_arguments(
        add_recipe_arguments(
            sub.add_parser("sweep", help="hyper-parameter search on the dev score (Optuna: TPE, median pruning)")
        )
    )

    from fmicl_text.training.bases import add_base_arguments
    from fmicl_text.training.sweep import add_views_sweep_arguments
    from fmicl_text.views.show import add_views_show_arguments

    base = sub.add_parser("base", help="pre-train an encoder of our own and measure what SimCSE adds to it")
    base_sub = base.add_subparsers(dest="base_command", required=True)
    add_base_arguments(
        add_recipe_arguments(
            base_sub.add_parser("build", help="MLM pre-training with SimCSE probes along the way, then the gate")
        )
    )

    views = sub.add_parser("views", help="see, measure and sweep the two views")
    views_sub = views.add_subparsers(dest="views_command", required=True)
    add_views_show_arguments(views_sub.add_parser("show", help="what each view makes of a sentence"))
    add_views_mi_arguments(views_sub.add_parser("mi", help="I_NCE between the two views of a model"))
    add_recipe_arguments(
        add_views_sweep_arguments(views_sub.add_parser("sweep", help="short trainings over a view's strengths"))
    )
    return parser


def recipe_from_args(args: argparse.Namespace):
    from fmicl_text.recipe import apply_overrides, load_recipe

    recipe = load_recipe(args.recipe)
    overrides: dict[str, Any] = {}
    for item in args.set:
        key, sep, value = item.partition("=")
        if not sep:
            raise FmiclError(f"--set expects KEY=VALUE, got {item!r}")
        overrides[key.strip()] = _parse_value(value)
    for key, _, _ in TRAIN_FLAGS.values():
        value = getattr(args, key)
        if value is not None:
            overrides[key] = value
    if args.views is not None:
        from fmicl_text.views.spec import parse_views

        views = parse_views(args.views)
        overrides.update({"views.a": views.a, "views.b": views.b, "views.shared_bits": views.shared_bits})
    if args.no_dev:
        overrides["eval.dev"] = None
    if args.no_final_eval:
        overrides["eval.final_suite"] = None
    if args.overwrite:
        overrides["training.overwrite"] = True
    if args.allow_pickle:
        overrides["model.allow_pickle"] = True
    if args.gather_across_devices:
        overrides["loss.gather_across_devices"] = True
    # The loss name goes first so that loss parameters given with it apply to the new loss.
    ordered = dict(sorted(overrides.items(), key=lambda kv: kv[0] != "loss.name"))
    return apply_overrides(recipe, ordered)


def run_train(args: argparse.Namespace) -> int:
    from fmicl_text.evaluation.sts import print_table
    from fmicl_text.training import train

    recipe = recipe_from_args(args)
    result = train(recipe, resume=args.resume)
    if not result.is_main:
        return 0
    print(f"\nsaved to {result.output_dir} after {result.steps} steps ({result.seconds:.0f} s)")
    if result.best_dev is not None:
        print(f"best {recipe.eval.dev}: {result.best_dev:.2f} at step {result.best_step}")
    if result.test is not None:
        print_table(result.test, label=str(result.output_dir))
    return 0


def run_eval_sts(args: argparse.Namespace) -> int:
    from fmicl_text.evaluation.output import check_output_file
    from fmicl_text.evaluation.sts import load_suite, print_table, score_tasks
    from fmicl_text.modeling import load_model

    if args.batch_size < 1:
        raise FmiclError(f"--batch-size must be at least 1, got {args.batch_size}", fix="pass --batch-size N, N >= 1")
    check_output_file(args.output)  # a result is never lost at the end
    tasks = load_suite(args.suite, text=args.text, data_dir=args.data_dir)  # bad data fails before the model loads
    model = load_model(args.model, device=args.device, allow_pickle=args.allow_pickle)
    result = score_tasks(model, tasks, suite=args.suite, text=args.text, batch_size=args.batch_size)
    print_table(result, label=args.model)
    if args.output:
        Path(args.output).parent.mkdir(parents=True, exist_ok=True)
        Path(args.output).write_text(json.dumps(result.to_json(model_name=args.model), indent=2), encoding="utf-8")
        print(f"wrote {args.output}")
    return 0


def run_views_sweep(args: argparse.Namespace) -> int:
    from fmicl_text.training.sweep import PLOT_FILE, TABLE_FILE, parse_rates, sweep

    if getattr(args, "training.output_dir") is None:
        raise FmiclError("views sweep needs --output-dir", fix="name the sweep's folder; a point goes to DIR/points/")
    if not (math.isfinite(args.mi_temperature) and args.mi_temperature > 0):
        raise FmiclError(f"--mi-temperature must be > 0, got {args.mi_temperature}", fix="leave it out for 0.05")
    if args.mi_batches < 1:
        raise FmiclError(f"--mi-batches must be at least 1, got {args.mi_batches}", fix="leave it out for 16")
    recipe = recipe_from_args(args)
    out = Path(recipe.training.output_dir)
    sweep(
        recipe,
        view=args.view,
        values=parse_rates(args.rates),
        output_dir=out,
        param=args.param,
        side=args.side,
        mi_temperature=args.mi_temperature,
        mi_batches=args.mi_batches,
    )
    print((out / TABLE_FILE).read_text(encoding="utf-8"))
    print(f"wrote {out / TABLE_FILE} and {out / PLOT_FILE}")
    return 0


def run_views_show(args: argparse.Namespace) -> int:
    from fmicl_text.modeling import load_tokenizer
    from fmicl_text.views.show import show_lines
    from fmicl_text.views.spec import parse_views

    config = parse_views(args.views)  # a bad spec fails before anything loads
    tokenizer, hidden_size = load_tokenizer(args.model)
    for line in show_lines(
        tokenizer, config, args.sentence, seed=args.seed, hidden_size=hidden_size, max_length=args.max_seq_length
    ):
        print(line)
    return 0


def resume_command(argv: list[str]) -> str:
    """The command that continues an interrupted run: the same flags, ``--resume`` instead of ``--overwrite``."""
    kept = [a for a in argv if a != "--overwrite"]
    if "--resume" not in kept and not any(a.startswith("--resume=") for a in kept):
        kept.append("--resume")
    return shlex.join(["fmicl-text", *kept])


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )
    try:
        if args.command == "train":
            return run_train(args)
        if args.command == "eval" and args.eval_command == "sts":
            return run_eval_sts(args)
        if args.command == "eval" and args.eval_command == "mteb":
            from fmicl_text.evaluation.mteb_eval import run_mteb_cli

            return run_mteb_cli(args)
        if args.command == "eval" and args.eval_command == "diagnostics":
            from fmicl_text.evaluation.diagnostics import run_diagnostics_cli

            return run_diagnostics_cli(args)
        if args.command == "views":
            if args.views_command == "show":
                return run_views_show(args)
            if args.views_command == "mi":
                from fmicl_text.evaluation.views_mi import run_views_mi_cli

                return run_views_mi_cli(args)
            return run_views_sweep(args)
        if args.command == "sweep":
            from fmicl_text.training.search import run_sweep_cli

            return run_sweep_cli(args, recipe_from_args(args))
        if args.command == "base":
            from fmicl_text.training.bases import run_base_cli

            return run_base_cli(args, recipe_from_args(args))
        if args.command == "report":
            from fmicl_text.reporting.report import run_report_cli

            return run_report_cli(args)
    except FmiclError as exc:
        if args.verbose:
            traceback.print_exc()
        if isinstance(exc, RunInterrupted):
            exc.fix = f"resume with: {resume_command(argv)}"
            print(f"stopped: {exc.format()}", file=sys.stderr)
        else:
            print(f"error: {exc.format()}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        if args.verbose:
            traceback.print_exc()
        hint = (
            f"; to continue from the last checkpoint, if any: {resume_command(argv)}" if args.command == "train" else ""
        )
        print(f"\ninterrupted{hint}", file=sys.stderr)
        return 130
    return 1


if __name__ == "__main__":
    sys.exit(main())
