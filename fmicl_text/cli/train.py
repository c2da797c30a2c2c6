"""``train``, ``sweep`` (search), ``compare`` and ``base build``: the flags, their checks and what is printed."""

from __future__ import annotations

import argparse
from pathlib import Path

from fmicl_text.cli.recipe import add_data_dir, parse_numbers, recipe_from_args
from fmicl_text.errors import FmiclError
from fmicl_text.training.bases import GATE, GATE_LEARNING_RATES, PROBE
from fmicl_text.training.compare import STAGES, Comparison, Row


def run_train(args: argparse.Namespace) -> int:
    from fmicl_text.cli.output import print_table
    from fmicl_text.training import train

    recipe = recipe_from_args(args)
    result = train(recipe, resume=args.resume)
    if not result.is_main:
        return 0
    print(f"saved to {result.output_dir} after {result.steps} steps ({result.seconds:.0f} s)")
    if result.best_dev is not None:
        print(f"best {recipe.eval.dev}: {result.best_dev:.2f} at step {result.best_step}")
    if result.test is not None:
        print_table(result.test, label=str(result.output_dir))
    return 0


# --------------------------------------------------------------------------- sweep


def add_sweep_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("--space", required=True, metavar="SPACE.yaml", help="the search space (recipe keys -> ranges)")
    parser.add_argument("--trials", type=int, required=True, help="finished trials to reach (a rerun adds the missing)")
    parser.add_argument("--storage", default=None, metavar="URL", help="Optuna storage (default: DIR/study.db, SQLite)")
    parser.add_argument("--study", default="sweep", help="study name inside the storage (default: sweep)")
    parser.add_argument("--keep-models", action="store_true", help="keep each trial's model folder (large)")
    return parser


def run_sweep(args: argparse.Namespace) -> int:
    from fmicl_text.evaluation.diagnostics import at_least
    from fmicl_text.training.search import BEST_RECIPE, TRIALS_PLOT, TRIALS_TABLE, load_space, sweep

    recipe = recipe_from_args(args)
    if getattr(args, "training.output_dir") is None:
        raise FmiclError(
            "sweep needs --output-dir", fix="name the sweep's folder (trials.md, best_recipe.yaml, study.db)"
        )
    at_least(args.trials, 1, "--trials")
    space = load_space(args.space)
    out = Path(recipe.training.output_dir)
    sweep(recipe, space=space, trials=args.trials, output_dir=out, storage=args.storage, study_name=args.study,
          keep_models=args.keep_models)  # fmt: skip
    print((out / TRIALS_TABLE).read_text(encoding="utf-8"))
    print(f"wrote {out / TRIALS_TABLE}, {out / BEST_RECIPE} and {out / TRIALS_PLOT}")
    return 0


# --------------------------------------------------------------------------- compare


def add_compare_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("spec", metavar="SPEC.yaml", help="the comparison: a recipe, the rows, trials and seeds")
    parser.add_argument(
        "--output-dir",
        default=None,
        metavar="DIR",
        help="study, records, tables and models (default: runs/compare/NAME)",
    )
    parser.add_argument(
        "--stage",
        choices=STAGES,
        default="all",
        help="tune on dev, train the seeds, score the best rows on the spec's MTEB tasks, or all (default); "
        "reproduce: train the first seed of --rows (default: the reference) again and compare with its record; "
        "report: rewrite the table (and --report) from the records so far, training nothing",
    )
    parser.add_argument("--storage", default=None, metavar="URL", help="Optuna storage (default: DIR/study.db, SQLite)")
    parser.add_argument("--report", default=None, metavar="FILE.md", help="also write this comparison's section here")
    parser.add_argument(
        "--rows", default=None, metavar="PATTERN[,...]", help="run only these rows now, e.g. 'fmicl-*' (table: all)"
    )
    return parser


def run_compare(args: argparse.Namespace) -> int:
    from fmicl_text.reporting.compare import write_report
    from fmicl_text.training.compare import load_comparison, load_studies, pick_rows, run_mteb, run_seeds, tune

    comparison = load_comparison(args.spec)
    rows = pick_rows(comparison, args.rows)
    out = Path(args.output_dir or Path("runs") / "compare" / comparison.name)
    report = Path(args.report) if args.report else None
    if args.stage == "reproduce":
        return _reproduce(comparison, out, args, rows if args.rows else None)

    def write() -> Path:
        return write_report(comparison, out, args.storage, report)

    if args.stage in ("tune", "all"):
        tune(comparison, out, args.storage, after_round=write, rows=rows)
    if args.stage in ("seeds", "all"):
        run_seeds(comparison, out, load_studies(comparison, out, args.storage), after_run=write, rows=rows)
    if args.stage == "mteb" or (args.stage == "all" and comparison.mteb is not None):
        run_mteb(comparison, out, load_studies(comparison, out, args.storage), after_run=write, rows=rows)
    table = write()
    print(table.read_text(encoding="utf-8"))
    print(f"wrote {table}" + (f" and {report}" if report else ""))
    return 0


