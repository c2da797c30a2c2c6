"""The table and plot of a comparison (``fmicl-text compare``): rows' test scores over seeds, each row
against the reference seed for seed, and the rows' chosen parameters, dev scores and geometry.

Pure formatting and statistics of records (the dicts of ``records.jsonl``); nothing here trains.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from fmicl_text.layout import AVG, DIAGNOSTIC_METRICS, I_NCE_BATCH_SIZE, I_NCE_TEMPERATURE
from fmicl_text.reporting.tables import format_score, task_columns

NOISE_LEVEL = 0.05  # a difference from the reference is claimed only below this p (two-sided paired t-test)
MIN_SEEDS = 3  # and only over at least this many paired seeds: a t-test over 2 rests on one degree of freedom
BASE_ROW = "base, untrained"  # the row of the model every run starts from


def mean_sd(values: Sequence[float]) -> tuple[float | None, float | None]:
    """Mean and sample standard deviation (None where undefined)."""
    values = [v for v in values if v is not None and math.isfinite(v)]
    if not values:
        return None, None
    return statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else None


def paired_test(values: Mapping[int, float], reference: Mapping[int, float]) -> tuple[float | None, float | None, int]:
    """``(mean difference, p, pairs)`` of ``values - reference`` over the seeds both have.

    p is the two-sided paired t-test's (scipy); None with fewer than MIN_SEEDS pairs. Equal differences on every
    seed (no spread) give p = 0 when they are not all 0, else 1."""
    from scipy import stats

    seeds = sorted(set(values) & set(reference))
    pairs = [(values[s], reference[s]) for s in seeds if values[s] is not None and reference[s] is not None]
    if not pairs:
        return None, None, 0
    diffs = [a - b for a, b in pairs]
    mean = statistics.fmean(diffs)
    if len(pairs) < MIN_SEEDS:
        return mean, None, len(pairs)
    if max(diffs) == min(diffs):
        return mean, 0.0 if mean != 0 else 1.0, len(pairs)
    return mean, float(stats.ttest_rel([a for a, _ in pairs], [b for _, b in pairs]).pvalue), len(pairs)


def verdict(diff: float | None, p: float | None, pairs: int) -> str:
    if diff is None:
        return "-"
    if p is None:
        return f"{pairs} seed{'' if pairs == 1 else 's'}: untested"
    if p < NOISE_LEVEL:
        return "better, beyond noise" if diff > 0 else "worse, beyond noise"
    return "within noise"


def _by_row(records: Sequence[Mapping[str, Any]]) -> dict[str, list[Mapping[str, Any]]]:
    rows: dict[str, list[Mapping[str, Any]]] = {}
    for record in records:
        rows.setdefault(record["row"], []).append(record)
    return rows


def shared_base(records: Sequence[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    """The untrained model's scores when every record has them and all start from the same model (a
    comparison across bases has no one base row); None otherwise."""
    bases = [r["base"] for r in records if r.get("base")]
    if not bases or len({b.get("model") for b in bases}) != 1 or len(bases) != len(records):
        return None
    return bases[0]


def mean_sd_cell(mean: float | None, sd: float | None, digits: int = 2) -> str:
    """``87.10 ± 0.12``; ``-`` without a mean."""
    if mean is None:
        return "-"
    return format_score(mean, digits) + (f" ± {sd:.{digits}f}" if sd is not None else "")


def _params(params: Mapping[str, Any]) -> str:
    if not params:
        return "(fixed)"
    return ", ".join(f"{key.rpartition('.')[2]} {value:.3g}" if isinstance(value, float)
                     else f"{key.rpartition('.')[2]} {value}" for key, value in sorted(params.items()))  # fmt: skip


def comparison_lines(
    *,
    name: str,
    rows: Sequence[str],
    reference: str,
    budget: str,
    records: Sequence[Mapping[str, Any]],
    tuning: Mapping[str, Mapping[str, Any]],
    description: str = "",
) -> list[str]:
    """The markdown section of a comparison.

    ``rows``: the row names in the spec's order; ``budget``: one paragraph saying what every run trained on;
    ``tuning``: per tuned row ``{"trials": n, "best_dev": x, "params": {...}}``; ``records``: the seed runs.
    """
    by_row = _by_row(records)
    tasks = [t for t in task_columns(r["test"] for r in records) if t != AVG]
    ref_avg = {r["seed"]: r["test"].get(AVG) for r in by_row.get(reference, [])}
    lines = [f"## {name}", ""]
    if description:
        lines += [description, ""]
    lines += [budget, ""]
    header = ["row", "seeds", *tasks, "avg", f"avg - {reference}", "p", "verdict"]
    lines += ["| " + " | ".join(header) + " |", "|---|" + "---:|" * (len(header) - 2) + "---|"]
    base = shared_base(records)
    if base is not None:
        ref_mean = mean_sd(list(ref_avg.values()))[0]
        base_avg = base["test"].get(AVG)
        diff = "-" if ref_mean is None or base_avg is None else f"{base_avg - ref_mean:+.2f}"
        lines.append(f"| {BASE_ROW} | - | " + " | ".join(format_score(base["test"].get(t)) for t in [*tasks, AVG])
                     + f" | {diff} | - | no training |")  # fmt: skip
    for row in rows:
        runs = by_row.get(row, [])
        if not runs:
            lines.append(f"| {row} | 0 |" + " |" * (len(header) - 2))
            continue
        cells = [mean_sd_cell(*mean_sd([r["test"].get(t) for r in runs])) for t in tasks]
        avg = {r["seed"]: r["test"].get(AVG) for r in runs}
        if row == reference:
            diff_cells = ["-", "-", "reference"]
        else:
            diff, p, pairs = paired_test(avg, ref_avg)
            diff_cells = ["-" if diff is None else f"{diff:+.2f}", "-" if p is None else f"{p:.3f}",
                          verdict(diff, p, pairs)]  # fmt: skip
        lines.append(f"| {row} | {len(runs)} | " + " | ".join([*cells, mean_sd_cell(*mean_sd(list(avg.values()))),
                                                           *diff_cells]) + " |")  # fmt: skip
    lines += [
        "",
        "Test sets, Spearman x100, mean ± standard deviation over seeds"
        + (f"; {BASE_ROW}: the model every run starts from, scored the same way" if base is not None else "")
        + f". `avg - {reference}`: the mean of the "
        f"per-seed differences of the average; p: two-sided paired t-test over the seeds both rows ran; a "
        f"difference is claimed only when p < {NOISE_LEVEL}, over at least {MIN_SEEDS} seeds.",
        "",
        "| row | chosen parameters | tuning trials | tuning best dev | dev (seeds) | "
        + " | ".join(DIAGNOSTIC_METRICS)
        + " | seconds a run |",
        "|---|---|---:|---:|---:|" + "---:|" * len(DIAGNOSTIC_METRICS) + "---:|",
    ]
    if base is not None:
        geometry = [format_score(base.get(m), 3) if m in base else "-" for m in DIAGNOSTIC_METRICS]
        lines.append(f"| {BASE_ROW} | (no training) | - | - | {format_score(base.get('dev'))} | "
                     + " | ".join(geometry) + " | - |")  # fmt: skip
    for row in rows:
        runs, tuned = by_row.get(row, []), tuning.get(row, {})
        geometry = [mean_sd_cell(*mean_sd([r["diagnostics"][m] for r in runs]), 3) for m in DIAGNOSTIC_METRICS]
        # a resumed run's seconds are its last sitting's only: the mean is over runs that ran whole
        seconds = mean_sd([r["seconds"] for r in runs if not r.get("resumed")])[0]
        params = tuned.get("params") if tuned else (runs[0]["params"] if runs else {})
        best = tuned.get("best_dev")
        lines.append(
            f"| {row} | {_params(params or {})} | {tuned.get('trials', '-')} | "
            f"{'-' if best is None else f'{best:.2f}'} | {mean_sd_cell(*mean_sd([r['dev'] for r in runs]))} | "
            + " | ".join(geometry)
            + f" | {'-' if seconds is None else f'{seconds:.0f}'} |"
        )
    lines += [
        "",
        "Dev: the best dev checkpoint's score (what tuning chose on). Geometry of each kept model on the STS-B dev "
        "sentences: alignment and uniformity (lower is better for both), effective rank, I_NCE between two "
        f"dropout views (nats, temperature {I_NCE_TEMPERATURE:g}, batches of {I_NCE_BATCH_SIZE}: at most "
        f"log {I_NCE_BATCH_SIZE} = {math.log(I_NCE_BATCH_SIZE):.3f}, and a trained encoder sits just under that "
        "bound, so it barely separates models; eval/views.md also reads it at a larger temperature). Seconds a "
        "run: training with its dev scoring, mean over the runs that ran in one sitting (a resumed run's time is "
        "its last sitting's only; - : none did); this machine's speed varies from day to day, so read them as "
        "rough ratios.",
        "",
    ]
    return lines


def rank_of(values: Mapping[str, float]) -> dict[str, int]:
    """1 for the highest value; ties share the better rank."""
    ordered = sorted(values.values(), reverse=True)
    return {row: ordered.index(value) + 1 for row, value in values.items()}


def mteb_lines(
    rows: Sequence[str], records: Sequence[Mapping[str, Any]], scores: Sequence[Mapping[str, Any]],
    tasks: Sequence[str], top: int | None = None,
) -> list[str]:  # fmt: skip
    """The MTEB section: the scored rows' main score per task with its rank among them, beside their test
    average over seeds and its rank, and how far each task's ranking agrees with the test average's.
    ``top``: how many rows by test average the spec scores (None: every row), for the caption."""
    from scipy import stats

    if not scores:
        return []
    table: dict[str, dict[str, float]] = {}
    for record in scores:  # row null: the untrained base, shown and ranked as one more row
        if record["main_score"] is not None:
            table.setdefault(record["row"] or BASE_ROW, {})[record["task"]] = 100 * record["main_score"]
    shown = [row for row in [BASE_ROW, *rows] if row in table]
    by_row = _by_row(records)
    sts = {row: mean_sd([r["test"].get(AVG) for r in by_row.get(row, [])])[0] for row in shown}
    base = shared_base(records)
    sts[BASE_ROW] = base["test"].get(AVG) if base is not None else None
    sts = {row: value for row, value in sts.items() if value is not None and row in shown}
    columns = {task: {row: table[row][task] for row in shown if task in table[row]} for task in tasks}
    ranks = {task: rank_of(values) for task, values in columns.items()}
    sts_ranks = rank_of(sts)
    metrics = {r["task"]: r["metric"] for r in scores}
    chosen = "every row" if top is None else f"the {top} best rows by test average (and the reference)"
    lines = [
        "### MTEB beside STS",
        "",
        f"The first seed's model of {chosen} on MTEB tasks: mteb's main score x100 ("
        + ", ".join(f"{task}: {metrics[task]}" for task in tasks if task in metrics)
        + "), its rank among these rows in brackets; - : not scored yet."
        + (f" {BASE_ROW}: the model every run starts from, scored alike." if BASE_ROW in shown else ""),
        "",
        "| row | test avg (seeds) | " + " | ".join(tasks) + " |",
        "|---|---:|" + "---:|" * len(tasks),
    ]
    for row in shown:
        cells = [f"{columns[t][row]:.2f} ({ranks[t][row]})" if row in columns[t] else "-" for t in tasks]
        avg = f"{sts[row]:.2f} ({sts_ranks[row]})" if row in sts else "-"
        lines.append(f"| {row} | {avg} | " + " | ".join(cells) + " |")
    taus = []
    for task in tasks:
        common = [row for row in shown if row in columns[task] and row in sts]
        if len(common) < 3:
            taus.append("-")
            continue
        tau = stats.kendalltau([sts[r] for r in common], [columns[task][r] for r in common]).statistic
        taus.append("-" if tau is None or math.isnan(tau) else f"{tau:+.2f}")
    lines += [
        "| Kendall's tau with the test avg | | " + " | ".join(taus) + " |",
        "",
        "Kendall's tau: +1 when a task orders these rows as the STS test average does, -1 when it reverses them.",
        "",
    ]
    return lines


def reproduce_lines(entries: Sequence[Mapping[str, Any]]) -> list[str]:
    """A row's first seed trained again beside its record: the difference, and whether it is within twice the
    row's seed-to-seed sd of the test average (the noise the table states)."""
    lines = [
        "| row | seed | metric | recorded | rerun | rerun - recorded | 2 x seeds' sd | verdict |",
        "|---|---:|---|---:|---:|---:|---:|---|",
    ]
    for e in entries:
        bar = 2 * e["seed_sd"] if e.get("seed_sd") is not None else None
        for metric, old, new in (
            ("STS-B dev", e["recorded"]["dev"], e["rerun"]["dev"]),
            ("test average", e["recorded"]["test"].get(AVG), e["rerun"]["test"].get(AVG)),
        ):
            diff = None if old is None or new is None else new - old
            if diff is None:
                call = "-"
            elif diff == 0:
                call = "identical"
            elif bar is None:
                call = "no seed spread to compare with"
            else:
                call = "within noise" if abs(diff) <= bar else "beyond noise"
            lines.append(
                f"| {e['row']} | {e['seed']} | {metric} | {format_score(old)} | {format_score(new)} | "
                f"{'-' if diff is None else f'{diff:+.2f}'} | {'-' if bar is None else f'{bar:.2f}'} | {call} |"
            )
    return lines


