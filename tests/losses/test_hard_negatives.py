"""Supervised mode: a third (hard-negative) column, used by infonce and fmicl, refused by the others.

The f-MICL reference is a plain loop over every negative pair in float64 ``math``, built from the
brute-force pieces of ``test_fmicl_au`` (exact conjugate, f-GAN activations), not from the module.
"""

from __future__ import annotations

import pytest
import torch
from test_divergences import each_entry
from test_fmicl_au import brute_fmicl, rand_pair

from fmicl_text.losses import LOSSES, FMICLLoss, InfoNCELoss, build
from fmicl_text.losses.functional import fmicl

each_critic = pytest.mark.parametrize("similarity", ["gaussian", "cosine"])
ACCEPTING = ("infonce", "fmicl")
REJECTING = ("au", "gcl", "dhel", "kcl")


def rand_hard(m: int, d: int, seed: int, dtype=torch.float64) -> torch.Tensor:
    """Hard negatives with uneven norms, like ``rand_pair``'s views."""
    g = torch.Generator().manual_seed(1000 + seed)
    w = torch.randn(m, d, generator=g, dtype=torch.float64) * 2.0 - 0.3
    return (w * (torch.rand(m, 1, generator=g, dtype=torch.float64) * 4 + 0.2)).to(dtype)


# --------------------------------------------------------------------------- (1) against the loop


@each_entry
@each_critic
@pytest.mark.parametrize("negatives", ["cross", "within", "both"])
@pytest.mark.parametrize("m", [5, 3], ids=["M=N", "M<N"])
def test_fmicl_hard_negatives_match_brute_force(name, a, similarity, negatives, m):
    scale, alpha = (0.7, 0.5) if similarity == "gaussian" else (0.5, 2.0)
    u, v = rand_pair(5, 4, seed=21)
    w = rand_hard(m, 4, seed=21)
    kw = {"sigma": scale} if similarity == "gaussian" else {"temperature": scale}
    parts = fmicl(u, v, name, similarity, alpha=alpha, negatives=negatives, tsallis_alpha=a, hard_negatives=w, **kw)
    pos, neg = brute_fmicl(u, v, name, a, similarity, scale, alpha, scale, negatives, w=w)
    assert parts["positive"].item() == pytest.approx(pos, rel=1e-9, abs=1e-10)
    assert parts["negative"].item() == pytest.approx(neg, rel=1e-9, abs=1e-10)
    # the loop without W is the existing reference: the two references agree on the shared part
    assert brute_fmicl(u, v, name, a, similarity, scale, alpha, scale, negatives, w=w[:0]) == pytest.approx(
        brute_fmicl(u, v, name, a, similarity, scale, alpha, scale, negatives), rel=1e-12
    )


@each_critic
@pytest.mark.parametrize("name", ["kl", "js"])
def test_fmicl_hard_negatives_float32_and_bf16(name, similarity):
    u, v = rand_pair(6, 5, seed=4, dtype=torch.float32)
    w = rand_hard(6, 5, seed=4, dtype=torch.float32)
    kw = {"sigma": 0.6} if similarity == "gaussian" else {"temperature": 0.2}
    pos, neg = brute_fmicl(u, v, name, 2.0, similarity, 0.6, 1.0, 0.2, "cross", w=w)
    parts = fmicl(u, v, name, similarity, hard_negatives=w, **kw)
    assert all(p.dtype == torch.float32 for p in parts.values())
    assert parts["positive"].item() == pytest.approx(pos, rel=1e-4, abs=1e-5)
    assert parts["negative"].item() == pytest.approx(neg, rel=1e-4, abs=1e-5)
    # bf16 embeddings (mixed-precision training): the math is still float32 and finite
    parts = fmicl(u.bfloat16(), v.bfloat16(), name, similarity, hard_negatives=w.bfloat16(), **kw)
    assert all(p.dtype == torch.float32 and torch.isfinite(p) for p in parts.values())


@pytest.mark.parametrize("shape", [(5,), (5, 3), (2, 5, 4)])
def test_fmicl_rejects_badly_shaped_hard_negatives(shape):
    u, v = rand_pair(5, 4, seed=0)
    with pytest.raises(ValueError, match="hard_negatives must be M x 4"):
        fmicl(u, v, "kl", hard_negatives=torch.randn(*shape, dtype=torch.float64))


# --------------------------------------------------------------------------- (2) gradients


@pytest.mark.parametrize(
    "loss_cls, params",
    [
        (InfoNCELoss, {}),
        (InfoNCELoss, {"hard_negative_weight": 1.0}),
        (FMICLLoss, {"divergence": "js", "similarity": "gaussian"}),
        (FMICLLoss, {"divergence": "kl", "similarity": "cosine", "negatives": "both"}),
    ],
    ids=["infonce", "infonce-weight1", "fmicl-js-gaussian", "fmicl-kl-cosine-both"],
)
def test_gradient_reaches_the_hard_negatives(loss_cls, params):
    u, v = (x.float().requires_grad_(True) for x in rand_pair(6, 8, seed=3))
    w = rand_hard(6, 8, seed=3, dtype=torch.float32).requires_grad_(True)
    parts = loss_cls(torch.nn.Identity(), **params).compute_loss_from_embeddings([u, v, w])
    sum(parts.values()).backward()
    for x in (u, v, w):
        assert x.grad is not None and torch.isfinite(x.grad).all()
    assert w.grad.abs().sum() > 0


