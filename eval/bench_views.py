"""Every view family at its paper default beside dropout only: STS-B dev, I_NCE, and what a view costs.

Each setting fine-tunes all-MiniLM-L6-v2 on the local Wikipedia sentences with the quickstart
recipe (InfoNCE, batch 64, max length 32, lr 3e-5, seed 42: the settings of eval/losses.md) for
``--steps`` steps with only the views changed, then scores STS-B dev and measures I_NCE between
its own views on held-out STS-B dev batches (16 x 64) with the trained encoder, at the training
temperature 0.05 and at 0.5. The encoder's dropout acts in every setting.

Cost: one interleaved loop in one process (each round gives every setting the same 64 sentences:
collate with the views, forward + backward of the loss), so the ratios to dropout only are not
moved by the machine's speed drifting between settings. Results append to a JSONL file (a rerun
skips finished settings); the markdown table is rebuilt from it.

    python eval/bench_views.py --steps 200            # ~5 min a setting on 2 CPU cores
    python eval/bench_views.py --only dropout word_deletion
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import torch

from fmicl_text.data import load_training_data
from fmicl_text.evaluation.diagnostics import i_nce
from fmicl_text.evaluation.views_mi import mi_sentences
from fmicl_text.losses import build
from fmicl_text.modeling import build_model, load_model
from fmicl_text.recipe import apply_overrides, load_recipe
from fmicl_text.training import train
from fmicl_text.views.spec import ViewsConfig, format_list, views_from_dict

HERE = Path(__file__).resolve().parent
RECIPE = HERE.parent / "recipes" / "quickstart-minilm.yaml"
MI_TEMPERATURES = (0.05, 0.5)
MI_BATCHES = 16

# Setting -> views, each at its paper's default and on the side the paper augments.
SETTINGS: dict[str, dict] = {
    "dropout": {},  # SimCSE: the same sentence twice
    "word_deletion": {"b": [{"name": "word_deletion", "rate": 0.1}]},  # SimCSE Table 1: one side, 10 %
    "word_repetition": {"b": [{"name": "word_repetition", "rate": 0.32}]},  # ESimCSE: the positive, dup rate 0.32
    "span_mask": {"b": [{"name": "span_mask", "rate": 0.15, "mean_span": 3}]},  # choice: BERT's 15 %, spans of 3
    "token_shuffle": {"b": [{"name": "token_shuffle", "rate": 1.0}]},  # ConSERT: a full shuffle
    "token_cutoff": {"b": [{"name": "token_cutoff", "rate": 0.1}]},  # ConSERT-style token rows, 10 % (choice)
    "feature_cutoff": {"b": [{"name": "feature_cutoff", "rate": 0.2}]},  # ConSERT: 20 % of the columns
    # ConSERT's unsupervised pair: feature cutoff 0.2 on one view, shuffle on the other.
    "consert": {"a": [{"name": "feature_cutoff", "rate": 0.2}], "b": [{"name": "token_shuffle", "rate": 1.0}]},
    "no_dropout": {},  # SimCSE's ablation: dropout 0, no views: the two views are identical (RECIPE_CHANGES)
    "dropout_seed43": {},  # dropout only, another seed: how far seeds alone move STS-B dev
    "dropout_seed44": {},
}
# Settings that change the recipe beyond the views; the others run the recipe as it is.
RECIPE_CHANGES: dict[str, dict] = {
    "no_dropout": {"model.dropout": 0.0},
    "dropout_seed43": {"training.seed": 43},
    "dropout_seed44": {"training.seed": 44},
}


def views_of(name: str) -> ViewsConfig:
    return views_from_dict(SETTINGS[name])


def result_key(name: str, steps: int) -> str:
    """The setting's views as run, spelled out, the steps and any recipe change: changing a default reruns it."""
    return row_key(views_of(name).describe(), steps, RECIPE_CHANGES.get(name, {}))


def row_key(views: str, steps: int, changes: dict) -> str:
    return json.dumps([views, steps, changes] if changes else [views, steps], sort_keys=True)


def changes_of(row: dict) -> dict:
    """A result row's recipe changes (rows of the first runs recorded only a dropout)."""
    if "changes" in row:
        return row["changes"]
    return {} if row.get("dropout") is None else {"model.dropout": row["dropout"]}


