"""PNG plots of training logs: a metric over steps, and the alignment-uniformity plane.

Figures are drawn on matplotlib's Agg canvas directly (no pyplot, no global backend switch), so
plotting works headless and leaves any interactive session alone. The inputs are the rows of a
trainer's ``log_history`` (``training_log.json``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from fmicl_text.layout import ALIGNMENT_KEY, UNIFORMITY_KEY


def metric_series(log: Sequence[Mapping[str, Any]], key: str) -> list[tuple[int, float]]:
    """(step, value) of every log row holding ``key``, by step; a step logged twice keeps its last value.

    Rows without a step and non-finite values are left out.
    """
    by_step: dict[int, float] = {}
    for row in log:
        value, step = row.get(key), row.get("step")
        if isinstance(value, int | float) and isinstance(step, int | float) and math.isfinite(value):
            by_step[int(step)] = float(value)
    return sorted(by_step.items())


def au_points(log: Sequence[Mapping[str, Any]]) -> list[tuple[int, float, float]]:
    """(step, alignment, uniformity) of every step that logged both diagnostics."""
    uniform = dict(metric_series(log, UNIFORMITY_KEY))
    return [(step, align, uniform[step]) for step, align in metric_series(log, ALIGNMENT_KEY) if step in uniform]


def new_figure(width: float = 7.0, height: float = 4.5):
    """A figure on matplotlib's Agg canvas (no pyplot, no global backend switch)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=120)
    FigureCanvasAgg(fig)
    return fig


def save_figure(fig, path: str | Path) -> Path:
    """``fig`` as a PNG at ``path`` (its folder made), laid out tight."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, format="png")
    return path


def metric_figure(
    series: Mapping[str, Sequence[tuple[int, float]]],
    *,
    title: str = "STS-B dev over training",
    ylabel: str = "Spearman x100",
    best: Mapping[str, int | None] | None = None,
    references: Mapping[str, float] | None = None,
):
    """The figure of :func:`plot_metric_over_steps` (a matplotlib ``Figure``, not yet saved)."""
    fig = new_figure()
    ax = fig.add_subplot()
    for i, (label, value) in enumerate((references or {}).items()):  # several: told apart by their dashes
        ax.axhline(value, linestyle=("--", ":", "-.")[i % 3], linewidth=1.2, color="dimgray", label=label)
    for label, points in series.items():
        if not points:
            continue
        steps, values = zip(*points, strict=True)
        (line,) = ax.plot(steps, values, marker="o", markersize=3, linewidth=1.5, label=label)
        step = (best or {}).get(label)
        if step is not None and step in steps:
            ax.plot([step], [values[steps.index(step)]], marker="*", markersize=13, color=line.get_color())
    ax.set_xlabel("step")
    ax.set_ylabel(ylabel)
    ax.set_title(title + (" (star: kept checkpoint)" if best else ""))
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize="small")
    return fig


def plot_metric_over_steps(
    series: Mapping[str, Sequence[tuple[int, float]]],
    path: str | Path,
    *,
    title: str = "STS-B dev over training",
    ylabel: str = "Spearman x100",
    best: Mapping[str, int | None] | None = None,
    references: Mapping[str, float] | None = None,
) -> Path:
    """One line per run; ``best`` (run -> step) marks each run's kept checkpoint with a star; ``references``
    (label -> value, e.g. the base model's score) are dashed horizontal lines."""
    return save_figure(metric_figure(series, title=title, ylabel=ylabel, best=best, references=references), path)


AU_TITLE = "Alignment and uniformity on STS-B (lower is better for both)"


def alignment_uniformity_figure(
    points: Mapping[str, Sequence[tuple[int, float, float]]],
    *,
    title: str = AU_TITLE,
    references: Mapping[str, tuple[float, float]] | None = None,
):
    """The figure of :func:`plot_alignment_uniformity` (a matplotlib ``Figure``, not yet saved)."""
    from matplotlib.ticker import MaxNLocator

    fig = new_figure(6.5, 5.0)
    ax = fig.add_subplot()
    for label, run in points.items():
        if not run:
            continue
        steps, align, uniform = zip(*run, strict=True)
        (line,) = ax.plot(uniform, align, marker=".", markersize=6, linewidth=1, alpha=0.8, label=label)
        color = line.get_color()
        ax.plot([uniform[0]], [align[0]], marker="o", markersize=8, markerfacecolor="none", color=color)
        ax.plot([uniform[-1]], [align[-1]], marker="s", markersize=7, color=color)
        for i in {0, len(steps) - 1}:
            ax.annotate(str(steps[i]), (uniform[i], align[i]), textcoords="offset points", xytext=(5, 4), fontsize=7)
    for label, (align_value, uniform_value) in (references or {}).items():
        ax.plot([uniform_value], [align_value], linestyle="none", marker="X", markersize=10, color="black",
                label=label)  # fmt: skip
    ax.margins(0.12)  # room for the markers and step labels at the edges (a base point is often an extreme)
    ax.xaxis.set_major_locator(MaxNLocator(5))  # uniformity ticks are long negative numbers: fewer, not overlapping
    ax.set_xlabel("uniformity  log E exp(-2 ||f(x) - f(y)||²)")
    ax.set_ylabel("alignment  E ||f(x) - f(x⁺)||²")
    legend = "circle: first evaluation, square: last" + (", X: base model before training" if references else "")
    ax.set_title(f"{title}\n{legend}", fontsize="medium")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize="small")
    return fig


def plot_alignment_uniformity(
    points: Mapping[str, Sequence[tuple[int, float, float]]],
    path: str | Path,
    *,
    title: str = AU_TITLE,
    references: Mapping[str, tuple[float, float]] | None = None,
) -> Path:
    """SimCSE's figure: a point per evaluation step, uniformity on x, alignment on y, per run a path
    from its first step (circle) to its last (square), both labelled with their step; ``references``
    (label -> (alignment, uniformity), e.g. the base model before training) are labelled black crosses."""
    return save_figure(alignment_uniformity_figure(points, title=title, references=references), path)


def plot_infomin(
    points: Sequence[tuple[float, float, float]],
    path: str | Path,
    *,
    title: str = "InfoMin: STS-B dev against I_NCE between the views",
    strength_label: str = "rate",
) -> Path:
    """STS-B dev (y) against I_NCE (x), a point per view strength, joined in order of strength.

    ``points`` are (strength, i_nce, stsb_dev); InfoMin's reverse-U shows as a peak between the
    weak views (high I_NCE) and the strong ones (low I_NCE).
    """
    fig = new_figure()
    ax = fig.add_subplot(1, 1, 1)
    ordered = sorted(points)
    xs, ys = [p[1] for p in ordered], [p[2] for p in ordered]
    ax.plot(xs, ys, marker="o", color="tab:blue")
    for strength, x, y in ordered:
        ax.annotate(f"{strength_label} {strength:g}", (x, y), textcoords="offset points", xytext=(5, 5), fontsize=8)
    ax.set_xlabel("I_NCE between the two views (nats)")
    ax.set_ylabel("STS-B dev Spearman x100")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    return save_figure(fig, path)
