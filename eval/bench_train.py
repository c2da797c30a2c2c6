"""The speed of a training step, in one interleaved run: fmicl-text's trainer against its references.

Arms (same model, data, batch, length, threads, seed; evaluation and the final suite off):

- **A** fmicl-text: ``build_trainer`` on a recipe (its loss and views), ``trainer.train()``.
- **A+cache** the same with GradCache (``training.cache_batch_size`` = ``--cache-batch-size``).
- **B** sentence-transformers' ``SentenceTransformerTrainer`` with ``MultipleNegativesRankingLoss``
  (scale 20 = temperature 0.05); **B+cache** with ``CachedMultipleNegativesRankingLoss``.
- **C** the minimal hand loop: ``AutoModel``, mean pooling, InfoNCE on one forward of both views,
  fused AdamW. No scheduler, logging or checkpointing: the limit to approach.

Each repetition runs every arm in its own fresh process (so peak RSS is the arm's own), the arms'
order rotated between repetitions. A step's time is the steady state: the time from the end of the
warm-up steps to the end of the last step, over the timed steps. Ratios are taken within a
repetition (the arms of one repetition ran side by side in time), then their median and range.

    python eval/bench_train.py                                 # MiniLM, batch 64 and 256 -> eval/bench/
    python eval/bench_train.py --model bert-base-random --batch 64 --steps 6
    python eval/bench_train.py --batch 256 --cache-batch-size 64 --arms A A+cache B+cache  # GradCache's cost

``--model``: a name or folder, or ``bert-base-random`` / ``config:FILE.json`` for random weights at a
config's shape (timing only; all-MiniLM-L6-v2's tokenizer). Results: ``eval/bench/<tag>.json`` and
the markdown table ``eval/bench/<tag>.md``; ``eval/bench/README.md`` lists the runs.
"""

from __future__ import annotations

import argparse
import cProfile
import functools
import io
import json
import os
import platform
import pstats
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
OUT = HERE / "bench"
ARMS = {
    "A": "fmicl-text trainer",
    "A+cache": "fmicl-text trainer, GradCache",
    "B": "sentence-transformers trainer + MNRL",
    "B+cache": "sentence-transformers trainer + cached MNRL",
    "C": "hand loop",
}
TEMPERATURE = 0.05  # SimCSE's; MNRL's scale 20
LEARNING_RATE = 3e-5
SEED = 42
RANDOM_MODELS = {"bert-base-random": {}}  # BertConfig() defaults: BERT-base, 12 x 768


# --- the arms (each runs in its own process: ``--worker ARM``) ---------------------------------------


class StepClock:
    """Timestamps at the end of each optimizer step, and the process's page faults at the end of the warm-up."""

    def __init__(self, warmup: int) -> None:
        self.warmup = warmup
        self.times: list[float] = []
        self.faults_at_warmup = 0

    def tick(self) -> None:
        _sync()
        self.times.append(time.perf_counter())
        if len(self.times) == self.warmup:
            self.faults_at_warmup = resource.getrusage(resource.RUSAGE_SELF).ru_minflt

    def result(self) -> dict[str, Any]:
        timed = self.times[self.warmup - 1 :]
        steps = len(timed) - 1
        faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - self.faults_at_warmup
        out = {
            "seconds_per_step": (timed[-1] - timed[0]) / steps,
            "step_seconds": [round(b - a, 4) for a, b in zip(timed, timed[1:], strict=False)],
            "timed_steps": steps,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "page_faults_per_step": faults / steps,
        }
        import torch

        if torch.cuda.is_available():
            out["peak_gpu_mb"] = torch.cuda.max_memory_allocated() / 2**20
        return out


def _sync() -> None:
    import torch

    if torch.cuda.is_available():
        torch.cuda.synchronize()


def _callback(clock: StepClock) -> Any:
    from transformers import TrainerCallback

    class Tick(TrainerCallback):
        def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            clock.tick()

    return Tick()


def _sentences(config: dict) -> list[str]:
    from fmicl_text.data import load_training_data

    rows = config["batch"] * (config["warmup"] + config["steps"])
    dataset, _ = load_training_data("wiki", data_dir=config["data_dir"], max_samples=rows)
    return list(dataset["anchor"])


