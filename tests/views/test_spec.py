"""The ``views`` recipe section and the ``--views`` syntax: parsing, defaults spelled out, clear errors."""

from __future__ import annotations

import pytest

from fmicl_text.cli import build_parser, recipe_from_args
from fmicl_text.errors import FmiclError
from fmicl_text.recipe import Recipe, load_recipe
from fmicl_text.views.spec import ViewsConfig, parse_views


def test_one_list_is_both_views_with_defaults_filled():
    views = parse_views("word_deletion")
    assert views.a == views.b == [{"name": "word_deletion", "rate": 0.1}]
    assert views.shared_bits == 0


def test_sides_lists_and_shared_bits():
    views = parse_views("a=token_shuffle; b=span_mask(rate=0.3,mean_span=2)+feature_cutoff; shared_bits=3")
    assert views.a == [{"name": "token_shuffle", "rate": 1.0}]
    assert views.b == [
        {"name": "span_mask", "rate": 0.3, "mean_span": 2.0},
        {"name": "feature_cutoff", "rate": 0.2},
    ]
    assert views.shared_bits == 3
    assert views.uses_embedding_masks and not views.is_identity
    assert parse_views(views.describe()) == views  # describe() is valid --views syntax


def test_none_and_yaml_forms():
    assert parse_views("none").is_identity
    assert parse_views("b=none").is_identity
    assert parse_views("{b: [{name: word_repetition}]}").b == [{"name": "word_repetition", "rate": 0.32}]


@pytest.mark.parametrize(
    "spec, message",
    [
        ("word_delection", "did you mean 'word_deletion'"),
        ("word_deletion(rat=0.1)", "did you mean 'rate'"),
        ("word_deletion(rate=1.5)", "must be in [0, 1]"),
        ("token_cutoff(rate=1)", "must be in [0, 1)"),
        ("span_mask(rate=0.1", "missing ')'"),
        ("c=word_deletion", "unknown part 'c'"),
        ("dropout(rate=0)", "--dropout"),
        ("shared_bits=1.5", "whole number"),
        ("word_deletion(rate=abc)", "must be a number"),
    ],
)
def test_bad_specs_get_one_clear_message(spec, message):
    with pytest.raises(FmiclError) as info:
        parse_views(spec)
    assert message in info.value.format()


def test_recipe_section_round_trips(tmp_path):
    recipe = Recipe(views=ViewsConfig(b=[{"name": "word_repetition"}], shared_bits=1))
    path = tmp_path / "r.yaml"
    recipe.save(path)
    assert load_recipe(path).views == recipe.views
    assert "views:" in path.read_text()


def test_recipe_errors_name_the_entry(tmp_path):
    path = tmp_path / "r.yaml"
    path.write_text("views:\n  b:\n    - {name: word_deletion, rate: 2}\n")
    with pytest.raises(FmiclError) as info:
        load_recipe(path)
    assert "views.b[0].word_deletion.rate" in info.value.format() and str(path) in info.value.format()


def test_cli_views_and_dropout_override_the_recipe(tmp_path):
    path = tmp_path / "r.yaml"
    path.write_text("views:\n  a: [{name: word_deletion}]\n")
    args = build_parser().parse_args(["train", str(path), "--views", "b=token_shuffle", "--dropout", "0"])
    recipe = recipe_from_args(args)
    assert recipe.views.a == [] and recipe.views.b == [{"name": "token_shuffle", "rate": 1.0}]
    assert recipe.model.dropout == 0.0
