"""Diagnostics: effective rank on hand-made matrices, I_NCE's bounds and order, the functional
numbers reproduced, the evaluator's keys (alone and in a SequentialEvaluator), and the CLI functions."""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from fmicl_text.cli.evaluate import add_diagnostics_arguments, run_eval_diagnostics
from fmicl_text.errors import FmiclError
from fmicl_text.evaluation.diagnostics import compute_diagnostics, effective_rank, i_nce, load_diagnostics_data
from fmicl_text.evaluation.evaluators import DiagnosticsEvaluator
from fmicl_text.losses import functional

HEADER = "sentence1\tsentence2\tscore\tsubset"
# (sentence1, sentence2, gold): three pairs above 4 (one at exactly 4.0, which is not above), distinct sentences.
DEV_ROWS = [
    ("A man is playing a guitar.", "A man plays the guitar.", 4.8),
    ("A woman is slicing an onion.", "A woman cuts an onion.", 4.2),
    ("The cat sits on the mat.", "Two dogs run across the field.", 0.4),
    ("A child is reading a book in the park.", "A kid reads a book outdoors.", 4.0),
    ("The stock market fell sharply on Monday.", "Stocks dropped steeply on Monday.", 4.6),
    ("Scientists discovered a new species of frog.", "He drove to work in the rain.", 0.0),
    ("The orchestra played a symphony by Mozart.", "A plane is taking off from the runway.", 1.2),
    ("She is cooking pasta for dinner.", "The river flows through the old town.", 0.2),
    ("A bird sings in the tree.", "The train arrived late.", 0.8),
    ("Kids are playing football outside.", "The chef tastes the soup.", 1.0),
    ("A man is playing a guitar.", "The cat sits on the mat.", 0.1),  # repeated sentences: encoded once
]
TEST_ROWS = [
    ("A dog barks at the mailman.", "A dog is barking at the postman.", 4.9),
    ("The sun sets over the sea.", "A man rides a bicycle.", 0.3),
    ("People wait for the bus.", "A crowd waits at the bus stop.", 3.9),
]