def run_a(config: dict, clock: StepClock, work: Path, cached: bool = False) -> None:
    from fmicl_text.recipe import Recipe, apply_overrides
    from fmicl_text.training import build_trainer

    overrides = {
        "name": "bench",
        "model.name_or_path": config["path"],
        "model.pooling": "mean",
        "data.max_seq_length": config["length"],
        "loss.name": config["loss"],
        "training.output_dir": str(work / "a"),
        "training.max_steps": config["warmup"] + config["steps"],
        "training.batch_size": config["batch"],
        "training.learning_rate": LEARNING_RATE,
        "training.seed": SEED,
        "training.precision": config["precision"],
        "training.cache_batch_size": config["cache_batch_size"] if cached else None,
        "training.logging_steps": 10,
        "eval.dev": None,
        "eval.final_suite": None,
        "eval.eval_steps": 10**9,  # one checkpoint, after the last timed step
        "eval.score_base": False,
    }
    if config["loss"] == "infonce":
        overrides["loss.temperature"] = TEMPERATURE
    if config["views"]:
        overrides["views.b"] = config["views"]
    if config["data_dir"]:
        overrides["data.data_dir"] = config["data_dir"]
    recipe = apply_overrides(Recipe(), overrides)
    from datasets import Dataset

    texts = _sentences(config)
    trainer = build_trainer(recipe, Dataset.from_dict({"anchor": texts, "positive": texts}), [_callback(clock)])
    trainer.train()


def run_b(config: dict, clock: StepClock, work: Path, cached: bool = False) -> None:
    import torch
    from datasets import Dataset
    from sentence_transformers import SentenceTransformer, SentenceTransformerTrainer, losses
    from sentence_transformers import SentenceTransformerTrainingArguments as Args

    texts = _sentences(config)
    model = SentenceTransformer(config["path"], device=config["device"])
    model.max_seq_length = config["length"]
    scale = 1 / TEMPERATURE
    if cached:
        loss = losses.CachedMultipleNegativesRankingLoss(model, scale=scale, mini_batch_size=config["cache_batch_size"])
    else:
        loss = losses.MultipleNegativesRankingLoss(model, scale=scale)
    args = Args(
        output_dir=str(work / "b"),
        max_steps=config["warmup"] + config["steps"],
        per_device_train_batch_size=config["batch"],
        learning_rate=LEARNING_RATE,
        seed=SEED,
        data_seed=SEED,
        logging_steps=10,
        save_strategy="no",
        dataloader_drop_last=True,
        use_cpu=config["device"] == "cpu",
        report_to="none",
        disable_tqdm=True,
        bf16=config["precision"] == "bf16",
    )
    trainer = SentenceTransformerTrainer(
        model=model,
        args=args,
        train_dataset=Dataset.from_dict({"anchor": texts, "positive": texts}),
        loss=loss,
        callbacks=[_callback(clock)],
    )
    torch.manual_seed(SEED)
    trainer.train()


def run_c(config: dict, clock: StepClock, work: Path) -> None:
    import torch
    from transformers import AutoModel, AutoTokenizer

    texts = _sentences(config)
    device = torch.device(config["device"])
    torch.manual_seed(SEED)
    tokenizer = AutoTokenizer.from_pretrained(config["path"])
    model = AutoModel.from_pretrained(config["path"]).to(device).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=LEARNING_RATE, fused=True)
    order = torch.randperm(len(texts), generator=torch.Generator().manual_seed(SEED)).tolist()
    batch = config["batch"]
    labels = torch.arange(batch, device=device)
    for step in range(config["warmup"] + config["steps"]):
        rows = [texts[i] for i in order[step * batch : (step + 1) * batch]]
        tokens = tokenizer(rows + rows, padding=True, truncation=True, max_length=config["length"], return_tensors="pt")
        tokens = {key: value.to(device) for key, value in tokens.items()}
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=config["precision"] == "bf16"):
            hidden = model(**tokens).last_hidden_state
        mask = tokens["attention_mask"].unsqueeze(-1).to(hidden.dtype)
        pooled = ((hidden * mask).sum(1) / mask.sum(1)).float()
        a, b = torch.nn.functional.normalize(pooled, dim=-1).chunk(2)
        loss = torch.nn.functional.cross_entropy(a @ b.T / TEMPERATURE, labels)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        clock.tick()


