"""The ``fmicl-text`` command: its flags, the STS JSON it writes, and one-line errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from fmicl_text.cli import TRAIN_FLAGS, build_parser, main, recipe_from_args


def moved_weights(base: str, run) -> tuple[int, int]:
    """(changed, common) tensors of the encoder: the saved run's against the base it started from."""
    import torch
    from safetensors.torch import load_file

    before = load_file(os.path.join(base, "model.safetensors"))
    after = load_file(str(run / "model.safetensors"))
    common = [key for key in before if key in after]
    return sum(not torch.equal(before[key], after[key]) for key in common), len(common)


REQUIRED_TRAIN_FLAGS = [
    "--model", "--train-data", "--loss", "--max-steps", "--batch-size", "--max-seq-length",
    "--learning-rate", "--output-dir", "--seed", "--data-dir",
]  # fmt: skip


def test_train_help_lists_the_required_flags(capsys):
    with pytest.raises(SystemExit) as info:
        main(["train", "--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    for flag in REQUIRED_TRAIN_FLAGS:
        assert flag in out and flag in TRAIN_FLAGS


def test_eval_sts_writes_the_json(tiny_bert, tiny_data_home, tmp_path, capsys):
    out = tmp_path / "res" / "scores.json"
    rc = main(["eval", "sts", tiny_bert, "--data-dir", str(tiny_data_home), "--output", str(out)])
    assert rc == 0
    payload = json.loads(out.read_text())
    assert list(payload["scores"]) == ["sts12", "sts13", "sts14", "sts15", "sts16", "stsb", "sickr", "avg"]
    assert payload["suite"] == "senteval7" and payload["text"] == "senteval" and payload["model"] == tiny_bert
    assert "time" in payload
    values = [payload["scores"][k] for k in ("sts12", "sts13", "sts14", "sts15", "sts16", "stsb", "sickr")]
    assert payload["scores"]["avg"] == pytest.approx(sum(values) / 7)
    printed = capsys.readouterr()
    assert "sickr" in printed.out  # the table is printed
    assert "Batches" not in printed.err and "\r" not in printed.err  # not a terminal: no encode bar


def test_no_library_bars_when_not_a_terminal(monkeypatch):
    """Output that is not a terminal: datasets' and huggingface_hub's bars (Hub data, downloads) are switched off,
    in the environment (libraries imported later, processes started) and in a library already imported; a
    switch the user set is left alone."""
    import datasets

    from fmicl_text.cli import no_library_bars

    monkeypatch.delenv("HF_DATASETS_DISABLE_PROGRESS_BARS", raising=False)
    monkeypatch.setenv("HF_HUB_DISABLE_PROGRESS_BARS", "0")
    no_library_bars()
    assert os.environ["HF_DATASETS_DISABLE_PROGRESS_BARS"] == "1" and not datasets.is_progress_bar_enabled()
    assert os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] == "0"


@pytest.mark.parametrize(
    "argv, message",
    [
        (["train", "--loss", "infonse"], "did you mean 'infonce'"),
        (["train", "--train-data", "no/such/file.txt"], "file.txt"),
        (["train", "--set", "training.max_step=3"], "did you mean 'max_steps'"),
        (["train", "--set", "nonsense"], "KEY=VALUE"),
        (["eval", "sts", "MODEL", "--suite", "senteval8"], "did you mean 'senteval7'"),
    ],
)
def test_errors_are_one_message_not_a_trace(argv, message, tmp_path, capsys, tiny_bert, tiny_data_home):
    argv = [tiny_bert if a == "MODEL" else a for a in argv]
    if argv[0] == "train":
        argv += ["--model", tiny_bert, "--data-dir", str(tiny_data_home), "--output-dir", str(tmp_path / "o")]
    else:
        argv += ["--data-dir", str(tiny_data_home)]
    capsys.readouterr()  # drop what building the fixtures printed
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and "Traceback" not in err


@pytest.mark.slow
def test_console_script_trains_end_to_end(tiny_bert, tiny_data_home, tmp_path):
    """The installed command, as a user runs it: a recipe plus flags, then the printed table."""
    recipe = tmp_path / "r.yaml"
    recipe.write_text("name: r\nmodel: {pooling: cls_before_pooler}\neval: {eval_steps: 1, batch_size: 8}\n")
    out = tmp_path / "run"
    cmd = [
        sys.executable, "-m", "fmicl_text", "train", str(recipe), "--model", tiny_bert, "--train-data", "wiki",
        "--data-dir", str(tiny_data_home), "--max-steps", "2", "--batch-size", "4", "--max-seq-length", "16",
        "--learning-rate", "1e-4", "--seed", "1", "--output-dir", str(out),
    ]  # fmt: skip
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "saved to" in proc.stdout and "sts12" in proc.stdout
    saved = json.loads((out / "eval_results.json").read_text())
    assert saved["steps"] == 2 and saved["dev"]["best_step"] in (1, 2)
    changed, common = moved_weights(tiny_bert, out)  # training had an effect: the saved encoder is not the base
    assert common > 0 and changed > common // 2, (changed, common)
    # Not a terminal (as in a log file): plain lines, no control characters, no progress bars or dicts.
    output = proc.stdout + proc.stderr
    bad = [line for line in output.splitlines(keepends=True) if "\x1b" in line or "\r" in line]
    assert not bad, f"control characters in a non-TTY log: {bad[:3]!r}"
    for noise in ("{'loss'", "Batches:", "Writing model shards", "Loading weights", "it/s]", "eval_samples_per_second",
                  "Computing widget examples"):  # fmt: skip
        assert noise not in output, noise
    lines = proc.stderr.splitlines()
    assert "training: 2 steps" in lines
    evaluations = [line for line in lines if line.startswith("step ") and " stsb-dev " in line]
    assert len(evaluations) == 2 and all(" best " in line for line in evaluations)
    assert "| model | sts12 |" in proc.stdout  # the results table as plain markdown, the model name unwrapped


def test_loss_flags_reach_the_recipe(tmp_path):
    args = build_parser().parse_args(
        ["train", "--loss", "fmicl", "--divergence", "tsallis", "--tsallis-alpha", "1.5", "--similarity", "cosine",
         "--temperature", "0.1", "--negatives", "both", "--gather-across-devices"]
    )  # fmt: skip
    r = recipe_from_args(args)
    assert r.loss.name == "fmicl"
    assert r.loss.params == {"divergence": "tsallis", "tsallis_alpha": 1.5, "similarity": "cosine",
                             "temperature": 0.1, "negatives": "both", "gather_across_devices": True}  # fmt: skip
    # A recipe's infonce temperature does not leak into another loss chosen on the command line.
    recipe = tmp_path / "r.yaml"
    recipe.write_text("loss: {name: infonce, temperature: 0.05}\n")
    r = recipe_from_args(build_parser().parse_args(["train", str(recipe), "--loss", "kcl", "--gamma", "8"]))
    assert (r.loss.name, r.loss.params) == ("kcl", {"gamma": 8.0})


@pytest.mark.slow
def test_fmicl_trains_from_the_cli(tiny_bert, tiny_data_home, tmp_path, capsys):
    out = tmp_path / "run"
    rc = main(["train", "--model", tiny_bert, "--data-dir", str(tiny_data_home), "--loss", "fmicl",
               "--divergence", "js", "--sigma", "0.5", "--max-steps", "2", "--batch-size", "4",
               "--max-seq-length", "16", "--output-dir", str(out), "--eval-steps", "1", "--no-final-eval"])  # fmt: skip
    assert rc == 0
    saved = json.loads((out / "eval_results.json").read_text())
    assert saved["loss"]["name"] == "fmicl" and saved["loss"]["divergence"] == "js" and saved["loss"]["sigma"] == 0.5
    changed, common = moved_weights(tiny_bert, out)  # training had an effect: the saved encoder is not the base
    assert common > 0 and changed > common // 2, (changed, common)
    assert "FMICLLoss" in (out / "README.md").read_text() and "lu2023fmicl" in (out / "README.md").read_text()


def test_eval_mteb_diagnostics_and_report_through_main(tiny_bert, tiny_data_home, tmp_path, capsys):
    """The evaluation subcommands are wired into ``fmicl-text`` (their own tests cover the details)."""
    local = tmp_path / "tasks" / "sts" / "mini"
    local.mkdir(parents=True)
    src = (tiny_data_home / "sts" / "senteval" / "stsb.dev.tsv").read_text(encoding="utf-8")
    (local / "test.tsv").write_text(src, encoding="utf-8")
    mteb_out = tmp_path / "mteb.json"
    assert main(["eval", "mteb", tiny_bert, "--tasks", "mini", "--local-dir", str(tmp_path / "tasks"),
                 "--cache-dir", str(tmp_path / "cache"), "--output", str(mteb_out)]) == 0  # fmt: skip
    mteb_scores = json.loads(mteb_out.read_text())["scores"]["mini"]
    assert mteb_scores["metric"] == "cosine_spearman" and -1 <= mteb_scores["main_score"] <= 1

    diag_out = tmp_path / "diag.json"
    assert main(["eval", "diagnostics", tiny_bert, "--data-dir", str(tiny_data_home), "--output", str(diag_out)]) == 0
    diag = json.loads(diag_out.read_text())
    assert {"alignment", "uniformity", "erank", "i_nce"} <= set(json.dumps(diag).replace('"', " ").split())

    sts_out = tmp_path / "sts.json"
    assert main(["eval", "sts", tiny_bert, "--data-dir", str(tiny_data_home), "--output", str(sts_out)]) == 0
    assert main(["report", str(sts_out), "--output-dir", str(tmp_path / "report")]) == 0
    table = (tmp_path / "report" / "report.md").read_text()
    assert "sts12" in table and "| sts |" in table
    err = capsys.readouterr().err  # not a terminal: no encode bars
    assert "Batches" not in err and "\r" not in err and "it/s]" not in err, err[-2000:]


def test_bad_values_fail_before_the_heavy_imports(tmp_path):
    """A wrong value is reported before sentence-transformers (seconds to import) is even loaded."""
    import subprocess
    import sys

    script = (
        "import sys\n"
        "from fmicl_text.cli import main\n"
        f"rc = main(['train', '--learning-rate', '-1', '--output-dir', {str(tmp_path / 'run')!r}])\n"
        "print(rc, 'sentence_transformers' in sys.modules, 'transformers' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.stdout.split() == ["2", "False", "False"], done.stderr
    assert "training.learning_rate must be > 0, got -1.0" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "run").exists()


def test_columns_flag_maps_unknown_column_names(tmp_path):
    """The hint for unknown column names offers --columns: it reaches the recipe and the reader uses it."""
    from fmicl_text.data import load_training_data

    data = tmp_path / "nli.csv"
    data.write_text("premise,hypothesis,contradiction\nA man.,A person.,A cat.\n", encoding="utf-8")
    args = build_parser().parse_args(
        ["train", "--train-data", str(data), "--columns", "anchor=premise,positive=hypothesis,negative=contradiction"]
    )
    r = recipe_from_args(args)
    assert r.data.columns == {"anchor": "premise", "positive": "hypothesis", "negative": "contradiction"}
    ds, report = load_training_data(r.data.train, columns=r.data.columns)
    assert report.mode == "triplets" and ds[0] == {"anchor": "A man.", "positive": "A person.", "negative": "A cat."}
    with pytest.raises(SystemExit):
        build_parser().parse_args(["train", "--columns", "anchor"])


def test_every_loss_parameter_is_a_flag_read_from_the_signatures():
    """The flags come from the losses' signatures, read from source (no torch): the same names, types and
    defaults that inspecting the classes gives, each with its docstring's meaning in the help."""
    import inspect

    from fmicl_text.cli.recipe import LOSS_FLAGS
    from fmicl_text.losses import LOSSES, loss_parameters
    from fmicl_text.losses.signatures import loss_signatures

    read = loss_signatures()
    assert list(read) == list(LOSSES)
    by_key = {spec.key: spec for spec in LOSS_FLAGS.values()}
    for name, cls in LOSSES.items():
        assert {p.name: p.default for p in read[name]} == loss_parameters(name)
        hints = {k: p.annotation for k, p in inspect.signature(cls).parameters.items()}
        for p in read[name]:
            assert p.annotation == hints[p.name] and p.help, (name, p)
            spec = by_key[f"loss.{p.name}"]
            assert spec.kind.__name__ == p.annotation
            assert p.help.replace("``", "").rstrip(".") in spec.help or spec.help.startswith("every loss")
    assert "--loss-seed" in LOSS_FLAGS and "--seed" not in LOSS_FLAGS  # the recipe's --seed keeps its name
    args = build_parser().parse_args(["train", "--loss", "gcl", "--loss-seed", "3", "--lam", "2", "--seed", "7"])
    r = recipe_from_args(args)
    assert r.loss.params == {"seed": 3, "lam": 2.0} and r.training.seed == 7


@pytest.mark.parametrize("argv", [["--help"], ["train", "--help"], ["--version"]])
def test_help_and_version_import_in_well_under_a_second(argv):
    """Measured as the issue asks: ``python -X importtime``, the cumulative time of the top-level imports."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "fmicl_text", *argv], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "fmicl-text" in done.stdout
    top = [line.split("|") for line in done.stderr.splitlines() if line.startswith("import time:")]
    total_us = sum(int(cols[1]) for cols in top[1:] if not cols[2].startswith("  "))  # level-0 modules
    assert total_us < 1_000_000, f"imports took {total_us / 1e6:.2f} s"
    assert not any(cols[2].strip() in ("torch", "transformers", "sentence_transformers") for cols in top[1:])


def test_help_shows_defaults_examples_and_no_recipe_key_metavars(capsys):
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    out = capsys.readouterr().out
    assert "examples:" in out and "--max-steps N" in out and "TRAINING.MAX_STEPS" not in out
    assert "[training.batch_size; default 64]" in out
    with pytest.raises(SystemExit):
        main(["eval", "mteb", "--help"])
    assert "sentences per encoding batch (default:" in capsys.readouterr().out


HELP_COMMANDS = [["eval"], ["eval", "sts"], ["eval", "mteb"], ["eval", "diagnostics"], ["report"], ["sweep"],
                 ["base"], ["base", "build"], ["base", "probe"], ["views"], ["views", "show"], ["views", "mi"],
                 ["views", "sweep"], ["train"], []]  # fmt: skip


@pytest.mark.parametrize("command", HELP_COMMANDS, ids=lambda c: " ".join(c) or "fmicl-text")
def test_every_command_has_examples_that_parse_and_friendly_metavars(command, capsys):
    import re
    import shlex

    with pytest.raises(SystemExit):
        main([*command, "--help"])
    out = capsys.readouterr().out
    assert "examples:" in out
    # Each example is a command line the parser takes (a trailing description follows 3+ spaces).
    text = out.split("examples:", 1)[1].replace("\\\n", " ")
    examples = [re.split(r"\s{3,}", line.strip())[0] for line in text.splitlines() if line.startswith("  fmicl-text ")]
    assert examples
    for example in examples:
        argv = shlex.split(example)[1:]
        assert build_parser().parse_args(argv).run, example
    # No upper-cased option names as metavars, no default said twice.
    metavars = set(re.findall(r"--[\w-]+ ([A-Z][A-Z_]*(?:\.[A-Z_]+)?)\b", out.split("examples:")[0]))
    assert not {m for m in metavars if "_" in m or "." in m}, metavars  # DATA_DIR, TRAINING.MAX_STEPS
    assert not metavars & {"OUTPUT", "TRAIN", "TRIALS", "MODEL", "DATA", "STUDY", "VIEW", "RATES", "PARAM"}, metavars
    assert not re.search(r"\((\S+)\) \(default: \1\)", " ".join(out.split())), "a default said twice"


def test_building_the_parser_imports_no_heavy_library():
    """``fmicl-text --help`` stays fast: the parser comes from torch-free modules, the library loads on use."""
    script = (
        "import sys; from fmicl_text.cli import build_parser; build_parser(); "
        "print(sorted(m for m in ('torch', 'transformers', 'sentence_transformers', 'scipy', 'mteb', 'datasets') "
        "if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_result_tables_are_markdown_when_stdout_is_not_a_terminal(capsys):
    """Piped or logged output gets plain markdown tables from every eval command, never rich's boxes."""
    from fmicl_text.cli.output import show_table

    show_table("T", [("name", "left"), ("score", "right")], [["a", "1.00"], ["b", "2.00"]])
    out = capsys.readouterr().out
    assert out.splitlines() == ["T", "| name | score |", "|---|---:|", "| a | 1.00 |", "| b | 2.00 |"]
    assert not any(ch in out for ch in "┃━│─┏")
