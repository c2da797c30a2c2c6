"""InfoNCE: vectorised parts against a brute-force loop, and the sentence-transformers wrapper."""

from __future__ import annotations

import math

import pytest
import torch

from fmicl_text.losses import functional as fn_
from fmicl_text.losses.functional import info_nce


def brute_info_nce(u, v, tau, negatives=None, weight=0.0, symmetric=False):
    u = [x / x.norm() for x in u.double()]
    v = [x / x.norm() for x in v.double()]
    w = [x / x.norm() for x in negatives.double()] if negatives is not None else []
    n = len(u)
    rows = []
    for i in range(n):
        logits = [float(u[i] @ v[j]) / tau for j in range(n)]
        logits += [float(u[i] @ w[k]) / tau + (weight if k == i else 0.0) for k in range(len(w))]
        rows.append(-logits[i] + math.log(sum(math.exp(x) for x in logits)))
    loss = sum(rows) / n
    if symmetric:
        cols = []
        for j in range(n):
            logits = [float(u[i] @ v[j]) / tau for i in range(n)]
            cols.append(-logits[j] + math.log(sum(math.exp(x) for x in logits)))
        loss = (loss + sum(cols) / n) / 2
    return loss


@pytest.mark.parametrize("tau", [0.05, 0.5, 1.0])
@pytest.mark.parametrize("symmetric", [False, True])
def test_matches_brute_force(tau, symmetric):
    g = torch.Generator().manual_seed(0)
    u, v = torch.randn(6, 5, generator=g), torch.randn(6, 5, generator=g)
    parts = info_nce(u, v, temperature=tau, symmetric=symmetric)
    assert set(parts) == {"positive", "negative"}
    assert sum(parts.values()).item() == pytest.approx(brute_info_nce(u, v, tau, symmetric=symmetric), rel=1e-5)


def test_hard_negatives_and_weight():
    g = torch.Generator().manual_seed(1)
    u, v, w = (torch.randn(5, 4, generator=g) for _ in range(3))
    for weight in (0.0, 1.5):
        got = sum(info_nce(u, v, temperature=0.1, negatives=w, hard_negative_weight=weight).values()).item()
        assert got == pytest.approx(brute_info_nce(u, v, 0.1, negatives=w, weight=weight), rel=1e-5)
    # More candidates can only raise the loss.
    assert sum(info_nce(u, v, temperature=0.1, negatives=w).values()) > sum(info_nce(u, v, temperature=0.1).values())


def test_equals_cross_entropy_and_is_float32_for_bf16():
    g = torch.Generator().manual_seed(2)
    u, v = torch.randn(8, 16, generator=g), torch.randn(8, 16, generator=g)
    logits = torch.nn.functional.normalize(u) @ torch.nn.functional.normalize(v).T / 0.05
    expected = torch.nn.functional.cross_entropy(logits, torch.arange(8))
    parts = info_nce(u.bfloat16(), v.bfloat16(), temperature=0.05)
    assert all(p.dtype == torch.float32 for p in parts.values())
    assert sum(parts.values()).item() == pytest.approx(expected.item(), abs=0.05)  # bf16 inputs round the vectors


def test_finite_at_extremes_and_gradcheck():
    u = torch.randn(2, 3, dtype=torch.float64, requires_grad=True)
    v = torch.randn(2, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda a, b: sum(info_nce(a, b, temperature=0.3).values()), (u, v))
    same = torch.ones(4, 3, requires_grad=True)
    loss = sum(info_nce(same, same, temperature=0.01).values())
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(same.grad).all()
    assert loss.item() == pytest.approx(math.log(4), rel=1e-5)  # all logits equal: log N


def test_rejects_bad_input():
    with pytest.raises(ValueError, match="temperature"):
        info_nce(torch.randn(3, 2), torch.randn(3, 2), temperature=0)
    with pytest.raises(ValueError, match="at least 2"):
        info_nce(torch.randn(1, 2), torch.randn(1, 2))
    with pytest.raises(ValueError, match="N x d"):
        info_nce(torch.randn(3, 2), torch.randn(4, 2))


@pytest.mark.parametrize(
    "name, fn",
    [
        ("info_nce", lambda u, v: info_nce(u, v)),
        ("fmicl", lambda u, v: fn_.fmicl(u, v, "js")),
        ("au", fn_.alignment_uniformity),
        ("gcl", fn_.generalized_contrastive),
        ("dhel", fn_.dhel),
        ("kcl", fn_.kcl),
    ],
)
def test_float32_math_under_autocast(name, fn):
    g = torch.Generator().manual_seed(3)
    u, v = torch.randn(6, 8, generator=g), torch.randn(6, 8, generator=g)
    plain = fn(u, v)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        auto = fn(u, v)
    for key in plain:
        assert auto[key].dtype == torch.float32, (name, key)
        assert auto[key].item() == pytest.approx(plain[key].item(), rel=1e-6), (name, key)


@pytest.mark.parametrize("symmetric", [False, True])
@pytest.mark.parametrize("with_negatives", [False, True])
def test_equals_sentence_transformers_mnrl(symmetric, with_negatives):
    """Our InfoNCELoss is MultipleNegativesRankingLoss (scale = 1/temperature; ``symmetric`` = its two
    directions, per-direction softmax): same value and same embedding gradients on the same inputs."""
    from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss

    from fmicl_text.losses import InfoNCELoss

    g = torch.Generator().manual_seed(3)
    columns = 3 if with_negatives else 2
    embeddings = [torch.randn(8, 16, generator=g, requires_grad=True) for _ in range(columns)]
    ours = InfoNCELoss(None, temperature=0.05, symmetric=symmetric)
    theirs = MultipleNegativesRankingLoss(
        None,
        scale=20.0,
        directions=("query_to_doc", "doc_to_query") if symmetric else ("query_to_doc",),
        partition_mode="per_direction",
    )
    ours_value = sum(ours.compute_loss_from_embeddings(embeddings).values())
    ours_grads = torch.autograd.grad(ours_value, embeddings)
    theirs_value = theirs.compute_loss_from_embeddings(embeddings, None)
    theirs_grads = torch.autograd.grad(theirs_value, embeddings)
    assert ours_value.item() == pytest.approx(theirs_value.item(), rel=1e-6)
    for mine, other in zip(ours_grads, theirs_grads, strict=True):
        torch.testing.assert_close(mine, other, rtol=1e-5, atol=1e-7)