def run_one(name: str, steps: int, data_dir: str | None) -> dict:
    views = views_of(name)
    work = Path(tempfile.mkdtemp(prefix="bench-views-"))
    overrides = {
        "name": f"views-{name}",
        "views.a": views.a,
        "views.b": views.b,
        "training.max_steps": steps,
        "training.output_dir": str(work / "run"),
        "training.logging_steps": max(1, steps // 10),
        "eval.eval_steps": steps,
        "eval.final_suite": None,
    }
    overrides.update(RECIPE_CHANGES.get(name, {}))
    if data_dir:
        overrides["data.data_dir"] = data_dir
    recipe = apply_overrides(load_recipe(RECIPE), overrides)
    started = time.time()
    result = train(recipe)
    log = json.loads((work / "run" / "training_log.json").read_text(encoding="utf-8"))
    last_eval = [row for row in log if "eval_diag_alignment" in row][-1]
    diagnostics = {key[len("eval_diag_") :]: last_eval[key] for key in last_eval if key.startswith("eval_diag_")}
    model = load_model(str(work / "run"))
    sentences = mi_sentences("stsb-dev", data_dir=data_dir)
    mi = {}
    for temperature in MI_TEMPERATURES:
        mean, std = i_nce(model, sentences, temperature=temperature, n_batches=MI_BATCHES, views=views)
        mi[f"{temperature:g}"] = {"mean": mean, "std": std}
    shutil.rmtree(work, ignore_errors=True)
    return {
        "setting": name,
        "views": views.describe(),
        "changes": RECIPE_CHANGES.get(name, {}),
        "max_steps": steps,
        "steps": result.steps,
        "stsb_dev": result.best_dev,
        "i_nce": mi,
        "i_nce_batches": MI_BATCHES,
        "diagnostics": diagnostics,
        "wall_seconds": round(time.time() - started, 1),
        "torch_threads": torch.get_num_threads(),
    }


def measure_costs(names: list[str], data_dir: str | None, rounds: int = 6, batch: int = 64) -> dict[str, dict]:
    """Interleaved: per round, every setting collates the same sentences and runs forward + backward."""
    from fmicl_text.views.collator import ViewsDataCollator

    names = [name for name in names if name not in RECIPE_CHANGES]  # the cost of views: one encoder throughout
    recipe = load_recipe(RECIPE)
    model = build_model(recipe.model)
    model.train()
    loss = build(recipe.loss.name, model, **recipe.loss.params)
    collators = {
        name: ViewsDataCollator(model, views_of(name), seed=0, max_length=recipe.data.max_seq_length) for name in names
    }
    lines = load_training_data("wiki", data_dir=data_dir, max_samples=batch * (rounds + 1))[0]["anchor"]
    costs: dict[str, dict[str, list[float]]] = {
        name: {"collate": [], "step": [], "tokens": [], "width": []} for name in names
    }
    for round_ in range(rounds + 1):  # round 0 warms up and is not counted
        texts = lines[round_ * batch : (round_ + 1) * batch]
        rows = [{"anchor": text, "positive": text} for text in texts]
        for name in names:
            collator = collators[name]
            start = time.perf_counter()
            collated = collator(rows)
            collate = time.perf_counter() - start
            features = [collator.view_features(collated, "anchor"), collator.view_features(collated, "positive")]
            sum(loss(features).values()).backward()
            model.zero_grad(set_to_none=True)
            step = time.perf_counter() - start
            if round_:
                tokens = sum(float(f["attention_mask"].sum()) for f in features) / (2 * len(rows))
                costs[name]["collate"].append(collate)
                costs[name]["step"].append(step)
                costs[name]["tokens"].append(tokens)
                costs[name]["width"].append(max(f["input_ids"].shape[1] for f in features))
    return {name: {key: statistics.median(values) for key, values in c.items()} for name, c in costs.items()}


def table_lines(rows: list[dict], costs: dict[str, dict]) -> list[str]:
    base = next((r["stsb_dev"] for r in rows if r["setting"] == "dropout"), None)
    base_step = costs.get("dropout", {}).get("step")
    t_low, t_high = (f"{t:g}" for t in MI_TEMPERATURES)
    lines = [
        f"| setting | view a | view b | STS-B dev | vs dropout | I_NCE (tau {t_low}) | I_NCE (tau {t_high}) "
        "| alignment | uniformity | step vs dropout | views (ms) | tokens a view | padded width |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        views = views_of(r["setting"])
        delta = f"{r['stsb_dev'] - base:+.2f}" if base is not None else ""
        mi = " | ".join(f"{r['i_nce'][t]['mean']:.3f} ± {r['i_nce'][t]['std']:.3f}" for t in (t_low, t_high))
        diag = r["diagnostics"]
        cost = costs.get(r["setting"])
        if cost and base_step:
            width = f"{cost['width']:.0f}" if "width" in cost else ""
            extra = f"{cost['step'] / base_step:.3f} | {1000 * cost['collate']:.1f} | {cost['tokens']:.1f} | {width}"
        else:
            extra = " |  |  | "
        lines.append(
            f"| {r['setting']} | {format_list(views.a)} | {format_list(views.b)} | {r['stsb_dev']:.2f} | {delta} "
            f"| {mi} | {diag['alignment']:.3f} | {diag['uniformity']:.3f} | {extra} |"
        )
    return lines


def write_table(rows: list[dict], costs: dict[str, dict], missing: list[str], path: Path) -> None:
    first = rows[0] if rows else {}
    log_n = math.log(64)
    lines = [
        "# Views on all-MiniLM-L6-v2 + local Wikipedia",
        "",
        f"Made by `python eval/bench_views.py --steps {first.get('max_steps', '?')}` (InfoNCE, batch 64, lr 3e-5, "
        f"max length 32, seed 42, the settings of eval/losses.md; CPU, {first.get('torch_threads', '?')} threads). "
        "Only the views differ; the encoder's dropout (0.1) acts in every row but `no_dropout` (SimCSE's "
        "ablation: dropout 0 and no views, so the two views are the same input); `dropout_seed43/44` rerun "
        "dropout only with other seeds, to show how far the seed alone moves a score. STS-B dev: Spearman x100 on the "
        "SentEval text after training. I_NCE = log N - InfoNCE between the setting's own two views on "
        f"{first.get('i_nce_batches', '?')} held-out STS-B dev batches of N = 64 (at most log 64 = {log_n:.3f}), "
        "with the trained encoder, mean ± std over batches. Alignment and uniformity: STS-B dev after training.",
        "",
        "Cost: medians over interleaved rounds in one process, each round giving every setting the same 64 "
        "sentences; `step vs dropout` is collate + forward + backward over the same for dropout only, "
        "`views (ms)` the collator's time with the views (tokenisation included), `tokens a view` the "
        "mean input length the encoder sees, `padded width` the batch's longest input (sentence-transformers "
        "pads both views of all 64 rows to it and encodes them in one pass).",
        "",
    ]
    if missing:
        lines += [f"**Not run yet:** {', '.join(missing)}.", ""]
    lines += table_lines(rows, costs)
    seeds = [r["stsb_dev"] for r in rows if r["setting"] == "dropout" or r["setting"].startswith("dropout_seed")]
    if len(seeds) > 1:
        lines += [
            "",
            f"Seed noise: dropout only over {len(seeds)} seeds spans {min(seeds):.2f}-{max(seeds):.2f} on STS-B dev "
            f"(spread {max(seeds) - min(seeds):.2f}); each view row is one seed (42), so a difference to dropout "
            "smaller than that spread is within noise.",
        ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--only", nargs="*", help="setting names (default: all)")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--results", default=str(HERE / "results" / "views.jsonl"))
    parser.add_argument("--costs", default=str(HERE / "results" / "views-costs.json"))
    parser.add_argument("--table", default=str(HERE / "views.md"))
    parser.add_argument("--rounds", type=int, default=6, help="interleaved cost rounds")
    parser.add_argument("--remeasure-costs", action="store_true", help="measure the costs again")
    args = parser.parse_args()

    results = Path(args.results)
    results.parent.mkdir(parents=True, exist_ok=True)
    done: dict[str, dict] = {}
    if results.exists():
        for line in results.read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            done[row_key(row["views"], row["max_steps"], changes_of(row))] = row
    costs_path = Path(args.costs)
    if args.remeasure_costs or not costs_path.exists():
        costs = measure_costs(list(SETTINGS), args.data_dir, rounds=args.rounds)
        costs_path.write_text(json.dumps(costs, indent=2), encoding="utf-8")
        print(json.dumps(costs), flush=True)
    costs = json.loads(costs_path.read_text(encoding="utf-8"))
    for name in SETTINGS:
        if (args.only and name not in args.only) or result_key(name, args.steps) in done:
            continue
        row = run_one(name, args.steps, args.data_dir)
        print(json.dumps(row), flush=True)
        done[result_key(name, args.steps)] = row
        with results.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(row) + "\n")
        rows = [done[result_key(n, args.steps)] for n in SETTINGS if result_key(n, args.steps) in done]
        missing = [n for n in SETTINGS if result_key(n, args.steps) not in done]
        write_table(rows, costs, missing, Path(args.table))
    rows = [done[result_key(n, args.steps)] for n in SETTINGS if result_key(n, args.steps) in done]
    write_table(rows, costs, [n for n in SETTINGS if result_key(n, args.steps) not in done], Path(args.table))


if __name__ == "__main__":
    main()
