"""GradCache for every loss (``CachedLoss``): the same values, parts and gradients as the loss itself,
dropout replayed exactly in the second pass, and the views' masks kept whole."""

from __future__ import annotations

import pytest
import torch
from conftest import SENTENCES

from fmicl_text.losses import LOSSES, build
from fmicl_text.losses.cached import CachedLoss
from fmicl_text.modeling import ModelConfig, build_model

TEXTS = SENTENCES[:7]  # 7 rows: mini-batches of 3 leave a ragged last one


def _model(path: str, dropout: float):
    torch.manual_seed(0)
    return build_model(ModelConfig(path, pooling="mean", dropout=dropout))


def _rows(features: dict, begin: int, end: int) -> dict:
    return {k: v[begin:end] if isinstance(v, torch.Tensor) else v for k, v in features.items()}


def _grads(model) -> dict[str, torch.Tensor]:
    out = {name: p.grad.clone() for name, p in model.named_parameters() if p.grad is not None}
    model.zero_grad(set_to_none=True)
    return out


def _assert_grads_close(actual: dict, expected: dict) -> None:
    """Each gradient to 1e-4 relative, and to 1e-5 of its tensor's largest entry in absolute terms: an entry
    summed over many tokens (token-type embeddings, biases) cancels to near zero, where float32 rounding in a
    different summation order (measured: up to 6e-7 of the tensor's scale) would fail a fixed ``atol``."""
    assert expected.keys() == actual.keys() and expected
    for key, grad in expected.items():
        atol = 1e-5 * float(grad.abs().max()) + 1e-9
        torch.testing.assert_close(actual[key], grad, rtol=1e-4, atol=atol, msg=key)


def _run(loss, features) -> tuple[dict[str, float], dict[str, torch.Tensor]]:
    parts = loss(features, None)
    sum(parts.values()).backward()
    return {k: float(v.detach()) for k, v in parts.items()}, _grads(loss.model)


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_cached_equals_the_loss_for_every_loss(name, tiny_bert):
    model = _model(tiny_bert, dropout=0.0)
    features = [model.preprocess(list(TEXTS)), model.preprocess([t.lower() for t in TEXTS])]
    plain_parts, plain_grads = _run(build(name, model), features)
    cached_parts, cached_grads = _run(CachedLoss(build(name, model), mini_batch_size=3), features)
    assert cached_parts.keys() == plain_parts.keys()
    assert cached_parts == pytest.approx(plain_parts, rel=1e-5, abs=1e-6)
    _assert_grads_close(cached_grads, plain_grads)


def test_dropout_is_replayed_in_the_second_pass(tiny_bert):
    """With dropout on, the cached gradients equal those of a plain loss on the same mini-batch forwards,
    drawn in the same order from the same seed: the second pass saw the first pass's dropout masks."""
    model = _model(tiny_bert, dropout=0.1)
    model.train()
    columns = [model.preprocess(list(TEXTS)), model.preprocess(list(TEXTS))]
    loss = build("infonce", model)
    torch.manual_seed(123)
    embeddings = [torch.cat([model(_rows(f, b, b + 3))["sentence_embedding"] for b in range(0, 7, 3)]) for f in columns]
    parts = loss.compute_loss_from_embeddings(embeddings)
    sum(parts.values()).backward()
    expected = _grads(model)
    torch.manual_seed(123)
    cached_parts, cached_grads = _run(CachedLoss(loss, mini_batch_size=3), columns)
    assert cached_parts == pytest.approx({k: float(v.detach()) for k, v in parts.items()}, rel=1e-5)
    _assert_grads_close(cached_grads, expected)


def test_views_masks_survive_the_mini_batches(tiny_bert):
    """Token and feature cutoff masks ride in the features: the cached loss sees the same views."""
    from fmicl_text.views.collator import ViewsDataCollator
    from fmicl_text.views.spec import parse_views

    model = _model(tiny_bert, dropout=0.0)
    views = parse_views("b=token_cutoff(rate=0.2)+feature_cutoff(rate=0.2)")
    collator = ViewsDataCollator(model, views, seed=0, max_length=16)
    batch = collator([{"anchor": t, "positive": t} for t in TEXTS])
    features = [collator.view_features(batch, "anchor"), collator.view_features(batch, "positive")]
    assert "view_keep_feature" in features[1]
    plain_parts, plain_grads = _run(build("infonce", model), features)
    cached_parts, cached_grads = _run(CachedLoss(build("infonce", model), mini_batch_size=2), features)
    assert cached_parts == pytest.approx(plain_parts, rel=1e-5, abs=1e-6)
    _assert_grads_close(cached_grads, plain_grads)


def test_cached_loss_reports_the_wrapped_loss_and_rejects_bad_sizes(tiny_bert):
    model = _model(tiny_bert, dropout=0.0)
    cached = CachedLoss(build("kcl", model), mini_batch_size=4)
    assert cached.get_config_dict()["mini_batch_size"] == 4 and "gamma" in cached.get_config_dict()
    assert cached.citation == cached.loss.citation
    cached.raise_on_nonfinite = False
    assert cached.loss.raise_on_nonfinite is False
    with pytest.raises(ValueError, match="mini_batch_size"):
        CachedLoss(build("kcl", model), mini_batch_size=0)


@pytest.mark.slow
def test_a_run_with_cache_batch_size_trains(tiny_bert, tiny_data_home, tmp_path, monkeypatch):
    """``--cache-batch-size`` through the trainer: the loss is logged in parts and the weights move."""
    import json

    from conftest import tiny_recipe

    from fmicl_text.training import train

    recipe = tiny_recipe("cached", tiny_bert, tiny_data_home, **{
        "training.output_dir": str(tmp_path / "run"), "training.max_steps": 3, "training.batch_size": 8,
        "training.learning_rate": 1e-3, "training.logging_steps": 1, "training.cache_batch_size": 3,
        "eval.dev": None, "eval.final_suite": None,
    })  # fmt: skip
    before = {k: v.clone() for k, v in _model(tiny_bert, 0.1).state_dict().items()}
    sizes = []
    real = CachedLoss.embed_minibatch

    def spy(self, **kwargs):
        sizes.append(kwargs["end"] - kwargs["begin"])
        return real(self, **kwargs)

    monkeypatch.setattr(CachedLoss, "embed_minibatch", spy)
    result = train(recipe)
    assert result.steps == 3
    assert sizes and max(sizes) == 3  # the batches of 8 went through in mini-batches of 3
    log = json.loads((tmp_path / "run" / "training_log.json").read_text())
    rows = [row for row in log if "loss" in row]
    assert len(rows) == 3 and all({"positive", "negative"} <= set(row) for row in rows)
    saved = build_model(ModelConfig(str(tmp_path / "run"), pooling="mean")).state_dict()
    assert any(not torch.equal(saved[k], v) for k, v in before.items() if k in saved)


def test_cache_batch_size_is_checked_before_anything_runs():
    from fmicl_text.errors import FmiclError
    from fmicl_text.recipe import Recipe, apply_overrides, validate

    with pytest.raises(FmiclError, match="cache_batch_size must be >= 1"):
        validate(apply_overrides(Recipe(), {"training.cache_batch_size": 0}))
    with pytest.raises(FmiclError, match="does not take the MLM term"):
        validate(apply_overrides(Recipe(), {"training.cache_batch_size": 8, "mlm.weight": 0.1}))
