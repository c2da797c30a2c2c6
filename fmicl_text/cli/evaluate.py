"""``eval sts``, ``eval mteb``, ``eval build-tasks`` and ``eval diagnostics``: the flags, their checks, the tables and
the JSON."""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fmicl_text.cli.output import check_output_file, write_json
from fmicl_text.cli.recipe import add_data_dir
from fmicl_text.data.home import STS_SETS, TEXT_VERSIONS
from fmicl_text.errors import FmiclError
from fmicl_text.evaluation.mteb_defaults import DEFAULT_BATCH_SIZE
from fmicl_text.layout import I_NCE_BATCH_SIZE, I_NCE_TEMPERATURE

if TYPE_CHECKING:
    from fmicl_text.evaluation.diagnostics import Diagnostics


# --------------------------------------------------------------------------- sts


def add_sts_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("model", help="a saved folder or any sentence-transformers model name/path")
    parser.add_argument("--suite", default="senteval7", help="senteval7 (default), stsb-dev or sickr-dev")
    parser.add_argument("--text", default="senteval", choices=["senteval", "original"], help="STS text version")
    add_data_dir(parser)
    parser.add_argument("--output", default=None, help="write the scores as JSON to this file")
    parser.add_argument("--batch-size", type=int, default=128, help="sentences per encoding batch")
    parser.add_argument("--device", default=None, help="cpu, cuda, ... (default: best available)")
    parser.add_argument("--allow-pickle", action="store_true", help="also load pickled .bin weights (trusted only)")
    return parser


def run_eval_sts(args: argparse.Namespace) -> int:
    from fmicl_text.cli.output import print_table
    from fmicl_text.evaluation.sts import load_suite, score_tasks
    from fmicl_text.modeling import load_model

    if args.batch_size < 1:
        raise FmiclError(f"--batch-size must be at least 1, got {args.batch_size}", fix="pass --batch-size N, N >= 1")
    check_output_file(args.output)  # a result is never lost at the end
    tasks = load_suite(args.suite, text=args.text, data_dir=args.data_dir)  # bad data fails before the model loads
    model = load_model(args.model, device=args.device, allow_pickle=args.allow_pickle)
    result = score_tasks(
        model, tasks, suite=args.suite, text=args.text, batch_size=args.batch_size, show_progress=sys.stderr.isatty()
    )  # a bar in a terminal only: a log file gets no "Batches:" lines
    print_table(result, label=args.model)
    if args.output:
        write_json(args.output, result.to_json(model_name=args.model))
    return 0


# --------------------------------------------------------------------------- mteb


def add_mteb_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """The arguments of ``fmicl-text eval mteb``."""
    parser.add_argument("model", help="a saved model folder or a sentence-transformers model name")
    parser.add_argument(
        "--tasks",
        action="append",
        required=True,
        metavar="NAME[,NAME...]",
        help="MTEB task names (need the Hub or its cache) and/or local task names (repeatable)",
    )
    parser.add_argument(
        "--local-dir",
        default=None,
        help="folder of local tasks: <type>/<name>/ with type sts, classification, clustering, "
        "pair_classification, retrieval or reranking",
    )
    parser.add_argument("--output", default=None, help="write the scores as JSON to this file")
    parser.add_argument(
        "--cache-dir", default=None, help="mteb result cache (default: $MTEB_CACHE, else ~/.cache/mteb)"
    )
    parser.add_argument("--batch-size", type=int, default=DEFAULT_BATCH_SIZE, help="sentences per encoding batch")
    parser.add_argument("--device", default=None, help="cpu, cuda, ... (default: best available)")
    return parser


def print_mteb_table(result: dict[str, Any]) -> None:
    """The main scores (x100, as the MTEB leaderboard shows them)."""
    from fmicl_text.cli.output import show_table

    rows = []
    for name, score in result["scores"].items():
        value = score["main_score"]
        shown = "n/a" if value is None else f"{100 * value:.2f}"
        rows.append([name + (" (local)" if score.get("local") else ""), score["type"], score["metric"], shown])
    columns = [("task", "left"), ("type", "left"), ("metric", "left"), ("score x100", "right")]
    show_table(f"MTEB: {result['mteb_model']} ({result['revision']})", columns, rows)


def run_eval_mteb(args: argparse.Namespace) -> int:
    """``fmicl-text eval mteb``: evaluate, print the table, write the JSON."""
    from fmicl_text.evaluation.mteb_eval import evaluate_mteb

    check_output_file(args.output)  # before the evaluation, which may take long
    result = evaluate_mteb(
        args.model,
        args.tasks,
        local_dir=args.local_dir,
        cache_dir=args.cache_dir,
        batch_size=args.batch_size,
        device=args.device,
        show_progress=sys.stderr.isatty(),
    )
    print_mteb_table(result)
    if args.output:
        write_json(Path(args.output), result)
    return 0


# --------------------------------------------------------------------------- build-tasks