@each_critic
@pytest.mark.parametrize("name", ["js", "pearson", "vlc"])
def test_fmicl_hard_negatives_gradcheck(name, similarity):
    u, v = (x.requires_grad_(True) for x in rand_pair(4, 3, seed=7))
    w = rand_hard(4, 3, seed=7).requires_grad_(True)

    def fn(x, y, z):
        parts = fmicl(x, y, name, similarity, sigma=0.8, temperature=0.5, alpha=0.7, hard_negatives=z)
        return parts["positive"], parts["negative"]

    assert torch.autograd.gradcheck(fn, (u, v, w), eps=1e-6, atol=1e-6, rtol=1e-5)


# --------------------------------------------------------------------------- (3) None is the old loss


@each_entry
@each_critic
@pytest.mark.parametrize("negatives", ["cross", "both"])
def test_no_hard_negatives_is_the_pair_loss_exactly(name, a, similarity, negatives):
    u, v = rand_pair(5, 4, seed=9, dtype=torch.float32)
    kw = {"divergence": name, "similarity": similarity, "negatives": negatives, "tsallis_alpha": a}
    old = fmicl(u, v, **kw)
    for parts in (
        fmicl(u, v, **kw, hard_negatives=None),
        FMICLLoss(torch.nn.Identity(), **kw).compute_loss_from_embeddings([u, v]),
    ):
        assert parts.keys() == old.keys()
        for key in old:
            assert torch.equal(parts[key], old[key]), key
    # zero hard-negative rows add no pairs: the same mean up to summation order
    empty = fmicl(u, v, **kw, hard_negatives=u[:0])
    for key in old:
        assert empty[key].item() == pytest.approx(old[key].item(), rel=1e-6, abs=1e-7)
    # float64: the old brute-force reference, unchanged
    pos, neg = brute_fmicl(u.double(), v.double(), name, a, similarity, 2.0, 1.0, 0.05, negatives)
    parts64 = fmicl(u.double(), v.double(), **kw, hard_negatives=None)
    assert parts64["positive"].item() == pytest.approx(pos, rel=1e-9, abs=1e-10)
    assert parts64["negative"].item() == pytest.approx(neg, rel=1e-9, abs=1e-10)


# --------------------------------------------------------------------------- (4) losses that refuse them


def test_which_losses_accept_hard_negatives():
    assert {name for name, cls in LOSSES.items() if cls.accepts_negatives} == set(ACCEPTING)


@pytest.mark.parametrize("name", REJECTING)
def test_pair_only_losses_reject_a_third_column_naming_the_alternatives(name):
    u, v = rand_pair(4, 3, seed=1, dtype=torch.float32)
    loss = build(name, torch.nn.Identity())
    with pytest.raises(ValueError, match="pairs, not triplets") as info:
        loss.compute_loss_from_embeddings([u, v, v])
    message = str(info.value)
    assert type(loss).__name__ in message
    assert "infonce, fmicl" in message


@pytest.mark.parametrize("name", ACCEPTING)
def test_at_most_one_hard_negative_column(name):
    u, v = rand_pair(4, 3, seed=1, dtype=torch.float32)
    with pytest.raises(ValueError, match="at most one hard-negative column"):
        build(name, torch.nn.Identity()).compute_loss_from_embeddings([u, v, v, u])


# --------------------------------------------------------------------------- (5) through a real model

ANCHORS = ["A man plays a guitar.", "A cat sleeps on the sofa.", "Rain falls on the town.", "She cooks pasta."]
POSITIVES = ["Someone is making music.", "An animal is resting.", "It is raining.", "A woman is cooking."]
NEGATIVES_A = ["Nobody is making music.", "The cat is running.", "The sun is shining.", "The kitchen is empty."]
NEGATIVES_B = ["The stock market fell.", "Scientists found a frog.", "He drove to work.", "A plane takes off."]


@pytest.mark.parametrize("params", [{}, {"similarity": "cosine", "divergence": "kl"}], ids=["js-gaussian", "kl-cosine"])
def test_fmicl_forward_carries_the_negative_column(tiny_model, params):
    """Real tokenized (anchor, positive, negative) features: the negative texts alone move the loss."""
    loss = FMICLLoss(tiny_model, **params)

    def run(negatives: list[str]) -> dict[str, torch.Tensor]:
        features = [tiny_model.preprocess(texts) for texts in (ANCHORS, POSITIVES, negatives)]
        return loss(features, None)

    first, second = run(NEGATIVES_A), run(NEGATIVES_B)
    assert first["positive"].item() == pytest.approx(second["positive"].item(), rel=1e-6)
    assert abs(first["negative"].item() - second["negative"].item()) > 1e-6
    # ... and by the amount the pure function gives on the model's embeddings (dropout is off)
    with torch.no_grad():
        u, v, w = (tiny_model.encode(t, convert_to_tensor=True) for t in (ANCHORS, POSITIVES, NEGATIVES_A))
    expected = fmicl(u, v, hard_negatives=w, **{k: getattr(loss, k) for k in loss.config_keys})
    for key, value in expected.items():
        assert first[key].item() == pytest.approx(value.item(), rel=1e-4, abs=1e-5), key
    sum(first.values()).backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in tiny_model.parameters())
    tiny_model.zero_grad()
