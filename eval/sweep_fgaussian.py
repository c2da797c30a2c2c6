"""The f-Gaussian question: does the f-Gaussian critic trail the cosine critic once both are tuned?

The f-MICL rows of a comparison spec (``fmicl-<divergence>-<critic>``) are tuned by ``fmicl-text compare``
(the tune stage: Optuna TPE, median pruning, STS-B dev only), every critic with the same number of
trials on the same budget: the f-Gaussian critic over (sigma, alpha), the cosine critic over
(temperature, alpha). The studies are the comparison's own, so the objectives table reuses them;
a rerun resumes and never reruns a finished trial.

    python eval/sweep_fgaussian.py                                   # all-MiniLM-L6-v2
    python eval/sweep_fgaussian.py --spec eval/compare/objectives-mlm-small.yaml

Writes the base's section of ``eval/fgaussian.md``.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from fmicl_text.errors import FmiclError
from fmicl_text.losses.divergences import NAMES as DIVERGENCES
from fmicl_text.reporting.compare import replace_section, write_report
from fmicl_text.training.compare import load_comparison, load_studies, pick_rows, tune, tuning_summary

HERE = Path(__file__).resolve().parent
CRITICS = {"gaussian": "loss.sigma", "cosine": "loss.temperature"}
INTRO = """# The f-Gaussian question

Does the f-Gaussian critic of f-MICL trail the cosine critic once both are tuned with the same
effort? Made by `python eval/sweep_fgaussian.py` (resumable); dev only (STS-B dev), never a test set.
"""


def summary(name: str, budget: str, tuned: dict[str, dict]) -> list[str]:
    lines = [
        f"## {name}",
        "",
        budget,
        "",
        "| divergence | f-Gaussian best dev | its sigma, alpha | cosine best dev | its temperature, alpha | "
        "f-Gaussian - cosine | trials (G / cos) |",
        "|---|---:|---|---:|---|---:|---|",
    ]
    for divergence in DIVERGENCES:
        cells, best, counts = [], {}, []
        for critic, scale in CRITICS.items():
            row = tuned.get(f"fmicl-{divergence}-{critic}", {})
            counts.append(str(row.get("trials", 0)))
            if row.get("best_dev") is None:
                cells += ["-", "-"]
                continue
            best[critic] = row["best_dev"]
            cells += [f"{row['best_dev']:.2f}", f"{row['params'][scale]:.3g}, {row['params']['loss.alpha']:.3g}"]
        gap = f"{best['gaussian'] - best['cosine']:+.2f}" if len(best) == 2 else "-"
        lines.append(f"| {divergence} | " + " | ".join(cells) + f" | {gap} | {' / '.join(counts)} |")
    batch = {name: row for name, row in tuned.items() if name.endswith("-gaussian-batch")}
    if batch:  # our option beside the paper's constant alpha
        lines += [
            "",
            "With `alpha_from_batch` (ours): the negative term weighted by alpha / (the batch's mean kernel), "
            "tuned over (sigma, alpha) with the same trials:",
            "",
            "| row | best dev | its sigma, alpha | the paper's constant alpha, best dev | trials |",
            "|---|---:|---|---:|---:|",
        ]
        for name, row in batch.items():
            paper = tuned.get(name.removesuffix("-batch"), {}).get("best_dev")
            best = row.get("best_dev")
            params = row.get("params", {})
            where = f"{params['loss.sigma']:.3g}, {params['loss.alpha']:.3g}" if best is not None else "-"
            lines.append(f"| {name} | {'-' if best is None else f'{best:.2f}'} | {where} | "
                         f"{'-' if paper is None else f'{paper:.2f}'} | {row.get('trials', 0)} |")  # fmt: skip
    return [*lines, ""]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spec", default=str(HERE / "compare" / "objectives-minilm.yaml"))
    parser.add_argument("--output-dir", default=None, help="the comparison's folder (default: eval/compare/NAME)")
    args = parser.parse_args()

    comparison = load_comparison(args.spec)
    out = Path(args.output_dir or os.path.relpath(HERE / "compare" / comparison.name))  # no machine path in files
    report = HERE / "fgaussian.md"

    def write() -> None:
        from fmicl_text.training.compare import describe_budget

        write_report(comparison, out)
        tuned = tuning_summary(comparison, load_studies(comparison, out))
        if not report.is_file():
            report.write_text(INTRO, encoding="utf-8")
        replace_section(report, comparison.name, summary(comparison.name, describe_budget(comparison), tuned))

    try:
        tune(comparison, out, after_round=write, rows=pick_rows(comparison, "fmicl-*"))
    except FmiclError as exc:  # one message, as the CLI gives (a signal: rerun to resume)
        write()
        print(f"stopped: {exc.format()}", file=sys.stderr)
        sys.exit(exc.exit_code)
    write()
    print(f"wrote {report}")


if __name__ == "__main__":
    main()
