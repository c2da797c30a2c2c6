"""``fmicl-text views sweep``: short trainings over a list of strengths for one view family.

Each point trains the same recipe with only the view changed, is scored on STS-B dev (the best
checkpoint's, as in training; test sets are never used here) and by I_NCE between its views on
held-out STS-B dev batches with the trained encoder, and is appended to ``points.jsonl``; the
markdown table and the InfoMin plot (STS-B dev against I_NCE) are rebuilt after every point.
A rerun skips the finished points, so a stopped sweep resumes where it was. Points run one after
another in this process. With several seeds each strength trains once per seed (the recipe's own seed
first, so a one-seed sweep's points count), and the table gives mean ± sd over them.
"""

from __future__ import annotations

import json
import logging
import math
import time
from pathlib import Path
from statistics import fmean
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


def point_recipe(recipe, view: str, param: str, value: float, side: str, out: Path, seed: int | None = None):
    """The recipe of one point: the swept view on the chosen side(s), dev only, its own folder; ``seed``
    replaces the recipe's (a point of another seed gets its own folder too)."""
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
    folder = f"{view}-{param}{value:g}-{side}" + ("" if seed in (None, recipe.training.seed) else f"-seed{seed}")
    if seed is not None:
        overrides["training.seed"] = seed
    overrides.update(
        {
            "training.output_dir": str(out / "points" / folder),
            "training.overwrite": True,  # a point's folder is the sweep's own: a stale one is replaced
            "eval.final_suite": None,
        }
    )
    return apply_overrides(recipe, overrides)


def by_strength(rows: list[dict[str, Any]]) -> dict[float, list[dict[str, Any]]]:
    """A sweep's point rows grouped by strength (its seeds), strengths in order."""
    grouped: dict[float, list[dict[str, Any]]] = {}
    for row in sorted(rows, key=lambda r: r["value"]):
        grouped.setdefault(row["value"], []).append(row)
    return grouped


def read_points(folder: Path) -> dict[float, list[dict[str, Any]]]:
    """A sweep folder's ``points.jsonl`` by strength, one row a seed (each with its ``seed``; a line from before
    sweeps kept it: its recipe's, from its key). The last line of a strength and seed wins: a sweep rerun after
    its recipe changed appends the new point."""
    latest: dict[tuple[float, int], dict[str, Any]] = {}
    for row in read_records(folder / POINTS_FILE):
        seed = row["seed"] if "seed" in row else json.loads(row["key"])["training"]["seed"]
        latest[(float(row["value"]), seed)] = {**row, "seed": seed}
    return by_strength(list(latest.values()))


def table_lines(rows: list[dict[str, Any]], title: str) -> list[str]:
    """One line per strength: STS-B dev and I_NCE, mean ± sd over its seeds when it has several."""
    from fmicl_text.reporting.compare import mean_sd, mean_sd_cell

    by_value = by_strength(rows)

    def cell(runs: list[dict[str, Any]], key: str, digits: int) -> str:
        return mean_sd_cell(*mean_sd([r[key] for r in runs]), digits=digits)

    lines = [
        f"# {title}",
        "",
        "| strength | seeds | STS-B dev | I_NCE | I_NCE std | steps | seconds |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for value, runs in by_value.items():
        lines.append(
            f"| {value:g} | {len(runs)} | {cell(runs, 'stsb_dev', 2)} | {cell(runs, 'i_nce', 4)} "
            f"| {max(r['i_nce_std'] for r in runs):.4f} | {runs[0]['steps']} "
            f"| {sum(r['seconds'] for r in runs) / len(runs):.0f} |"
        )
    if rows:
        first = rows[0]
        lines += [
            "",
            f"I_NCE = log N - InfoNCE between the two views on held-out STS-B dev batches of {first['i_nce_n']} "
            f"(at most {math.log(first['i_nce_n']):.3f}), temperature {first['i_nce_temperature']:g}, "
            "measured with each point's trained encoder; I_NCE std: its spread over those batches (the largest "
            "of a strength's seeds). STS-B dev: the best checkpoint's Spearman x100. Seconds: a run's mean.",
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
    seeds: list[int] | None = None,
) -> list[dict[str, Any]]:
    """Run the missing points of a sweep, then write the table and the plot; returns every point's row (one
    per strength and seed, with its ``seed``). ``seeds``: default the recipe's own."""
    from fmicl_text.reporting.plots import plot_infomin

    out = Path(output_dir)
    if side not in SIDES:
        raise FmiclError(f"unknown side {side!r}", fix=did_you_mean(side, SIDES))
    own = recipe.training.seed
    seeds = [own] if not seeds else sorted(dict.fromkeys(seeds), key=lambda s: s != own)  # own first, else as given
    # all checked before any training; every strength once before a second seed
    recipes = [(value, seed, point_recipe(recipe, view, param, value, side, out, seed))
               for seed in seeds for value in values]  # fmt: skip
    points_path = out / POINTS_FILE
    done = {row["key"]: row for row in read_records(points_path)}
    label = "k" if view == SHARED_BITS else param
    where = "both views" if side == "both" or view == SHARED_BITS else f"view {side}"
    title = f"View sweep: {view} {label} on {where}"
    rows = []
    for value, seed, point in recipes:
        key = recipe_key(point)
        if key not in done:
            logger.info("sweep point %s %s=%g (%s), seed %d", view, label, value, where, seed)
            row = {"key": key, "view": view, "param": param, "value": value, "side": side, "seed": seed}
            row.update(run_point(point, mi_temperature=mi_temperature, mi_batches=mi_batches))
            append_record(points_path, row)
            done[key] = row
        rows.append({**done[key], "seed": seed})  # a line from before seeds were kept: the recipe's seed
        (out / TABLE_FILE).write_text("\n".join(table_lines(rows, title)) + "\n", encoding="utf-8")
        points = [(v, fmean(r["i_nce"] for r in rs), fmean(r["stsb_dev"] for r in rs))
                  for v, rs in by_strength(rows).items()]  # fmt: skip
        plot_infomin(points, out / PLOT_FILE, strength_label=label)
    return rows
