"""Every loss of the registry, a short real run each: STS-B dev and the loss's share of a step.

Each setting fine-tunes all-MiniLM-L6-v2 on the local Wikipedia sentences from the quickstart
recipe (batch 64, max length 32, lr 3e-5) for ``--steps`` steps, then scores STS-B dev. The
loss's own compute time is its forward + backward on a pair of embedding matrices of the
training shape (median of repeats, same process), divided by the median training step time
measured in the same run. Results append to a JSONL file (a rerun skips finished settings) and
the markdown table is rebuilt from it.

    python eval/bench_losses.py --steps 200            # all settings (~5 min each on 2 CPU cores)
    python eval/bench_losses.py --only infonce fmicl-js-gaussian
    python eval/bench_losses.py --sweep sigma gcl-lam gcl-sw-lam fgaussian-tuned  # + sections below the table

A result is keyed by the loss's full configuration as run and the steps, so changing a setting's parameters reruns it
and a sweep point equal to a table row is run once.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from transformers import TrainerCallback

from fmicl_text.losses import build
from fmicl_text.losses.divergences import NAMES as DIVERGENCES
from fmicl_text.losses.functional import PRIORS, SIMILARITIES
from fmicl_text.recipe import apply_overrides, load_recipe
from fmicl_text.training import train

HERE = Path(__file__).resolve().parent
RECIPE = HERE.parent / "recipes" / "quickstart-minilm.yaml"


DIM = 384  # all-MiniLM-L6-v2's embedding size
SIGMA = 2.0  # the f-Gaussian critic's sigma in the main table: chosen by the sweep below


@dataclass(frozen=True)
class Sweep:
    """One loss parameter varied, the others fixed (one or more fixed sets): a section below the table."""

    title: str
    why: str
    loss: str
    fixed: tuple[dict, ...]
    param: str
    values: tuple[float, ...]

    def settings(self) -> dict[str, tuple[str, dict]]:
        out = {}
        for fixed in self.fixed:
            prefix = "-".join([self.loss, *map(str, fixed.values())])
            out.update({f"{prefix}-{self.param}{v:g}": (self.loss, {**fixed, self.param: v}) for v in self.values})
        return out


KL_G = {"divergence": "kl", "similarity": "gaussian"}
BATCH = {"sigma": 0.32, "alpha": 0.609, "alpha_from_batch": True}  # fmicl-kl-gaussian-batch's best, eval/fgaussian.md
T_BATCH = round(1.0 / (2.0 * BATCH["sigma"] ** 2), 3)  # its kernel as AU's exp(-t d)


@dataclass(frozen=True)
class Points:
    """Named settings chosen elsewhere (by a sweep on dev), run at this table's budget: a section below it."""

    title: str
    why: str
    points: tuple[tuple[str, str, dict], ...]  # (setting name, registry name, parameters)

    def settings(self) -> dict[str, tuple[str, dict]]:
        return {name: (loss, params) for name, loss, params in self.points}


