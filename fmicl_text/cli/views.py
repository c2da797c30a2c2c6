"""``views show``, ``views mi`` and ``views sweep``: the flags, their checks and what is printed."""

from __future__ import annotations

import argparse
import math
from pathlib import Path

from fmicl_text.cli.output import check_output_file, write_json
from fmicl_text.cli.recipe import add_data_dir, parse_numbers, recipe_from_args
from fmicl_text.errors import FmiclError
from fmicl_text.evaluation.views_mi import DEFAULT_DATA
from fmicl_text.layout import I_NCE_BATCH_SIZE, I_NCE_TEMPERATURE
from fmicl_text.training.sweep import SIDES
from fmicl_text.views.show import DEFAULT_MODEL

# --------------------------------------------------------------------------- show


def add_views_show_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("sentence", nargs="+", help="one or more sentences")
    parser.add_argument("--views", required=True, metavar="SPEC", help="the views, as for train --views")
    parser.add_argument("--model", default=DEFAULT_MODEL, help="the encoder whose tokenizer to use")
    parser.add_argument("--seed", type=int, default=0, help="seed of the views' random draws")
    parser.add_argument("--max-seq-length", type=int, default=None, help="truncate as training does")
    return parser


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


# --------------------------------------------------------------------------- mi


def add_views_mi_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("model", help="a saved folder or any sentence-transformers model name/path")
    parser.add_argument("--views", default="none", metavar="SPEC", help="the views, as for train --views")
    parser.add_argument(
        "--data",
        default=DEFAULT_DATA,
        help=f"sentences: {DEFAULT_DATA} (held out) or any training data (a file or a data-home name)",
    )
    add_data_dir(parser)
    parser.add_argument("--temperature", type=float, default=I_NCE_TEMPERATURE, help="InfoNCE temperature")
    parser.add_argument("--batch-size", type=int, default=I_NCE_BATCH_SIZE, help="N of I_NCE = log N - InfoNCE")
    parser.add_argument("--batches", type=int, default=16, help="how many held-out batches")
    parser.add_argument("--seed", type=int, default=0, help="seed of the batches, views and dropout masks")
    parser.add_argument("--device", default=None, help="cpu, cuda, ... (default: best available)")
    parser.add_argument("--output", default=None, help="write the result as JSON to this file")
    return parser


def run_views_mi(args: argparse.Namespace) -> int:
    from fmicl_text.evaluation.diagnostics import NEGATIVES_FIX, at_least, positive
    from fmicl_text.evaluation.views_mi import mi_sentences, views_i_nce
    from fmicl_text.modeling import load_model
    from fmicl_text.views.spec import parse_views

    # The views, every number and the sentences are checked before the model loads.
    views = parse_views(args.views)
    positive(args.temperature, "--temperature", fix="SimCSE's is 0.05; 0.5 separates view strengths better")
    at_least(args.batch_size, 2, "--batch-size", fix=NEGATIVES_FIX)
    at_least(args.batches, 1, "--batches", fix="leave it out for 16 batches")
    at_least(args.seed, 0, "--seed", fix="any whole number >= 0 (numpy's generators take no negative seed)")
    check_output_file(args.output)
    sentences = mi_sentences(args.data, data_dir=args.data_dir)
    if len(sentences) < 2:
        raise FmiclError(
            f"I_NCE needs at least 2 distinct sentences, got {len(sentences)}",
            where=args.data,
            fix=f"pass --data with more sentences, or leave it out ({DEFAULT_DATA})",
        )
    model = load_model(args.model, device=args.device)
    measured = views_i_nce(model, sentences, views, batch_size=args.batch_size, temperature=args.temperature,
                           batches=args.batches, seed=args.seed)  # fmt: skip
    print(f"views: {views.describe()}")
    print(
        f"I_NCE = {measured['i_nce']:.4f} ± {measured['i_nce_std']:.4f} nats over {measured['batches']} batches "
        f"of N = {measured['batch_size']} from {args.data} (at most log N = {measured['i_nce_max']:.4f}; "
        f"temperature {args.temperature:g})"
    )
    if args.output:
        record = {
            "model": args.model,
            "views": views.describe(),
            **measured,
            "temperature": args.temperature,
            "data": args.data,
            "seed": args.seed,
        }
        write_json(args.output, record)
    return 0


# --------------------------------------------------------------------------- sweep


def add_views_sweep_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """The sweep's own flags; the recipe and every ``train`` flag (``--output-dir``: the sweep's folder) come
    from :func:`~fmicl_text.cli.recipe.add_recipe_arguments`."""
    parser.add_argument("--view", required=True, help="the view family, e.g. word_deletion, or shared_bits")
    parser.add_argument(
        "--rates", required=True, help="comma-separated strengths, e.g. 0,0.1,0.2,0.3,0.5 (shared_bits: 0,1,2,4)"
    )
    parser.add_argument("--param", default="rate", help="the parameter swept")
    parser.add_argument("--side", default="both", choices=list(SIDES), help="which views get it")
    parser.add_argument("--mi-temperature", type=float, default=I_NCE_TEMPERATURE, help="InfoNCE temperature of I_NCE")
    parser.add_argument("--mi-batches", type=int, default=16, help="held-out batches of 64 for I_NCE")
    parser.add_argument(
        "--seeds", default=None, metavar="N[,N...]",
        help="train each strength once per seed (the recipe's seed first); the table gives mean ± sd",
    )  # fmt: skip
    return parser


def run_views_sweep(args: argparse.Namespace) -> int:
    from fmicl_text.training.sweep import PLOT_FILE, TABLE_FILE, sweep

    if getattr(args, "training.output_dir") is None:
        raise FmiclError("views sweep needs --output-dir", fix="name the sweep's folder; a point goes to DIR/points/")
    if not (math.isfinite(args.mi_temperature) and args.mi_temperature > 0):
        raise FmiclError(
            f"--mi-temperature must be > 0, got {args.mi_temperature}", fix=f"leave it out for {I_NCE_TEMPERATURE:g}"
        )
    if args.mi_batches < 1:
        raise FmiclError(f"--mi-batches must be at least 1, got {args.mi_batches}", fix="leave it out for 16")
    recipe = recipe_from_args(args)
    out = Path(recipe.training.output_dir)
    sweep(
        recipe,
        view=args.view,
        values=parse_numbers(args.rates, "--rates", "0,0.1,0.2"),
        output_dir=out,
        param=args.param,
        side=args.side,
        mi_temperature=args.mi_temperature,
        mi_batches=args.mi_batches,
        seeds=None if args.seeds is None else parse_seeds(args.seeds),
    )
    print((out / TABLE_FILE).read_text(encoding="utf-8"))
    print(f"wrote {out / TABLE_FILE} and {out / PLOT_FILE}")
    return 0


def parse_seeds(text: str) -> list[int]:
    """``42,43,44`` -> distinct whole numbers >= 0, in the order given."""
    parts = [part.strip() for part in text.split(",") if part.strip()]
    if not parts or not all(part.isdigit() for part in parts):
        raise FmiclError(f"--seeds must be whole numbers >= 0 separated by commas, got {text!r}",
                         fix="e.g. --seeds 42,43,44")  # fmt: skip
    return list(dict.fromkeys(int(part) for part in parts))
