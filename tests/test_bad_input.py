"""Bad input gets one clear message and loses nothing: one table of cases, run through ``cli.main``.

Each row makes a bad input under ``tmp_path``, runs the command in-process and checks that it exits
with 2, prints ``error: ...`` (no traceback) containing the expected text, and that every file the
row made is still there, byte for byte. ``docs/errors.md`` and the README's table are rendered from
this table (its ``message`` column is the first line the user sees); ``python tests/test_bad_input.py``
rewrites both.

Validation comes before model loading, so no row loads a model (the whole file runs in seconds):
``{tmp}/no-model`` is a path that would fail to load if a row got that far (the row would then fail
on its message).
"""

from __future__ import annotations

import gzip
import hashlib
import json
import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[1] / "docs" / "errors.md"
README = DOC.parents[1] / "README.md"
README_BEGIN, README_END = "<!-- errors:begin -->", "<!-- errors:end -->"
NO_MODEL = "{tmp}/no-model"  # never loaded: every row below fails before that
SUBCOMMANDS = {"train", "eval", "sts", "mteb", "build-tasks", "diagnostics", "report", "views", "show", "mi", "sweep",
               "compare"}  # fmt: skip


@dataclass(frozen=True)
class Case:
    id: str
    argv: tuple[str, ...]  # {tmp}: the row's tmp_path; {home}: a good tiny data home (conftest)
    make: Callable[[Path], None]  # writes the bad input under tmp_path
    expect: str  # must appear in stderr (the what, where or fix that matters for this row)
    input: str  # the doc's description of the bad input
    message: str  # the first line the user sees, with {tmp} for the row's tmp_path

    @property
    def command(self) -> str:
        words = []
        for arg in self.argv:
            if arg not in SUBCOMMANDS:
                break
            words.append(arg)
        return " ".join(words)


# --------------------------------------------------------------------------- makers


def nothing(tmp: Path) -> None:
    """No input file at all."""


def write(relative: str, content: str | bytes) -> Callable[[Path], None]:
    def make(tmp: Path) -> None:
        path = tmp / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)

    return make


def write_all(*makers: Callable[[Path], None]) -> Callable[[Path], None]:
    def make(tmp: Path) -> None:
        for maker in makers:
            maker(tmp)

    return make


BINARY = random.Random(0).randbytes(512)  # has a NUL byte and invalid UTF-8
LATIN1 = "sentence1\tsentence2\tscore\nUn café.\tUne tasse.\t4.0\nA dog.\tA cat.\t1.0\n".encode("latin-1")
HEADER = "sentence1\tsentence2\tscore\n"


def sts_rows(*scores: str) -> str:
    return HEADER + "".join(f"Sentence {i} here.\tAnother {i} there.\t{s}\n" for i, s in enumerate(scores))


GOOD_STS = sts_rows("4.5", "1.0", "3.2")
STS_FILE = "home/sts/senteval/stsb.dev.tsv"
SICK_FILE = "home/sts/senteval/sickr.trial.tsv"


def sts_file(content: str | bytes) -> Callable[[Path], None]:
    return write(STS_FILE, content)


def sts(*extra: str) -> tuple[str, ...]:
    return ("eval", "sts", NO_MODEL, "--suite", "stsb-dev", "--data-dir", "{tmp}/home", *extra)


def diagnostics(*extra: str) -> tuple[str, ...]:
    return ("eval", "diagnostics", NO_MODEL, "--data-dir", "{tmp}/home", *extra)


def mteb(*extra: str, tasks: str = "mini") -> tuple[str, ...]:
    return ("eval", "mteb", NO_MODEL, "--tasks", tasks, "--local-dir", "{tmp}/tasks", *extra)


def report(*runs: str) -> tuple[str, ...]:
    return ("report", *(runs or ("{tmp}/run",)), "--output-dir", "{tmp}/report")


def show(views: str, *extra: str) -> tuple[str, ...]:
    return ("views", "show", "A man is playing a guitar.", "--views", views, *extra)


def mi(*extra: str) -> tuple[str, ...]:
    return ("views", "mi", NO_MODEL, *extra)


def sweep(view: str, rates: str, *extra: str) -> tuple[str, ...]:
    return ("views", "sweep", "--view", view, "--rates", rates, "--output-dir", "{tmp}/sweep", "--model", NO_MODEL,
            *extra)  # fmt: skip


def train(data: str, *extra: str) -> tuple[str, ...]:
    return ("train", "--train-data", data, "--model", NO_MODEL, "--output-dir", "{tmp}/out", "--no-dev",
            "--no-final-eval", *extra)  # fmt: skip


PAIR_TSV = "sentence1\tsentence2\tlabel\nA man.\tA guy.\t1\nA cat.\tA car.\t0\n"
CORPUS = '{"_id": "d1", "text": "A man plays."}\n{"_id": "d2", "text": "A cat."}\n'
QUERIES = '{"_id": "q1", "text": "man"}\n'
QRELS = "query-id\tcorpus-id\tscore\nq1\td1\t1\n"
RESULTS = {"scores": {"stsb_dev": 80.1, "avg": 80.1}, "model": "m", "suite": "stsb-dev"}