SWEEPS: dict[str, Sweep | Points] = {
    "sigma": Sweep(
        "The f-Gaussian critic's sigma",
        "Spec 2b: sigma is chosen on STS-B dev. G = exp(-d / (2 sigma^2)) with d the squared distance of "
        "unit vectors; t = 1 / (2 sigma^2) = 2, 0.5, 0.125, 0.03125.",
        "fmicl",
        ({"divergence": "kl", "similarity": "gaussian"},),
        "sigma",
        (0.5, 1.0, 2.0, 4.0),
    ),
    "fgaussian-tuned": Points(
        "The f-Gaussian critic tuned (eval/fgaussian.md)",
        "The best (sigma, alpha) of the joint sweep in eval/fgaussian.md (6 trials, 100 steps, STS-B dev), "
        "run at this table's budget, beside KL's tuned cosine critic and AU at KL's kernel. With the paper's "
        "constant alpha, KL + f-Gaussian; with alpha_from_batch (alpha / the batch's mean kernel), KL, whose "
        "(sigma, alpha) it was tuned on, and the other divergences at KL's values, untuned (Tsallis 2 under "
        "this critic differs from Pearson by a constant).",
        (
            ("fmicl-kl-gaussian-tuned", "fmicl", {**KL_G, "sigma": 1.48, "alpha": 57.1}),
            (
                "fmicl-kl-cosine-tuned",
                "fmicl",
                {"divergence": "kl", "similarity": "cosine", "temperature": 0.0139, "alpha": 3.71},
            ),
            *(
                (f"fmicl-{d}-gaussian-batch", "fmicl", {**KL_G, "divergence": d, **BATCH})
                for d in ("kl", "js", "pearson", "squared_hellinger", "vlc")
            ),
            # KL + f-Gaussian with alpha from the batch is t * alignment + alpha * log mean G (t = 1 / (2 sigma^2)),
            # i.e. t * (AU with lam = alpha / t), up to AU's within-view pairs for the cross-view ones
            ("au-as-kl-gaussian-batch", "au", {"t": T_BATCH, "lam": round(BATCH["alpha"] / T_BATCH, 3)}),
        ),
    ),
    "gcl-lam": Sweep(
        "The logsumexp prior's weight",
        "The alignment term pulls a positive pair together with weight 1 (it is 1 - cos), the prior term pushes "
        "it apart with lam / temperature times its softmax weight; lam = temperature makes the loss "
        "1 + temperature * InfoNCE.",
        "gcl",
        ({"prior": "logsumexp"},),
        "lam",
        (0.1, 1.0),
    ),
    "gcl-sw-lam": Sweep(
        "The sliced-Wasserstein prior's weight",
        f"On unit vectors in d = {DIM} dimensions a projection has spread 1 / sqrt(d), so the sliced-Wasserstein "
        "term is of order 1 / d while the alignment is of order 1. The reference code (Chen et al.) averages "
        "the alignment over the d coordinates as well: lam = d gives its balance, for every prior.",
        "gcl",
        ({"prior": "hypersphere"}, {"prior": "normal"}, {"prior": "hypercube"}),
        "lam",
        (1.0, float(DIM)),
    ),
}


def settings() -> dict[str, tuple[str, dict]]:
    """Setting name -> (registry name, loss parameters): every loss, divergence, critic and prior."""
    out: dict[str, tuple[str, dict]] = {"infonce": ("infonce", {})}
    for divergence in DIVERGENCES:
        for similarity in SIMILARITIES:
            params = {"divergence": divergence, "similarity": similarity}
            if similarity == "gaussian":
                params["sigma"] = SIGMA
            out[f"fmicl-{divergence}-{similarity}"] = ("fmicl", params)
    out["au"] = ("au", {})
    for prior in PRIORS:  # lam from the sweeps below: the spec's lam = 1 fails every prior here
        out[f"gcl-{prior}"] = ("gcl", {"prior": prior, "lam": 0.1 if prior == "logsumexp" else float(DIM)})
    out["dhel"] = ("dhel", {})
    out["kcl"] = ("kcl", {})
    return out


def loss_config(loss_name: str, params: dict) -> dict:
    """The loss's full configuration, defaults spelled out."""
    return build(loss_name, torch.nn.Identity(), **params).get_config_dict()


def result_key(loss_name: str, config: dict, steps: int) -> str:
    """Equal configurations and steps, equal keys."""
    return json.dumps([loss_name, config, steps], sort_keys=True, default=str)


class StepTimer(TrainerCallback):
    def __init__(self) -> None:
        self.durations: list[float] = []
        self._start = 0.0

    def on_step_begin(self, args, state, control, **kwargs):
        self._start = time.perf_counter()

    def on_step_end(self, args, state, control, **kwargs):
        self.durations.append(time.perf_counter() - self._start)


