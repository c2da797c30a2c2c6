"""``fmicl-text views sweep``: short trainings over a list of strengths for one view family.

Each point trains the same recipe with only the view changed, is scored on STS-B dev (the best
checkpoint's, as in training; test sets are never used here) and by I_NCE between its views on
held-out STS-B dev batches with the trained encoder, and is appended to ``points.jsonl``; the
markdown table and the InfoMin plot (STS-B dev against I_NCE) are rebuilt after every point.
A rerun skips the finished points, so a stopped sweep resumes where it was. Points run one after
another in this process.
"""

from __future__ import annotations

import logging
import math
import time
from pathlib import Path
from typing import Any

from fmicl_text.errors import FmiclError, did_you_mean
from fmicl_text.layout import I_NCE_TEMPERATURE
from fmicl_text.training.records import append_record, continue_or_restart, read_records, recipe_key

logger = logging.getLogger(__name__)

POINTS_FILE = "points.jsonl"
TABLE_FILE = "sweep.md"
PLOT_FILE = "infomin.png"
SIDES = {"both": ("a", "b"), "a": ("a",), "b": ("b",)}
SHARED_BITS = "shared_bits"  # swept like a view: --view shared_bits --rates 0,1,2,4


def point_recipe(recipe, view: str, param: str, value: float, side: str, out: Path):
    """The recipe of one point: the swept view on the chosen side(s), dev only, its own folder."""
    from fmicl_text.recipe import apply_overrides
    from fmicl_text.views.spec import FAMILIES

    if view == SHARED_BITS:  # feature suppression: the strength is the number of shared tokens k
        if value != int(value):
            raise FmiclError(f"shared_bits takes whole numbers of tokens, got {value:g}", fix="e.g. --rates 0,1,2,4")
        overrides: dict[str, Any] = {"views.shared_bits": int(value)}
    elif view not in FAMILIES:
        raise FmiclError(f"unknown view {view!r}", fix=did_you_mean(view, [*FAMILIES, SHARED_BITS]))
    elif param not in FAMILIES[view]:
        raise FmiclError(f"view {view!r} has no parameter {param!r}", fix=did_you_mean(param, FAMILIES[view]))
    else:
        overrides = {f"views.{s}": [{"name": view, param: value}] for s in SIDES[side]}
    overrides.update(
        {
            "training.output_dir": str(out / "points" / f"{view}-{param}{value:g}-{side}"),
            "training.overwrite": True,  # a point's folder is the sweep's own: a stale one is replaced
            "eval.final_suite": None,
        }
    )
    return apply_overrides(recipe, overrides)


def table_lines(rows: list[dict[str, Any]], title: str) -> list[str]:
    lines = [
        f"# {title}",
        "",
        "| strength | STS-B dev | I_NCE | I_NCE std | steps | seconds |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    for row in sorted(rows, key=lambda r: r["value"]):
        lines.append(
            f"| {row['value']:g} | {row['stsb_dev']:.2f} | {row['i_nce']:.4f} | {row['i_nce_std']:.4f} "
            f"| {row['steps']} | {row['seconds']:.0f} |"
        )
    if rows:
        first = rows[0]
        lines += [
            "",
            f"I_NCE = log N - InfoNCE between the two views on held-out STS-B dev batches of {first['i_nce_n']} "
            f"(at most {math.log(first['i_nce_n']):.3f}), temperature {first['i_nce_temperature']:g}, "
            "measured with each point's trained encoder. STS-B dev: the best checkpoint's Spearman x100.",
        ]
    return lines


def run_point(recipe, *, mi_temperature: float, mi_batches: int) -> dict[str, Any]:
    from fmicl_text.evaluation.diagnostics import i_nce
    from fmicl_text.evaluation.views_mi import mi_sentences
    from fmicl_text.modeling import load_model
    from fmicl_text.training.trainer import train

    start = time.time()
    recipe, resume = continue_or_restart(recipe)
    result = train(recipe, resume=resume)
    if result.best_dev is None:
        raise FmiclError("a sweep point needs a dev score", fix="keep eval.dev (stsb-dev) in the recipe")
    model = load_model(str(result.output_dir))
    sentences = mi_sentences("stsb-dev", data_dir=recipe.data.data_dir)
    n = min(64, len(sentences))
    mean, std = i_nce(
        model, sentences, batch_size=n, temperature=mi_temperature, n_batches=mi_batches, views=recipe.views
    )
    return {
        "stsb_dev": result.best_dev,
        "best_step": result.best_step,
        "steps": result.steps,
        "i_nce": mean,
        "i_nce_std": std,
        "i_nce_n": n,
        "i_nce_temperature": mi_temperature,
        "seconds": time.time() - start,
    }


def sweep(
    recipe,
    *,
    view: str,
    values: list[float],
    output_dir: str | Path,
    param: str = "rate",
    side: str = "both",
    mi_temperature: float = I_NCE_TEMPERATURE,
    mi_batches: int = 16,
) -> list[dict[str, Any]]:
    """Run the missing points of a sweep, then write the table and the plot; returns every point's row."""
    from fmicl_text.reporting.plots import plot_infomin

    out = Path(output_dir)
    if side not in SIDES:
        raise FmiclError(f"unknown side {side!r}", fix=did_you_mean(side, SIDES))
    recipes = [point_recipe(recipe, view, param, value, side, out) for value in values]  # all checked first
    points_path = out / POINTS_FILE
    done = {row["key"]: row for row in read_records(points_path)}
    label = "k" if view == SHARED_BITS else param
    where = "both views" if side == "both" or view == SHARED_BITS else f"view {side}"
    title = f"View sweep: {view} {label} on {where}"
    rows = []
    for value, point in zip(values, recipes, strict=True):
        key = recipe_key(point)
        if key not in done:
            logger.info("sweep point %s %s=%g (%s)", view, label, value, where)
            row = {"key": key, "view": view, "param": param, "value": value, "side": side}
            row.update(run_point(point, mi_temperature=mi_temperature, mi_batches=mi_batches))
            append_record(points_path, row)
            done[key] = row
        rows.append(done[key])
        (out / TABLE_FILE).write_text("\n".join(table_lines(rows, title)) + "\n", encoding="utf-8")
        plot_infomin([(r["value"], r["i_nce"], r["stsb_dev"]) for r in rows], out / PLOT_FILE, strength_label=label)
    return rows
