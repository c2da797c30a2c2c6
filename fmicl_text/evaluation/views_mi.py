"""``fmicl-text views mi``: I_NCE between a model's two views (InfoMin's estimate of what they share).

``I_NCE = log N - InfoNCE`` on held-out batches of N sentences (STS-B dev by default, never
trained on), each sentence viewed twice as training views it; see :func:`diagnostics.i_nce`.
At temperature 0.05 a trained encoder tells its dropout views apart almost perfectly (I_NCE near
log N), so ``--temperature`` is offered: a larger one (0.5) separates view strengths.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

DEFAULT_DATA = "stsb-dev"


def add_views_mi_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("model", help="a saved folder or any sentence-transformers model name/path")
    parser.add_argument("--views", default="none", metavar="SPEC", help="the views, as for train --views (none)")
    parser.add_argument(
        "--data",
        default=DEFAULT_DATA,
        help=f"sentences: {DEFAULT_DATA} (held out) or any training data (a file or a data-home name)",
    )
    parser.add_argument("--data-dir", default=None, help="data home folder (default: $FMICL_DATA_DIR)")
    parser.add_argument("--temperature", type=float, default=0.05, help="InfoNCE temperature (0.05)")
    parser.add_argument("--batch-size", type=int, default=64, help="N of I_NCE = log N - InfoNCE (64)")
    parser.add_argument("--batches", type=int, default=16, help="how many held-out batches (16)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the batches, views and dropout masks")
    parser.add_argument("--device", default=None, help="cpu, cuda, ... (default: best available)")
    parser.add_argument("--output", default=None, help="write the result as JSON to this file")
    return parser


def mi_sentences(data: str, *, data_dir: str | None = None) -> list[str]:
    """The sentences I_NCE is measured on: STS-B dev's distinct sentences, or a training set's anchors."""
    if data == DEFAULT_DATA:
        from fmicl_text.evaluation.diagnostics import load_diagnostics_data

        return load_diagnostics_data(data_dir=data_dir, split="dev").sentences
    from fmicl_text.data import load_training_data

    dataset, _ = load_training_data(data, data_dir=data_dir)
    return list(dict.fromkeys(dataset["anchor"]))


def run_views_mi_cli(args: argparse.Namespace) -> int:
    from fmicl_text.errors import FmiclError
    from fmicl_text.evaluation.diagnostics import NEGATIVES_FIX, at_least, i_nce, positive
    from fmicl_text.evaluation.output import check_output_file
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
    mean, std = i_nce(
        model,
        sentences,
        batch_size=args.batch_size,
        temperature=args.temperature,
        n_batches=args.batches,
        seed=args.seed,
        views=views,
    )
    n = min(args.batch_size, len(sentences))
    batches = min(args.batches, len(sentences) // n)
    print(f"views: {views.describe()}")
    print(
        f"I_NCE = {mean:.4f} ± {std:.4f} nats over {batches} batches of N = {n} from {args.data} "
        f"(at most log N = {math.log(n):.4f}; temperature {args.temperature:g})"
    )
    if args.output:
        record = {
            "model": args.model,
            "views": views.describe(),
            "i_nce": mean,
            "i_nce_std": std,
            "i_nce_max": math.log(n),
            "batch_size": n,
            "batches": batches,
            "temperature": args.temperature,
            "data": args.data,
            "seed": args.seed,
        }
        Path(args.output).parent.mkdir(parents=True, exist_ok=True)
        Path(args.output).write_text(json.dumps(record, indent=2), encoding="utf-8")
        print(f"wrote {args.output}")
    return 0