def loss_seconds(loss, n: int, dim: int, repeats: int = 50) -> float:
    """Median forward + backward time of the loss's objective on N x dim embeddings."""
    g = torch.Generator().manual_seed(0)
    times = []
    for _ in range(repeats):
        u = torch.randn(n, dim, generator=g, requires_grad=True)
        v = torch.randn(n, dim, generator=g, requires_grad=True)
        start = time.perf_counter()
        sum(loss.objective(u, v).values()).backward()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def run_one(name: str, loss_name: str, params: dict, steps: int, data_dir: str | None) -> dict:
    work = Path(tempfile.mkdtemp(prefix="bench-"))
    overrides = {
        "name": name,
        "loss.name": loss_name,
        **{f"loss.{k}": v for k, v in params.items()},
        "training.max_steps": steps,
        "training.output_dir": str(work / "run"),
        "training.logging_steps": max(1, steps // 10),
        "eval.eval_steps": steps,
        "eval.final_suite": None,
    }
    if data_dir:
        overrides["data.data_dir"] = data_dir
    recipe = apply_overrides(load_recipe(RECIPE), overrides)
    timer = StepTimer()
    started = time.time()
    diagnostics: dict[str, float] = {}
    try:
        result = train(recipe, callbacks=[timer])
        dev, error = result.best_dev, None
        log = json.loads((work / "run" / "training_log.json").read_text(encoding="utf-8"))
        last_eval = [row for row in log if "eval_diag_alignment" in row][-1]
        diagnostics = {key[len("eval_diag_") :]: last_eval[key] for key in last_eval if key.startswith("eval_diag_")}
    except Exception as exc:  # a loss that diverges is a result too
        dev, error = None, f"{type(exc).__name__}: {str(exc).splitlines()[0]}"
    step = statistics.median(timer.durations) if timer.durations else float("nan")
    batch = recipe.training.batch_size
    loss = build(loss_name, torch.nn.Identity(), **params)
    seconds = loss_seconds(loss, batch, DIM)
    shutil.rmtree(work, ignore_errors=True)
    return {
        "setting": name,
        "loss": loss_name,
        "params": params,
        "config": loss_config(loss_name, params),  # as run: later default changes do not re-key it
        "max_steps": steps,
        "steps": len(timer.durations),
        "batch_size": batch,
        "stsb_dev": dev,
        "diagnostics": diagnostics,
        "error": error,
        "step_seconds": step,
        "loss_seconds": seconds,
        "loss_share": seconds / step if step == step else None,
        "wall_seconds": round(time.time() - started, 1),
        "torch_threads": torch.get_num_threads(),
    }


def table_lines(rows: list[dict], base_dev: float | None) -> list[str]:
    lines = [
        "| setting | parameters | STS-B dev | vs base | alignment | uniformity | step (s) | loss (ms) | loss share |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        params = ", ".join(f"{k}={v}" for k, v in r["params"].items()) or "defaults"
        if r["stsb_dev"] is None:
            dev, delta = f"failed: {r['error']}", ""
        else:
            dev, delta = f"{r['stsb_dev']:.2f}", f"{r['stsb_dev'] - base_dev:+.2f}" if base_dev else ""
        diag = r.get("diagnostics") or {}
        au = " | ".join(f"{diag[k]:.3f}" if k in diag else "" for k in ("alignment", "uniformity"))
        lines.append(
            f"| {r['setting']} | {params} | {dev} | {delta} | {au} | {r['step_seconds']:.2f} | "
            f"{1000 * r['loss_seconds']:.2f} | {100 * r['loss_share']:.2f}% |"
        )
    return lines


def write_table(
    rows: list[dict], missing: list[str], sweeps: dict[str, list[dict]], base_dev: float | None, path: Path
) -> None:
    first = rows[0] if rows else {}
    lines = [
        "# Loss family on all-MiniLM-L6-v2 + local Wikipedia",
        "",
        f"Made by `python eval/bench_losses.py` ({first.get('max_steps', first.get('steps', '?'))} steps, "
        f"batch {first.get('batch_size', '?')}, lr 3e-5, max length 32, seed 42; CPU, "
        f"{first.get('torch_threads', '?')} threads). STS-B dev: Spearman x100 on the SentEval text after "
        f"training (the base model scores {base_dev:.2f}); alignment and uniformity on STS-B dev at the "
        f"last step. Loss share: the loss's forward + backward on two {first.get('batch_size', '?')} x {DIM} "
        "matrices over the median "
        "training step, both measured in the same run (a ratio; absolute times vary with the machine's load).",
        "",
    ]
    if missing:
        lines += [f"**Not run yet:** {', '.join(missing)}.", ""]
    lines += table_lines(rows, base_dev)
    lines += [
        "",
        "Under the f-Gaussian critic, Tsallis (alpha 2) and Pearson give the same loss: their generators "
        "differ by u - 1, which shifts the critic f'(G) and the Fenchel-Young term G f'(G) - f(G) by the "
        "same constant 1, so with the negative weight alpha = 1 the two losses differ by a constant.",
        "",
        "The f-Gaussian sigma and the generalised loss's lam come from the sweeps below; every other "
        "parameter is the library default.",
    ]
    for name, sweep_rows in sweeps.items():
        if sweep_rows:
            sweep = SWEEPS[name]
            lines += ["", f"## {sweep.title}", "", f"`--sweep {name}`. {sweep.why}", ""]
            lines += table_lines(sweep_rows, base_dev)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def base_dev_score(data_dir: str | None) -> float:
    from sentence_transformers import SentenceTransformer

    from fmicl_text.evaluation.sts import evaluate_sts
    from fmicl_text.modeling import resolve_model_path

    model = SentenceTransformer(resolve_model_path("sentence-transformers/all-MiniLM-L6-v2"))
    return evaluate_sts(model, suite="stsb-dev", data_dir=data_dir, show_progress=False).scores["stsb_dev"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--only", nargs="*", help="setting names (default: all)")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--results", default=str(HERE / "results" / "losses.jsonl"))
    parser.add_argument("--table", default=str(HERE / "losses.md"))
    parser.add_argument("--sweep", nargs="*", default=[], choices=sorted(SWEEPS), help="also run these sweeps")
    args = parser.parse_args()

    results = Path(args.results)
    results.parent.mkdir(parents=True, exist_ok=True)
    done: dict[str, dict] = {}
    if results.exists():
        for line in results.read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            if row.get("setting") == "_base":
                done["_base"] = row
            else:
                config = row.get("config") or loss_config(row["loss"], row["params"])
                done[result_key(row["loss"], config, row.get("max_steps", row["steps"]))] = row
    if "_base" not in done:
        done["_base"] = {"setting": "_base", "stsb_dev": base_dev_score(args.data_dir)}
        with results.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(done["_base"]) + "\n")
    table = settings()
    todo = dict(table)
    for name in args.sweep:
        todo.update(SWEEPS[name].settings())
    for name, (loss_name, params) in todo.items():
        key = result_key(loss_name, loss_config(loss_name, params), args.steps)
        if (args.only and name not in args.only) or key in done:
            continue
        row = run_one(name, loss_name, params, args.steps, args.data_dir)
        print(json.dumps(row), flush=True)
        done[key] = row
        with results.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(row) + "\n")

    def rows_of(group: dict[str, tuple[str, dict]]) -> list[dict]:
        out = []
        for name, (loss_name, params) in group.items():
            row = done.get(result_key(loss_name, loss_config(loss_name, params), args.steps))
            if row is not None:
                out.append({**row, "setting": name, "params": params})
        return out

    missing = [
        name for name, (loss, p) in table.items() if result_key(loss, loss_config(loss, p), args.steps) not in done
    ]
    write_table(
        rows_of(table),
        missing,
        {name: rows_of(sweep.settings()) for name, sweep in SWEEPS.items()},
        done["_base"]["stsb_dev"],
        Path(args.table),
    )


if __name__ == "__main__":
    main()
