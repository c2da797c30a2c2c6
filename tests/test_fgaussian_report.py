"""``eval/sweep_fgaussian.py``'s table: each divergence's best f-Gaussian and cosine trial side by side, and the
batch-alpha option beside the paper's constant."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("sweep_fgaussian", ROOT / "eval" / "sweep_fgaussian.py")
sweep_fgaussian = importlib.util.module_from_spec(spec)
sys.modules["sweep_fgaussian"] = sweep_fgaussian
spec.loader.exec_module(sweep_fgaussian)


def test_the_summary_puts_the_critics_side_by_side_and_the_batch_alpha_beside_the_constant():
    tuned = {
        "fmicl-kl-gaussian": {"trials": 6, "best_dev": 86.5, "params": {"loss.sigma": 0.5, "loss.alpha": 40.0}},
        "fmicl-kl-cosine": {"trials": 6, "best_dev": 87.0, "params": {"loss.temperature": 0.05, "loss.alpha": 1.0}},
        "fmicl-js-gaussian": {"trials": 2, "best_dev": None, "params": {}},
        "fmicl-kl-gaussian-batch": {"trials": 6, "best_dev": 86.9, "params": {"loss.sigma": 0.6, "loss.alpha": 1.2}},
    }
    text = "\n".join(sweep_fgaussian.summary("minilm", "the budget", tuned))
    assert "| kl | 86.50 | 0.5, 40 | 87.00 | 0.05, 1 | -0.50 | 6 / 6 |" in text
    assert "| js | - | - | - | - | - | 2 / 0 |" in text
    assert "| fmicl-kl-gaussian-batch | 86.90 | 0.6, 1.2 | 86.50 | 6 |" in text
    assert "alpha_from_batch" not in "\n".join(sweep_fgaussian.summary("x", "b", {}))