def write_split(home: Path, split: str, rows) -> Path:
    path = home / "sts" / "senteval" / f"stsb.{split}.tsv"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(HEADER + "\n" + "".join(f"{a}\t{b}\t{s:.3f}\tmain\n" for a, b, s in rows), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def home(tmp_path_factory) -> Path:
    home = tmp_path_factory.mktemp("diag-home")
    write_split(home, "dev", DEV_ROWS)
    write_split(home, "test", TEST_ROWS)
    return home


@pytest.fixture(scope="module")
def model(tiny_bert):
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(tiny_bert, device="cpu")


def set_dropout(model, p: float) -> None:
    """Set every dropout rate (BERT's attention dropout reads its Dropout module's p too)."""
    for module in model.modules():
        if isinstance(module, torch.nn.Dropout):
            module.p = p


@pytest.fixture
def dropout(model):
    """Set the tiny model's dropout for one test, and put it back afterwards."""
    yield lambda p: set_dropout(model, p)
    set_dropout(model, 0.1)
    model.eval()


def distinct(rows) -> list[str]:
    return list(dict.fromkeys(s for a, b, _ in rows for s in (a, b)))


# --------------------------------------------------------------------------- effective rank


def test_effective_rank_of_rank_one_matrix_is_one():
    g = torch.Generator().manual_seed(0)
    z = torch.randn(20, 1, generator=g) @ torch.randn(1, 8, generator=g)
    assert effective_rank(z) == pytest.approx(1.0, abs=1e-6)


@pytest.mark.parametrize("k", [1, 3, 7, 32])
def test_effective_rank_of_identity_is_its_size(k):
    assert effective_rank(torch.eye(k)) == pytest.approx(k, rel=1e-9)
    assert effective_rank(np.eye(k)) == pytest.approx(k, rel=1e-9)  # numpy input too


def test_effective_rank_hand_computed_and_scale_invariant():
    # singular values 2, 1, 1 -> p = (1/2, 1/4, 1/4) -> H = 1.5 log 2 -> erank = 2^1.5
    z = torch.diag(torch.tensor([2.0, 1.0, 1.0]))
    assert effective_rank(z) == pytest.approx(2**1.5, rel=1e-9)
    g = torch.Generator().manual_seed(1)
    z = torch.randn(50, 10, generator=g)
    value = effective_rank(z)
    assert 1.0 <= value <= 10.0
    for scale in (1e-3, 7.0, 1e4):
        assert effective_rank(scale * z) == pytest.approx(value, rel=1e-9)


def test_effective_rank_is_not_centred_by_default():
    # Every row the same vector: uncentred, one direction (erank 1); centred, nothing left (0).
    z = torch.ones(10, 4) * torch.tensor([1.0, 2.0, 3.0, 4.0])
    assert effective_rank(z) == pytest.approx(1.0)
    assert effective_rank(z, center=True) == 0.0
    # A common offset lowers the uncentred rank of otherwise spread-out rows.
    g = torch.Generator().manual_seed(2)
    spread = torch.randn(200, 6, generator=g)
    assert effective_rank(spread + 10.0) < effective_rank(spread + 10.0, center=True)


def test_effective_rank_rejects_bad_input():
    with pytest.raises(ValueError, match="2-D"):
        effective_rank(torch.ones(3))
    with pytest.raises(ValueError, match="NaN"):
        effective_rank(torch.tensor([[1.0, float("nan")]]))


# --------------------------------------------------------------------------- I_NCE


def test_i_nce_identical_views_equals_log_n_minus_info_nce(model, dropout):
    dropout(0.0)  # no dropout: the two views are the same embedding, equal to encode()'s
    sentences = distinct(DEV_ROWS)
    n = len(sentences)
    mean, std = i_nce(model, sentences, batch_size=64)  # fewer sentences than a batch: one batch of all
    z = torch.as_tensor(model.encode(sentences))
    parts = functional.info_nce(z, z)
    assert mean == pytest.approx(math.log(n) - float(parts["positive"] + parts["negative"]), abs=1e-4)
    assert std == 0.0
    assert 0.0 < mean <= math.log(n)
    # Sharp enough a temperature, and identical views of distinct sentences are told apart: I_NCE -> log N.
    sharp, _ = i_nce(model, sentences, batch_size=64, temperature=0.001)
    assert sharp == pytest.approx(math.log(n), abs=1e-3)


def test_i_nce_falls_as_dropout_rises(model, dropout):
    # The tiny BERT's weights are random per session: average over a few dropout draws, with
    # well-separated rates, so that the order holds for any weights (checked on 25 inits).
    sentences = distinct(DEV_ROWS)
    values = []
    for p in (0.0, 0.2, 0.5):
        dropout(p)
        values.append(np.mean([i_nce(model, sentences, batch_size=20, seed=s)[0] for s in range(4)]))
    assert values[0] > values[1] > values[2]
    for value in values[:2]:
        assert 0.0 <= value <= math.log(20)


def test_i_nce_is_seeded_restores_mode_and_leaves_the_rng_alone(model, dropout):
    dropout(0.1)
    sentences = distinct(DEV_ROWS)
    model.eval()
    state = torch.get_rng_state()
    first = i_nce(model, sentences, batch_size=4, seed=5)
    assert torch.equal(torch.get_rng_state(), state)
    assert not model.training
    assert i_nce(model, sentences, batch_size=4, seed=5) == first
    assert i_nce(model, sentences, batch_size=4, seed=6) != first
    model.train()
    i_nce(model, sentences, batch_size=4, n_batches=2)
    assert model.training
    assert first[1] > 0.0  # several batches (20 sentences -> 5 batches of 4): a spread
    assert all(v <= math.log(4) for v in first)


def test_i_nce_rejects_bad_sizes(model):
    with pytest.raises(FmiclError, match="at least 2"):
        i_nce(model, ["only one"])
    with pytest.raises(FmiclError, match="batch size"):
        i_nce(model, ["a", "b"], batch_size=1)


# --------------------------------------------------------------------------- compute_diagnostics


def test_compute_diagnostics_matches_the_functional_numbers(model, home):
    model.eval()
    result = compute_diagnostics(model, data_dir=home, i_nce_batch_size=8)
    sentences = distinct(DEV_ROWS)
    assert result.n_sentences == len(sentences) == 20
    assert result.n_pairs == 3  # 4.8, 4.2, 4.6; 4.0 is not above 4
    z = torch.as_tensor(model.encode(sentences))
    index = {s: i for i, s in enumerate(sentences)}
    pairs = [(a, b) for a, b, s in DEV_ROWS if s > 4]
    u = z[[index[a] for a, _ in pairs]]
    v = z[[index[b] for _, b in pairs]]
    assert result.alignment == pytest.approx(float(functional.alignment(u, v)), rel=1e-5)
    assert result.uniformity == pytest.approx(float(functional.uniformity(z)), rel=1e-5)
    assert result.erank == pytest.approx(effective_rank(torch.nn.functional.normalize(z, dim=-1)), rel=1e-5)
    assert result.i_nce == pytest.approx(i_nce(model, sentences, batch_size=8)[0], rel=1e-6)
    assert (result.i_nce_batch_size, result.i_nce_batches, result.split, result.dim) == (8, 2, "dev", 32)
    assert set(result.metrics()) == {"alignment", "uniformity", "erank", "i_nce"}
    assert not model.training  # mode restored


def test_split_and_max_sentences(model, home):
    result = compute_diagnostics(model, data_dir=home, split="test")
    assert (result.split, result.n_pairs, result.n_sentences) == ("test", 1, 6)
    data = load_diagnostics_data(data_dir=home, max_sentences=5)  # rows while <= 5 distinct sentences
    assert data.sentences == distinct(DEV_ROWS[:2])
    assert data.positive_pairs == [(0, 1), (2, 3)]


def test_data_problems_are_clear_errors(tmp_path):
    write_split(tmp_path, "dev", [("a b", "c d", 1.0), ("e f", "g h", 3.0)])
    with pytest.raises(FmiclError, match="above 4"):
        load_diagnostics_data(data_dir=tmp_path)
    with pytest.raises(FmiclError, match="not in the data home"):
        load_diagnostics_data(data_dir=tmp_path, split="test")
    with pytest.raises(FmiclError, match="no split"):
        load_diagnostics_data(data_dir=tmp_path, split="validation")


# --------------------------------------------------------------------------- evaluator


def test_evaluator_keys_csv_and_sequential_primary_metric(model, home, tmp_path):
    from sentence_transformers.base.evaluation import SequentialEvaluator

    from fmicl_text.evaluation.evaluators import StsEvaluator

    diag = DiagnosticsEvaluator(data_dir=home, i_nce_batch_size=8)
    metrics = diag(model, output_path=str(tmp_path), epoch=0, steps=10)
    assert set(metrics) == {"diag_alignment", "diag_uniformity", "diag_erank", "diag_i_nce"}
    assert all(math.isfinite(v) for v in metrics.values())
    assert diag.primary_metric == "diag_uniformity" and diag.greater_is_better is False
    rows = (tmp_path / diag.csv_file).read_text().splitlines()
    assert rows[0] == "epoch,steps,alignment,uniformity,erank,i_nce,i_nce_std" and rows[1].startswith("0,10,")

    sts = StsEvaluator(suite="stsb-dev", data_dir=home, write_csv=False)
    # Default: SequentialEvaluator's score is the *last* evaluator's primary metric ...
    default = SequentialEvaluator([sts, diag])(model)
    assert default["sequential_score"] == default["diag_uniformity"]
    # ... so pick the STS one explicitly (and select checkpoints on eval_sts_stsb_dev).
    combined = SequentialEvaluator([sts, diag], main_score_function=lambda scores: scores[0])
    results = combined(model)
    assert results["sequential_score"] == results[sts.primary_metric] == results["sts_stsb_dev"]
    assert {"diag_alignment", "diag_i_nce", "sts_stsb_dev"} <= set(results)


def test_diagnostics_reuse_the_dev_evaluations_embeddings(model, home, monkeypatch):
    """During training the diagnostics take STS-B dev's embeddings of the same step: the same numbers, and
    the STS-B dev sentences are encoded once per evaluation instead of twice."""
    from fmicl_text.evaluation.evaluators import StsEvaluator

    sts = StsEvaluator(suite="stsb-dev", data_dir=home, write_csv=False)
    alone = DiagnosticsEvaluator(data_dir=home, i_nce_batch_size=8, write_csv=False)
    shared = DiagnosticsEvaluator(data_dir=home, i_nce_batch_size=8, write_csv=False, embeddings_from=sts)
    expected = alone(model, epoch=0, steps=5)
    encoded = []
    real = model.encode
    monkeypatch.setattr(model, "encode", lambda texts, **kw: encoded.append(len(texts)) or real(texts, **kw))
    sts(model, epoch=0, steps=5)
    got = shared(model, epoch=0, steps=5)
    assert encoded == [len(sts.embeddings[1])]  # the diagnostics encoded nothing (I_NCE runs the modules)
    assert got == pytest.approx(expected, rel=1e-5, abs=1e-6)
    # Embeddings of another step are never reused: the diagnostics encode again.
    encoded.clear()
    shared(model, epoch=0, steps=6)
    assert encoded == [len(shared.data.sentences)]


# --------------------------------------------------------------------------- CLI


def test_cli_prints_the_table_and_writes_json(tiny_bert, home, tmp_path, capsys):
    parser = add_diagnostics_arguments(argparse.ArgumentParser())
    out = tmp_path / "out" / "diag.json"
    args = parser.parse_args([tiny_bert, "--data-dir", str(home), "--output", str(out), "--i-nce-batch-size", "4"])
    assert run_eval_diagnostics(args) == 0
    printed = capsys.readouterr().out
    for word in ("alignment", "uniformity", "effective rank", "I_NCE", "20 sentences"):
        assert word in printed
    record = json.loads(out.read_text())
    assert set(record["diagnostics"]) == {"alignment", "uniformity", "erank", "i_nce"}
    assert record["i_nce_max"] == pytest.approx(math.log(4))
    assert record["n_pairs"] == 3 and record["split"] == "dev" and record["model"] == tiny_bert
    assert record["i_nce_temperature"] == 0.05 and record["n_sentences"] == 20


def test_cli_bad_data_fails_before_loading_the_model(tmp_path):
    parser = add_diagnostics_arguments(argparse.ArgumentParser())
    args = parser.parse_args(["no/such/model", "--data-dir", str(tmp_path)])
    with pytest.raises(FmiclError, match="not in the data home"):
        run_eval_diagnostics(args)
