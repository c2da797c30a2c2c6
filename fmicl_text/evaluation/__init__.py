"""Evaluation: SentEval-style STS (the protocol of SimCSE's tables)."""

from __future__ import annotations

from fmicl_text.evaluation.sts import (
    SUITES,
    StsEvaluator,
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
    "StsEvaluator",
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