# --------------------------------------------------------------------------- the table

CASES: list[Case] = [
    # eval sts: the data home's STS files (a user may point --data-dir at their own)
    Case("sts-missing-file", sts(), nothing, "stsb.dev.tsv",
         "data home without the suite's file",
         "error: stsb dev (senteval text) is not in the data home"),
    Case("sts-empty-file", sts(), sts_file(""), "stsb.dev.tsv",
         "empty STS file",
         "error: file is empty"),
    Case("sts-blank-file", sts(), sts_file("\n  \n\t\n"), "expected a header line",
         "STS file of blank lines",
         "error: file has only blank lines"),
    Case("sts-binary-file", sts(), sts_file(BINARY), "stsb.dev.tsv",
         "random bytes",
         "error: file is binary (a NUL byte on line 3), not UTF-8 text"),
    Case("sts-gzip-named-tsv", sts(), sts_file(gzip.compress(GOOD_STS.encode())), "decompress it",
         "gzip data in a .tsv",
         "error: file is gzip-compressed but its name does not end in .gz"),
    Case("sts-not-utf8", sts(), sts_file(LATIN1), "stsb.dev.tsv:2",
         "Latin-1 text",
         "error: file is not valid UTF-8 (byte b'\\xe9' on line 2)"),
    Case("sts-comma-separated", sts(), sts_file(GOOD_STS.replace("\t", ",")), "convert it to TAB-separated",
         "comma instead of TAB",
         "error: the header looks comma-separated, but a .tsv file is read as TAB-separated"),
    Case("sts-missing-column", sts(), sts_file("sentence1\tsentence2\nA.\tB.\n"), "stsb.dev.tsv:1",
         "no score column",
         "error: missing column(s) score; header found: ['sentence1', 'sentence2']"),
    Case("sts-ragged-row", sts(), sts_file(GOOD_STS + "Only one field\t3.0\n"), "stsb.dev.tsv:5",
         "a row with too few fields",
         "error: line 5 has too few fields: 2, the header has 3"),
    Case("sts-header-only", sts(), sts_file(HEADER), "stsb.dev.tsv",
         "header and no rows",
         "error: file has a header but no data rows"),
    Case("sts-nan-score", sts(), sts_file(sts_rows("4.0", "nan", "1.0")), "stsb.dev.tsv:3",
         "score `nan`",
         "error: score 'nan' on line 3 is not a finite number"),
    Case("sts-inf-score", sts(), sts_file(sts_rows("inf", "2.0")), "stsb.dev.tsv:2",
         "score `inf`",
         "error: score 'inf' on line 2 is not a finite number"),
    Case("sts-text-score", sts(), sts_file(sts_rows("4.0", "high")), "numeric gold score",
         "score `high`",
         "error: score 'high' on line 3 is not a finite number"),
    Case("sts-score-out-of-range", sts(), sts_file(sts_rows("4.0", "37", "1.0")), "stsb.dev.tsv:3",
         "STS-B score 37 (scale 0-5)",
         "error: score 37 on line 3 is outside stsb's gold scale [0, 5]"),
    Case("sts-sick-score-below-1", sts("--suite", "sickr-dev"),
         write(SICK_FILE, sts_rows("4.0", "0.5", "2.0")), "sickr.trial.tsv:3",
         "SICK-R score 0.5 (scale 1-5)",
         "error: score 0.5 on line 3 is outside sickr's gold scale [1, 5]"),
    Case("sts-constant-scores", sts(), sts_file(sts_rows("3.0", "3.0", "3.0")), "Spearman",
         "every gold score equal",
         "error: every gold score is 3: the Spearman correlation is undefined"),
    Case("sts-one-row", sts(), sts_file(sts_rows("3.0")), "at least 2",
         "a single pair",
         "error: 1 pair: the Spearman correlation needs at least 2"),
    Case("sts-unknown-suite", sts("--suite", "senteval8"), nothing, "did you mean 'senteval7'",
         "`--suite senteval8`",
         "error: unknown STS suite 'senteval8'"),
    Case("sts-batch-size-0", sts("--batch-size", "0"), sts_file(GOOD_STS), "--batch-size",
         "`--batch-size 0`",
         "error: --batch-size must be at least 1, got 0"),
    Case("sts-model-missing", ("eval", "sts", NO_MODEL, "--suite", "stsb-dev", "--data-dir", "{home}"), nothing,
         "saved model folder",
         "model path that does not exist",
         "error: model folder not found"),
    Case("sts-model-config-only", ("eval", "sts", "{tmp}/model", "--suite", "stsb-dev", "--data-dir", "{home}"),
         write("model/config.json", json.dumps({"model_type": "bert", "hidden_size": 32})), "weights",
         "model folder with only config.json",
         "error: the model folder has no weights (no *.safetensors file)"),
    # eval mteb: task names and local task folders
    Case("mteb-unknown-task", mteb(tasks="STSBenchmarkk"), write("tasks/sts/mini/test.tsv", GOOD_STS),
         "STSBenchmark", "unknown MTEB task name",
         "error: unknown task 'STSBenchmarkk'"),
    Case("mteb-unknown-local-task", mteb(tasks="minni"), write("tasks/sts/mini/test.tsv", GOOD_STS),
         "did you mean 'mini'", "local task name typo",
         "error: unknown task 'minni'"),
    Case("mteb-local-dir-missing", mteb(), nothing, "--local-dir",
         "`--local-dir` that does not exist",
         "error: local task directory not found"),
    Case("mteb-unknown-type-folder", mteb(), write("tasks/stss/mini/test.tsv", GOOD_STS), "did you mean 'sts'",
         "task type folder typo",
         "error: unknown local task type folder 'stss'"),
    Case("mteb-sts-nan-score", mteb(), write("tasks/sts/mini/test.tsv", sts_rows("1.0", "NaN")), "test.tsv:3",
         "STS task score `NaN`",
         "error: score 'NaN' on line 3 is not a finite number"),
    Case("mteb-pair-label-2", mteb(), write("tasks/pair_classification/mini/test.tsv", PAIR_TSV + "A.\tB.\t2\n"),
         "test.tsv:4", "pair label 2",
         "error: label '2' on line 4 is not 0 or 1"),
    Case("mteb-broken-jsonl", mteb(), write_all(
        write("tasks/retrieval/mini/corpus.jsonl", CORPUS + '{"_id": "d3", "text": "broken\n'),
        write("tasks/retrieval/mini/queries.jsonl", QUERIES),
        write("tasks/retrieval/mini/qrels/test.tsv", QRELS)), "corpus.jsonl:3",
         "corpus.jsonl with a broken line 3",
         "error: line 3 is not valid JSON: Unterminated string starting at (column 23)"),
    Case("mteb-gzip-not-gzip", mteb(), write_all(
        write("tasks/retrieval/mini/corpus.jsonl.gz", CORPUS),
        write("tasks/retrieval/mini/queries.jsonl", QUERIES),
        write("tasks/retrieval/mini/qrels/test.tsv", QRELS)), "drop the .gz",
         "corpus.jsonl.gz that is plain text",
         "error: file is not valid gzip (Not a gzipped file (b'{\"'))"),
    Case("mteb-truncated-gzip", mteb(), write_all(
        write("tasks/retrieval/mini/corpus.jsonl.gz", gzip.compress(CORPUS.encode())[:25]),
        write("tasks/retrieval/mini/queries.jsonl", QUERIES),
        write("tasks/retrieval/mini/qrels/test.tsv", QRELS)), "corpus.jsonl.gz",
         "truncated corpus.jsonl.gz",
         "error: file is not valid gzip (Compressed file ended before the end-of-stream marker was reached)"),
    Case("mteb-jsonl-not-object", mteb(), write("tasks/reranking/mini/test.jsonl", '["a", "b"]\n'), "test.jsonl:1",
         "reranking line that is a list",
         "error: line 1 is not a JSON object"),
    Case("mteb-batch-size-0", mteb("--batch-size", "0"), write("tasks/sts/mini/test.tsv", GOOD_STS),
         "--batch-size", "`--batch-size 0`",
         "error: batch size must be at least 1, got 0"),
    Case("mteb-output-is-folder", mteb("--output", "{tmp}/results"), write_all(
        write("tasks/sts/mini/test.tsv", GOOD_STS), write("results/keep.txt", "mine")), "{tmp}/results",
         "`--output` names an existing folder",
         "error: --output is a folder, not a file"),
    # eval build-tasks: the data home's source files
    Case("build-missing-source", ("eval", "build-tasks", "{tmp}/tasks", "--data-dir", "{tmp}/home"),
         write_all(*(write(f"home/sts/original/{name}.tsv", GOOD_STS) for name in
                     ("sickr.test", "stsb.train", "stsb.test", "sts12.test", "sts13.test", "sts14.test", "sts15.test",
                      "sts16.test"))), "FMICL_DATA_DIR",
         "data home without SNLI test",
         "error: source file train/nli/snli_test.senteval_tok.tsv is not in the data home"),
    # eval diagnostics: STS-B dev from the data home, and its numbers
    Case("diag-missing-file", diagnostics(), nothing, "stsb.dev.tsv",
         "data home without STS-B dev",
         "error: stsb dev (senteval text) is not in the data home"),
    Case("diag-not-utf8", diagnostics(), sts_file(LATIN1), "stsb.dev.tsv:2",
         "Latin-1 text",
         "error: file is not valid UTF-8 (byte b'\\xe9' on line 2)"),
    Case("diag-score-scale-0-100", diagnostics(), sts_file(sts_rows("45", "90", "10")), "[0, 5]",
         "STS-B scores on a 0-100 scale",
         "error: score 45 on line 2 is outside stsb's gold scale [0, 5]"),
    Case("diag-no-positive-pairs", diagnostics(), sts_file(sts_rows("1.0", "2.0", "3.5")), "above 4",
         "no pair scored above 4",
         "error: no STS-B dev pair has a gold score above 4.0 (needed for alignment)"),
    Case("diag-batch-size-0", diagnostics("--batch-size", "0"), sts_file(GOOD_STS), "--batch-size",
         "`--batch-size 0`",
         "error: --batch-size must be at least 1, got 0"),
    Case("diag-i-nce-batch-size-1", diagnostics("--i-nce-batch-size", "1"), sts_file(GOOD_STS), "negatives",
         "`--i-nce-batch-size 1`",
         "error: --i-nce-batch-size must be at least 2, got 1"),
    Case("diag-temperature-0", diagnostics("--temperature", "0"), sts_file(GOOD_STS), "> 0",
         "`--temperature 0`",
         "error: --temperature must be > 0, got 0.0"),
    Case("diag-max-sentences-1", diagnostics("--max-sentences", "1"), sts_file(GOOD_STS), "at least 2",
         "`--max-sentences 1`",
         "error: --max-sentences must be at least 2, got 1"),
    Case("diag-seed-negative", diagnostics("--seed", "-1"), sts_file(GOOD_STS), "--seed",
         "`--seed -1`",
         "error: --seed must be at least 0, got -1"),
    Case("diag-output-is-folder", diagnostics("--output", "{tmp}/home"), sts_file(GOOD_STS), "{tmp}/home",
         "`--output` names an existing folder",
         "error: --output is a folder, not a file"),
    # report: run folders and results JSON files
    Case("report-missing-path", report(), nothing, "{tmp}/run",
         "a path that does not exist",
         "error: no such run folder or results file"),
    Case("report-empty-folder", report(), lambda tmp: (tmp / "run").mkdir(), "eval_results.json",
         "a folder with no results in it",
         "error: no eval_results.json in the folder: not a finished training run"),
    Case("report-empty-json", report("{tmp}/r.json"), write("r.json", ""), "{tmp}/r.json",
         "an empty results file",
         "error: results file is empty"),
    Case("report-broken-json", report("{tmp}/r.json"), write("r.json", '{"scores": {"a": 1,}}'), "r.json",
         "a results file that is not valid JSON",
         "error: not valid JSON: Expecting property name enclosed in double quotes (line 1, column 20)"),
    Case("report-binary-json", report("{tmp}/r.json"), write("r.json", BINARY), "r.json",
         "a results file of random bytes",
         "error: results file is binary (a NUL byte on line 3), not UTF-8 text"),
    Case("report-not-ours", report("{tmp}/r.json"), write("r.json", '{"accuracy": 0.9}'), "eval sts --output",
         "JSON from another tool",
         "error: not a results file: expected a run's eval_results.json or the JSON of `fmicl-text eval sts "
         "--output`"),
    Case("report-score-not-number", report("{tmp}/r.json"), write("r.json", '{"scores": {"sts12": "high"}}'),
         "r.json", "a score that is text",
         "error: score 'sts12' is 'high', not a number"),
    Case("report-scores-not-a-mapping", report("{tmp}/run"),
         write("run/eval_results.json", '{"test": {"scores": [81.2, 79.0]}, "dev": {}}'), "eval_results.json",
         "run results whose scores are a list",
         "error: test.scores must map task names to scores, got a list"),
    Case("report-dev-best-not-number", report("{tmp}/run"),
         write("run/eval_results.json", '{"test": {}, "dev": {"suite": "stsb-dev", "best": "good"}}'), "dev.best",
         "best dev score that is text",
         "error: dev.best is 'good', not a number"),
    Case("report-nothing-to-report", report("{tmp}/r.json"), write("r.json", '{"scores": {}}'), "r.json",
         "a results file with no scores",
         "error: nothing to report: no input has a score or a training log"),
    Case("report-log-not-list", report("{tmp}/run"), write_all(
        write("run/eval_results.json", json.dumps({"test": RESULTS, "dev": {}})),
        write("run/training_log.json", '{"step": 1}')), "training_log.json",
         "training_log.json that is not a list",
         "error: training_log.json is not a list of log rows"),
    Case("report-output-dir-is-file", ("report", "{tmp}/r.json", "--output-dir", "{tmp}/notes.txt"),
         write_all(write("r.json", json.dumps(RESULTS)), write("notes.txt", "my notes")), "notes.txt",
         "`--output-dir` names an existing file",
         "error: the output path is a file, not a folder"),
    # views show / mi / sweep: view specs and numbers
    Case("show-unknown-view", show("word_delete"), nothing, "did you mean 'word_deletion'",
         "view family typo",
         "error: views.a[0]: unknown view 'word_delete'"),
    Case("show-rate-above-1", show("word_deletion(rate=1.5)"), nothing, "[0, 1]",
         "rate 1.5",
         "error: views.a[0].word_deletion.rate must be in [0, 1], got 1.5"),
    Case("show-rate-negative", show("b=span_mask(rate=-0.1)"), nothing, "[0, 1]",
         "rate -0.1",
         "error: views.b[0].span_mask.rate must be in [0, 1], got -0.1"),
    Case("show-cutoff-rate-1", show("token_cutoff(rate=1)"), nothing, "[0, 1)",
         "cutoff rate 1 (nothing left)",
         "error: views.a[0].token_cutoff.rate must be in [0, 1), got 1"),
    Case("show-unknown-param", show("word_deletion(prob=0.1)"), nothing, "valid: rate",
         "parameter name typo",
         "error: views.a[0]: view 'word_deletion' has no parameter 'prob'"),
    Case("show-shared-bits-too-many", show("shared_bits=100"), nothing, "[0, 64]",
         "`shared_bits=100`",
         "error: views.shared_bits must be in [0, 64], got 100"),
    Case("show-max-seq-length-0", show("none", "--max-seq-length", "0"), nothing, "--max-seq-length",
         "`--max-seq-length 0`",
         "error: --max-seq-length must be at least 3 (the tokenizer adds 2 special tokens), got 0"),
    Case("show-model-missing", show("none", "--model", "{tmp}/no-model"), nothing, "saved model folder",
         "model path that does not exist",
         "error: model folder not found"),
    Case("mi-unknown-view", mi("--views", "word_repetiton"), nothing, "did you mean 'word_repetition'",
         "view family typo",
         "error: views.a[0]: unknown view 'word_repetiton'"),
    Case("mi-temperature-0", mi("--temperature", "0"), nothing, "> 0",
         "`--temperature 0`",
         "error: --temperature must be > 0, got 0.0"),
    Case("mi-batch-size-1", mi("--batch-size", "1"), nothing, "negatives",
         "`--batch-size 1`",
         "error: --batch-size must be at least 2, got 1"),
    Case("mi-batches-0", mi("--batches", "0"), nothing, "--batches",
         "`--batches 0`",
         "error: --batches must be at least 1, got 0"),
    Case("mi-broken-jsonl", mi("--data", "{tmp}/s.jsonl"),
         write("s.jsonl", '{"text": "A man."}\n{"text": "A cat."}\n{"text": oops}\n'), "s.jsonl:3",
         "`--data` JSONL with a broken line 3",
         "error: line 3 is not valid JSON: Expecting value (column 10)"),
    Case("mi-one-sentence", mi("--data", "{tmp}/s.txt"), write("s.txt", "Only one sentence.\n"), "at least 2",
         "`--data` with one sentence",
         "error: I_NCE needs at least 2 distinct sentences, got 1"),
    Case("mi-output-under-a-file", mi("--output", "{tmp}/notes.txt/mi.json"), write("notes.txt", "my notes"),
         "notes.txt", "`--output` below an existing file",
         "error: --output cannot be written: 'notes.txt' on its path is a file, not a folder"),
    Case("sweep-rate-above-1", sweep("word_deletion", "0,1.5"), nothing, "[0, 1]",
         "`--rates 0,1.5`",
         "error: views.a[0].word_deletion.rate must be in [0, 1], got 1.5"),
    Case("sweep-unknown-view", sweep("word_delete", "0.1"), nothing, "did you mean 'word_deletion'",
         "view family typo",
         "error: unknown view 'word_delete'"),
    Case("sweep-mi-temperature-0", sweep("word_deletion", "0.1", "--mi-temperature", "0"), nothing, "> 0",
         "`--mi-temperature 0`",
         "error: --mi-temperature must be > 0, got 0.0"),
    Case("sweep-seeds-not-numbers", sweep("word_deletion", "0.1", "--seeds", "42,x"), nothing, "e.g. --seeds 42,43,44",
         "`--seeds 42,x`",
         "error: --seeds must be whole numbers >= 0 separated by commas, got '42,x'"),
    Case("sweep-batch-size-1", sweep("word_deletion", "0.1", "--batch-size", "1", "--train-data", "{tmp}/s.txt"),
         write("s.txt", "One.\nTwo.\n"), "in-batch negatives",
         "`--batch-size 1`",
         "error: training.batch_size must be at least 2 (in-batch negatives), got 1"),
    # compare: the spec is read and every row checked before any training
    Case("compare-missing-spec", ("compare", "{tmp}/spec.yaml"), nothing, "spec.yaml",
         "a spec that does not exist",
         "error: comparison spec not found"),
    Case("compare-row-key-typo", ("compare", "{tmp}/spec.yaml"),
         write_all(write("r.yaml", "name: r\n"),
                   write("spec.yaml", "name: x\nrecipe: r.yaml\nrows: {a: {sett: {loss.name: au}}}\n")),
         "did you mean 'set'",
         "a row key misspelt",
         "error: unknown row key 'sett'"),
    Case("compare-mteb-key-typo", ("compare", "{tmp}/spec.yaml"),
         write_all(write("r.yaml", "name: r\n"),
                   write("spec.yaml", "name: x\nrecipe: r.yaml\nrows: {a: {set: {loss.name: au}}}\n"
                                      "mteb: {taks: [sickr-entailment]}\n")),
         "did you mean 'tasks'",
         "an `mteb:` key misspelt",
         "error: unknown mteb key 'taks'"),
    # train: the training-data readers
    Case("train-missing-file", train("{tmp}/data.csv"), nothing, "data.csv",
         "a file that does not exist",
         "error: training data file not found: {tmp}/data.csv"),
    Case("train-empty-file", train("{tmp}/data.txt"), write("data.txt", ""), "data.txt",
         "empty .txt",
         "error: training data file is empty"),
    Case("train-blank-file", train("{tmp}/data.txt"), write("data.txt", "\n   \n\t\n"), "data.txt",
         ".txt of blank lines",
         "error: training data file has only blank lines"),
    Case("train-binary-file", train("{tmp}/data.txt"), write("data.txt", BINARY), "UTF-16",
         "random bytes in a .txt",
         "error: training data file is binary (a NUL byte on line 3), not UTF-8 text"),
    Case("train-gzip-not-gzip", train("{tmp}/data.txt.gz"), write("data.txt.gz", "A man.\nA cat.\n"),
         "drop the .gz suffix", ".txt.gz that is plain text",
         "error: training data file is not valid gzip (Not a gzipped file (b'A '))"),
    Case("train-truncated-gzip", train("{tmp}/data.txt.gz"),
         write("data.txt.gz", gzip.compress(b"A man.\nA cat.\n" * 50)[:30]), "data.txt.gz",
         "truncated .txt.gz",
         "error: training data file is not valid gzip (Compressed file ended before the end-of-stream marker was "
         "reached)"),
    Case("train-not-utf8", train("{tmp}/data.txt"), write("data.txt", "A man.\nUn caf\xe9.\n".encode("latin-1")),
         "data.txt:2", "Latin-1 text",
         "error: training data file is not valid UTF-8 (byte b'\\xe9' on line 2)"),
    Case("train-semicolon-csv", train("{tmp}/data.csv"), write("data.csv", "sent0;sent1\nA man.;A guy.\n"),
         "data.csv:1", "semicolon-separated .csv",
         "error: the header looks semicolon-separated, but a .csv file is read as comma-separated"),
    Case("train-comma-tsv", train("{tmp}/data.tsv"), write("data.tsv", "sent0,sent1\nA man.,A guy.\n"),
         "rename it to .csv", "comma-separated .tsv",
         "error: the header looks comma-separated, but a .tsv file is read as TAB-separated"),
    Case("train-unknown-columns", train("{tmp}/data.csv"), write("data.csv", "premise,hypothesis\nA.,B.\n"),
         "--columns anchor=COL,positive=COL", "no known column names",
         "error: no known columns in ['premise', 'hypothesis']"),
    Case("train-columns-not-in-data", train("{tmp}/data.csv", "--columns", "anchor=premise,positive=hypo"),
         write("data.csv", "premise,hypothesis\nA.,B.\n"), "columns found", "`--columns` naming a missing column",
         "error: the column mapping (data.columns) sends positive to 'hypo', which is not a column of the data"),
    Case("train-columns-unknown-role", train("{tmp}/data.csv", "--columns", "anchor=premise,answer=hypothesis"),
         write("data.csv", "premise,hypothesis\nA.,B.\n"), "anchor, positive, negative",
         "`--columns` with a role that is not anchor, positive or negative",
         "error: the column mapping (data.columns) has unknown output column(s) ['answer']"),
    Case("train-ragged-row", train("{tmp}/data.csv"), write("data.csv", "sent0,sent1\nA man.,A guy.\nA cat.\n"),
         "data.csv:3", "a row with too few fields",
         "error: line 3 has too few fields: 1, the header has 2"),
    Case("train-broken-jsonl", train("{tmp}/data.jsonl"),
         write("data.jsonl", '{"sent0": "A.", "sent1": "B."}\n\n{"sent0": "C.", "sent1": }\n'), "data.jsonl:3",
         "JSONL with a broken line 3",
         "error: line 3 is not valid JSON: Expecting value (column 26)"),
    Case("train-broken-json-array", train("{tmp}/data.json"), write("data.json", '[{"text": "A."},\n{"text": "B."]\n'),
         "data.json:2", ".json array with a broken line 2",
         "error: line 2 is not valid JSON: Expecting ',' delimiter (column 14)"),
    Case("train-labelled-pairs", train("{tmp}/data.tsv"), write("data.tsv", PAIR_TSV), "hard-negative triplets",
         "pairs with a label column",
         "error: the data has a 'label' column: its ('sentence1', 'sentence2') pairs are labelled (NLI classes or "
         "similarity scores), not all positives, so they are not used as pairs"),
    Case("train-max-samples-0", train("{tmp}/data.txt", "--max-train-samples", "0"), write("data.txt", "A.\nB.\n"),
         "max", "`--max-train-samples 0`",
         "error: data.max_samples must be >= 1 (or null: all), got 0"),
    Case("train-field-not-text", train("{tmp}/data.jsonl"), write("data.jsonl", '{"text": 42}\n'), "line 1",
         "JSONL field that is a number",
         "error: line 1: 'text' must be a string or null, got 42"),
    # ---- train: values, names, output folder, model (all before the model loads)
    Case("train-learning-rate-negative", train("{tmp}/data.txt", "--learning-rate", "-1"), nothing, "> 0",
         "`--learning-rate -1`",
         "error: training.learning_rate must be > 0, got -1.0"),
    Case("train-max-steps-0", train("{tmp}/data.txt", "--max-steps", "0"), nothing, "would train nothing",
         "`--max-steps 0`",
         "error: training.max_steps must be a positive number of steps, or -1 for --epochs epochs, got 0"),
    Case("train-warmup-ratio-1", train("{tmp}/data.txt", "--warmup-ratio", "1"), nothing, "[0, 1)",
         "`--warmup-ratio 1`",
         "error: training.warmup_ratio must be in [0, 1), got 1.0"),
    Case("train-batch-size-1", train("{tmp}/data.txt", "--batch-size", "1"), nothing, "at least 2",
         "`--batch-size 1`",
         "error: training.batch_size must be at least 2 (in-batch negatives), got 1"),
    Case("train-tsallis-alpha-unused", train("{tmp}/data.txt", "--loss", "fmicl", "--divergence", "js",
         "--tsallis-alpha", "1"), nothing, "drop tsallis_alpha", "`--tsallis-alpha 1` with `--divergence js`",
         "error: loss 'fmicl': tsallis_alpha is used only when divergence is tsallis, but divergence is 'js'"),
    Case("train-tsallis-alpha-1", train("{tmp}/data.txt", "--loss", "fmicl", "--divergence", "tsallis",
         "--tsallis-alpha", "1"), nothing, "> 1", "`--tsallis-alpha 1` with `--divergence tsallis`",
         "error: invalid parameters for loss 'fmicl': tsallis_alpha must be > 1, got 1.0"),
    Case("train-sigma-0", train("{tmp}/data.txt", "--loss", "fmicl", "--sigma", "0"), nothing, "sigma",
         "`--sigma 0`",
         "error: invalid parameters for loss 'fmicl': sigma must be > 0, got 0.0"),
    Case("train-alpha-0", train("{tmp}/data.txt", "--loss", "fmicl", "--alpha", "0"), nothing, "alpha",
         "`--alpha 0` (f-MICL)",
         "error: invalid parameters for loss 'fmicl': alpha must be > 0, got 0.0"),
    Case("train-temperature-0", train("{tmp}/data.txt", "--temperature", "0"), nothing, "temperature",
         "`--temperature 0`",
         "error: invalid parameters for loss 'infonce': temperature must be > 0, got 0.0"),
    Case("train-lam-0", train("{tmp}/data.txt", "--loss", "au", "--lam", "0"), nothing, "lam",
         "`--lam 0` (alignment + uniformity)",
         "error: invalid parameters for loss 'au': lam must be > 0, got 0.0"),
    Case("train-gamma-negative", train("{tmp}/data.txt", "--loss", "kcl", "--gamma", "-1"), nothing, "gamma",
         "`--gamma -1` (KCL)",
         "error: invalid parameters for loss 'kcl': gamma must be > 0, got -1.0"),
    Case("train-unknown-loss", train("{tmp}/data.txt", "--loss", "infonse"), nothing, "did you mean 'infonce'",
         "unknown loss",
         "error: unknown loss 'infonse'"),
    Case("train-unknown-divergence", train("{tmp}/data.txt", "--loss", "fmicl", "--divergence", "kll"), nothing,
         "valid: kl", "unknown divergence",
         "error: invalid parameters for loss 'fmicl': unknown divergence 'kll'; valid: kl = Kullback-Leibler, "
         "js = Jensen-Shannon (GAN form), pearson = Pearson chi^2, squared_hellinger = squared Hellinger, "
         "tsallis = Tsallis (alpha=2.0), vlc = Vincze-Le Cam"),
    Case("train-unknown-recipe-key", train("{tmp}/data.txt", "--set", "training.max_step=5"), nothing,
         "did you mean 'max_steps'", "unknown recipe key",
         "error: unknown recipe key training.max_step"),
    Case("train-set-without-value", train("{tmp}/data.txt", "--set", "training.max_steps"), nothing, "KEY=VALUE",
         "`--set` without `=`",
         "error: --set expects KEY=VALUE, got 'training.max_steps'"),
    Case("train-recipe-not-yaml", ("train", "{tmp}/recipe.yaml"), write("recipe.yaml", "model: [unclosed\n"),
         "recipe.yaml", "a recipe that is not YAML",
         "error: the recipe is not valid YAML: expected ',' or ']', but got '<stream end>'"),
    Case("train-unknown-view", train("{tmp}/data.txt", "--views", "word_delete"), nothing,
         "did you mean 'word_deletion'", "unknown view",
         "error: views.a[0]: unknown view 'word_delete'"),
    Case("train-view-rate-above-1", train("{tmp}/data.txt", "--views", "word_deletion(rate=1.5)"), nothing,
         "[0, 1]", "a view rate of 1.5",
         "error: views.a[0].word_deletion.rate must be in [0, 1], got 1.5"),
    Case("train-unknown-precision", train("{tmp}/data.txt", "--precision", "fp8"), nothing, "valid: auto",
         "`--precision fp8`",
         "error: unknown training.precision 'fp8'"),
    Case("train-dev-is-a-test-suite", ("train", "--dev", "senteval7", "--output-dir", "{tmp}/out"), nothing,
         "stsb-dev", "`--dev senteval7` (a test suite)",
         "error: eval.dev 'senteval7' is a test suite: choosing checkpoints on it would leak the test set"),
    Case("train-output-is-a-file", ("train", "--output-dir", "{tmp}/out"), write("out", "my file"), "{tmp}/out",
         "`--output-dir` names a file",
         "error: the output path is a file, not a folder"),
    Case("train-output-holds-other-files", train("{tmp}/data.txt"), write("out/notes.txt", "mine"), "notes.txt",
         "an output folder with the user's files",
         "error: the output folder holds files this tool did not write: notes.txt"),
    Case("train-overwrite-user-readme", train("{tmp}/data.txt", "--overwrite"), write("out/README.md", "mine"),
         "never replaces", "`--overwrite` into a folder with the user's README.md",
         "error: the output folder holds README.md, not written by this tool, where the model would go"),
    Case("train-resume-nothing", train("{tmp}/data.txt", "--resume"), nothing, "drop --resume",
         "`--resume` where no run started",
         "error: nothing to resume: no run was started in the output folder"),
    Case("train-resume-and-overwrite", train("{tmp}/data.txt", "--resume", "--overwrite"), nothing, "pass one",
         "`--resume` with `--overwrite`",
         "error: --resume continues the run in the output folder, --overwrite starts it again"),
    Case("train-model-missing", train("{tmp}/data.txt", "--model", "{tmp}/nope", "--batch-size", "2"),
         write("data.txt", "A.\nB.\nC.\n"), "{tmp}/nope", "a model path that does not exist",
         "error: model folder not found"),
    Case("train-model-config-only", train("{tmp}/data.txt", "--model", "{tmp}/model", "--batch-size", "2"),
         write_all(write("data.txt", "A.\nB.\nC.\n"), write("model/config.json", "{}")), "no weights",
         "a model folder with only config.json",
         "error: the model folder has no weights (no *.safetensors file)"),
    Case("train-model-pickled", train("{tmp}/data.txt", "--model", "{tmp}/model", "--batch-size", "2"),
         write_all(write("data.txt", "A.\nB.\nC.\n"), write("model/config.json", "{}"),
                   write("model/pytorch_model.bin", b"pickle")), "--allow-pickle",
         "a model with pickled weights only",
         "error: the model folder has pickled weights only (pytorch_model.bin); unpickling a file can run code"),
]  # fmt: skip


