"""``report``: the flags, and what is printed of the report the library writes."""

from __future__ import annotations

import argparse

from fmicl_text.reporting.report import DEV_METRIC


def add_report_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """The flags of ``fmicl-text report``."""
    parser.add_argument("runs", nargs="+", metavar="RUN", help="run folders or results JSON files")
    parser.add_argument("--output-dir", default="runs/report", help="where report.md and the plots go")
    parser.add_argument("--dev-metric", default=DEV_METRIC, help="training-log key of the dev curve")
    return parser


def run_report(args: argparse.Namespace) -> int:
    from fmicl_text.reporting.report import build_report

    report = build_report(args.runs, args.output_dir, dev_metric=args.dev_metric)
    print(report.table)
    for note in report.notes:
        print(f"note: {note}")
    for path in report.files:
        print(f"wrote {path}")
    return 0
