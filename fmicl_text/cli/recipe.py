"""The recipe and the flags that override it (``train``, ``sweep``, ``base build``, ``views sweep``)."""

from __future__ import annotations

import argparse
from typing import Any

from fmicl_text.errors import FmiclError

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
    import yaml

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
