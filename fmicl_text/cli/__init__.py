"""The ``fmicl-text`` command: parses flags, builds a recipe, calls the library; no logic of its own.

The parser is built from torch-free modules only (``fmicl-text --help`` takes a fraction of a second): each
command imports the library it calls when it runs.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import re
import shlex
import sys
import traceback

from fmicl_text.cli import evaluate, report, train, views
from fmicl_text.cli.recipe import TRAIN_FLAGS, add_recipe_arguments, metavar, recipe_from_args
from fmicl_text.errors import FmiclError, RunInterrupted

__all__ = ["TRAIN_FLAGS", "add_recipe_arguments", "build_parser", "main", "recipe_from_args", "resume_command"]


# Every command: what runs it, then what adds its flags (in order). A group (eval, base, views) gets its
# parser with its first command; the order here is the order of --help.
COMMANDS = {
    "train": (train.run_train, add_recipe_arguments),
    "eval sts": (evaluate.run_eval_sts, evaluate.add_sts_arguments),
    "eval mteb": (evaluate.run_eval_mteb, evaluate.add_mteb_arguments),
    "eval build-tasks": (evaluate.run_eval_build_tasks, evaluate.add_build_tasks_arguments),
    "eval diagnostics": (evaluate.run_eval_diagnostics, evaluate.add_diagnostics_arguments),
    "report": (report.run_report, report.add_report_arguments),
    "sweep": (train.run_sweep, add_recipe_arguments, train.add_sweep_arguments),
    "compare": (train.run_compare, train.add_compare_arguments),
    "base build": (train.run_base_build, add_recipe_arguments, train.add_base_arguments),
    "base probe": (train.run_base_probe, train.add_base_probe_arguments),
    "views show": (views.run_views_show, views.add_views_show_arguments),
    "views mi": (views.run_views_mi, views.add_views_mi_arguments),
    "views sweep": (views.run_views_sweep, views.add_views_sweep_arguments, add_recipe_arguments),
}
HELP = {
    "train": "train an encoder from a recipe",
    "eval": "evaluate a model",
    "eval sts": "SentEval-style STS (Spearman x100 of cosine similarity)",
    "eval mteb": "any MTEB task by name, or local task folders",
    "eval build-tasks": "local MTEB tasks beyond STS (entailment, retrieval, clustering ...) from the data home",
    "eval diagnostics": "alignment, uniformity, effective rank and I_NCE on STS-B",
    "report": "tables and plots from run folders or result files",
    "sweep": "hyper-parameter search on the dev score (Optuna: TPE, median pruning)",
    "compare": "objectives (or views) on one budget: tuned alike on dev, then trained with several seeds",
    "base": "pre-train an encoder of our own and measure what SimCSE adds to it",
    "base build": "MLM pre-training with SimCSE probes along the way, then the gate",
    "base probe": "STS-B dev of any encoder before and after a short unsupervised SimCSE run",
    "views": "see, measure and sweep the two views",
    "views show": "what each view makes of a sentence",
    "views mi": "I_NCE between the two views of a model",
    "views sweep": "short trainings over a view's strengths",
}
DESCRIPTION = """Train and evaluate sentence encoders with contrastive learning: SimCSE (InfoNCE), f-MICL,
alignment + uniformity, the generalised contrastive loss, DHEL and KCL, on sentence-transformers."""
EXAMPLES = {
    "": """examples:
  fmicl-text train recipes/quickstart-minilm.yaml        train from a recipe (flags override it)
  fmicl-text train recipes/quickstart-minilm.yaml --loss fmicl --divergence js --output-dir runs/js
  fmicl-text eval sts runs/js                             the STS table of a saved model
  fmicl-text eval mteb runs/js --tasks STSBenchmark       MTEB tasks by name, or --local-dir DIR
  fmicl-text report runs/simcse runs/js                   tables and plots comparing runs