RUNNERS = {
    "A": run_a,
    "A+cache": functools.partial(run_a, cached=True),
    "B": run_b,
    "B+cache": functools.partial(run_b, cached=True),
    "C": run_c,
}


def worker(arm: str, config: dict, profile: Path | None = None) -> None:
    """Run one arm; with ``profile``, cProfile the timed steps (from the end of the warm-up) into that file."""
    import torch

    torch.set_num_threads(config["threads"])
    clock = StepClock(config["warmup"])
    profiler = cProfile.Profile() if profile else None
    if profiler is not None:
        tick = clock.tick

        def tick_then_profile() -> None:
            tick()
            if len(clock.times) == config["warmup"]:
                profiler.enable()
            elif len(clock.times) == config["warmup"] + config["steps"]:
                profiler.disable()

        clock.tick = tick_then_profile
    with tempfile.TemporaryDirectory(prefix=f"bench-{arm}-") as work:
        RUNNERS[arm](config, clock, Path(work))
    result = clock.result()
    if profiler is not None:
        text = io.StringIO()
        pstats.Stats(profiler, stream=text).strip_dirs().sort_stats("tottime").print_stats(20)
        head = f"{arm}: {ARMS[arm]}, {result['seconds_per_step']:.3f} s/step over {config['steps']} profiled steps\n"
        profile.write_text(head + text.getvalue(), encoding="utf-8")
    print("RESULT " + json.dumps(result), flush=True)


# --- the conductor -----------------------------------------------------------------------------------


def model_folder(model: str, cache: Path) -> str:
    """A folder every arm loads: the named model's (resolved as fmicl-text resolves it), or random weights."""
    if model in RANDOM_MODELS or model.startswith("config:"):
        from transformers import AutoTokenizer, BertConfig, BertModel

        from fmicl_text.modeling.build import resolve_model_path

        folder = cache / model.replace(":", "-").replace("/", "-")
        if not (folder / "config.json").is_file():
            import torch

            fields = RANDOM_MODELS.get(model) or json.loads(Path(model[len("config:") :]).read_text())
            torch.manual_seed(SEED)
            BertModel(BertConfig(**fields), add_pooling_layer=False).save_pretrained(folder)
            AutoTokenizer.from_pretrained(resolve_model_path("sentence-transformers/all-MiniLM-L6-v2")).save_pretrained(
                folder
            )
        return str(folder)
    from fmicl_text.modeling.build import resolve_model_path

    return resolve_model_path(model)


def run_arm(arm: str, config: dict, profile: Path | None = None) -> dict:
    cmd = [sys.executable, __file__, "--worker", arm, "--config", json.dumps(config)]
    if profile is not None:
        cmd += ["--profile-file", str(profile)]
    env = {**os.environ, "TOKENIZERS_PARALLELISM": "false"}
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    if proc.returncode != 0 or not lines:
        sys.exit(f"arm {arm} failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}")
    return json.loads(lines[-1][len("RESULT ") :])


def summarize(reps: list[dict[str, dict]], arms: list[str]) -> dict:
    out: dict[str, Any] = {"arms": {}, "ratios": {}}
    for arm in arms:
        steps = [rep[arm]["seconds_per_step"] for rep in reps]
        out["arms"][arm] = {
            "seconds_per_step": statistics.median(steps),
            "seconds_per_step_range": [min(steps), max(steps)],
            "peak_rss_mb": statistics.median(rep[arm]["peak_rss_mb"] for rep in reps),
            "page_faults_per_step": statistics.median(rep[arm]["page_faults_per_step"] for rep in reps),
            **(
                {"peak_gpu_mb": statistics.median(rep[arm]["peak_gpu_mb"] for rep in reps)}
                if "peak_gpu_mb" in reps[0][arm]
                else {}
            ),
        }
    pairs = [("A", other) for other in arms if other != "A" and "A" in arms]
    if {"A+cache", "B+cache"} <= set(arms):
        pairs.append(("A+cache", "B+cache"))
    for mine, other in pairs:  # the speed of ``mine`` relative to ``other``: > 1 means ``mine`` is faster
        ratios = [rep[other]["seconds_per_step"] / rep[mine]["seconds_per_step"] for rep in reps]
        out["ratios"][f"{mine}/{other}"] = {"median": statistics.median(ratios), "range": [min(ratios), max(ratios)]}
    return out


