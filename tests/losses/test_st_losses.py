"""The sentence-transformers losses: registry, parameters, model-card hooks, a real forward pass."""

from __future__ import annotations

import pytest
import torch

from fmicl_text.errors import FmiclError
from fmicl_text.losses import LOSSES, build, functional, loss_parameters

FUNCTIONS = {
    "infonce": functional.info_nce,
    "fmicl": functional.fmicl,
    "au": functional.alignment_uniformity,
    "gcl": functional.generalized_contrastive,
    "dhel": functional.dhel,
    "kcl": functional.kcl,
}


def _features(model, columns):
    return [model.preprocess(texts) for texts in columns]


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_each_loss_wraps_its_function(name, tiny_model):
    loss = build(name, tiny_model)
    config = loss.get_config_dict()
    assert config["gather_across_devices"] is False
    assert set(config) - {"gather_across_devices"} <= set(loss_parameters(name))
    assert "@" in loss.citation and "year" in loss.citation
    texts = ["A man plays a guitar.", "A cat sleeps.", "Rain falls on the town.", "She cooks pasta."]
    parts = loss(_features(tiny_model, [texts, texts]), None)
    assert isinstance(parts, dict) and all(torch.isfinite(p) for p in parts.values())
    # The same value as the pure function on the model's embeddings (dropout is off).
    with torch.no_grad():
        emb = tiny_model.encode(texts, convert_to_tensor=True)
    params = {k: v for k, v in config.items() if k not in ("gather_across_devices", "seed")}
    if name == "gcl":
        params["generator"] = torch.Generator().manual_seed(loss.seed)
        loss.generator.manual_seed(loss.seed)
        parts = loss(_features(tiny_model, [texts, texts]), None)
    expected = FUNCTIONS[name](emb, emb, **params)
    for key, value in expected.items():
        assert parts[key].item() == pytest.approx(value.item(), rel=1e-4, abs=1e-5), key
    sum(parts.values()).backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in tiny_model.parameters())
    tiny_model.zero_grad()


def test_triplets_only_for_infonce(tiny_model):
    texts = ["a b", "c d", "e f"]
    features = _features(tiny_model, [texts, texts, texts])
    assert set(build("infonce", tiny_model)(features, None)) == {"positive", "negative"}
    with pytest.raises(ValueError, match="pairs, not triplets"):
        build("dhel", tiny_model)(features, None)


@pytest.mark.parametrize(
    "name, params, message",
    [
        ("fmicl", {"divergence": "kll"}, "unknown divergence"),
        ("fmicl", {"sigma": 0}, "sigma must be > 0"),
        ("fmicl", {"divergence": "tsallis", "tsallis_alpha": 1.0}, "tsallis_alpha"),
        ("gcl", {"prior": "uniform"}, "unknown prior"),
        ("kcl", {"kernel": "rbf"}, "unknown kernel"),
        ("dhel", {"temperature": -1}, "temperature"),
        ("infonce", {"temprature": 0.1}, "did you mean 'temperature'"),
        ("infonse", {}, "did you mean 'infonce'"),
    ],
)
def test_bad_parameters_fail_at_construction(name, params, message, tiny_model):
    with pytest.raises(FmiclError, match=message):
        build(name, tiny_model, **params)


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_loss_defaults_equal_the_function_defaults(name):
    """Each class reads its defaults from its objective (declared once): each reads the right key."""
    import inspect

    loss_defaults = {
        key: p.default for key, p in inspect.signature(LOSSES[name]).parameters.items() if p.default is not p.empty
    }
    function_defaults = {
        key: p.default for key, p in inspect.signature(FUNCTIONS[name]).parameters.items() if p.default is not p.empty
    }
    shared = loss_defaults.keys() & function_defaults.keys()
    assert len(shared) >= 1
    assert {k: loss_defaults[k] for k in shared} == {k: function_defaults[k] for k in shared}
