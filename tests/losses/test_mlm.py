"""The MLM term: transformers' masking rule on a fixed seed, only masked positions projected, its
weight, MLM alone pre-training a tiny encoder, the head saved on request, and exact resume."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest
import torch
from conftest import tiny_recipe
from transformers import TrainerCallback

from fmicl_text.errors import FmiclError, RunInterrupted
from fmicl_text.losses.mlm import IGNORE, MLMObjective
from fmicl_text.modeling import ModelConfig, build_model
from fmicl_text.modeling.build import attach_mlm_head
from fmicl_text.recipe import Recipe
from fmicl_text.training import train


@pytest.fixture(scope="module")
def tiny(tiny_bert):
    model = build_model(ModelConfig(tiny_bert, pooling="mean", dropout=0.0))
    head, _ = attach_mlm_head(model, ModelConfig(tiny_bert))
    return model, head


def _batch(model, rows: int = 256, width: int = 40, seed: int = 0) -> torch.Tensor:
    tok = model.tokenizer
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(1000, tok.vocab_size, (rows, width), generator=g)
    ids[:, 0], ids[:, -1] = tok.cls_token_id, tok.sep_token_id
    ids[: rows // 2, width // 2 :] = tok.pad_token_id  # padded rows
    ids[: rows // 2, width // 2 - 1] = tok.sep_token_id
    return ids


def test_masking_follows_the_80_10_10_rule_on_a_fixed_seed(tiny):
    model, head = tiny
    objective = MLMObjective(None, model, head, mlm_weight=1.0, contrastive_weight=0.0, seed=5)
    ids = _batch(model)
    special = torch.isin(ids, torch.tensor(model.tokenizer.all_special_ids))
    masked, labels = objective.mask(ids)
    picked = labels != IGNORE
    assert not picked[special].any()  # [CLS], [SEP] and padding are never predicted
    assert torch.equal(labels[picked], ids[picked]) and torch.equal(masked[~picked], ids[~picked])
    share = picked.sum().item() / (~special).sum().item()
    assert share == pytest.approx(0.15, abs=0.01)
    n = picked.sum().item()
    as_mask = (masked[picked] == model.tokenizer.mask_token_id).sum().item() / n
    kept = (masked[picked] == ids[picked]).sum().item() / n
    assert as_mask == pytest.approx(0.8, abs=0.02) and kept == pytest.approx(0.1, abs=0.015)
    assert 1 - as_mask - kept == pytest.approx(0.1, abs=0.015)  # a random token
    again, _ = objective.mask(ids)
    assert torch.equal(again, masked)  # the same (seed, step): the same masks
    objective.calls += 1
    assert not torch.equal(objective.mask(ids)[0], masked)  # the next step draws anew


def test_only_masked_positions_reach_the_vocabulary(tiny):
    model, head = tiny
    objective = MLMObjective(None, model, head, mlm_weight=1.0, contrastive_weight=0.0)
    seen = []
    handle = head.register_forward_hook(lambda module, args, out: seen.append((args[0].shape, out.shape)))
    features = model.preprocess(["A man is playing a guitar on the street.", "The cat sits on the mat."] * 4)
    try:
        _, labels = objective.mask(features["input_ids"])
        parts = objective([dict(features), dict(features)])
    finally:
        handle.remove()
    n = (labels != IGNORE).sum().item()
    assert n > 0 and seen == [(torch.Size([n, 32]), torch.Size([n, model.tokenizer.vocab_size]))]
    assert set(parts) == {"mlm"} and parts["mlm"].item() > 0


def test_the_mlm_term_adds_to_the_contrastive_loss_with_its_weight(tiny):
    from fmicl_text.losses import InfoNCELoss

    model, head = tiny
    model.eval()  # no dropout: the same embeddings for every call
    features = dict(model.preprocess(["A man plays.", "A cat sits.", "Two dogs run.", "It rains."]))
    inner = InfoNCELoss(model)
    alone = {k: v.item() for k, v in inner([features, features]).items()}
    mlm = MLMObjective(None, model, head, mlm_weight=1.0, contrastive_weight=0.0)([features])["mlm"]
    both = MLMObjective(inner, model, head, mlm_weight=0.1, contrastive_weight=2.0)([features, features])
    assert set(both) == {"positive", "negative", "mlm"}
    assert both["positive"].item() == pytest.approx(2.0 * alone["positive"], rel=1e-5)
    assert both["negative"].item() == pytest.approx(2.0 * alone["negative"], rel=1e-5)
    assert both["mlm"].item() == pytest.approx(0.1 * mlm.item(), rel=1e-5)  # same (seed, step): same masks


def _recipe(model: str, home: Path, out: Path, **overrides: object) -> Recipe:
    base = {
        "mlm.weight": 1.0,
        "mlm.contrastive_weight": 0.0,
        "mlm.save_head": True,
        "training.output_dir": str(out),
        "training.max_steps": 30,
        "training.batch_size": 8,
        "training.learning_rate": 3e-3,
        "training.logging_steps": 1,
        "eval.dev": None,
        "eval.final_suite": None,
    }
    return tiny_recipe("mlm", model, home, **{**base, **overrides})


@pytest.mark.slow
def test_mlm_alone_pretrains_a_tiny_encoder_and_saves_its_head(tiny_bert, tiny_data_home, tmp_path):
    from safetensors.torch import load_file
    from sentence_transformers import SentenceTransformer
    from transformers import AutoModelForMaskedLM

    out = tmp_path / "run"
    train(_recipe(tiny_bert, tiny_data_home, out))
    log = json.loads((out / "training_log.json").read_text())
    mlm = [row["mlm"] for row in log if "mlm" in row]
    assert set().union(*(row.keys() for row in log if "loss" in row)) >= {"mlm"}
    assert not any("positive" in row for row in log)  # MLM alone: the contrastive loss never ran
    assert sum(mlm[-5:]) / 5 < sum(mlm[:5]) / 5 - 1.0  # the MLM loss fell
    results = json.loads((out / "eval_results.json").read_text())
    assert results["mlm"]["contrastive_weight"] == 0.0
    # The saved folder is both a sentence-transformers model and an MLM model with the trained head.
    masked_lm = AutoModelForMaskedLM.from_pretrained(out)
    tensors = load_file(out / "checkpoints" / "checkpoint-30" / "fmicl_state.safetensors")
    bias = masked_lm.cls.predictions.bias
    torch.testing.assert_close(bias, tensors["mlm.predictions.bias"])
    embedder = SentenceTransformer(str(out))
    torch.testing.assert_close(
        embedder[0].auto_model.embeddings.word_embeddings.weight, masked_lm.bert.embeddings.word_embeddings.weight
    )
    assert embedder.encode(["A sentence."]).shape == (1, 32)


def test_the_head_is_dropped_unless_asked(tiny_bert, tiny_data_home, tmp_path):
    from safetensors.torch import load_file

    out = tmp_path / "run"
    train(_recipe(tiny_bert, tiny_data_home, out, **{"mlm.save_head": False, "training.max_steps": 2}))
    assert not any(key.startswith("cls.") for key in load_file(out / "model.safetensors"))


def test_mlm_validation(tiny_bert, tiny_data_home, tmp_path):
    with pytest.raises(FmiclError, match="mlm.probability"):
        train(_recipe(tiny_bert, tiny_data_home, tmp_path / "a", **{"mlm.probability": 1.0}))
    with pytest.raises(FmiclError, match="need the MLM term"):
        train(_recipe(tiny_bert, tiny_data_home, tmp_path / "b", **{"mlm.weight": 0.0}))


@pytest.mark.slow
def test_a_stopped_mlm_run_resumes_to_the_same_weights(tiny_bert, tiny_data_home, tmp_path):
    """The head lives outside the model: its weights and the masks' step go into each checkpoint."""
    from safetensors.torch import load_file

    recipe = {"training.max_steps": 6, "mlm.contrastive_weight": 1.0, "mlm.weight": 0.5, "model.dropout": 0.1}
    whole = tmp_path / "whole"
    train(_recipe(tiny_bert, tiny_data_home, whole, **recipe))

    class SigintInStep3(TrainerCallback):
        def on_step_begin(self, args, state, control, **kwargs):
            if state.global_step == 2:
                os.kill(os.getpid(), signal.SIGINT)

    parts = tmp_path / "parts"
    with pytest.raises(RunInterrupted):
        train(_recipe(tiny_bert, tiny_data_home, parts, **recipe), callbacks=[SigintInStep3()])
    train(_recipe(tiny_bert, tiny_data_home, parts, **recipe), resume="latest")
    a, b = load_file(whole / "model.safetensors"), load_file(parts / "model.safetensors")
    assert a.keys() == b.keys() and any(key.startswith("cls.") for key in a)
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=1e-5, atol=1e-6)


def test_the_recipe_reads_the_mlm_defaults_from_the_objective():
    """``mlm.probability`` and ``mlm.contrastive_weight`` are declared once, by MLMObjective's signature."""
    import inspect

    from fmicl_text.losses.mlm import MLMObjective
    from fmicl_text.recipe import MLMConfig

    declared = {k: p.default for k, p in inspect.signature(MLMObjective).parameters.items()}
    assert MLMConfig().probability == declared["mlm_probability"]
    assert MLMConfig().contrastive_weight == declared["contrastive_weight"]
