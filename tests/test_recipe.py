"""Recipes: YAML loading, flag overrides, and clear errors for keys that do not exist."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import yaml

from fmicl_text.cli import build_parser, recipe_from_args
from fmicl_text.errors import FmiclError
from fmicl_text.losses import LOSSES, build
from fmicl_text.recipe import Recipe, apply_overrides, load_recipe

REPO = Path(__file__).resolve().parents[1]


def _write(tmp_path, text):
    path = tmp_path / "r.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_are_simcse_unsup():
    r = Recipe()
    assert (r.model.pooling, r.model.mlp_only_train, r.data.max_seq_length) == ("cls", True, 32)
    assert (r.training.batch_size, r.training.learning_rate, r.eval.eval_steps) == (64, 3e-5, 125)
    assert r.loss.name == "infonce"


def test_yaml_sections_and_loss_params(tmp_path):
    path = _write(
        tmp_path,
        "model: {name_or_path: bert-base-uncased, pooling: mean}\n"
        "loss: {name: infonce, temperature: 0.1}\ntraining: {learning_rate: 1}\n",
    )
    r = load_recipe(path)
    assert r.model.pooling == "mean"
    assert r.loss.params == {"temperature": 0.1}
    assert r.training.learning_rate == 1.0 and isinstance(r.training.learning_rate, float)
    assert load_recipe(_write(tmp_path, "loss: infonce\n")).loss.name == "infonce"


def test_round_trip(tmp_path):
    r = apply_overrides(Recipe(), {"loss.temperature": 0.2, "training.max_steps": 7})
    r.save(tmp_path / "out.yaml")
    assert load_recipe(tmp_path / "out.yaml") == r


@pytest.mark.parametrize(
    "text, message",
    [
        ("traning: {}\n", "did you mean 'training'"),
        ("training: {max_step: 3}\n", "did you mean 'max_steps'"),
        ("training: {batch_size: many}\n", "training.batch_size must be int"),
        ("model: [1, 2]\n", "must be a mapping"),
        ("model: {pooling: [\n", "not valid YAML"),
        ("- a\n- b\n", "YAML mapping"),
    ],
)
def test_bad_recipes(tmp_path, text, message):
    with pytest.raises(FmiclError, match=message) as info:
        load_recipe(_write(tmp_path, text))
    assert "r.yaml" in str(info.value)


def test_missing_recipe_file(tmp_path):
    with pytest.raises(FmiclError, match="not found"):
        load_recipe(tmp_path / "nope.yaml")


def test_cli_flags_override_recipe(tmp_path):
    path = _write(tmp_path, "training: {max_steps: 100, batch_size: 8}\nloss: {name: infonce, temperature: 0.1}\n")
    args = build_parser().parse_args(
        [
            "train",
            str(path),
            "--model",
            "m",
            "--train-data",
            "corpus.txt",
            "--loss",
            "infonce",
            "--max-steps",
            "5",
            "--batch-size",
            "4",
            "--max-seq-length",
            "16",
            "--learning-rate",
            "1e-4",
            "--output-dir",
            "o",
            "--seed",
            "3",
            "--data-dir",
            "d",
            "--set",
            "loss.symmetric=true",
            "--no-dev",
        ]
    )
    r = recipe_from_args(args)
    assert r.model.name_or_path == "m" and r.data.train == "corpus.txt" and r.data.data_dir == "d"
    assert (r.training.max_steps, r.training.batch_size, r.training.seed) == (5, 4, 3)
    assert r.training.learning_rate == 1e-4 and r.data.max_seq_length == 16
    assert r.training.output_dir == "o" and r.eval.dev is None
    assert r.loss.params == {"temperature": 0.1, "symmetric": True}


def test_shipped_recipes_load():
    recipes = sorted((REPO / "recipes").glob("*.yaml"))
    assert recipes, "no recipes shipped"
    for path in recipes:
        r = load_recipe(path)
        assert r.name == path.stem, f"{path.name}: name should match the file"
        assert yaml.safe_load(path.read_text())  # parses
        build(r.loss.name, torch.nn.Identity(), **r.loss.params)  # the loss and its parameters exist
    names = {load_recipe(p).loss.name for p in recipes}
    assert names == set(LOSSES), "every registered loss has a recipe"