def markdown(record: dict) -> str:
    c = record["config"]
    lines = [
        f"# Training-step benchmark: {c['model']}, batch {c['batch']}, length {c['length']}",
        "",
        f"{record['date']}, {record['machine']}; {c['device']}, {c['precision']}, {c['threads']} threads; "
        f"loss {c['loss']}{', views ' + c['views'] if c['views'] else ''}"
        f"{', GradCache mini-batch ' + str(c['cache_batch_size']) if 'cache' in tag_of(c) else ''}; "
        f"{c['warmup']} warm-up + {c['steps']} timed steps, {c['reps']} interleaved repetitions.",
        f"Command: `{record['command']}`",
        "",
        "| arm | s/step (median) | range | sentences/s | peak RSS MB | page faults/step |"
        + (" peak GPU MB |" if c["device"] != "cpu" else ""),
        "|---|---:|---:|---:|---:|---:|" + ("---:|" if c["device"] != "cpu" else ""),
    ]
    for arm, row in record["summary"]["arms"].items():
        low, high = row["seconds_per_step_range"]
        line = (
            f"| {arm}: {ARMS[arm]} | {row['seconds_per_step']:.3f} | {low:.3f}-{high:.3f} | "
            f"{c['batch'] / row['seconds_per_step']:.1f} | {row['peak_rss_mb']:.0f} | "
            f"{row['page_faults_per_step']:.0f} |"
        )
        if "peak_gpu_mb" in row:
            line += f" {row['peak_gpu_mb']:.0f} |"
        lines.append(line)
    lines += ["", "| speed ratio (per repetition, then median) | median | range |", "|---|---:|---:|"]
    for name, ratio in record["summary"]["ratios"].items():
        lines.append(f"| {name} | {ratio['median']:.3f} | {ratio['range'][0]:.3f}-{ratio['range'][1]:.3f} |")
    lines += ["", "A ratio X/Y above 1: X's step is faster than Y's (A/A+cache - 1 is GradCache's extra cost)."]
    return "\n".join(lines) + "\n"


def tag_of(config: dict) -> str:
    parts = [Path(config["model"]).name, f"b{config['batch']}", f"l{config['length']}", config["device"]]
    if config["precision"] != "fp32":
        parts.append(config["precision"])
    if config["loss"] != "infonce":
        parts.append(config["loss"])
    if config["views"]:
        parts.append("views")
    if any(arm.endswith("+cache") for arm in config["arms"]):
        parts.append(f"cache{config['cache_batch_size']}")
    return "-".join(parts)