def plot_comparison(
    records: Sequence[Mapping[str, Any]], rows: Sequence[str], reference: str, path: str | Path, title: str
) -> Path | None:
    """Each row's test average over seeds (mean ± sd, every seed a dot), the reference's mean as a line."""
    from fmicl_text.reporting.plots import new_figure, save_figure

    by_row = _by_row(records)
    shown = [row for row in rows if by_row.get(row)]
    if not shown:
        return None
    fig = new_figure(7.0, 0.9 + 0.35 * len(shown))
    ax = fig.add_subplot()
    for y, row in enumerate(shown):
        values = [r["test"].get(AVG) for r in by_row[row] if r["test"].get(AVG) is not None]
        mean, sd = mean_sd(values)
        if mean is None:
            continue
        ax.errorbar([mean], [y], xerr=[sd or 0.0], fmt="o", color="C1" if row == reference else "C0", capsize=3)
        ax.scatter(values, [y] * len(values), s=8, color="grey", zorder=3)
    ref = mean_sd([r["test"].get(AVG) for r in by_row.get(reference, [])])[0]
    if ref is not None:
        ax.axvline(ref, color="C1", linestyle="--", linewidth=1)
    ax.set_yticks(range(len(shown)), shown)
    ax.invert_yaxis()
    ax.set_xlabel("test average, Spearman x100 (mean ± sd over seeds)")
    ax.set_title(title)
    ax.grid(alpha=0.3, axis="x")
    return save_figure(fig, path)


