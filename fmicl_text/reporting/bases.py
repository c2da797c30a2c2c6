"""``eval/bases.md`` and each base's curve: what :func:`fmicl_text.training.bases.base_info` gathered
(the probes along the MLM pre-training and the gate's verdict), as a markdown table and a plot."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fmicl_text.reporting.plots import new_figure, save_figure


def _geometry(row: dict[str, Any]) -> str:
    if row.get("alignment") is None:
        return "- | -"  # probes written before the geometry was recorded
    return f"{row['alignment']:.3f} | {row['uniformity']:.3f}"


def report_lines(bases: dict[str, dict[str, Any]], *, gate_lift: float) -> list[str]:
    """The bases' section of ``eval/bases.md``: per base, its gate verdict and its curve of probes."""
    lines = [
        "# Bases",
        "",
        f"A base is fit for comparing losses if unsupervised SimCSE lifts its STS-B dev (Spearman x100, "
        f"mean pooling) by at least {gate_lift:g} points within the gate's budget. Made by "
        "`make base-mlm-small` (`fmicl-text base build ... --report eval/bases.md`, resumable); dev sets only. "
        "Alignment and uniformity (Wang & Isola; lower is better for both) are the base's own, on the STS-B dev "
        "sentences, mean pooling.",
        "",
    ]
    for name, info in bases.items():
        lines += [f"## {name}", "", info.get("about", ""), ""]
        if info.get("status"):
            lines += [f"Status: {info['status']}.", ""]
        gate = info.get("gate")
        if gate:
            verdict = "**passes**" if gate["passed"] else "**fails**"
            lines += [
                f"Gate ({gate['budget']}): STS-B dev {gate['stsb_dev_mean']:.2f} (CLS {gate['stsb_dev_cls']:.2f}) -> "
                f"{gate['after']:.2f}, lift {gate['lift']:+.2f}: {verdict} (needs +{gate['needed']:g}).",
                "",
            ]
            if len(gate.get("tried", [])) > 1:
                tried = "; ".join(
                    f"lr {t['learning_rate']:g}: {t['after']:.2f} ({t['lift']:+.2f})" for t in gate["tried"]
                )
                lines += [f"Learning rates tried (the best after it on dev counts): {tried}.", ""]
        build = build_time(info)
        if build:
            lines += [build, ""]
        probes = info.get("probes") or []
        if probes:
            lines += [
                f"Probes along the pre-training ({info.get('probe_budget', '')}):",
                "",
                "| MLM step | MLM loss | STS-B dev (mean) | STS-B dev (CLS) | alignment | uniformity | after SimCSE "
                "| lift | probe s |",
                "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
            ]
            for row in sorted(probes, key=lambda r: r["step"]):
                loss = "-" if row.get("mlm_loss") is None else f"{row['mlm_loss']:.3f}"
                lines.append(
                    f"| {row['step']} | {loss} | {row['stsb_dev_mean']:.2f} | {row['stsb_dev_cls']:.2f} | "
                    f"{_geometry(row)} | {row['after']:.2f} | {row['lift']:+.2f} | {row['probe_seconds']:.0f} |"
                )
            lines.append("")
    return lines


def build_time(info: dict[str, Any]) -> str | None:
    """One sentence: the MLM training's steps and hours over its sittings, and the probes' and gate's minutes."""
    sittings = info.get("sittings") or []
    if not sittings:
        return None
    steps = sum(max(0, s["to_step"] - s["from_step"]) for s in sittings)
    seconds = sum(s["seconds"] for s in sittings)
    probes = sum(r.get("probe_seconds", 0.0) for r in info.get("probes") or [])
    text = (
        f"Build time: {steps:,} MLM steps in {seconds / 3600:.1f} h of training over {len(sittings)} sitting(s) "
        f"({seconds / max(steps, 1):.2f} s a step, the CPU shared or not as it was), {probes / 60:.0f} min of probes"
    )
    gate = info.get("gate") or {}
    if gate.get("probe_seconds") is not None:
        text += f", the gate's best try {gate['probe_seconds'] / 60:.0f} min"
    return text + "."


def plot_curve(probes: list[dict[str, Any]], path: str | Path, title: str) -> Path:
    """STS-B dev of the base and after its SimCSE probe, against MLM steps."""
    rows = sorted(probes, key=lambda r: r["step"])
    steps = [r["step"] for r in rows]
    fig = new_figure(6.0, 4.0)
    ax = fig.add_subplot()
    ax.plot(steps, [r["stsb_dev_mean"] for r in rows], marker="o", label="base (mean pooling)")
    ax.plot(steps, [r["after"] for r in rows], marker="s", label="after the SimCSE probe")
    ax.set_xlabel("MLM steps")
    ax.set_ylabel("STS-B dev (Spearman x100)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    return save_figure(fig, path)