def add_build_tasks_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """The arguments of ``fmicl-text eval build-tasks``."""
    parser.add_argument("out_dir", metavar="OUT_DIR", help="folder to write the tasks into (<type>/<name>/)")
    add_data_dir(parser)
    return parser


def run_eval_build_tasks(args: argparse.Namespace) -> int:
    """``fmicl-text eval build-tasks OUT_DIR``: build the local suite, print each task and its size."""
    from fmicl_text.cli.output import show_table
    from fmicl_text.evaluation.local_suite import build_tasks

    built = build_tasks(args.out_dir, data_dir=args.data_dir)
    rows = [[task.name, task.kind, task.size, "written" if task.written else "already there"] for task in built]
    columns = [("task", "left"), ("type", "left"), ("size", "left"), ("files", "left")]
    show_table(f"Local MTEB tasks in {args.out_dir}", columns, rows)
    names = ",".join(task.name for task in built)
    print(f"score them: fmicl-text eval mteb MODEL --tasks {names} --local-dir {args.out_dir}")
    return 0


# --------------------------------------------------------------------------- diagnostics


def add_diagnostics_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """The flags of ``fmicl-text eval diagnostics``."""
    parser.add_argument("model", help="a saved folder or any sentence-transformers model name/path")
    add_data_dir(parser)
    parser.add_argument("--text", default="senteval", choices=list(TEXT_VERSIONS), help="STS text version")
    parser.add_argument("--split", default="dev", choices=list(STS_SETS["stsb"]), help="STS-B split")
    parser.add_argument("--output", default=None, help="write the numbers as JSON to this file")
    parser.add_argument("--batch-size", type=int, default=128, help="encoding batch size")
    parser.add_argument("--i-nce-batch-size", type=int, default=I_NCE_BATCH_SIZE, help="N of I_NCE = log N - InfoNCE")
    parser.add_argument("--temperature", type=float, default=I_NCE_TEMPERATURE, help="InfoNCE temperature of I_NCE")
    parser.add_argument("--max-sentences", type=int, default=None, help="use at most this many distinct sentences")
    parser.add_argument("--seed", type=int, default=0, help="seed of the I_NCE batches and dropout masks")
    parser.add_argument("--device", default=None, help="cpu, cuda, ... (default: best available)")
    return parser


def print_diagnostics(result: Diagnostics, label: str | None = None) -> None:
    from fmicl_text.cli.output import show_table
    from fmicl_text.evaluation.diagnostics import POSITIVE_THRESHOLD

    title = f"Diagnostics on STS-B {result.split} ({result.text} text)" + (f": {label}" if label else "")
    log_n = math.log(result.i_nce_batch_size)
    rows = [
        ["alignment", f"{result.alignment:.4f}", f"{result.n_pairs} pairs with gold > {POSITIVE_THRESHOLD:g}"],
        ["uniformity", f"{result.uniformity:.4f}", f"{result.n_sentences} sentences (t = 2)"],
        ["effective rank", f"{result.erank:.2f}", f"{result.n_sentences} x {result.dim}, not centred"],
        [
            "I_NCE",
            f"{result.i_nce:.4f} ± {result.i_nce_std:.4f}",
            f"{result.i_nce_batches} batches of N = {result.i_nce_batch_size} (log N = {log_n:.3f}), "
            f"tau = {result.i_nce_temperature:g}",
        ],
    ]
    show_table(title, [("measure", "left"), ("value", "right"), ("on", "left")], rows)


def run_eval_diagnostics(args: argparse.Namespace) -> int:
    """``fmicl-text eval diagnostics MODEL``: print the four numbers, optionally write them as JSON."""
    from fmicl_text.evaluation.diagnostics import NEGATIVES_FIX, at_least, diagnose, load_diagnostics_data, positive
    from fmicl_text.modeling import load_model

    # Every setting is checked before the data and the model are loaded.
    at_least(args.batch_size, 1, "--batch-size", fix="sentences per encoding batch: leave it out for 128")
    at_least(args.i_nce_batch_size, 2, "--i-nce-batch-size", fix=NEGATIVES_FIX)
    positive(args.temperature, "--temperature", fix="SimCSE's is 0.05; 0.5 separates view strengths better")
    if args.max_sentences is not None:
        at_least(args.max_sentences, 2, "--max-sentences", fix="leave it out to use the whole split")
    at_least(args.seed, 0, "--seed", fix="any whole number >= 0 (numpy's generators take no negative seed)")
    check_output_file(args.output)
    data = load_diagnostics_data(
        data_dir=args.data_dir, text=args.text, split=args.split, max_sentences=args.max_sentences
    )
    model = load_model(args.model, device=args.device)
    result = diagnose(
        model,
        data,
        batch_size=args.batch_size,
        i_nce_batch_size=args.i_nce_batch_size,
        temperature=args.temperature,
        seed=args.seed,
    )
    print_diagnostics(result, label=args.model)
    if args.output:
        write_json(args.output, result.to_json(model_name=args.model))
    return 0