def update_index() -> None:
    """eval/bench/README.md: a row per record of this script; another benchmark's rows (its own records, e.g.
    ``bench_mteb_cache.py``'s, whose arms are not training steps) are kept as they are."""
    index = OUT / "README.md"
    kept = index.read_text(encoding="utf-8").splitlines() if index.exists() else []
    rows = []
    for file in sorted(OUT.glob("*.json")):
        record = json.loads(file.read_text(encoding="utf-8"))
        arms = record.get("summary", {}).get("arms", {})
        if not arms or not all("seconds_per_step" in arm for arm in arms.values()):
            rows += [line for line in kept if line.startswith(f"| [{file.stem}](")]
            continue
        first = next(iter(arms))
        ratios = ", ".join(
            f"{name} {r['median']:.2f} ({r['range'][0]:.2f}-{r['range'][1]:.2f})"
            for name, r in record["summary"]["ratios"].items()
        )
        rows.append(
            f"| [{file.stem}]({file.stem}.md) | {record['date']} | {first} | {arms[first]['seconds_per_step']:.3f} | "
            f"{arms[first]['peak_rss_mb']:.0f} | {ratios or '-'} |"
        )
    text = [
        "# Training-step benchmarks (`python eval/bench_train.py`)",
        "",
        "A speed ratio X/Y above 1: arm X's step is faster than arm Y's (A fmicl-text, B sentence-transformers'",
        "trainer + MNRL, C the minimal hand loop, +cache with GradCache); each measured within one interleaved run",
        "(absolute times move from day to day).",
        "",
        "| run | date | arm | s/step | peak RSS MB | speed ratios, median (range) |",
        "|---|---|---|---:|---:|---|",
        *rows,
    ]
    (OUT / "README.md").write_text("\n".join(text) + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--worker", choices=sorted(RUNNERS), help=argparse.SUPPRESS)
    p.add_argument("--config", help=argparse.SUPPRESS)
    p.add_argument("--model", default="sentence-transformers/all-MiniLM-L6-v2")
    p.add_argument("--batch", type=int, nargs="+", default=[64, 256])
    p.add_argument("--length", type=int, default=32)
    p.add_argument("--loss", default="infonce", help="arm A's loss (B and C: InfoNCE)")
    p.add_argument("--views", default="", help="arm A's view b spec (B and C: dropout only)")
    p.add_argument("--cache-batch-size", type=int, default=64, help="the +cache arms' GradCache mini-batch")
    p.add_argument("--arms", nargs="+", default=list(ARMS), choices=list(ARMS))
    p.add_argument("--steps", type=int, default=12, help="timed steps per repetition")
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--threads", type=int, default=min(2, os.cpu_count() or 1))
    p.add_argument("--device", default=None, help="cpu or cuda (default: cuda when there is one)")
    p.add_argument("--precision", default="fp32", choices=["fp32", "bf16"])
    p.add_argument("--data-dir", default=os.environ.get("FMICL_DATA_DIR"))
    p.add_argument("--out", type=Path, default=OUT)
    p.add_argument("--profile", action="store_true", help="then one more run of each arm under cProfile (untimed)")
    p.add_argument("--profile-file", type=Path, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        worker(args.worker, json.loads(args.config), args.profile_file)
        return
    import torch

    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    cache = Path(os.environ.get("FMICL_CACHE_DIR", Path.home() / ".cache" / "fmicl-text")) / "bench-models"
    path = model_folder(args.model, cache)
    args.out.mkdir(parents=True, exist_ok=True)
    for batch in args.batch:
        config = {
            "model": args.model,
            "path": path,  # every arm loads the same folder (fmicl-text resolves a packaged name to it too)
            "batch": batch,
            "length": args.length,
            "loss": args.loss,
            "views": args.views,
            "cache_batch_size": args.cache_batch_size,
            "steps": args.steps,
            "warmup": args.warmup,
            "reps": args.reps,
            "threads": args.threads,
            "device": device,
            "precision": args.precision,
            "data_dir": args.data_dir,
            "arms": args.arms,
        }
        reps = []
        for rep in range(args.reps):
            order = args.arms[rep % len(args.arms) :] + args.arms[: rep % len(args.arms)]
            results = {}
            for arm in order:
                results[arm] = run_arm(arm, config)
                print(f"batch {batch} rep {rep + 1}/{args.reps} {arm}: {results[arm]['seconds_per_step']:.3f} s/step",
                      flush=True)  # fmt: skip
            reps.append(results)
        for arm in args.arms if args.profile else []:  # after the timed repetitions: cProfile slows Python code
            run_arm(arm, config, profile=args.out / f"{tag_of(config)}.profile-{arm}.txt")
        record = {
            "config": config | {"path": None, "data_dir": None},
            "date": time.strftime("%Y-%m-%d"),
            "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, torch {torch.__version__}",
            "command": "python eval/bench_train.py " + " ".join(sys.argv[1:] if argv is None else argv),
            "reps": reps,
            "summary": summarize(reps, args.arms),
        }
        tag = tag_of(config)
        (args.out / f"{tag}.json").write_text(json.dumps(record, indent=1), encoding="utf-8")
        (args.out / f"{tag}.md").write_text(markdown(record), encoding="utf-8")
        print(markdown(record))
    if args.out == OUT:
        update_index()


if __name__ == "__main__":
    main()
