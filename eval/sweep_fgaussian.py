"""The f-Gaussian question: does the f-Gaussian critic trail the cosine critic once both are tuned?

For every divergence, ``fmicl-text sweep``'s search (Optuna TPE, median pruning, STS-B dev only)
tunes each critic with the same number of trials and the same training budget: the f-Gaussian
critic over (sigma, alpha), the cosine critic over (temperature, alpha), jointly, on log scales.
The studies advance in rounds (one more trial for every study per round), so a stopped run leaves
them balanced; a rerun resumes from ``study.db`` and never reruns a finished trial.

    python eval/sweep_fgaussian.py --trials 8              # all-MiniLM-L6-v2 (the quickstart recipe)
    python eval/sweep_fgaussian.py --trials 8 --model base:mlm-small --name mlm-small

Writes ``eval/fgaussian/<name>/<divergence>-<critic>/trials.md`` (+ best recipe, plot), the base's
section ``eval/fgaussian/<name>.md`` and ``eval/fgaussian.md`` (every base's section).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from fmicl_text.losses.divergences import NAMES as DIVERGENCES
from fmicl_text.recipe import apply_overrides, load_recipe
from fmicl_text.training.search import Dimension, sweep

HERE = Path(__file__).resolve().parent
RECIPE = HERE.parent / "recipes" / "quickstart-minilm.yaml"
INTRO = """# The f-Gaussian question

Does the f-Gaussian critic of f-MICL trail the cosine critic once both are tuned with the same
effort? Made by `python eval/sweep_fgaussian.py` (resumable); dev only (STS-B dev), never a test set.
"""
ALPHA = Dimension("loss.alpha", "float", 0.1, 1000.0, log=True)
SPACES = {
    "gaussian": [Dimension("loss.sigma", "float", 0.25, 8.0, log=True), ALPHA],
    "cosine": [Dimension("loss.temperature", "float", 0.01, 1.0, log=True), ALPHA],
}


def study_recipe(model: str, divergence: str, critic: str, steps: int, out: Path):
    return apply_overrides(
        load_recipe(RECIPE),
        {
            "model.name_or_path": model,
            "loss.name": "fmicl",
            "loss.divergence": divergence,
            "loss.similarity": critic,
            "training.max_steps": steps,
            "training.output_dir": str(out),
            "eval.eval_steps": max(1, steps // 4),  # four dev scores a trial: what the pruner compares
            "eval.final_suite": None,
            "eval.diagnostics": False,
        },
    )


def summary(name: str, model: str, steps: int, studies: dict[tuple[str, str], object]) -> list[str]:
    lines = [
        f"## {name}",
        "",
        f"Base `{model}`; every trial {steps} steps of the quickstart setting (batch 64, lr 3e-5, length 32, "
        "seed 42, dropout views); score: best STS-B dev checkpoint (Spearman x100, dev only). f-Gaussian: sigma "
        "in [0.25, 8] and alpha in [0.1, 1000]; cosine: temperature in [0.01, 1] and alpha in [0.1, 1000]; both "
        "log-uniform, TPE, the same number of trials per critic.",
        "",
        "| divergence | f-Gaussian best | its sigma, alpha | cosine best | its temperature, alpha | "
        "f-Gaussian - cosine | trials (G / cos) |",
        "|---|---:|---|---:|---|---:|---|",
    ]
    for divergence in DIVERGENCES:
        cells, best = [], {}
        for critic, scale in (("gaussian", "loss.sigma"), ("cosine", "loss.temperature")):
            study = studies.get((divergence, critic))
            done = [t for t in study.trials if t.value is not None and t.state.name == "COMPLETE"] if study else []
            if done:
                top = max(done, key=lambda t: t.value)
                best[critic] = top.value
                cells += [f"{top.value:.2f}", f"{top.params[scale]:.3g}, {top.params['loss.alpha']:.3g}"]
            else:
                cells += ["-", "-"]
        gap = f"{best['gaussian'] - best['cosine']:+.2f}" if len(best) == 2 else "-"
        counts = "/".join(str(len(studies[(divergence, c)].trials)) if (divergence, c) in studies else "0"
                          for c in ("gaussian", "cosine"))  # fmt: skip
        lines.append(f"| {divergence} | {cells[0]} | {cells[1]} | {cells[2]} | {cells[3]} | {gap} | {counts} |")
    return [*lines, ""]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=8, help="trials per divergence and critic")
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--model", default="sentence-transformers/all-MiniLM-L6-v2")
    parser.add_argument("--name", default="all-MiniLM-L6-v2", help="the base's name in the output paths")
    parser.add_argument("--divergences", nargs="*", default=list(DIVERGENCES))
    parser.add_argument("--critics", nargs="*", default=list(SPACES))
    args = parser.parse_args()

    root = HERE / "fgaussian" / args.name
    studies = {}
    for done in range(1, args.trials + 1):  # rounds: every study one trial further
        for divergence in args.divergences:
            for critic in args.critics:
                out = root / f"{divergence}-{critic}"
                recipe = study_recipe(args.model, divergence, critic, args.steps, out)
                studies[(divergence, critic)] = sweep(
                    recipe,
                    space=SPACES[critic],
                    trials=done,
                    output_dir=out,
                    storage=f"sqlite:///{(root / 'study.db').resolve()}",
                    study_name=f"{divergence}-{critic}",
                    pruner_startup=3,
                )
        section = HERE / "fgaussian" / f"{args.name}.md"
        section.write_text("\n".join(summary(args.name, args.model, args.steps, studies)), encoding="utf-8")
        sections = [path.read_text(encoding="utf-8") for path in sorted((HERE / "fgaussian").glob("*.md"))]
        (HERE / "fgaussian.md").write_text("\n".join([INTRO, *sections]), encoding="utf-8")
        (root / "rounds.json").write_text(json.dumps({"rounds_done": done}), encoding="utf-8")
        print(f"round {done} of {args.trials} done: eval/fgaussian/{args.name}.md")


if __name__ == "__main__":
    main()
