"""Evaluation: SentEval-style STS, MTEB tasks, diagnostics (trainer evaluators live in ``evaluators``)."""

from __future__ import annotations

from fmicl_text.evaluation.sts import (
    SUITES,
    StsPairs,
    StsResult,
    evaluate_sts,
    format_table,
    load_suite,
    print_table,
    read_sts_tsv,
    score_tasks,
    spearman_x100,
    suite_tasks,
)

__all__ = [
    "SUITES",
    "StsPairs",
    "StsResult",
    "evaluate_sts",
    "format_table",
    "load_suite",
    "print_table",
    "read_sts_tsv",
    "score_tasks",
    "spearman_x100",
    "suite_tasks",
]