# --------------------------------------------------------------------------- the test


def _snapshot(root: Path) -> dict[str, str]:
    return {
        path.relative_to(root).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_bad_input_is_one_message_and_loses_nothing(case: Case, tmp_path, request, capsys):
    from fmicl_text.cli import main

    values = {"{tmp}": str(tmp_path)}
    if "{home}" in " ".join(case.argv):
        values["{home}"] = str(request.getfixturevalue("tiny_data_home"))

    def fill(text: str) -> str:
        for key, value in values.items():
            text = text.replace(key, value)
        return text

    case.make(tmp_path)
    before = _snapshot(tmp_path)
    capsys.readouterr()  # drop what building the fixtures printed
    code = main([fill(arg) for arg in case.argv])
    err = capsys.readouterr().err
    assert code == 2, err
    assert "Traceback" not in err, err
    assert fill(case.expect) in err, err
    first = err.splitlines()[0]
    for key, value in sorted(values.items(), key=lambda kv: -len(kv[1])):
        first = first.replace(value, key)
    assert first == case.message, err
    after = _snapshot(tmp_path)
    assert {name: after.get(name) for name in before} == before  # still there, byte for byte


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def _code(text: str) -> str:
    """A markdown code span that may hold backticks."""
    return f"`` {_cell(text)} ``" if "`" in text else f"`{_cell(text)}`"


def render_table() -> list[str]:
    lines = ["| command | input | message |", "|---|---|---|"]
    for case in CASES:
        lines.append(f"| `{case.command}` | {_cell(case.input)} | {_code(case.message)} |")
    return lines


def render_doc() -> str:
    """docs/errors.md: one row per case of the table."""
    lines = [
        "# Error messages for bad input",
        "",
        "What `fmicl-text` prints for bad input: one message on stderr (what is wrong, then `where:` and",
        "`fix:` lines), exit code 2, and the input files left as they were. Generated from",
        "`tests/test_bad_input.py` (`python tests/test_bad_input.py` rewrites this file; a test checks it).",
        "`{tmp}` stands for the folder that holds the bad input.",
        "",
        *render_table(),
    ]
    return "\n".join(lines) + "\n"


def render_readme(readme: str) -> str:
    """README.md with the table between its ``errors:begin`` / ``errors:end`` markers replaced."""
    head, rest = readme.split(README_BEGIN, 1)
    _, tail = rest.split(README_END, 1)
    block = "\n".join(["", f"<details><summary>The {len(CASES)} cases the tests try</summary>", "", *render_table(), "",
                       "</details>", ""])  # fmt: skip
    return f"{head}{README_BEGIN}{block}{README_END}{tail}"


def test_the_doc_matches_the_table():
    assert DOC.read_text(encoding="utf-8") == render_doc(), "run: python tests/test_bad_input.py"
    readme = README.read_text(encoding="utf-8")
    assert readme == render_readme(readme), "run: python tests/test_bad_input.py"


def test_case_ids_are_unique():
    assert len({case.id for case in CASES}) == len(CASES)


if __name__ == "__main__":
    DOC.parent.mkdir(exist_ok=True)
    DOC.write_text(render_doc(), encoding="utf-8")
    README.write_text(render_readme(README.read_text(encoding="utf-8")), encoding="utf-8")
    print(f"wrote {DOC} and the table in {README}")