def _reproduce(comparison: Comparison, out: Path, args: argparse.Namespace, rows: list[Row] | None) -> int:
    from fmicl_text.reporting.compare import reproduce_lines
    from fmicl_text.training.compare import REPRODUCE_FILE, load_studies, reproduce

    entries = reproduce(comparison, out, load_studies(comparison, out, args.storage), rows)
    print("\n".join(reproduce_lines(entries)))
    print(f"reruns kept in {out / REPRODUCE_FILE}")
    return 0


# --------------------------------------------------------------------------- base build


def add_base_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("--probe-every", type=int, default=4000, help="MLM steps between probes")
    parser.add_argument("--probe-steps", type=int, default=PROBE.steps, help="SimCSE steps of a probe")
    parser.add_argument("--gate-steps", type=int, default=GATE.steps, help="SimCSE steps of the gate")
    parser.add_argument("--probe-lr", type=float, default=PROBE.learning_rate, help="SimCSE learning rate of a probe")
    parser.add_argument(
        "--gate-lrs",
        default=",".join(f"{rate:g}" for rate in GATE_LEARNING_RATES),
        metavar="X[,X...]",
        help="SimCSE learning rates the gate runs at (the best on STS-B dev counts)",
    )
    parser.add_argument("--report", default=None, metavar="FILE.md", help="also write the bases table and curve here")
    parser.add_argument(
        "--report-only", action="store_true", help="write --report from the probes so far; train nothing"
    )
    return parser


def add_base_probe_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("model", help="an encoder: a saved folder, a checkpoint, a Hub name or base:NAME")
    parser.add_argument("--probe-steps", type=int, default=PROBE.steps, help="SimCSE steps")
    parser.add_argument("--probe-lr", type=float, default=PROBE.learning_rate, help="SimCSE learning rate")
    parser.add_argument("--batch-size", type=int, default=PROBE.batch_size, help="SimCSE batch size")
    parser.add_argument("--seed", type=int, default=PROBE.seed, help="seed of the SimCSE run")
    add_data_dir(parser)
    parser.add_argument("--output", default=None, help="write the numbers as JSON to this file")
    return parser


def run_base_probe(args: argparse.Namespace) -> int:
    """STS-B dev of an encoder (mean and CLS pooling), then after a short unsupervised SimCSE run: the lift."""
    from fmicl_text.cli.output import check_output_file, write_json
    from fmicl_text.evaluation.diagnostics import at_least, positive
    from fmicl_text.training.bases import ProbeBudget, simcse_lift

    at_least(args.probe_steps, 1, "--probe-steps")
    at_least(args.batch_size, 2, "--batch-size", fix="in-batch negatives need at least 2 sentences a batch")
    positive(args.probe_lr, "--probe-lr")
    check_output_file(args.output)
    budget = ProbeBudget(
        steps=args.probe_steps, batch_size=args.batch_size, learning_rate=args.probe_lr, seed=args.seed
    )
    row = simcse_lift(args.model, budget, args.data_dir)
    print(
        f"STS-B dev of {args.model}: mean pooling {row['stsb_dev_mean']:.2f}, CLS {row['stsb_dev_cls']:.2f}; "
        f"after {budget.describe()}: {row['after']:.2f} (lift {row['lift']:+.2f})"
    )
    if args.output:
        write_json(args.output, {"model": args.model, "probe": budget.describe(), **row})
    return 0


def run_base_build(args: argparse.Namespace) -> int:
    from fmicl_text.evaluation.diagnostics import at_least, positive
    from fmicl_text.reporting.bases import plot_curve, report_lines
    from fmicl_text.training.bases import GATE_LIFT, ProbeBudget, base_info, build_base, in_bases_home

    recipe = recipe_from_args(args)
    for flag, value in (("--probe-every", args.probe_every), ("--probe-steps", args.probe_steps),
                        ("--gate-steps", args.gate_steps)):  # fmt: skip
        at_least(value, 1, flag)
    positive(args.probe_lr, "--probe-lr")
    gate_lrs = parse_numbers(args.gate_lrs, "--gate-lrs", "3e-5,1e-4")
    for rate in gate_lrs:
        positive(rate, "--gate-lrs")
    if getattr(args, "training.output_dir") is None:  # recipes/base-NAME.yaml builds base:NAME
        recipe = in_bases_home(recipe)
    probe = ProbeBudget(steps=args.probe_steps, learning_rate=args.probe_lr)
    gate = ProbeBudget(steps=args.gate_steps)
    name = Path(recipe.training.output_dir).name

    def write_report() -> None:
        info = base_info(recipe, probe)
        report = Path(args.report)
        report.parent.mkdir(parents=True, exist_ok=True)
        report.write_text("\n".join(report_lines({name: info}, gate_lift=GATE_LIFT)) + "\n", encoding="utf-8")
        plot_curve(info["probes"], report.with_suffix("") / f"{name}.png", f"{name}: SimCSE lift along MLM")

    if args.report_only:
        if not args.report:
            raise FmiclError("--report-only writes the --report file", fix="add --report FILE.md")
        if not base_info(recipe, probe)["probes"]:
            where = recipe.training.output_dir
            raise FmiclError("no probes yet for this base", where=where, fix="run base build first")
    else:
        build_base(recipe, probe_every=args.probe_every, probe=probe, gate=gate, gate_learning_rates=gate_lrs,
                   after_probe=write_report if args.report else None)  # fmt: skip
    if args.report:
        write_report()
        print(f"wrote {args.report}")
    return 0