def write_report(comparison: Any, out: Path, storage: str | None = None, report: Path | None = None) -> Path:
    """``comparison.md`` and ``comparison.png`` in ``out`` from the studies and records so far; with ``report``,
    also this comparison's section in that file (replaced between its markers, the rest of the file kept)."""
    from fmicl_text.training.compare import (
        PLOT_FILE,
        TABLE_FILE,
        current_mteb_records,
        current_records,
        describe_budget,
        load_studies,
        tuning_summary,
    )

    studies = load_studies(comparison, out, storage)
    records = current_records(comparison, out, studies)
    rows = [row.name for row in comparison.rows]
    lines = comparison_lines(
        name=comparison.name,
        rows=rows,
        reference=comparison.reference,
        budget=describe_budget(comparison),
        records=records,
        tuning=tuning_summary(comparison, studies),
        description=comparison.description,
    )
    if comparison.mteb is not None:
        lines += mteb_lines(rows, records, current_mteb_records(comparison, out, studies), comparison.mteb.tasks,
                            comparison.mteb.top)  # fmt: skip
    out.mkdir(parents=True, exist_ok=True)
    plot = plot_comparison(records, rows, comparison.reference, out / PLOT_FILE, comparison.name)
    if plot is None:  # no run counts any more (a changed spec): no stale picture beside the table
        (out / PLOT_FILE).unlink(missing_ok=True)
    (out / TABLE_FILE).write_text("\n".join([f"# Comparison {comparison.name}", "", *lines[2:]]), encoding="utf-8")
    if report is not None:
        if plot is not None:
            image = report.with_suffix("") / f"{comparison.name}.png"
            image.parent.mkdir(parents=True, exist_ok=True)
            image.write_bytes(plot.read_bytes())
            lines += [f"![{comparison.name}]({report.stem}/{image.name})", ""]
        replace_section(report, comparison.name, lines)
    return out / TABLE_FILE


def replace_section(path: Path, name: str, lines: Sequence[str]) -> None:
    """Put ``lines`` between ``<!-- compare:NAME -->`` markers in ``path`` (appended the first time)."""
    begin, end = f"<!-- compare:{name} -->", f"<!-- /compare:{name} -->"
    text = path.read_text(encoding="utf-8") if path.is_file() else "# Comparisons\n"
    block = "\n".join([begin, *lines, end])
    if begin in text and end in text:
        head, _, rest = text.partition(begin)
        _, _, tail = rest.partition(end)
        text = head + block + tail
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