`fmicl-text COMMAND --help` lists a command's flags.""",
    "train": """examples:
  fmicl-text train recipes/quickstart-minilm.yaml
  fmicl-text train recipes/quickstart-minilm.yaml --loss au --lam 1 --max-steps 500 --output-dir runs/au
  fmicl-text train --model bert-base-uncased --train-data my.txt --views "b=word_deletion(rate=0.1)"
  fmicl-text train recipes/quickstart-minilm.yaml --resume      continue a stopped run

Every recipe key is settable with --set SECTION.KEY=VALUE; docs/recipe.md lists them all.""",
    "eval": """examples:
  fmicl-text eval sts runs/js                                 the SentEval-7 STS table of a saved model
  fmicl-text eval mteb runs/js --tasks STS12,SICK-R           MTEB tasks by name
  fmicl-text eval build-tasks runs/mteb-local                 local MTEB tasks beyond STS, from the data home
  fmicl-text eval diagnostics runs/js --output diag.json      alignment, uniformity, erank, I_NCE

`fmicl-text eval COMMAND --help` lists a command's flags.""",
    "eval sts": """examples:
  fmicl-text eval sts runs/js
  fmicl-text eval sts sentence-transformers/all-MiniLM-L6-v2 --suite stsb-dev
  fmicl-text eval sts runs/js --text original --output runs/js/sts-original.json""",
    "eval mteb": """examples:
  fmicl-text eval mteb runs/js --tasks STS12,SICK-R --output mteb.json     MTEB tasks (the Hub or its cache)
  fmicl-text eval mteb runs/js --tasks mini --local-dir my_tasks           my_tasks/sts/mini/test.tsv""",
    "eval build-tasks": """examples:
  fmicl-text eval build-tasks runs/mteb-local                    six tasks from $FMICL_DATA_DIR's test files
  fmicl-text eval build-tasks my_tasks --data-dir ~/fmicl-data   from another data home
  fmicl-text eval mteb runs/js --tasks sickr-entailment,snli-reranking --local-dir runs/mteb-local

A file is never replaced: other files in a task folder stop the build; a rebuild keeps identical files.""",
    "eval diagnostics": """examples:
  fmicl-text eval diagnostics runs/js
  fmicl-text eval diagnostics sentence-transformers/all-MiniLM-L6-v2 --split test --output diag.json""",
    "report": """examples:
  fmicl-text report runs/simcse runs/js                       runs/report/report.md and two plots
  fmicl-text report runs/js eval/results/all-MiniLM-L6-v2.senteval7.json --output-dir runs/js-vs-minilm

Only files the report wrote (listed in DIR/fmicl_report.json) are ever replaced.""",
    "sweep": """examples:
  fmicl-text sweep recipes/fmicl-js-gaussian.yaml --space space.yaml --trials 20 --output-dir sweeps/js
  fmicl-text sweep recipes/fmicl-js-gaussian.yaml --space space.yaml --trials 20 --output-dir sweeps/js \\
      --max-steps 200 --storage postgresql://host/db --study js      several machines, one study

space.yaml: a recipe key per line, e.g. loss.sigma: {type: float, low: 0.25, high: 8.0, log: true}""",
    "compare": """examples:
  fmicl-text compare eval/compare/objectives-minilm.yaml --report eval/reports/objectives.md
  fmicl-text compare my-spec.yaml --stage tune       tune every row on dev; no test set touched
  fmicl-text compare my-spec.yaml                    then one run per seed, the table (resumes)

SPEC.yaml names a recipe, the keys every row shares, the rows (keys + search space), trials and seeds;
eval/compare/ has examples.""",
    "base": """examples:
  fmicl-text base build recipes/base-mlm-small.yaml --probe-every 3000 --report eval/bases.md
  fmicl-text base probe sentence-transformers/all-MiniLM-L6-v2 --probe-steps 250""",
    "base build": """examples:
  fmicl-text base build recipes/base-mlm-small.yaml --probe-every 3000 --report eval/bases.md
  fmicl-text base build recipes/base-mlm-small.yaml --report eval/bases.md --report-only   the probes so far""",
    "base probe": """examples:
  fmicl-text base probe base:mlm-small
  fmicl-text base probe bases/mlm-small/checkpoints/checkpoint-6000 --probe-lr 3e-5 --output probe.json""",
    "views": """examples:
  fmicl-text views show --views "a=feature_cutoff; b=token_shuffle" "A man is playing a guitar."
  fmicl-text views mi runs/esimcse --views "b=word_repetition(rate=0.32)" --temperature 0.5
  fmicl-text views sweep recipes/quickstart-minilm.yaml --view word_deletion --rates 0,0.1,0.2 \\
      --max-steps 200 --output-dir runs/views-sweep""",
    "views show": """examples:
  fmicl-text views show --views "a=feature_cutoff; b=token_shuffle" "A man is playing a guitar."
  fmicl-text views show --views "word_deletion(rate=0.3)" --seed 1 'Two dogs run.' 'The cat sits.'""",
    "views mi": """examples:
  fmicl-text views mi runs/esimcse --views "b=word_repetition(rate=0.32)" --temperature 0.5
  fmicl-text views mi sentence-transformers/all-MiniLM-L6-v2 --data wiki --batches 32 --output mi.json""",
    "views sweep": """examples:
  fmicl-text views sweep recipes/quickstart-minilm.yaml --view word_deletion --rates 0,0.1,0.2,0.3,0.5 \\
      --max-steps 200 --eval-steps 200 --output-dir runs/views-sweep
  fmicl-text views sweep recipes/quickstart-minilm.yaml --view shared_bits --rates 0,1,2,4 --output-dir runs/bits""",
}
DESCRIPTIONS = {"train": "Train an encoder: a recipe, and flags that override its keys."}


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Examples kept as written, and each flag's default shown where it has one worth showing."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        default = action.default
        if (
            action.option_strings
            and default not in (None, False, "", argparse.SUPPRESS)
            and not isinstance(default, list)
            and "default" not in text
        ):
            text += " (default: %(default)s)"
        return text

    def _get_default_metavar_for_optional(self, action: argparse.Action) -> str:
        """``--batch-size N``, ``--output FILE``, ``--data-dir DIR`` rather than the upper-cased option name."""
        return metavar(action.type or str, action.dest) or action.dest.upper()


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("fmicl-text")
    except PackageNotFoundError:  # run from a source tree that is not installed
        return "unknown"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fmicl-text", description=DESCRIPTION, epilog=EXAMPLES[""], formatter_class=HelpFormatter
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    subparsers = {"": parser.add_subparsers(dest="command", required=True)}
    for command, (run, *add_flags) in COMMANDS.items():
        group, _, name = command.rpartition(" ")
        if group not in subparsers:
            group_parser = subparsers[""].add_parser(
                group, help=HELP[group], epilog=EXAMPLES.get(group), formatter_class=HelpFormatter
            )
            subparsers[group] = group_parser.add_subparsers(dest=f"{group}_command", required=True)
        command_parser = subparsers[group].add_parser(
            name,
            help=HELP[command],
            description=DESCRIPTIONS.get(command, HELP[command][:1].upper() + HELP[command][1:] + "."),
            epilog=EXAMPLES.get(command),
            formatter_class=HelpFormatter,
        )
        for add in add_flags:
            add(command_parser)
        command_parser.set_defaults(run=run)
    return parser


ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


