"""The base model's test scores: computed once per weights, read back after, never another model's."""

from __future__ import annotations

import pytest
import torch

from fmicl_text.evaluation.base_scores import base_model_scores
from fmicl_text.evaluation.sts import load_suite, score_tasks
from fmicl_text.modeling import ModelConfig, build_model


def test_base_scores_are_cached_per_weights(tiny_bert, tiny_data_home, tmp_path, monkeypatch):
    monkeypatch.setenv("FMICL_CACHE_DIR", str(tmp_path / "cache"))
    tasks = load_suite("senteval7", text="senteval", data_dir=tiny_data_home)
    model = build_model(ModelConfig(tiny_bert, pooling="mean"))
    model.train()
    first = base_model_scores(model, tasks, suite="senteval7", text="senteval", batch_size=8, name="tiny")
    assert first["cached"] is False and model.training  # the mode is restored
    model.eval()
    direct = score_tasks(model, tasks, suite="senteval7", text="senteval", show_progress=False).scores
    assert first["scores"] == pytest.approx(direct)
    again = base_model_scores(model, tasks, suite="senteval7", text="senteval", batch_size=8, name="tiny")
    assert again["cached"] is True and again["scores"] == first["scores"]
    # Other weights (a fine-tuned model of the same architecture) get their own scores, not the cached ones.
    with torch.no_grad():
        next(model.parameters()).add_(0.5)
    other = base_model_scores(model, tasks, suite="senteval7", text="senteval", batch_size=8, name="tiny")
    assert other["cached"] is False and other["digest"] != first["digest"]
    # Another text version is another key too.
    original = base_model_scores(model, tasks, suite="senteval7", text="original", batch_size=8, name="tiny")
    assert original["cached"] is False
