"""Evaluation: SentEval-style STS, MTEB tasks, diagnostics (trainer evaluators live in ``evaluators``).

The STS names below are loaded on first use (``sts`` needs numpy and scipy), so that importing a light
module of this package (``mteb_defaults``, ``views_mi``) stays light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fmicl_text.lazy import lazy_names

if TYPE_CHECKING:
    from fmicl_text.evaluation.sts import (
        SUITES,
        StsPairs,
        StsResult,
        evaluate_sts,
        format_table,
        load_suite,
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
    "read_sts_tsv",
    "score_tasks",
    "spearman_x100",
    "suite_tasks",
]

__getattr__, __dir__ = lazy_names(__name__, dict.fromkeys(__all__, "sts"))