class PlainStream:
    """A text stream that drops ANSI escape sequences: for stdout / stderr when they are not a terminal, so
    that a log file holds plain text whatever a library writes (transformers colours its load report even
    when its output is a file)."""

    def __init__(self, stream) -> None:
        self.stream = stream

    def write(self, text: str) -> int:
        self.stream.write(ANSI.sub("", text) if "\x1b" in text else text)
        return len(text)

    def __getattr__(self, name: str):
        return getattr(self.stream, name)


def resume_command(argv: list[str]) -> str:
    """The command that continues an interrupted run: the same flags, ``--resume`` instead of ``--overwrite``."""
    kept = [a for a in argv if a != "--overwrite"]
    if "--resume" not in kept and not any(a.startswith("--resume=") for a in kept):
        kept.append("--resume")
    return shlex.join(["fmicl-text", *kept])


#: the environment switches of datasets' progress bars (Hub data: download, split generation, map) and
#: huggingface_hub's (downloads; transformers' "Loading weights" follows it when imported)
LIBRARY_BARS = ("HF_DATASETS_DISABLE_PROGRESS_BARS", "HF_HUB_DISABLE_PROGRESS_BARS")


def no_library_bars() -> None:
    """For output that is not a terminal: no progress bars from datasets, huggingface_hub or transformers, for the
    rest of the process and the processes it starts (torchrun's workers). Nothing heavy is imported for it (the
    libraries read their switches when imported); one already imported is told directly. A switch the user
    set is left as set."""
    for var in LIBRARY_BARS:
        os.environ.setdefault(var, "1")
    if "datasets" in sys.modules and os.environ[LIBRARY_BARS[0]] == "1":
        sys.modules["datasets"].disable_progress_bars()
    if os.environ[LIBRARY_BARS[1]] == "1":
        if "huggingface_hub" in sys.modules:
            importlib.import_module("huggingface_hub.utils").disable_progress_bars()
        if "transformers" in sys.modules:
            importlib.import_module("transformers.utils.logging").disable_progress_bar()


def main(argv: list[str] | None = None) -> int:
    streams = {name: getattr(sys, name) for name in ("stdout", "stderr")}
    for name, stream in streams.items():
        if not stream.isatty():
            setattr(sys, name, PlainStream(stream))
    if not streams["stderr"].isatty():
        no_library_bars()
    try:
        return _main(list(sys.argv[1:] if argv is None else argv))
    finally:
        for name, stream in streams.items():
            setattr(sys, name, stream)


def _main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)

    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )
    if not args.verbose:  # sentence-transformers says "Saving model to ..." at each checkpoint
        logging.getLogger("sentence_transformers").setLevel(logging.WARNING)
    try:
        return args.run(args)
    except FmiclError as exc:
        if args.verbose:
            traceback.print_exc()
        if isinstance(exc, RunInterrupted):
            # train resumes with --resume; base build and sweep resume by running the same command again
            again = resume_command(argv) if args.command == "train" else shlex.join(["fmicl-text", *argv])
            exc.fix = f"resume with: {again}"
            print(f"stopped: {exc.format()}", file=sys.stderr)
        else:
            print(f"error: {exc.format()}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        if args.verbose:
            traceback.print_exc()
        hint = (
            f"; to continue from the last checkpoint, if any: {resume_command(argv)}" if args.command == "train" else ""
        )
        print(f"\ninterrupted{hint}", file=sys.stderr)
        return 130
